"""Jobs as processes: start ``synthgen generate`` for each queued job (at most ``max_jobs`` at
once: one engine per GPU), watch it, stop it with SIGTERM (the batch in flight is kept) and
resume it with ``--resume``.

The server's folder::

    jobs.db              the jobs table (store.py)
    runs/<name>/         each job's run folder (the --output of its process)
    jobs/<id>/           the job's recipe options, its process's output, its report and exports

A server that starts finds the jobs its predecessor left ``running``: a process still alive
(the same pid and start time) is adopted and watched to its end; a dead one is marked
``stopped`` with the run folder's own status, and can be resumed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from synthgen.errors import ConfigError, SynthgenError
from synthgen.runfolder.log import now_iso
from synthgen.serve import request as req
from synthgen.serve.store import FINISHED, JobStore

MAX_QUEUED = 100  # jobs waiting for an engine; one more is refused (429)
# exit codes of `synthgen generate` (synthgen/errors.py) that leave a run to resume: the engine
# died (3), a budget or the candidate cap (6), SIGINT (130), SIGTERM (143)
RESUMABLE_EXITS = {3: "the engine stopped", 6: "a budget or the candidate cap", 130: "SIGINT", 143: "SIGTERM"}
# variables a job's process does not need and must not see
PRIVATE_ENV = ("SYNTHGEN_SERVE_TOKEN",)


def gpu_groups(gpus: int, max_jobs: int, visible: str | None) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` for each job slot: the visible GPUs split evenly over
    ``max_jobs`` (one engine per group; a job sees only its own), as the entries the server
    itself was given. Empty without GPUs: jobs then share the machine as it is."""
    if gpus <= 0:
        return []
    ids = [e.strip() for e in visible.split(",")][:gpus] if visible else [str(i) for i in range(gpus)]
    per = max(1, len(ids) // max(1, max_jobs))
    return [",".join(ids[k * per:(k + 1) * per]) for k in range(min(max_jobs, len(ids) // per))]


class JobError(Exception):
    """A request the server refuses: ``status`` is the HTTP status, the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class JobManager:
    def __init__(self, root: Path, *, max_jobs: int = 1, data_dir: Path | None = None, max_count: int = 1_000_000,
                 poll_s: float = 0.2, stop_jobs_on_exit: bool = True, gpus: list[str] | None = None) -> None:
        self.root = root
        self.runs = root / "runs"
        self.jobs_dir = root / "jobs"
        for folder in (root, self.runs, self.jobs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(root / "jobs.db")
        self.max_jobs = max_jobs
        self.data_dir = data_dir
        self.max_count = max_count
        self.poll_s = poll_s
        self.stop_jobs_on_exit = stop_jobs_on_exit
        self.gpus = list(gpus or [])  # CUDA_VISIBLE_DEVICES per slot (gpu_groups); empty: no GPU split
        if self.gpus:
            self.max_jobs = min(max_jobs, len(self.gpus))
        self._procs: dict[str, Any] = {}  # job id -> Popen (ours) or psutil.Process (adopted)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- paths --------------------------------------------------------------------------------

    def run_dir(self, job: dict[str, Any]) -> Path:
        return self.runs / job["name"]

    def job_dir(self, job: dict[str, Any] | str) -> Path:
        return self.jobs_dir / (job if isinstance(job, str) else job["id"])

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self._thread = threading.Thread(target=self._loop, name="synthgen-jobs", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 60.0) -> None:
        """Stop watching; with ``stop_jobs_on_exit``, SIGTERM every running job and wait for it
        (each keeps the batch in flight, and is ``stopped``, resumable)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.stop_jobs_on_exit:
            with self._lock:
                for job_id in list(self._procs):
                    self._signal(job_id, signal.SIGTERM)
                deadline = time.monotonic() + timeout_s
                while self._procs and time.monotonic() < deadline:
                    self._reap(server_stopping=True)
                    time.sleep(0.1)
        self.store.close()

    def recover(self) -> None:
        """Jobs a previous server left running: adopt the live ones, settle the dead ones."""
        import psutil

        for job in self.store.with_status("running"):
            proc = None
            if job["pid"]:
                try:
                    proc = psutil.Process(job["pid"])
                    if abs(proc.create_time() - (job["pid_started"] or 0)) > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
                        proc = None
                except psutil.Error:
                    proc = None
            if proc is not None:
                self._procs[job["id"]] = proc
            else:
                self._finish(job, None, "its process ended while the server was down")

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                with self._lock:
                    self._reap()
                    self._start_queued()
            except Exception as exc:  # the watcher must outlive one bad job  # noqa: BLE001
                print(f"synthgen serve: job watcher: {type(exc).__name__}: {exc}", file=sys.stderr)

    def tick(self) -> None:
        """One round of the watcher (tests call it to avoid waiting for the thread)."""
        with self._lock:
            self._reap()
            self._start_queued()

    # -- processes ------------------------------------------------------------------------------

    def _start_queued(self) -> None:
        running = len(self._procs)
        for job in self.store.with_status("queued"):
            if running >= self.max_jobs:
                return
            self._launch(job)
            running += 1

    def _launch(self, job: dict[str, Any]) -> None:
        import psutil

        folder = self.job_dir(job)
        folder.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
        env["PYTHONUNBUFFERED"] = "1"
        group = None
        if self.gpus:
            taken = {j["gpus"] for j in self.store.with_status("running")}
            group = next((g for g in self.gpus if g not in taken), None)
            if group is None:
                return  # every GPU group is busy (an adopted job holds one): it waits
            env["CUDA_VISIBLE_DEVICES"] = group
        argv = list(job["argv"])
        resuming = "--resume" in argv
        base = _accepted(self.run_dir(job)) if resuming else 0
        with open(folder / "process.log", "ab") as log:
            log.write(f"--- {now_iso()} synthgen {' '.join(argv)}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen([sys.executable, "-m", "synthgen", *argv], stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, cwd=self.root, env=env, start_new_session=True)
            except OSError as exc:
                self.store.update(job["id"], status="failed", ended_at=now_iso(), error=f"cannot start the job's process: {exc}")
                return
        try:
            started = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            started = time.time()
        self._procs[job["id"]] = proc
        self.store.update(job["id"], status="running", started_at=now_iso(), ended_at=None, pid=proc.pid, pid_started=started,
                          exit_code=None, error=None, runs=job["runs"] + 1, base_accepted=base, gpus=group)

    def _reap(self, server_stopping: bool = False) -> None:
        import psutil

        for job_id, proc in list(self._procs.items()):
            if isinstance(proc, subprocess.Popen):
                code = proc.poll()
                if code is None:
                    continue
            else:
                try:
                    if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                        continue
                except psutil.Error:
                    pass
                code = None
            del self._procs[job_id]
            job = self.store.get(job_id)
            if job is not None:
                self._finish(job, code, "the server stopped it" if server_stopping else None)

    def _finish(self, job: dict[str, Any], code: int | None, why: str | None) -> None:
        """The job's status from its exit code (or, for a process not ours, its run folder's)."""
        state = _state(self.run_dir(job))
        run_status = str(state.get("status", "")) if state else ""
        stop_reason = str(state.get("stop_reason") or "") if state else ""
        if code is not None and code < 0:  # killed by a signal it could not handle
            code = 128 - code
        if code == 0 or (code is None and run_status == "completed"):
            status, error = "completed", None
        elif job["cancel_requested"] and (code in (130, 143) or (code is None and run_status == "interrupted")):
            status, error = "cancelled", "the batch in flight was kept; resume continues the run"
        elif code in RESUMABLE_EXITS or code == 137 or (code is None and run_status != "failed"):
            status = "stopped"
            error = why or _last_error(self.job_dir(job)) or stop_reason or (
                f"stopped by {RESUMABLE_EXITS.get(code, 'SIGKILL') if code else 'a signal'}")
        else:
            status, error = "failed", _last_error(self.job_dir(job)) or stop_reason or f"exit {code}"
        self.store.update(job["id"], status=status, exit_code=code, ended_at=now_iso(), error=error, pid=None)

    def _signal(self, job_id: str, signum: int) -> None:
        proc = self._procs.get(job_id)
        if proc is None:
            return
        try:
            proc.send_signal(signum)
        except (ProcessLookupError, OSError):
            pass
        except Exception:  # psutil.NoSuchProcess  # noqa: BLE001
            pass

    # -- requests -------------------------------------------------------------------------------

    def submit(self, job: req.JobRequest) -> dict[str, Any]:
        """Check the request as the CLI would, then queue it."""
        from synthgen.recipes import recipe_class

        if len(self.store.with_status("queued")) >= MAX_QUEUED:
            raise JobError(429, f"{MAX_QUEUED} jobs are queued already; wait for some to start, or cancel some")
        job_id = uuid.uuid4().hex[:12]
        try:
            name = req.job_name(job, job_id)
            options = req.recipe_options(job, self.data_dir)
            recipe = recipe_class(job.recipe).from_options(options, source="recipe_options")
            try:
                count = req.resolve_count(job, recipe)
            finally:
                recipe.close()
            if count > self.max_count:
                raise ConfigError(f"count {count:,} is more than this server's limit of {self.max_count:,}",
                                  hint="start synthgen serve with a higher --max-count")
            if not job.provider:
                _alias(job.model, "model")  # an unknown alias names the known ones; a request names no model folder
            else:
                from synthgen.backends.providers import get_provider

                get_provider(job.provider)
            if job.judge_model is not None:
                _alias(job.judge_model, "judge model")
        except SynthgenError as exc:
            raise JobError(422, exc.one_line()) from None
        if self.store.name_taken(name) or (self.runs / name).exists():
            raise JobError(409, f"a job named {name!r} exists; give another name")
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True)
        options_file = None
        if options:
            import yaml

            options_file = folder / "recipe-options.yaml"
            options_file.write_text(yaml.safe_dump(options, sort_keys=True), encoding="utf-8")
        argv = req.command(job, options_file, self.runs / name, count)
        row = {"id": job_id, "name": name, "recipe": job.recipe, "model": job.model, "count": count, "status": "queued",
               "request": job.model_dump(mode="json"), "argv": argv, "created_at": now_iso()}
        created = self.store.add(row)
        self.tick()
        return self.store.get(job_id) or created

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        with self._lock:
            if job["status"] == "queued":
                self.store.update(job_id, expect=("queued",), status="cancelled", ended_at=now_iso(), cancel_requested=1,
                                  error="cancelled before it started")
            elif job["status"] == "running":
                self.store.update(job_id, cancel_requested=1)
                self._signal(job_id, signal.SIGTERM)
            else:
                raise JobError(409, f"job {job_id} is {job['status']}: there is nothing to cancel")
        return self._job(job_id)

    def resume(self, job_id: str, budgets: req.ResumeRequest | None = None) -> dict[str, Any]:
        job = self._job(job_id)
        if job["status"] not in ("stopped", "cancelled", "failed"):
            raise JobError(409, f"job {job_id} is {job['status']}: only a stopped, cancelled or failed job resumes")
        argv = [a for a in job["argv"] if a != "--resume"]
        for flag, value in (("--max-gpu-hours", budgets and budgets.max_gpu_hours), ("--max-cost", budgets and budgets.max_cost),
                            ("--max-candidates", budgets and budgets.max_candidates)):
            if value is not None:
                argv = _set_flag(argv, flag, str(value))
        if (self.run_dir(job) / "run.json").exists():
            argv.append("--resume")
        with self._lock:
            if not self.store.update(job_id, expect=("stopped", "cancelled", "failed"), status="queued", argv=argv, cancel_requested=0,
                                     exit_code=None, error=None, ended_at=None):
                raise JobError(409, f"job {job_id} changed status; try again")
        self.tick()
        return self._job(job_id)

    def _job(self, job_id: str) -> dict[str, Any]:
        job = self.store.get(job_id) if len(job_id) <= 64 else None
        if job is None:
            raise JobError(404, f"no job {job_id!r}")
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        return self._job(job_id)

    def resumable(self, job: dict[str, Any]) -> bool:
        return job["status"] in FINISHED and job["status"] != "completed"


def _alias(name: str, what: str) -> None:
    from synthgen.errors import UnknownNameError
    from synthgen.models import list_models

    known = list_models()
    if name not in known:
        raise UnknownNameError(what, name, sorted(known))


def _set_flag(argv: list[str], flag: str, value: str) -> list[str]:
    if flag in argv:
        i = argv.index(flag)
        return [*argv[: i + 1], value, *argv[i + 2:]]
    return [*argv, flag, value]


def _state(run_dir: Path) -> dict[str, Any] | None:
    if not (run_dir / "run.json").exists():
        return None
    from synthgen.runfolder.reader import open_run

    try:
        return open_run(run_dir).state
    except SynthgenError:
        return None


def _accepted(run_dir: Path) -> int:
    state = _state(run_dir) or {}
    return sum(int(v[0]) for v in (state.get("quota") or {}).values() if isinstance(v, list) and v)


def _last_error(folder: Path) -> str | None:
    """The last ``synthgen: error:`` line of the job's process output (already redacted by it)."""
    path = folder / "process.log"
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 16384))
            tail = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        if line.startswith("synthgen: error:") or line.startswith("synthgen: stopped"):
            return line[len("synthgen: "):].strip()[:500]
    return None
