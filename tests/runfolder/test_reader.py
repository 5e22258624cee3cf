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
