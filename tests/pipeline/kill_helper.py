"""A child process for the sink's crash tests: it is killed for real, from outside.

    python kill_helper.py hold DIR            take DIR's run lock, print "locked", sleep
    python kill_helper.py fork DIR            take the lock, fork a child that outlives us (an
                                              engine worker), print "locked <child pid>", sleep
    python kill_helper.py write DIR N SIZE    write records 0..N-1 (SIZE-byte payloads) into
                                              DIR with --resume semantics, in batches of 7,
                                              counting what is already on disk first

The writer does what the runner does around the sink: count from disk, append the accepted
batch, append rejects, save run.json, repeat. Kill it anywhere; a rerun must finish with
records 0..N-1, each exactly once.
"""

from __future__ import annotations

import sys
import time

from synthgen.errors import SynthgenError
from synthgen.pipeline.runstate import fingerprint_of, new_state
from synthgen.pipeline.sink import RunFolder

FINGERPRINT = fingerprint_of({"test": "kill_helper", "seed": 7})
BATCH = 7


def hold(path: str) -> None:
    with RunFolder(path, resume=True, fingerprint=FINGERPRINT):
        print("locked", flush=True)
        time.sleep(600)


def fork(path: str) -> None:
    import os

    with RunFolder(path, resume=True, fingerprint=FINGERPRINT):
        pid = os.fork()
        if pid == 0:  # the "worker": it must not keep the run locked
            time.sleep(600)
            os._exit(0)
        print(f"locked {pid}", flush=True)
        time.sleep(600)


def write(path: str, target: int, size: int) -> None:
    with RunFolder(path, resume=True, fingerprint=FINGERPRINT) as folder:
        done = sum(1 for _ in folder.existing_accepted())
        state = folder.load_state() or new_state(FINGERPRINT, resume_command=f"kill_helper write {path}")
        print(f"start {done} torn={folder.torn_lines}", flush=True)
        while done < target:
            ids = range(done, min(done + BATCH, target))
            folder.append("accepted", [{"id": i, "payload": "x" * size} for i in ids])
            folder.append("rejected", [{"id": f"r{i}", "reason": "test"} for i in ids])
            done = ids[-1] + 1
            state["counters"] = {"accepted": done}
            folder.save_state(state)
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
            write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    except SynthgenError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
