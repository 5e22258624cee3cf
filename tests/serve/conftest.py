"""A real `synthgen serve` (uvicorn on 127.0.0.1, its own process) over a jobs folder, with the
fake engine registered as model ``fake`` (``SYNTHGEN_FAKE_DELAY_S`` slows each batch so a
test can act while a job runs)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
FINISHED = ("completed", "stopped", "cancelled", "failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process; ``start`` waits until /api/health answers."""

    def __init__(self, jobs: Path, env: dict[str, str], *args: str, host: str = "127.0.0.1", token: str | None = None) -> None:
        self.jobs, self.env, self.args, self.host, self.token = jobs, env, list(args), host, token
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "synthgen", "serve", "--jobs-dir", str(self.jobs), "--host", self.host, "--port", str(self.port), *self.args]
        return cmd + (["--token", self.token] if self.token else [])

    def start(self) -> Server:
        self.log = open(self.jobs.parent / f"server-{self.port}.log", "a")  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.output()[-2000:]}")
            try:
                if self.client().get("/api/health").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("server did not answer within 60 s")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.jobs.parent / f"server-{self.port}.log").read_text()

    def client(self, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        return code


@pytest.fixture()
def serve_env(tmp_path: Path) -> dict[str, str]:
    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHGEN_FAKE_", "SYNTHGEN_SERVE_"))}
    return dict(base, PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models), SYNTHGEN_FAKE_DELAY_S="0.15")


@pytest.fixture()
def server(tmp_path: Path, serve_env: dict[str, str]):
    srv = Server(tmp_path / "jobs", serve_env).start()
    yield srv
    if srv.proc and srv.proc.poll() is None:
        srv.stop()


def wait_for(client: httpx.Client, job_id: str, statuses: tuple[str, ...] = FINISHED, timeout: float = 120,
              accepted_at_least: int | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        progress = job.get("progress") or {}
        if accepted_at_least is not None:
            if (progress.get("accepted") or 0) >= accepted_at_least:
                return job
        elif job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not {statuses} within {timeout} s: {job}")


def data_ids(run: Path) -> list[str]:
    import json

    return [json.loads(line)["id"] for line in (run / "data.jsonl").read_text().splitlines() if line.strip()]

