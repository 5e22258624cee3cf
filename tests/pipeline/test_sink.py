"""The run folder on the real file system: appends, torn tails, the lock, bad paths, a full disk,
real SIGKILLs of a child writer, and the run.json schema/fingerprints."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthgen.errors import OutputError, ResumeError
from synthgen.runfolder import folder as sink_mod
from synthgen.runfolder.folder import RunFolder
from synthgen.runfolder.state import (
    SCHEMA_VERSION,
    diff_fingerprints,
    fingerprint_of,
    new_state,
    stopped,
)

HELPER = Path(__file__).with_name("kill_helper.py")
ROOT = Path(__file__).resolve().parents[2]
FP = fingerprint_of({"recipe": "nl2dot", "seed": 1, "count": 10})
HELPER_FP = fingerprint_of({"test": "kill_helper", "seed": 7})  # kill_helper.FINGERPRINT


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _child(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, str(HELPER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


# -- appends and state ------------------------------------------------------------------------


def test_append_writes_whole_lines_and_fsyncs(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(sink_mod.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    with RunFolder(tmp_path / "run", resume=False, fingerprint=FP) as folder:
        synced.clear()  # opening saved the first run.json (file + folder fsync)
        folder.append("accepted", [{"id": "a", "text": "ünïcode\nnewline"}, {"id": "b"}])
        folder.append("rejected", [{"id": "c", "reason": "graphviz"}])
        folder.append("failed", [{"id": "d", "error": "timeout"}])
        folder.append("accepted", [])  # nothing to write: no empty line, no fsync
        assert len(synced) == 3
        assert [r["id"] for r in folder.existing_accepted()] == ["a", "b"]
    run = tmp_path / "run"
    assert [json.loads(x)["id"] for x in _lines(run / "data.jsonl")] == ["a", "b"]
    assert json.loads(_lines(run / "rejected.jsonl")[0])["reason"] == "graphviz"
    assert json.loads(_lines(run / "failed_prompts.jsonl")[0])["error"] == "timeout"
    assert all(line.endswith(b"\n") for line in _lines(run / "data.jsonl"))


def test_state_round_trip_is_atomic(tmp_path):
    with RunFolder(tmp_path, resume=False, fingerprint=FP) as folder:
        # opening a fresh folder writes the fingerprint before any record can be appended
        assert folder.load_state()["fingerprint"] == FP
        state = new_state(FP, resume_command="synthgen generate --resume")
        folder.save_state(state)
        state["status"] = stopped("budget")
        folder.save_state(state)
        loaded = folder.load_state()
    assert loaded["status"] == "stopped:budget"
    assert loaded["version"] == SCHEMA_VERSION and loaded["fingerprint"] == FP
    assert not (tmp_path / "run.json.tmp").exists()


def test_unknown_kind_is_a_programming_error(tmp_path):
    with RunFolder(tmp_path, resume=False, fingerprint=FP) as folder, pytest.raises(ValueError):
        folder.append("accepted-ish", [{"id": 1}])


# -- resume -----------------------------------------------------------------------------------


def _seed_run(path: Path, records: list[dict]) -> None:
    with RunFolder(path, resume=False, fingerprint=FP) as folder:
        folder.append("accepted", records)
        folder.save_state(new_state(FP))


def test_torn_last_line_is_cut_counted_and_reported(tmp_path):
    _seed_run(tmp_path, [{"id": 1}, {"id": 2}])
    with open(tmp_path / "data.jsonl", "ab") as fh:
        fh.write(b'{"id": 3, "dot": "digraph { a -> ')  # a kill in the middle of a write
    with RunFolder(tmp_path, resume=True, fingerprint=FP) as folder:
        assert folder.torn_lines == 1
        assert "data.jsonl" in folder.repairs[0] and "torn" in folder.repairs[0]
        assert [r["id"] for r in folder.existing_accepted()] == [1, 2]
        folder.append("accepted", [{"id": 3}])
    assert [json.loads(x)["id"] for x in _lines(tmp_path / "data.jsonl")] == [1, 2, 3]
    log = [json.loads(x) for x in _lines(tmp_path / "log.jsonl")]
    assert log[-1]["event"] == "repair"


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    _seed_run(tmp_path, [{"id": 1}])
    with open(tmp_path / "data.jsonl", "ab") as fh:
        fh.write(b"not json\n" + b'{"id": 2}\n')
    with RunFolder(tmp_path, resume=True, fingerprint=FP) as folder:
        with pytest.raises(OutputError, match=r"data\.jsonl:2: not a JSON record"):
            list(folder.existing_accepted())


def test_non_empty_folder_needs_resume(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as err:
        RunFolder(tmp_path, resume=False, fingerprint=FP).__enter__()
    assert "not empty" in err.value.one_line() and "--resume" in err.value.one_line()


def test_changed_config_refuses_resume_naming_the_change(tmp_path):
    _seed_run(tmp_path, [{"id": 1}])
    changed = fingerprint_of({"recipe": "nl2dot", "seed": 2, "count": 10})
    with pytest.raises(ResumeError) as err:
        RunFolder(tmp_path, resume=True, fingerprint=changed).__enter__()
    assert "seed: 1 -> 2" in err.value.one_line()
    # the failed open released the lock: the right config still resumes
    with RunFolder(tmp_path, resume=True, fingerprint=FP) as folder:
        assert folder.check_resume(FP)["fingerprint"] == FP


def test_resume_of_an_empty_folder_starts_fresh(tmp_path):
    with RunFolder(tmp_path / "new", resume=True, fingerprint=FP) as folder:
        assert folder.load_state()["status"] == "running"


def test_kill_before_the_first_state_save_still_resumes(tmp_path):
    """The runner saves run.json after its first batch; a kill before that must not strand
    the records: the folder already holds the fingerprint from the moment it was opened."""
    with RunFolder(tmp_path, resume=False, fingerprint=FP) as folder:
        folder.append("accepted", [{"id": 1}])
    with RunFolder(tmp_path, resume=True, fingerprint=FP) as folder:
        assert [r["id"] for r in folder.existing_accepted()] == [1]


def test_records_without_state_are_not_resumed(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"id": 1}\n')
    with pytest.raises(ResumeError, match="no run.json"):
        RunFolder(tmp_path, resume=True, fingerprint=FP).__enter__()


def test_a_folder_with_accepted_records_is_not_overwritten_without_resume(tmp_path):
    _seed_run(tmp_path, [{"id": 1}, {"id": 2}])
    before = {name: (tmp_path / name).read_bytes() for name in ("data.jsonl", "run.json")}
    with pytest.raises(OutputError) as err:
        RunFolder(tmp_path, resume=False, fingerprint=FP).__enter__()
    line = err.value.one_line()
    assert "already holds run" in line and "2 accepted records" in line and "--resume" in line
    assert "\n" not in line
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    with RunFolder(tmp_path, resume=True, fingerprint=FP) as folder:  # --resume takes it up
        assert [r["id"] for r in folder.existing_accepted()] == [1, 2]


@pytest.mark.parametrize("resume", [False, True])
def test_an_attempt_killed_before_its_first_record_keeps_its_run_id(tmp_path, resume):
    with RunFolder(tmp_path, resume=False, fingerprint=FP) as folder:
        first_id = folder.state["run_id"]  # the state an early-killed attempt leaves behind
    with RunFolder(tmp_path, resume=resume, fingerprint=FP) as folder:
        assert folder.state["run_id"] == first_id == folder.load_state()["run_id"]
        assert resume or any("continuing run " + first_id in note for note in folder.notes)
        folder.append("accepted", [{"id": 1, "run_id": folder.state["run_id"]}])
    assert json.loads((tmp_path / "run.json").read_text())["run_id"] == first_id


def test_a_changed_config_starts_over_only_in_a_folder_without_records(tmp_path):
    changed = fingerprint_of({"recipe": "nl2dot", "seed": 2, "count": 10})
    with RunFolder(tmp_path, resume=False, fingerprint=FP) as folder:
        old_id = folder.state["run_id"]
    with RunFolder(tmp_path, resume=False, fingerprint=changed) as folder:  # nothing written yet
        assert folder.state["run_id"] != old_id and folder.load_state()["fingerprint"] == changed
        assert "starting a new run" in folder.notes[0]
        folder.append("rejected", [{"id": "r1"}])
    with pytest.raises(ResumeError) as err:  # now it holds records of that config
        RunFolder(tmp_path, resume=False, fingerprint=FP).__enter__()
    assert "seed: 2 -> 1" in err.value.one_line() and "new --output" in err.value.one_line()


def test_resume_refuses_a_folder_of_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ResumeError, match="notes.txt but no run.json"):
        RunFolder(tmp_path, resume=True, fingerprint=FP).__enter__()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "run.lock"]


def test_side_lines_written_after_the_last_save_are_cut_on_reopen(tmp_path):
    """A kill between a batch's appends and its run.json save: on reopen the side files go
    back to the lengths run.json recorded (the batch is redone, its rejects written once);
    accepted records stay, the runner counts them from disk."""
    with RunFolder(tmp_path, resume=False, fingerprint=FP) as folder:
        folder.append("rejected", [{"id": "r1"}])
        folder.save_state(folder.state)
        saved = dict(folder.state["files"])
        folder.append("accepted", [{"id": 2}])
        folder.append("rejected", [{"id": "r2"}, {"id": "r3"}])
        folder.append("failed", [{"id": "f2"}])
    assert saved == {"data.jsonl": 0, "rejected.jsonl": len(b'{"id": "r1"}\n'), "failed_prompts.jsonl": 0}
    with open(tmp_path / "rejected.jsonl", "ab") as fh:
        fh.write(b'{"id": "r4", "torn')
    with RunFolder(tmp_path, resume=True, fingerprint=FP) as folder:  # an accepted record: --resume
        assert [r["id"] for r in folder.existing("rejected")] == ["r1"]
        assert list(folder.existing("failed")) == []
        assert [r["id"] for r in folder.existing_accepted()] == [2]
        assert any("rejected.jsonl: removed 3 lines" in line for line in folder.repairs)
        assert any("failed_prompts.jsonl: removed 1 line " in line for line in folder.repairs)
    # with nothing accepted, a plain rerun cuts them the same way
    run = tmp_path / "plain"
    with RunFolder(run, resume=False, fingerprint=FP) as folder:
        folder.append("rejected", [{"id": "r1"}])
    with RunFolder(run, resume=False, fingerprint=FP) as folder:
        assert list(folder.existing("rejected")) == []


def test_foreign_state_version_is_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"version": 99, "fingerprint": FP}))
    with pytest.raises(ResumeError, match="schema version 99"):
        RunFolder(tmp_path, resume=True, fingerprint=FP).__enter__()


# -- bad paths, lock, full disk ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_unwritable_output_is_a_one_line_error(tmp_path, where):
    # Tests run as root, where chmod does not stop writes: use paths no one can create.
    if where == "under-a-file":
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / "run"
    else:
        target = Path("/proc/self/synthgen-run")
    with pytest.raises(OutputError) as err:
        RunFolder(target, resume=False, fingerprint=FP).__enter__()
    line = err.value.one_line()
    assert str(target) in line and "\n" not in line and "--output" in line


@pytest.mark.slow
def test_lock_held_by_another_process(tmp_path):
    holder = _child("hold", str(tmp_path))
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match="another run is writing"):
            RunFolder(tmp_path, resume=True, fingerprint=FP).__enter__()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # the kernel drops a dead holder's flock: no stale lock after a kill
    with RunFolder(tmp_path, resume=True, fingerprint=HELPER_FP):
        pass


@pytest.mark.slow
def test_a_forked_worker_does_not_keep_a_killed_run_locked(tmp_path):
    holder = _child("fork", str(tmp_path))
    worker = None
    try:
        word, worker = holder.stdout.readline().split()
        worker = int(worker)
        assert word == "locked"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        os.kill(worker, 0)  # the forked worker is still alive...
        with RunFolder(tmp_path, resume=True, fingerprint=HELPER_FP):
            pass  # ...and yet the run can be resumed
    finally:
        holder.kill()
        holder.wait(timeout=30)
        if worker:
            os.kill(worker, signal.SIGKILL)


def test_disk_full_loses_nothing_already_written(tmp_path, monkeypatch):
    """Simulated ENOSPC half-way through a batch (os.write writes part, then fails)."""
    with RunFolder(tmp_path, resume=False, fingerprint=FP) as folder:
        folder.append("accepted", [{"id": 1}, {"id": 2}])
        real_write = os.write
        calls = []

        def half_then_full(fd, data):
            calls.append(1)
            if len(calls) == 1:
                return real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(sink_mod.os, "write", half_then_full)
        with pytest.raises(OutputError) as err:
            folder.append("accepted", [{"id": 3, "big": "y" * 500}, {"id": 4}])
        monkeypatch.undo()
        assert "disk is full" in err.value.one_line() and "--resume" in err.value.one_line()
        assert [r["id"] for r in folder.existing_accepted()] == [1, 2]
        folder.append("accepted", [{"id": 3}])  # space came back: appending goes on
    assert [json.loads(x)["id"] for x in _lines(tmp_path / "data.jsonl")] == [1, 2, 3]


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if rc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights); the ENOSPC simulation covers it")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_disk_on_a_tiny_tmpfs(tiny_tmpfs):
    written = []
    with RunFolder(tiny_tmpfs / "run", resume=False, fingerprint=FP) as folder:
        with pytest.raises(OutputError, match="disk is full"):
            for i in range(1000):
                batch = [{"id": i, "payload": "z" * 3000}]
                folder.append("accepted", batch)
                written.append(i)
        assert [r["id"] for r in folder.existing_accepted()] == written
    assert written and (tiny_tmpfs / "run" / "data.jsonl").read_bytes().endswith(b"\n")


# -- real kills of a child writer -------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_child_writer_then_resume(tmp_path):
    """Kill a real writer 8 times at seeded random moments; the rerun ends with each record once.
    Every other writer pauses between a batch's appends and its run.json save, so some kills
    land in that window (the one that could duplicate side lines)."""
    rng = random.Random(20261122)
    target, size = 400, 20_000
    run = tmp_path / "run"
    starts = []
    for attempt in range(8):
        child = _child("write", str(run), str(target), str(size), "0.02" if attempt % 2 else "0")
        starts.append(child.stdout.readline())
        time.sleep(rng.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    final = _child("write", str(run), str(target), str(size))
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert out.strip().endswith("done")
    raw = (run / "data.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    ids = [json.loads(line)["id"] for line in raw.splitlines()]
    assert ids == list(range(target))
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "completed" and state["counters"]["write"]["accepted"] == target
    progress = [int(s.split()[1]) for s in starts if s.startswith("start")]
    assert progress == sorted(progress), "a resumed writer must never go back"
    for name in ("rejected.jsonl", "failed_prompts.jsonl"):  # redone batches: side lines once
        side = [json.loads(line)["id"] for line in _lines(run / name)]
        assert side and len(side) == len(set(side)), f"duplicate lines in {name}"
        assert set(side) <= {f"{name[0]}{i}" for i in range(target)}


# -- run.json schema and fingerprints ---------------------------------------------------------


def test_fingerprint_ignores_runtime_only_keys():
    base = {"recipe": "nl2dot", "model": "smollm2", "seed": 1, "count": 100, "domains": ("a", "b")}
    runtime = {"output": "/x", "max_gpu_hours": 2.0, "max_cost": 5, "batch_size": 64, "dry_run": False}
    assert fingerprint_of(base) == fingerprint_of({**base, **runtime})
    assert fingerprint_of(base)["domains"] == ["a", "b"]
    assert fingerprint_of({**base, "grammar_hash": None}) == fingerprint_of(base)


def test_diff_fingerprints_names_old_and_new():
    old = fingerprint_of({"seed": 1, "count": 100, "weights": {"simple": 0.3}})
    new = fingerprint_of({"seed": 1, "count": 200, "model": "qwen"})
    assert diff_fingerprints(old, new) == [
        "count: 100 -> 200",
        'model: "<unset>" -> "qwen"',
        'weights: {"simple": 0.3} -> "<unset>"',
    ]
    assert diff_fingerprints(old, old) == []


def test_fingerprint_never_holds_a_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdefghijklmnop")
    fp = fingerprint_of({"headers": "Bearer sk-test-abcdefghijklmnop", "seed": 1})
    assert "sk-test" not in json.dumps(fp)


def test_deleting_run_lock_under_a_run_lets_no_second_writer_in(tmp_path):
    """The folder's lock is on the directory itself: ``rm run.lock`` during a run (which let a
    second run in before: 168 lines for --count 100, 68 duplicates) changes nothing."""
    holder = _child("hold", str(tmp_path))
    try:
        assert holder.stdout.readline().strip() == "locked"
        (tmp_path / "run.lock").unlink()
        with pytest.raises(OutputError, match="another run is writing"):
            RunFolder(tmp_path, resume=True, fingerprint=FP).__enter__()
        from synthgen.runfolder.reader import open_run

        assert open_run(tmp_path).live  # readers see the writer too
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with RunFolder(tmp_path, resume=True, fingerprint=HELPER_FP):
        pass
