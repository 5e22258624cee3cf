"""The HTTP API (FastAPI) and the page it serves.

Every error is ``{"error": "<one line>"}`` with a 4xx status. With a token (required on any
address but loopback), every ``/api`` request carries ``Authorization: Bearer <token>``,
compared in constant time; the page and its static files carry no data and need none.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import subprocess
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from synthgen import __version__
from synthgen.serve import views
from synthgen.serve.jobs import JobError, JobManager
from synthgen.serve.request import JobRequest, ResumeRequest
from synthgen.serve.store import STATUSES

STATIC = Path(__file__).parent / "static"
MAX_BODY = 65_536  # bytes of a request body
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# a report is one self-contained page: styles and data: images, nothing that runs or loads
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
REPORT_TIMEOUT_S = 600


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["nemo", "openai", "hf"] = "nemo"
    val_fraction: float = Field(0.1, ge=0, lt=1)
    seed: int = Field(0, ge=0, le=2**31)


class FastJSON(JSONResponse):
    """orjson, and no second pass over the content: what the endpoints return is plain JSON data
    already (the status endpoint is polled by every watcher; its cost is the service's cost)."""

    def render(self, content: Any) -> bytes:
        import orjson

        return orjson.dumps(content)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())[:1000]}, status_code=status)


class BodyLimit:
    """Refuse a request body over ``limit`` bytes (413) before the app reads it, whether it
    says its length or streams it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = _error(413, f"the request body is over {self.limit:,} bytes")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await too_big(scope, receive, send)
        if scope.get("method") in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await too_big(scope, receive, send)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def create_app(root: Path, *, token: str | None = None, max_jobs: int = 1, data_dir: Path | None = None,
               max_count: int = 1_000_000, stop_jobs_on_exit: bool = True, gpus: list[str] | None = None) -> FastAPI:
    manager = JobManager(root, max_jobs=max_jobs, data_dir=data_dir, max_count=max_count, stop_jobs_on_exit=stop_jobs_on_exit,
                         gpus=gpus)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        manager.start()
        try:
            yield
        finally:
            await asyncio.to_thread(manager.close)

    app = FastAPI(title="synthgen", version=__version__, lifespan=lifespan, default_response_class=FastJSON,
                  docs_url=None, redoc_url=None,  # their pages load scripts from a CDN: the schema stays, at /openapi.json
                  description="Generation jobs: each a run folder plus a `synthgen generate` process.")
    app.state.manager = manager
    app.state.stopping = threading.Event()  # set when the server is asked to stop: event streams end
    app.add_middleware(BodyLimit, limit=MAX_BODY)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")) or "body"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return _error(422, f"{where}: {first.get('msg')}{more}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(JobError)
    async def _job_error(request: Request, exc: JobError) -> JSONResponse:
        return _error(exc.status, str(exc))

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Response:
        if token and request.url.path.startswith("/api/"):
            sent = request.headers.get("authorization", "")
            scheme, _, given = sent.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                reason = "a token is required (Authorization: Bearer <token>)" if not sent else "the token is wrong"
                return _error(401, reason)
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path == "/" or request.url.path.startswith("/static/"):
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        return response

    # -- jobs ---------------------------------------------------------------------------------

    def view(job: dict[str, Any]) -> dict[str, Any]:
        return views.job_view(job, manager.run_dir(job), manager.resumable(job))

    @app.post("/api/jobs", status_code=201, summary="Start a job (it queues behind running ones)")
    def create_job(job: JobRequest) -> Response:
        return FastJSON(view(manager.submit(job)), status_code=201)

    @app.get("/api/jobs", summary="List jobs, newest first")
    def list_jobs(status: str | None = Query(None, max_length=20), limit: int = Query(50, ge=1, le=500),
                  offset: int = Query(0, ge=0)) -> Response:
        if status is not None and status not in STATUSES:
            raise JobError(422, f"status: one of {', '.join(STATUSES)}")
        rows, total = manager.store.list(status, limit, offset)
        return FastJSON({"jobs": [view(j) for j in rows], "total": total, "offset": offset, "limit": limit})

    @app.get("/api/jobs/{job_id}", summary="A job's status and progress")
    def get_job(job_id: str) -> Response:
        return FastJSON(view(manager.get(job_id)))

    @app.post("/api/jobs/{job_id}/cancel", status_code=202, summary="SIGTERM the job: the batch in flight is kept")
    def cancel_job(job_id: str) -> Response:
        return FastJSON(view(manager.cancel(job_id)), status_code=202)

    @app.post("/api/jobs/{job_id}/resume", status_code=202, summary="Queue a stopped, cancelled or failed job again (--resume)")
    def resume_job(job_id: str, budgets: ResumeRequest | None = None) -> Response:
        return FastJSON(view(manager.resume(job_id, budgets)), status_code=202)

    @app.get("/api/jobs/{job_id}/events", summary="log.jsonl as server-sent events (Last-Event-ID resumes)")
    async def job_events(job_id: str, request: Request, after: int = Query(0, ge=0)) -> StreamingResponse:
        job = manager.get(job_id)
        last = request.headers.get("last-event-id", "")
        start = int(last) if last.isdigit() else after

        def finished() -> str | None:
            if app.state.stopping.is_set():
                return "server-stopping"
            now = manager.store.get(job_id)
            return now["status"] if now is None or now["status"] not in ("queued", "running") else None

        stream = views.events(manager.run_dir(job) / "log.jsonl", start, finished)
        return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/jobs/{job_id}/records", summary="A page of the job's accepted, rejected or failed records")
    def job_records(job_id: str, kind: Literal["accepted", "rejected", "failed"] = "accepted", offset: int = Query(0, ge=0),
                    limit: int = Query(20, ge=1, le=views.MAX_PAGE), reason: str | None = Query(None, max_length=80)) -> Response:
        job = manager.get(job_id)
        page = views.records(manager.run_dir(job), kind, offset, limit, reason)
        progress = views.progress(manager.run_dir(job), job) or {}
        page["funnel"] = progress.get("funnel")
        return FastJSON(page)

    @app.get("/api/jobs/{job_id}/records/{kind}/{index}", summary="One record, with the recipe's picture of it")
    def job_record(job_id: str, kind: Literal["accepted", "rejected", "failed"], index: int) -> Response:
        job = manager.get(job_id)
        found = views.record_at(manager.run_dir(job), kind, index, job["recipe"]) if index >= 0 else None
        if found is None:
            raise JobError(404, f"job {job_id} has no {kind} record {index}")
        return FastJSON(found)

    @app.get("/api/jobs/{job_id}/report", response_class=HTMLResponse, summary="The run's report (synthgen report), built when stale")
    async def job_report(job_id: str) -> Response:
        job = manager.get(job_id)
        out = manager.job_dir(job) / "report"
        run_json = manager.run_dir(job) / "run.json"
        html_file = out / "report.html"
        if not run_json.exists():
            raise JobError(409, f"job {job_id} has no run folder yet")
        if not html_file.exists() or html_file.stat().st_mtime < run_json.stat().st_mtime:
            proc = await asyncio.to_thread(_synthgen, ["report", str(manager.run_dir(job)), "--out", str(out)], manager.root)
            if proc.returncode != 0:
                raise JobError(409, _last_line(proc.stderr) or "the report could not be built")
        response = FileResponse(html_file, media_type="text/html")
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response

    @app.post("/api/jobs/{job_id}/export", summary="Export the job's records (synthgen export); merged jobs together")
    async def job_export(job_id: str, body: ExportRequest | None = None) -> dict[str, Any]:
        job = manager.get(job_id)
        body = body or ExportRequest()
        runs = [manager.run_dir(job)]
        if job["request"].get("merge_mode") == "merged":
            others, _ = manager.store.list("completed", limit=500)
            runs += [manager.run_dir(j) for j in others
                     if j["id"] != job["id"] and j["recipe"] == job["recipe"] and j["request"].get("merge_mode") == "merged"]
        runs = [r for r in runs if (r / "run.json").exists()]
        if not runs:
            raise JobError(409, f"job {job_id} has no run folder yet")
        out = manager.job_dir(job) / f"export-{body.format}"
        args = ["export", *map(str, runs), "--to", str(out), "--format", body.format, "--val-fraction", str(body.val_fraction),
                "--seed", str(body.seed), "--overwrite"]
        proc = await asyncio.to_thread(_synthgen, args, manager.root)
        if proc.returncode != 0:
            raise JobError(409, _last_line(proc.stderr) or "the export failed")
        files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        return {"format": body.format, "runs": [r.name for r in runs], "summary": _last_line(proc.stdout),
                "files": [{"name": f, "url": f"/api/jobs/{job_id}/export/{body.format}/{f}"} for f in files]}

    @app.get("/api/jobs/{job_id}/export/{fmt}/{name:path}", summary="A file of the job's last export")
    def export_file(job_id: str, fmt: Literal["nemo", "openai", "hf"], name: str) -> FileResponse:
        job = manager.get(job_id)
        out = (manager.job_dir(job) / f"export-{fmt}").resolve()
        path = (out / name).resolve()
        if out not in path.parents or not path.is_file():
            raise JobError(404, f"no file {name!r} in job {job_id}'s {fmt} export")
        return FileResponse(path)

    # -- what a form offers -----------------------------------------------------------------------

    @app.get("/api/recipes", summary="Registered recipes and their option schemas")
    def recipes() -> dict[str, Any]:
        from synthgen.recipes import RECIPES, recipe_class

        return {"recipes": [{"name": n, "cell_names": list(recipe_class(n).cell_names), "doc": (recipe_class(n).__doc__ or "").strip(),
                             "options": recipe_class(n).Options.model_json_schema()} for n in sorted(RECIPES)]}

    @app.get("/api/models", summary="The model registry")
    def models() -> dict[str, Any]:
        from synthgen.models import list_models

        return {"models": [{"alias": s.alias, "backend": s.backend, "description": s.description}
                           for s in sorted(list_models().values(), key=lambda s: s.alias)]}

    @app.get("/api/health", summary="The server is up")
    def health() -> dict[str, Any]:
        return {"ok": True, "version": __version__, "max_jobs": manager.max_jobs, "gpu_groups": manager.gpus}

    # -- the page -------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise JobError(404, f"no file {name!r}")
        return FileResponse(path)

    return app


def _synthgen(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], cwd=cwd, capture_output=True, text=True, timeout=REPORT_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line[len("synthgen: "):] if line.startswith("synthgen: ") else line


def openapi_json(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2)
