"""The whole CLI killed for real: SIGKILL at seeded random moments, Ctrl-C, then --resume.

The fake backend stands in for the engine (the engine is not what is tested here); parse,
Graphviz validation, measure, dedup, quota and the sink are the real ones. After the kills the
run must hold exactly the target number of unique, Graphviz-valid records, no torn line, and
quotas that match what is on disk.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COUNT = 100
BASE_ARGS = ["--model", "fake", "--count", str(COUNT), "--batch-size", "4", "--seed", "11"]

pytestmark = [pytest.mark.slow, pytest.mark.graphviz]


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory, require_graphviz) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text(
        "alias: fake\nbackend: fake\ndescription: test stand-in\n"
        "throughput_tokens_per_s: 500\nthroughput_source: made up for tests\n"
    )
    return dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SYNTHGEN_MODELS_DIR=str(models),
        SYNTHGEN_FAKE_DELAY_S="0.12",  # slow the fake engine so kills land mid-run
        SYNTHGEN_FAKE_INVALID_RATE="0.1",  # some Graphviz rejects and some garbage, so all
        SYNTHGEN_FAKE_GARBAGE_RATE="0.05",  # three JSONL files are written and killed too
        PYTHONUNBUFFERED="1",
    )


def start(out: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "synthgen", "generate", *BASE_ARGS, "--output", str(out), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def finish(out: Path, env: dict[str, str], *extra: str, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = start(out, env, *extra)
    stdout, stderr = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def check_final_run(out: Path) -> list[dict]:
    """Exactly COUNT whole, unique, Graphviz-valid records; quotas from disk match run.json."""
    for name in ("rejected.jsonl", "failed_prompts.jsonl", "log.jsonl"):
        for line in lines(out / name):  # every side file whole and parseable too
            assert line.endswith(b"\n") and json.loads(line)
    raw = (out / "data.jsonl").read_bytes()
    assert raw.endswith(b"\n"), "torn last line"
    records = [json.loads(line) for line in raw.splitlines()]
    assert len(records) == COUNT
    assert len({r["id"] for r in records}) == COUNT, "duplicate ids"
    exact = [r["validation"]["hashes"]["exact"] for r in records]
    assert len(set(exact)) == COUNT, "duplicate exact (DOT + request) hashes"
    assert len({r["provenance"]["plan_index"] for r in records}) == COUNT
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "completed"
    on_disk = Counter(f"{r['domain']}/{r['complexity_measured']}" for r in records)
    assert {k: v[0] for k, v in state["quota"].items() if v[0]} == dict(on_disk)
    assert all(v[0] == v[1] for v in state["quota"].values()), "a quota is not met exactly"
    check_with_graphviz(out, records)
    return records


def check_with_graphviz(out: Path, records: list[dict]) -> None:
    batch = out.parent / f"{out.name}-all.gv"
    batch.write_text("\n".join(r["dot"] for r in records))
    proc = subprocess.run(["nop", str(batch)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "error" not in proc.stderr.lower(), proc.stderr[:500]


def wait_for_growth(proc: subprocess.Popen, path: Path, size: int, timeout: float = 120) -> bool:
    """Until ``path`` is bigger than ``size`` (the child wrote a batch); False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.stat().st_size > size:
            return True
        time.sleep(0.02)
    return False


def test_sigkill_at_random_moments_then_resume(tmp_path, cli_env):
    """Six SIGKILLs: one during start-up, five at a seeded random delay after the child has
    written a batch (start-up time on a loaded 2-core box varies too much for a blind delay)."""
    rng = random.Random(4242)
    out = tmp_path / "run"
    data = out / "data.jsonl"
    kills, seen = 0, []
    for attempt in range(12):
        before = data.stat().st_size if data.exists() else 0
        proc = start(out, cli_env, *(("--resume",) if out.exists() else ()))
        if attempt == 0:
            time.sleep(rng.uniform(0.0, 1.0))
        elif wait_for_growth(proc, data, before):
            time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is not None:  # finished before the kill: fine, but it doesn't count
            proc.communicate()
            break
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        kills += 1
        seen.append(len(lines(data)))
        if kills >= 6:
            break
    assert kills >= 5, f"only {kills} kills landed mid-run (records on disk after each: {seen})"
    assert any(0 < n < COUNT for n in seen), f"no kill landed after a first write: {seen}"
    done = finish(out, cli_env, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    check_final_run(out)


def test_ctrl_c_stops_cleanly_and_resume_completes(tmp_path, cli_env):
    out = tmp_path / "run"
    proc = start(out, dict(cli_env, SYNTHGEN_FAKE_DELAY_S="0.4"))  # >= 10 s: time to start a rival
    deadline = time.monotonic() + 60
    while not lines(out / "data.jsonl") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    second = finish(out, cli_env, "--resume", timeout=120)  # a second run on the same folder
    assert second.returncode == 4 and "another run is writing" in second.stderr, second.stderr[-2000:]
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "--resume" in stderr + stdout, "the stop message must say how to resume"
    assert "Traceback" not in stderr
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "interrupted" and "--resume" in state["resume_command"]
    assert len(lines(out / "data.jsonl")) < COUNT
    done = finish(out, cli_env, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    check_final_run(out)


@pytest.mark.parametrize("change", [("--seed", "12"), ("--count", "41")])
def test_changed_config_refuses_to_resume(tmp_path, cli_env, change):
    out = tmp_path / "run"
    first = finish(out, dict(cli_env, SYNTHGEN_FAKE_DELAY_S="0"), "--max-candidates", "8")
    assert first.returncode == 6 and (out / "data.jsonl").exists(), first.stderr[-2000:]  # stopped at the cap
    before = (out / "data.jsonl").read_bytes()
    args = [a for a in BASE_ARGS]
    args[args.index(change[0]) + 1] = change[1]
    cmd = [sys.executable, "-m", "synthgen", "generate", *args, "--output", str(out), "--resume"]
    proc = subprocess.run(cmd, env=cli_env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 5, proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    name = change[0].lstrip("-")
    old = BASE_ARGS[BASE_ARGS.index(change[0]) + 1]
    assert f"{name}: {old} -> {change[1]}" in message and "Traceback" not in proc.stderr
    assert (out / "data.jsonl").read_bytes() == before, "a refused resume must not touch the records"
