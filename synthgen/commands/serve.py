"""`synthgen serve`: the jobs API and its web page (the `serve` extra: FastAPI + uvicorn)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Optional

import typer


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        jobs_dir: Annotated[Path, typer.Option("--jobs-dir", envvar="SYNTHGEN_JOBS_DIR", help="The server's folder: jobs.db, runs/, jobs/.")] = Path("synthgen-jobs"),
        host: Annotated[str, typer.Option("--host", envvar="SYNTHGEN_SERVE_HOST", help="Address to bind; any but loopback needs a token.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", envvar="SYNTHGEN_SERVE_PORT", min=0, max=65535, help="Port (0: any free one).")] = 8642,
        token: Annotated[Optional[str], typer.Option("--token", envvar="SYNTHGEN_SERVE_TOKEN", help="Bearer token every /api request must carry.")] = None,
        max_jobs: Annotated[Optional[int], typer.Option("--max-jobs", envvar="SYNTHGEN_SERVE_MAX_JOBS", min=1, max=64, help=(
            "Jobs running at once (default: one per visible GPU, each seeing its own GPUs; 1 without a GPU); the rest queue."))] = None,
        max_count: Annotated[int, typer.Option("--max-count", envvar="SYNTHGEN_SERVE_MAX_COUNT", min=1, max=1_000_000_000, help="Largest count one job may ask for.")] = 1_000_000,
        data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar="SYNTHGEN_SERVE_DATA_DIR", help="Folder that requests' path options (traces, templates) are confined to; none: requests name no files.")] = None,
        keep_jobs: Annotated[bool, typer.Option("--keep-jobs-running", help="On exit leave running jobs running (the next server adopts them) instead of stopping them.")] = False,
    ) -> None:
        """Serve generation jobs over HTTP (API at /api, its schema at /openapi.json, a page at /)."""
        import importlib.util

        from synthgen.errors import ConfigError

        if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
            raise ConfigError("synthgen serve needs FastAPI and uvicorn, which are not installed", hint="pip install 'synthgen[serve]'")
        if not is_loopback(host) and not token:
            raise ConfigError(f"--host {host} is reachable from other machines: give --token (or SYNTHGEN_SERVE_TOKEN)",
                              hint="or bind 127.0.0.1")
        if token is not None and len(token) < 16:
            raise ConfigError("--token must be at least 16 characters")
        if data_dir is not None and not data_dir.is_dir():
            raise ConfigError(f"--data-dir {data_dir}: not a folder")
        from synthgen.errors import register_secret

        if token:
            register_secret(token)
        os.environ.pop("SYNTHGEN_SERVE_TOKEN", None)
        from synthgen.backends.gpus import visible_gpus
        from synthgen.serve.jobs import gpu_groups

        gpus = visible_gpus()
        jobs_at_once = max_jobs or max(1, len(gpus))
        groups = gpu_groups(len(gpus), jobs_at_once, os.environ.get("CUDA_VISIBLE_DEVICES"))
        import uvicorn

        from synthgen.serve.app import create_app

        api = create_app(jobs_dir.resolve(), token=token, max_jobs=jobs_at_once, data_dir=data_dir.resolve() if data_dir else None,
                         max_count=max_count, stop_jobs_on_exit=not keep_jobs, gpus=groups)
        if groups:
            typer.echo(f"synthgen serve: {len(groups)} job(s) at once on GPU groups {' | '.join(groups)}", err=True)
        typer.echo(f"synthgen serve: jobs in {jobs_dir.resolve()}; http://{host}:{port}/ (API /api, schema /openapi.json)", err=True)
        server = uvicorn.Server(uvicorn.Config(api, host=host, port=port, log_level="warning", access_log=False,
                                               timeout_graceful_shutdown=90))
        exit_handler = server.handle_exit

        def handle_exit(sig: int, frame: object) -> None:  # end the event streams first: uvicorn waits for open connections
            api.state.stopping.set()
            exit_handler(sig, frame)  # type: ignore[arg-type]

        server.handle_exit = handle_exit  # type: ignore[method-assign]
        server.run()
