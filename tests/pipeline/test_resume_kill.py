"""The whole CLI killed for real: SIGKILL at seeded random moments, Ctrl-C, SIGTERM (once and
twice), a file-size limit hit mid-run (EFBIG), then --resume.

The fake backend stands in for the engine (the engine is not what is tested here); parse,
Graphviz validation, measure, dedup, quota and the sink are the real ones. After the kills the
run must hold exactly the target number of unique, Graphviz-valid records, no torn line, no
line twice in any of the three JSONL files, and quotas and counters that match what is on disk.
"""

from __future__ import annotations

import json
import os
import random
import resource
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


CELL_FIELDS = {"nl2dot": ("domain", "complexity_measured"), "coding-tasks": ("repository", "task_kind")}


def check_final_run(out: Path, recipe: str = "nl2dot") -> list[dict]:
    """Exactly COUNT whole, unique records (nl2dot's Graphviz-valid); quotas from disk match
    run.json; no rejected or failed line twice, and as many of each as run.json's counters say."""
    for name in ("rejected.jsonl", "failed_prompts.jsonl", "log.jsonl"):
        for line in lines(out / name):  # every side file whole and parseable too
            assert line.endswith(b"\n") and json.loads(line)
    summary = json.loads((out / "run.json").read_text())["summary"]
    for name, counted in (("rejected.jsonl", summary["rejected"]), ("failed_prompts.jsonl", summary["failed"])):
        raw = lines(out / name)
        assert len(set(raw)) == len(raw), f"a duplicate line in {name}"
        ids = [json.loads(line)["id"] for line in raw]
        assert len(set(ids)) == len(ids), f"an id twice in {name}"
        assert len(raw) == sum(counted.values()), f"{name}: {len(raw)} lines, run.json counts {counted}"
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
    first, second = CELL_FIELDS[recipe]
    on_disk = Counter(f"{r[first]}/{r[second]}" for r in records)
    assert {k: v[0] for k, v in state["quota"].items() if v[0]} == dict(on_disk)
    assert all(v[0] == v[1] for v in state["quota"].values()), "a quota is not met exactly"
    if recipe == "nl2dot":
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


@pytest.fixture(params=["nl2dot", "coding-tasks"])
def recipe_args(request) -> tuple[str, tuple[str, ...]]:
    """The same kill test for every recipe: coding-tasks reads the real traces in ../shared/data."""
    if request.param == "nl2dot":
        return "nl2dot", ()
    shared = request.getfixturevalue("shared_data")
    return "coding-tasks", ("--recipe", "coding-tasks", "--traces", str(shared / "traces"))


def test_sigkill_at_random_moments_then_resume(tmp_path, cli_env, recipe_args):
    """Six SIGKILLs: one during start-up, five at a seeded random delay after the child has
    written a batch (start-up time on a loaded 2-core box varies too much for a blind delay)."""
    recipe, args = recipe_args
    rng = random.Random(4242)
    out = tmp_path / "run"
    data = out / "data.jsonl"
    kills, seen = 0, []
    for attempt in range(12):
        before = data.stat().st_size if data.exists() else 0
        proc = start(out, cli_env, *args, *(("--resume",) if out.exists() else ()))
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
    state = json.loads((out / "run.json").read_text())
    assert len({r["provenance"]["run_id"] for r in map(json.loads, lines(data))} | {state["run_id"]}) == 1
    assert any(0 < n < COUNT for n in seen), f"no kill landed after a first write: {seen}"
    done = finish(out, cli_env, *args, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    check_final_run(out, recipe)


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


def wait_for_records(proc: subprocess.Popen, out: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not lines(out / "data.jsonl") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"


def test_sigterm_stops_like_ctrl_c_with_exit_143_and_resume_completes(tmp_path, cli_env):
    """docker stop / a batch scheduler: SIGTERM finishes the batch in flight, saves, says how
    to resume, exits 143 (128 + SIGTERM)."""
    out = tmp_path / "run"
    proc = start(out, dict(cli_env, SYNTHGEN_FAKE_DELAY_S="0.4"))
    wait_for_records(proc, out)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr[-2000:]
    assert "SIGTERM" in stderr and "to continue this run:" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr and "interrupted" in stdout  # the summary table says so
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "interrupted" and state["stop_signal"] == "SIGTERM"
    assert "SIGTERM" in state["stop_reason"]
    on_disk = len(lines(out / "data.jsonl"))
    assert 0 < on_disk < COUNT and state["summary"]["accepted"] == on_disk  # the last batch was saved
    done = finish(out, cli_env, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    check_final_run(out)


def test_a_second_sigterm_stops_at_once_and_resume_completes(tmp_path, cli_env):
    out = tmp_path / "run"
    proc = start(out, dict(cli_env, SYNTHGEN_FAKE_DELAY_S="1.5"))  # a batch takes 1.5 s
    wait_for_records(proc, out, timeout=90)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr[-2000:]
    assert "stopped at once" in stderr and "Traceback" not in stderr
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "interrupted" and state["stop_signal"] == "SIGTERM"
    assert "second SIGTERM" in state["stop_reason"]
    done = finish(out, cli_env, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    check_final_run(out)


def test_a_rerun_without_resume_refuses_to_overwrite_accepted_records(tmp_path, cli_env):
    out = tmp_path / "run"
    first = finish(out, dict(cli_env, SYNTHGEN_FAKE_DELAY_S="0"), "--max-candidates", "8")
    assert first.returncode == 6, first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "run.lock"}
    again = finish(out, cli_env)
    assert again.returncode == 4 and "Traceback" not in again.stderr
    errors = [line for line in again.stderr.splitlines() if line.startswith("synthgen: error:")]
    assert len(errors) == 1 and "already holds run" in errors[0] and "--resume" in errors[0], again.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "run.lock"} == before


FILE_LIMIT = 48_000  # bytes: data.jsonl hits it after some tens of records


def _file_size_limit() -> None:
    """In the child before exec: a real per-process file-size limit, so a write past it fails
    with EFBIG on the real file system (SIGXFSZ ignored, or the kernel would kill the child)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, hard))


def test_a_file_size_limit_hit_mid_run_is_one_line_and_the_run_resumes(tmp_path, cli_env):
    out = tmp_path / "run"
    env = dict(cli_env, SYNTHGEN_FAKE_DELAY_S="0", SYNTHGEN_FAKE_INVALID_RATE="0", SYNTHGEN_FAKE_GARBAGE_RATE="0")
    cmd = [sys.executable, "-m", "synthgen", "generate", *BASE_ARGS, "--output", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=300, preexec_fn=_file_size_limit)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("synthgen: error:")]
    assert len(errors) == 1 and "data.jsonl" in errors[0] and "EFBIG" in errors[0] and "--resume" in errors[0], proc.stderr
    assert "to continue this run:" in proc.stderr
    kept = (out / "data.jsonl").read_bytes()
    assert 0 < len(kept) <= FILE_LIMIT and kept.endswith(b"\n")
    records = [json.loads(line) for line in kept.splitlines()]
    assert len({r["id"] for r in records}) == len(records) < COUNT
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "failed" and "EFBIG" in state["stop_reason"]
    assert state["summary"]["accepted"] == len(records)
    done = finish(out, env, "--resume")  # the limit is gone (space freed)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "data.jsonl").read_bytes().startswith(kept), "a record written before the failure changed"
    check_final_run(out)


def test_a_run_killed_before_its_first_record_reruns_without_resume_under_one_run_id(tmp_path, cli_env):
    out = tmp_path / "run"
    proc = start(out, dict(cli_env, SYNTHGEN_FAKE_DELAY_S="3"))  # the first batch takes 3 s
    deadline = time.monotonic() + 60
    while not (out / "run.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not lines(out / "data.jsonl"), "the kill was meant to land before the first batch was written"
    first_id = json.loads((out / "run.json").read_text())["run_id"]
    again = finish(out, dict(cli_env, SYNTHGEN_FAKE_DELAY_S="0"))  # the same command, no --resume
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"continuing run {first_id}" in again.stderr
    records = check_final_run(out)
    assert {r["provenance"]["run_id"] for r in records} == {first_id}
