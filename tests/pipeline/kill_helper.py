"""A child process for the sink's crash tests: it is killed for real, from outside.

    python kill_helper.py hold DIR            take DIR's run lock, print "locked", sleep
    python kill_helper.py fork DIR            take the lock, fork a child that outlives us (an
                                              engine worker), print "locked <child pid>", sleep
    python kill_helper.py write DIR N SIZE [PAUSE]
                                              write records 0..N-1 (SIZE-byte payloads) into
                                              DIR with --resume semantics, in batches of 7,
                                              counting what is already on disk first; PAUSE
                                              seconds between a batch's appends and its save
                                              (a wide window for a kill to land in)

The writer does what the runner does around the sink: count from disk, append the accepted
batch, append rejects and failures, save run.json, repeat. Kill it anywhere; a rerun must
finish with records 0..N-1, each exactly once, and no side line twice.
"""

from __future__ import annotations

import sys
import time

from synthgen.errors import SynthgenError
from synthgen.runfolder.folder import RunFolder
from synthgen.runfolder.state import fingerprint_of

FINGERPRINT = fingerprint_of({"test": "kill_helper", "seed": 7})
BATCH = 7


def hold(path: str) -> None:
    with RunFolder(path, resume=True, fingerprint=FINGERPRINT):
        print("locked", flush=True)
        time.sleep(600)


def fork(path: str) -> None:
    import os

    with RunFolder(path, resume=True, fingerprint=FINGERPRINT):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the "worker": it must not keep the run locked
            os.write(ready_w, b"1")  # the at-fork hooks have run by the time we get here
            time.sleep(600)
            os._exit(0)
        os.read(ready_r, 1)  # else a kill right after "locked" can beat the worker's first step
        print(f"locked {pid}", flush=True)
        time.sleep(600)


def write(path: str, target: int, size: int, pause: float = 0.0) -> None:
    with RunFolder(path, resume=True, fingerprint=FINGERPRINT) as folder:
        done = sum(1 for _ in folder.existing_accepted())
        state = folder.state
        state["resume_command"] = f"kill_helper write {path}"
        print(f"start {done} torn={folder.torn_lines}", flush=True)
        while done < target:
            ids = range(done, min(done + BATCH, target))
            folder.append("accepted", [{"id": i, "payload": "x" * size} for i in ids])
            folder.append("rejected", [{"id": f"r{i}", "reason": "test"} for i in ids])
            folder.append("failed", [{"id": f"f{i}", "reason": "test"} for i in ids if i % 3 == 0])
            done = ids[-1] + 1
            time.sleep(pause)
            state["counters"] = {"write": {"accepted": done}}
            folder.save_state(state)
        state["counters"] = {"write": {"accepted": done}}  # counted from disk: a batch may be unsaved
        state["status"] = "completed"
        folder.save_state(state)
        print("done", flush=True)


if __name__ == "__main__":
    try:
        if sys.argv[1] == "hold":
            hold(sys.argv[2])
        elif sys.argv[1] == "fork":
            fork(sys.argv[2])
        else:
            write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]) if len(sys.argv) > 5 else 0.0)
    except SynthgenError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
