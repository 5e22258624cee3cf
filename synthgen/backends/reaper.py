"""The engine's processes die with synthgen, however synthgen dies.

vLLM runs its engine core (and on GPUs its workers) in child processes. When synthgen ends
normally the backend shuts them down; when it is SIGKILLed (the OOM killer, ``kill -9``, a
scheduler's hard stop) nothing of synthgen runs, and the children, re-parented to PID 1,
keep the model (and a GPU's memory) for minutes, so the resume finds the card full.

``Reaper.start()`` starts a small watcher process. It polls the descendants of synthgen
(psutil, twice a second) and remembers them; it holds the read end of a pipe whose write end
only synthgen has. When that pipe reports end-of-file without the "done" byte ``stop()``
sends, synthgen has died: the watcher sends SIGTERM to every remembered process still alive
(matched by PID and start time, so a reused PID is never hit), SIGKILL two seconds later to
what remains, and exits. It ignores SIGINT and SIGTERM, so a Ctrl-C to the process group
does not take it down before it has done its work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import IO

POLL_S = 0.5
GRACE_S = 2.0
DONE = b"d"


class Reaper:
    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._pipe: IO[bytes] | None = None

    def start(self) -> None:
        if self._proc is not None:
            return
        read_fd, write_fd = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "synthgen.backends.reaper", str(os.getpid())],
                stdin=read_fd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            os.close(read_fd)
        self._pipe = os.fdopen(write_fd, "wb", buffering=0)

    def stop(self) -> None:
        """A normal end: the watcher exits without touching anything."""
        pipe, proc, self._pipe, self._proc = self._pipe, self._proc, None, None
        if pipe is not None:
            try:
                pipe.write(DONE)
                pipe.close()
            except OSError:
                pass
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def watch(parent: int) -> None:
    """The watcher's loop (``python -m synthgen.backends.reaper PARENT``)."""
    import select
    import signal

    import psutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    me = os.getpid()
    seen: dict[int, float] = {}  # pid -> create time
    try:
        root = psutil.Process(parent)
    except psutil.Error:
        return
    while True:
        try:
            for child in root.children(recursive=True):
                if child.pid != me:
                    try:
                        seen.setdefault(child.pid, child.create_time())
                    except psutil.Error:
                        pass
        except psutil.Error:
            pass
        ready, _, _ = select.select([0], [], [], POLL_S)
        if ready:
            data = os.read(0, 1)
            if data == DONE:
                return
            if not data:  # end of file without "done": synthgen is gone
                break
    _reap(seen)


def _reap(seen: dict[int, float]) -> None:
    """SIGTERM to every remembered process still alive, SIGKILL after ``GRACE_S``."""
    import signal

    import psutil

    alive = []
    for pid, created in seen.items():
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) < 0.01:
                proc.send_signal(signal.SIGTERM)
                alive.append(proc)
        except psutil.Error:
            pass
    _, left = psutil.wait_procs(alive, timeout=GRACE_S)
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:
            pass


if __name__ == "__main__":
    watch(int(sys.argv[1]))
