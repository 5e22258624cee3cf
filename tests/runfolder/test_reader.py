"""The read-only opener export and report use: it never locks or writes, reads a live run
up to its last whole line and says it is live, skips a torn last line, refuses a folder
that is not a run in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.errors import OutputError
from synthgen.runfolder.folder import RunFolder
from synthgen.runfolder.reader import open_run
from synthgen.runfolder.state import fingerprint_of

HELPER = Path(__file__).resolve().parents[1] / "pipeline" / "kill_helper.py"
FP = fingerprint_of({"test": "reader", "recipe": "toy"})


def written(tmp_path: Path, n: int = 3, fingerprint: dict = FP) -> Path:
    folder = tmp_path / "run"
    with RunFolder(folder, resume=False, fingerprint=fingerprint) as run:
        run.append("accepted", [{"id": i} for i in range(n)])
        run.append("rejected", [{"id": "r0", "reason": "dup_exact"}])
        run.save_state(run.state)
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime) for p in folder.iterdir()}


def test_reads_records_and_state_without_writing(tmp_path):
    folder = written(tmp_path)
    before = snapshot(folder)
    view = open_run(folder)
    assert [r["id"] for r in view.records()] == [0, 1, 2]
    assert [r["reason"] for r in view.records("rejected")] == ["dup_exact"]
    assert list(view.records("failed")) == []
    assert view.recipe == "toy" and view.status == "running" and not view.live
    assert snapshot(folder) == before


def test_a_torn_last_line_is_skipped_and_counted_not_repaired(tmp_path):
    folder = written(tmp_path)
    with open(folder / "data.jsonl", "ab") as fh:
        fh.write(b'{"id": 3, "half')
    size = (folder / "data.jsonl").stat().st_size
    view = open_run(folder)
    assert [r["id"] for r in view.records()] == [0, 1, 2] and view.torn == {"accepted": 1}
    assert (folder / "data.jsonl").stat().st_size == size  # the writer's opener repairs; this one only reads


def test_a_run_being_written_is_read_and_said_to_be_live(tmp_path):
    from pipeline.kill_helper import FINGERPRINT

    folder = written(tmp_path, fingerprint=FINGERPRINT)  # the helper holds the lock of a run with its fingerprint
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, str(HELPER), "hold", str(folder)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "locked"
        view = open_run(folder)
        assert view.live and len(list(view.records())) == 3
    finally:
        proc.kill()
        proc.wait()
    assert not open_run(folder).live


@pytest.mark.parametrize("make,message", [
    (lambda p: p, "is not a synthgen run folder"),
    (lambda p: (p / "run.json").write_text("{not json"), "is not valid JSON"),
    (lambda p: (p / "run.json").write_text(json.dumps({"fingerprint": {}, "version": 99})), "schema version 99"),
])
def test_what_is_not_a_run_is_one_line(tmp_path, make, message):
    folder = tmp_path / "x"
    folder.mkdir()
    make(folder)
    with pytest.raises(OutputError) as err:
        open_run(folder)
    assert message in err.value.one_line() and "\n" not in err.value.one_line()
    with pytest.raises(OutputError, match="is not a folder"):
        open_run(tmp_path / "missing")


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
@pytest.mark.parametrize("after", ["append.accepted.write", "append.accepted.done"])
def test_a_run_killed_inside_a_batch_commit_is_read_as_the_next_open_will_settle_it(tmp_path, after):
    """SIGKILL inside a batch's commit leaves run.json with the batch pending. Readers (export,
    report, compare) see the state the next open will settle it to: the batch left out when
    its accepted lines are not whole on disk, counted when they are, and never half."""
    from synthgen.runfolder.reader import open_run
    from synthgen.steps.base import FAILED_REASONS
    from tests.pipeline.fault_harness import KNOBS, run_cli

    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    env = {"SYNTHGEN_MODELS_DIR": str(models), **KNOBS}
    args = ["generate", "--model", "fake", "--count", "12", "--batch-size", "6", "--seed", "1"]
    trace = tmp_path / "trace"
    assert run_cli([*args, "--output", str(tmp_path / "clean")], env, tmp_path / "e", trace=trace).code == 0
    points = trace.read_text().splitlines()
    at = [i for i, name in enumerate(points, 1) if name == after][1]  # the second batch
    run = tmp_path / "run"
    assert run_cli([*args, "--output", str(run)], env, tmp_path / "e", mode="kill", at=at).code == -9
    assert "pending" in json.loads((run / "run.json").read_text())
    view = open_run(run)
    assert view.note and "pending" not in view.state
    rows = {kind: list(view.records(kind)) for kind in ("accepted", "rejected", "failed")}
    drops = {"rejected": 0, "failed": 0}
    for counts in view.state["counters"].values():
        for key, n in counts.items():
            if key.startswith("dropped_"):
                drops["failed" if key.removeprefix("dropped_") in FAILED_REASONS else "rejected"] += n
    assert view.state["counters"]["quota"]["forwarded"] == len(rows["accepted"])
    assert drops == {"rejected": len(rows["rejected"]), "failed": len(rows["failed"])}
    assert view.state["candidates"] == sum(len(r) for r in rows.values())
    batches = 2 if after == "append.accepted.done" else 1  # whole on disk: counted; else left out
    assert view.state["candidates"] == 6 * batches
