"""Deterministic fault injection at the run folder's I/O steps, for the crash-consistency
harness (tests/pipeline/test_fault_injection.py, bench/faults.py).

Every write boundary of a run calls ``point(name)``: each append before its write, after
its write and after its fsync; each ``run.json`` save before its write, before its fsync,
before its rename and after it; each log line before and after its write. With
``SYNTHGEN_FAULT=MODE@N`` the N-th point reached (1-based, counted from the process's
start) does MODE:

- ``kill``: SIGKILL to this process (nothing runs after it, as with the OOM killer);
- ``enospc`` / ``efbig``: the I/O step fails with that errno (a full disk, a file-size limit);
- ``sigterm``: one SIGTERM (a graceful stop: the batch in flight is finished);
- ``sigterm2``: two SIGTERMs (stop at once).

``SYNTHGEN_FAULT_TRACE=FILE`` appends every point's name to FILE, so a harness can list the
points a run reaches and then crash at each. Unset (the normal case) a point is one global
lookup and a return.
"""

from __future__ import annotations

import errno
import os
import signal

_SPEC = os.environ.get("SYNTHGEN_FAULT", "")
_TRACE = os.environ.get("SYNTHGEN_FAULT_TRACE", "")
_ACTIVE = bool(_SPEC or _TRACE)
MODES = ("kill", "enospc", "efbig", "sigterm", "sigterm2")
_count = 0


def _parse(spec: str) -> tuple[str, int]:
    mode, _, at = spec.partition("@")
    if mode not in MODES or not at.isdigit() or int(at) < 1:
        raise SystemExit(f"synthgen: error: SYNTHGEN_FAULT must be MODE@N with MODE one of {', '.join(MODES)}, got {spec!r}")
    return mode, int(at)


_MODE, _AT = _parse(_SPEC) if _SPEC else ("", 0)


def point(name: str) -> None:
    if not _ACTIVE:
        return
    global _count
    _count += 1
    if _TRACE:
        with open(_TRACE, "a", encoding="utf-8") as fh:
            fh.write(f"{name}\n")
    if _count != _AT:
        return
    if _MODE == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif _MODE in ("enospc", "efbig"):
        code = errno.ENOSPC if _MODE == "enospc" else errno.EFBIG
        raise OSError(code, os.strerror(code), name)
    elif _MODE == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
    elif _MODE == "sigterm2":
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)


def arm(mode: str = "", at: int = 0, trace: str = "") -> None:
    """Set the fault (and trace file) in this process, as the variables would at start; the
    harness calls it in a forked child. ``arm()`` disarms."""
    global _MODE, _AT, _TRACE, _ACTIVE, _count
    if mode:
        _parse(f"{mode}@{at}")
    _MODE, _AT, _TRACE, _count = mode, at, trace, 0
    _ACTIVE = bool(mode or trace)
