"""Crash consistency by proof: a run (fake engine, real checks, real files) is crashed at
every I/O point it reaches (each append before its write, before its fsync and after it;
each run.json save before its write, fsync and rename and after it; each log line) by
SIGKILL, a full disk (ENOSPC), a file-size limit (EFBIG), one SIGTERM and two SIGTERMs;
each crashed run is resumed to completion and its folder checked (tests/pipeline/
fault_harness.py): exactly the target, no duplicated id or content, no torn line, every
candidate in exactly one file, run.json's counters and file sizes equal to what the files
hold, the ledger never short and never more than one batch over.

A property test (hypothesis) does the same over seeds, batch sizes, counts and crash
points. ``SYNTHGEN_FAULT_EXAMPLES`` sets its number of examples (CI: 40; a long run on a
quiet machine: ``SYNTHGEN_FAULT_EXAMPLES=3000 pytest tests/pipeline/test_fault_injection.py -k random``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.pipeline.fault_harness import KNOBS, Tally, check_folder, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]

TARGET, BATCH, SEED = 20, 6, 1
EXIT = {"enospc": 4, "efbig": 4, "sigterm": 143, "sigterm2": 143}  # OutputError's exit code; 128 + SIGTERM


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    env = {"SYNTHGEN_MODELS_DIR": str(models), **KNOBS}
    warm = tmp_path_factory.mktemp("warm")  # one run here first: every child forks with it all imported
    assert run_cli(args(warm / "run", count=2, batch=2), env, warm / "err", in_process=True).code == 0
    return env


def args(out: Path, count: int = TARGET, batch: int = BATCH, seed: int = SEED, resume: bool = False) -> list[str]:
    return ["generate", "--model", "fake", "--count", str(count), "--batch-size", str(batch), "--seed", str(seed),
            "--output", str(out), *(["--resume"] if resume else [])]


def points_of(tmp: Path, env: dict[str, str], **kw) -> list[str]:
    """The I/O points a clean run reaches, in order."""
    trace = tmp / "trace.txt"
    out = run_cli(args(tmp / "clean", **kw), env, tmp / "clean.err", trace=trace)
    assert out.code == 0, out.stderr
    return trace.read_text().splitlines()


def crash_and_resume(tmp: Path, env: dict[str, str], mode: str, at: int, tally: Tally, name: str = "", **kw) -> None:
    """Crash at point ``at`` (named ``name`` in the clean run's trace), resume, check."""
    out = tmp / f"{mode}-{at}"
    shutil.rmtree(out, ignore_errors=True)
    crashed = run_cli(args(out, **kw), env, tmp / "crash.err", mode=mode, at=at)
    tally.crashes += 1
    tally.by_mode[mode] = tally.by_mode.get(mode, 0) + 1
    where = f"{mode} at point {at}"
    assert "Traceback" not in crashed.stderr, f"{where}:\n{crashed.stderr}"
    if mode == "kill":
        assert crashed.code in (-9, 0), f"{where}: exit {crashed.code}\n{crashed.stderr}"
    else:
        assert crashed.code in (0, EXIT[mode]), f"{where}: exit {crashed.code}\n{crashed.stderr}"
        if crashed.code:  # a clear line, and the folder is not left "running"
            assert crashed.stderr.strip(), where
            state = (out / "run.json").read_text() if (out / "run.json").exists() else ""
            unsaveable = mode in ("enospc", "efbig") and name in ("state.write", "state.fsync", "state.rename")
            if not unsaveable:  # a run.json that can't be written keeps its last status; any other failure is saved
                assert '"status": "running"' not in state, f"{where} ({name}): run.json left running\n{crashed.stderr}"
    if crashed.code == 0 and (out / "run.json").exists() and '"completed"' in (out / "run.json").read_text():
        tally.checks += check_folder(out, kw.get("count", TARGET), kw.get("batch", BATCH))
        return
    resumed = run_cli(args(out, resume=True, **kw), env, tmp / "resume.err")
    tally.resumes += 1
    assert resumed.code == 0, f"{where}: the resume exited {resumed.code}\n{resumed.stderr}"
    assert "Traceback" not in resumed.stderr, resumed.stderr
    tally.checks += check_folder(out, kw.get("count", TARGET), kw.get("batch", BATCH))


@pytest.mark.parametrize("mode", ["kill", "enospc", "efbig", "sigterm", "sigterm2"])
def test_a_crash_at_every_io_point_resumes_exactly(tmp_path, env, mode, capsys):
    points = points_of(tmp_path, env)
    kinds = sorted(set(points))
    assert {"append.accepted.write", "append.rejected.fsync", "append.failed.done", "state.rename", "log.write"} <= set(kinds)
    tally = Tally(points=len(points))
    for at in range(1, len(points) + 1):
        crash_and_resume(tmp_path, env, mode, at, tally, points[at - 1])
    with capsys.disabled():
        print(f"\n{tally.line()} ({len(kinds)} kinds of point)")
    assert tally.crashes == len(points) and tally.checks >= 10 * len(points)


def test_random_configs_and_crash_points(tmp_path, env, capsys):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    tally = Tally()
    examples = int(os.environ.get("SYNTHGEN_FAULT_EXAMPLES", "40"))

    @settings(max_examples=examples, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 10_000), batch=st.integers(1, 12), count=st.integers(1, 30),
           mode=st.sampled_from(["kill", "enospc", "efbig", "sigterm", "sigterm2"]), where=st.floats(0, 1))
    def case(seed: int, batch: int, count: int, mode: str, where: float) -> None:
        case_dir = tmp_path / f"case-{tally.crashes}"
        case_dir.mkdir()
        points = points_of(case_dir, env, seed=seed, batch=batch, count=count)
        at = 1 + min(len(points) - 1, int(where * len(points)))
        tally.points += 1
        crash_and_resume(case_dir, env, mode, at, tally, points[at - 1], seed=seed, batch=batch, count=count)
        shutil.rmtree(case_dir)

    case()
    with capsys.disabled():
        print(f"\n{tally.line()} (random configs)")
    assert tally.crashes == examples
