"""Structured run log: one JSON object per line in ``log.jsonl``.

Every engine call, validation result, budget check and stop goes here, so a report (or a
person with ``jq``) can rebuild what happened without parsing free text. Every string —
keys and values, however deeply nested — passes through ``synthgen.errors.redact`` before
it is written, because engine errors and HTTP messages can echo an API key.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthgen.errors import OutputError, redact
from synthgen.runfolder import faults


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def scrub(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {scrub(str(k)): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def repair_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline (a kill in the middle of a write).

    Returns the number of bytes removed (0 when the file is whole or absent). Only the tail
    can be torn: every writer appends whole lines in one write.
    """
    try:
        with open(path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return 0
            keep = _last_newline_end(fh, size)
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
            return size - keep
    except FileNotFoundError:
        return 0


def _last_newline_end(fh, size: int) -> int:
    """Offset just after the last ``\\n`` in the file (0 if there is none)."""
    chunk = 1 << 16
    end = size
    while end > 0:
        start = max(0, end - chunk)
        fh.seek(start)
        block = fh.read(end - start)
        pos = block.rfind(b"\n")
        if pos >= 0:
            return start + pos + 1
        end = start
    return 0


class RunLogger:
    """Append-only JSON-lines logger. Cheap to create; the file opens on the first event.

    Lines are flushed per event (a killed run keeps its log up to the last event) but not
    fsynced: the log explains a run, the data files are what must survive.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fh = None
        self._lock = threading.Lock()

    def _open(self):
        if self._fh is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                repair_torn_tail(self.path)
                self._fh = open(self.path, "a", encoding="utf-8")
            except OSError as exc:
                raise OutputError(f"cannot write the run log {self.path}: {exc.strerror or exc}") from None
        return self._fh

    def event(self, kind: str, **fields: Any) -> None:
        record = {"ts": now_iso(), "event": kind, **fields}
        line = json.dumps(scrub(record), ensure_ascii=False, sort_keys=False) + "\n"
        with self._lock:
            fh = self._open()
            try:
                faults.point("log.write")
                fh.write(line)
                fh.flush()
                faults.point("log.done")
            except OSError as exc:
                raise OutputError(f"cannot write the run log {self.path}: {exc.strerror or exc}") from None

    def engine_call(self, model: str, completions: Any, wall_s: float, ledger: Any = None) -> None:
        """One ``backend.generate`` call: what came back, how long it took, what the run has
        spent so far (from the ledger, after charging this call)."""
        reasons: dict[str, int] = {}
        for c in completions:
            reasons[c.finish_reason] = reasons.get(c.finish_reason, 0) + 1
        errors = sorted({c.error for c in completions if c.error})[:3]
        fields: dict[str, Any] = {
            "model": model,
            "completions": len(completions),
            "finish_reasons": reasons,
            "prompt_tokens": sum(c.prompt_tokens for c in completions),
            "completion_tokens": sum(c.completion_tokens for c in completions),
            "wall_s": round(wall_s, 4),
        }
        if errors:
            fields["errors"] = errors
        if ledger is not None:
            fields.update(gpu_seconds_total=round(ledger.gpu_seconds, 4), usd_total=round(ledger.usd, 6))
        self.event("engine_call", **fields)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
