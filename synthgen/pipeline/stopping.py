"""Stopping a run on a signal: the first SIGINT (Ctrl-C) or SIGTERM (``docker stop``, a batch
scheduler) lets the batch in flight finish and be written; a second one stops at once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_label(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class StopNow(KeyboardInterrupt):
    """A second stop signal: the batch in flight is abandoned (run.json is still saved).
    The CLI exits with 128 + ``signum``, like a shell reports a process a signal ended."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_label(signum))
        self.signum = signum


class StopFlag:
    """First SIGINT or SIGTERM: finish the batch in flight, save, stop. A second one: stop now."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise StopNow(signum)
        self.signum = signum
        try:  # os.write: safe even if the signal landed inside another write to stderr
            os.write(2, f"\nsynthgen: {signal_label(signum)}: stopping after the batch in flight "
                        f"(send it again to stop at once)\n".encode())
        except OSError:
            pass

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


@contextmanager
def held_signals() -> Iterator[None]:
    """SIGINT and SIGTERM wait (the kernel keeps them pending) until the block ends: for the
    few milliseconds of a run's last save, so a stop signal can't leave it half done."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
