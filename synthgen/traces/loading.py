"""Bytes to JSON, safely: size limits, strict UTF-8, JSONL streamed line by line.

Every failure here is a TraceError whose message is the one-line reason a user sees, so
that ``read_traces`` never crashes on a bad file. JSONL is never read whole: a 200 MB
session costs one line of memory at a time.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthgen.traces.model import TraceError

HEAD_BYTES = 64 * 1024


def head_text(path: Path, size: int = HEAD_BYTES) -> str:
    """The first bytes of a file as text, for sniffing. Raises TraceError on bad UTF-8."""
    with path.open("rb") as handle:
        raw = handle.read(size)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        text = decoder.decode(raw, final=len(raw) < size)
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
    if "\x00" in text:
        raise TraceError("binary file (NUL bytes), not a trace")
    return text.lstrip("\ufeff")


def load_json(path: Path, max_bytes: int) -> Any:
    """A whole JSON document, refused above ``max_bytes`` rather than loaded."""
    size = path.stat().st_size
    if size > max_bytes:
        raise TraceError(f"single JSON document of {size / 1e6:.0f} MB is over the {max_bytes / 1e6:.0f} MB "
                         "limit (JSONL is streamed, one JSON document is not)")
    text = load_text(path)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TraceError(f"invalid JSON ({_first_line(exc)})") from None


def load_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None


class JsonlStream:
    """Records of a JSONL file, one line at a time; lines that are not JSON objects are
    skipped and counted (``skipped``), a torn last line is noted (``torn_tail``)."""

    def __init__(self, path: Path, max_line_bytes: int = 64 * 1024 * 1024) -> None:
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.skipped = 0
        self.non_objects = 0
        self.bad_utf8 = 0
        self.torn_tail = False
        self.lines = 0

    def records(self) -> Iterator[dict[str, Any]]:
        with self.path.open("rb") as handle:
            for raw in handle:
                self.lines += 1
                record = self._parse(raw)
                if isinstance(record, dict):
                    yield record
                elif record is not _SKIP:
                    self.non_objects += 1
                    self.skipped += 1

    def _parse(self, raw: bytes) -> Any:
        if not raw.strip():
            return _SKIP
        complete = raw.endswith(b"\n")
        if len(raw) > self.max_line_bytes:
            self.skipped += 1
            return _SKIP
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_utf8 += 1
            self.skipped += 1
            return _SKIP
        try:
            return json.loads(text)
        except ValueError:
            self.skipped += 1
            if not complete:
                self.torn_tail = True
            return _SKIP


_SKIP = object()


def file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
