"""What `synthgen validate` reads: DOT files, folders of them, JSONL files, stdin.

Everything becomes a stream of ``DotItem``s. Input that can't even be read as DOT (a bad
JSON line, a record without a ``dot`` field, a file over the size cap, binary bytes) is still
an item — one that already carries its reason — so a bad line costs a verdict, never the run.
Files are read lazily, one at a time, and never beyond the size cap: a 50 MB file is judged
from its size alone.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from synthgen.dot.parser import decode_dot  # UTF-8, else Latin-1, as Graphviz reads; a BOM is kept
from synthgen.errors import ConfigError

__all__ = ["DotItem", "InputPathError", "decode_dot", "item_from_bytes", "iter_items", "resolve_paths"]

DEFAULT_MAX_BYTES = 1_000_000
DOT_SUFFIXES = (".dot", ".gv")
JSONL_SUFFIXES = (".jsonl",)
_JSONL_OVERHEAD = 64 * 1024  # room for the other fields of a record and JSON escaping


class InputPathError(ConfigError):
    """A path given on the command line doesn't exist or can't be read (a usage error)."""


@dataclass(slots=True)
class DotItem:
    """One graph to judge. ``reason`` is set when the input already failed before parsing."""

    id: str
    source: str
    text: str | None = None
    size: int = 0
    reason: str | None = None
    message: str = ""
    multiple: bool = False  # a DOT file may hold several graphs (Graphviz reads them all); a record holds one


def item_from_bytes(item_id: str, source: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> DotItem:
    """A DotItem from raw bytes (a whole file: several graphs allowed), ``encoding``/``too_large`` settled."""
    if len(data) > max_bytes:
        return _too_large(item_id, source, len(data), max_bytes)
    nul = data.find(b"\0")
    if nul >= 0:
        message = f"binary data: NUL byte at offset {nul} (DOT is text)"
        return DotItem(item_id, source, None, len(data), "encoding", message)
    return DotItem(item_id, source, decode_dot(data), len(data), multiple=True)


def resolve_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Check every path up front so a typo is a usage error before any work starts."""
    resolved = []
    for raw in paths:
        path = Path(raw)
        if str(raw) == "-":
            resolved.append(path)
        elif not path.exists():
            raise InputPathError(f"no such file or folder: {raw}", hint="give DOT/GV files, JSONL files or folders")
        elif not (path.is_file() or path.is_dir()):
            raise InputPathError(f"not a regular file or folder: {raw}")
        else:
            resolved.append(path)
    if not resolved:
        raise InputPathError("no input paths given", hint="synthgen validate PATH... (a file, a folder, or - for stdin)")
    return resolved


def iter_items(
    paths: Iterable[str | os.PathLike], *, max_bytes: int = DEFAULT_MAX_BYTES, stdin: BinaryIO | None = None
) -> Iterator[DotItem]:
    """Every item under ``paths``, in a stable order (folders sorted, files in line order)."""
    for path in resolve_paths(paths):
        if str(path) == "-":
            yield from _read_stdin(stdin or sys.stdin.buffer, max_bytes)
        elif path.is_dir():
            for file in _walk(path):
                yield from _read_file(file, max_bytes)
        else:
            yield from _read_file(path, max_bytes)


def _walk(folder: Path) -> Iterator[Path]:
    """DOT, GV and JSONL files under ``folder``, sorted, hidden entries skipped, no symlink loops."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(DOT_SUFFIXES + JSONL_SUFFIXES):
                yield Path(root) / name


def _not_regular(path: Path) -> DotItem | None:
    """An item saying why ``path`` is skipped when it is not a regular file (a FIFO would
    block the open, a device such as /dev/zero behind a symlink would never end)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return DotItem(str(path), str(path), None, 0, "read_error", f"cannot read {path}: {exc.strerror or exc}")
    if stat.S_ISREG(mode):
        return None
    kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
    return DotItem(str(path), str(path), None, 0, "read_error", f"skipped {path}: {kind}, not a regular file")


def _read_file(path: Path, max_bytes: int) -> Iterator[DotItem]:
    skipped = _not_regular(path)
    if skipped is not None:
        yield skipped
        return
    if path.name.lower().endswith(JSONL_SUFFIXES):
        yield from _read_jsonl(path, max_bytes)
        return
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            yield _too_large(source, source, size, max_bytes)
            return
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # bounded even for a file that grows or lies
    except OSError as exc:
        yield DotItem(source, source, None, 0, "read_error", f"cannot read {source}: {exc.strerror or exc}")
        return
    yield item_from_bytes(source, source, data, max_bytes)


def _read_stdin(stream: BinaryIO, max_bytes: int) -> Iterator[DotItem]:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        while stream.read(1 << 20):  # drain, so the writer isn't killed by a broken pipe
            pass
    yield item_from_bytes("-", "-", data, max_bytes)


def _read_jsonl(path: Path, max_bytes: int) -> Iterator[DotItem]:
    """One item per non-blank line; the id is ``file:line``."""
    source = str(path)
    limit = 2 * max_bytes + _JSONL_OVERHEAD
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield DotItem(source, source, None, 0, "read_error", f"cannot read {source}: {exc.strerror or exc}")
        return
    with handle:
        for number, line, length in _bounded_lines(handle, limit):
            item_id = f"{source}:{number}"
            if line is None:
                yield _too_large(item_id, source, length, max_bytes, what="JSONL line")
            elif line.strip():
                yield _jsonl_item(item_id, source, line, max_bytes)


def _bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line or None when longer than ``limit``, length) without holding a huge line."""
    number = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            length = len(line)
            while True:
                more = handle.readline(1 << 20)
                length += len(more)
                if not more or more.endswith(b"\n"):
                    break
            yield number, None, length
        else:
            yield number, line, len(line)


def _jsonl_item(item_id: str, source: str, line: bytes, max_bytes: int) -> DotItem:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split("\n")[0]
        return DotItem(item_id, source, None, len(line), "bad_json", f"not a JSON object: {detail}"[:200])
    if not isinstance(record, dict):
        return DotItem(item_id, source, None, len(line), "bad_json", f"a JSON {type(record).__name__}, not an object")
    dot = record.get("dot")
    if not isinstance(dot, str):
        found = "no 'dot' field" if dot is None else f"'dot' is a {type(dot).__name__}, not a string"
        return DotItem(item_id, source, None, len(line), "no_dot_field", found)
    data = dot.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        return _too_large(item_id, source, len(data), max_bytes)
    if "\0" in dot:
        return DotItem(item_id, source, None, len(data), "encoding", "NUL character in the 'dot' field")
    return DotItem(item_id, source, dot, len(data))


def _too_large(item_id: str, source: str, size: int, max_bytes: int, what: str = "graph") -> DotItem:
    message = f"{what} is {size:,} bytes, over the {max_bytes:,}-byte cap (--max-bytes)"
    return DotItem(item_id, source, None, size, "too_large", message)
