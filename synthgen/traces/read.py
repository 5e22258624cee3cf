"""``read_traces(paths)``: walk files and folders, detect each format by content, read.

Detection never trusts a file name (the project meets traces from other tools and other
versions): JSONL is recognised by its records, JSON by its keys, aider by its markdown
markers, OpenHands conversations by the events inside a folder. Every file that yields no
trace becomes one ``Problem`` (path + one-line reason) and reading goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgen.traces import aider, claude_code, miniswe, openai_chat, openhands, openhands_v1, sweagent
from synthgen.traces.builder import Limits
from synthgen.traces.loading import JsonlStream, head_text, load_json, load_text
from synthgen.traces.model import Trace, TraceError

_V1_EVENT = re.compile(r"^event-\d+.*\.json$")
_SKIP_DIRS = {".git", "__pycache__", "node_modules", ".venv"}


@dataclass(slots=True, frozen=True)
class Problem:
    path: str
    reason: str

    def line(self) -> str:
        return f"{self.path}: {self.reason}"


class TraceReader:
    """Iterate it for traces; ``problems`` fills as it goes, ``files`` counts inputs tried."""

    def __init__(self, paths: Iterable[str | Path], limits: Limits | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        self.limits = limits or Limits()
        self.problems: list[Problem] = []
        self.files = 0
        self.bytes = 0

    def __iter__(self) -> Iterator[Trace]:
        for path in self.paths:
            yield from self._walk(path)

    def _walk(self, path: Path) -> Iterator[Trace]:
        if not path.exists():
            self.problems.append(Problem(str(path), "no such file or folder"))
        elif path.is_dir():
            yield from self._folder(path)
        elif path.is_file():
            yield from self._file(path)
        else:
            self.problems.append(Problem(str(path), "not a regular file"))

    def _folder(self, folder: Path) -> Iterator[Trace]:
        conversation = _conversation_kind(folder)
        if conversation:
            yield from self._guard(folder, lambda: self._conversation(folder, conversation))
            return
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            self.problems.append(Problem(str(folder), f"cannot list folder ({exc.strerror})"))
            return
        entries = [e for e in entries if e.name not in _SKIP_DIRS]
        if not entries:
            self.problems.append(Problem(str(folder), "empty folder: no files to read"))
        for entry in entries:
            yield from self._walk(entry)

    def _file(self, path: Path) -> Iterator[Trace]:
        yield from self._guard(path, lambda: self._read_file(path))

    def _guard(self, path: Path, read: Any) -> Iterator[Trace]:
        self.files += 1
        count = 0
        try:
            for trace in read():
                count += 1
                if not trace.task:
                    self.problems.append(Problem(str(path), f"trace {trace.id} has no task (no real user request)"))
                    continue
                yield trace
        except TraceError as exc:
            self.problems.append(Problem(str(path), str(exc)))
            return
        except (OSError, RecursionError, MemoryError) as exc:
            self.problems.append(Problem(str(path), f"cannot read ({type(exc).__name__}: {exc})"[:200]))
            return
        if count == 0:
            self.problems.append(Problem(str(path), "no trace in this file"))

    def _read_file(self, path: Path) -> Iterator[Trace]:
        size = path.stat().st_size
        self.bytes += size
        if size == 0:
            raise TraceError("empty file")
        head = head_text(path)
        start = head.lstrip()[:1]
        if start in ("{", "["):
            if _is_jsonl(head):
                yield from self._jsonl(path)
            else:
                yield from self._json(path, load_json(path, self.limits.max_json_bytes))
            return
        if aider.matches(head) or (size > len(head) and _aider_later(path)):
            if size > self.limits.max_json_bytes:
                raise TraceError(f"aider history of {size / 1e6:.0f} MB is over the "
                                 f"{self.limits.max_json_bytes / 1e6:.0f} MB limit")
            yield aider.read(load_text(path), str(path), _stem(path), self.limits)
            return
        raise TraceError("not a trace (no JSON and no aider chat markers)")

    def _jsonl(self, path: Path) -> Iterator[Trace]:
        stream = JsonlStream(path)
        records = stream.records()
        first = [r for _, r in zip(range(20), records)]
        if not first:
            raise TraceError(f"JSONL without one JSON object ({stream.skipped} unreadable lines)")
        chain = _chain(first, records)
        if any(claude_code.matches_record(r) for r in first):
            trace = claude_code.read(chain, str(path), _stem(path), self.limits)
            trace.skipped_lines = stream.skipped
            if stream.torn_tail:
                trace.source_meta["torn_last_line"] = True
            yield trace
        elif any(openhands.matches_record(r) for r in first):
            yield from openhands.read_output_jsonl(chain, str(path), _stem(path), self.limits)
        else:
            raise TraceError(f"not a trace: JSONL records have no known agent shape (keys: {_keys(first[0])})")
        if stream.torn_tail:
            self.problems.append(Problem(str(path), "last line is torn (truncated file); read up to it"))

    def _json(self, path: Path, doc: Any) -> Iterator[Trace]:
        stem = _stem(path)
        if isinstance(doc, dict) and ("$schema" in doc or ("properties" in doc and "type" in doc)):
            raise TraceError("not a trace: a JSON Schema document")
        if miniswe.matches(doc):
            yield from miniswe.read(doc, str(path), stem, self.limits)
        elif sweagent.matches(doc):
            yield from sweagent.read(doc, str(path), stem, self.limits)
        elif sweagent.matches_webui(doc):
            yield from sweagent.read_webui(doc, str(path), self.limits)
        elif openhands.matches_record(doc):
            yield openhands.read_events(doc["history"], str(path), str(doc.get("instance_id") or stem),
                                        self.limits, record=doc)
        elif openhands.matches_events(doc):
            yield openhands.read_events(doc, str(path), stem, self.limits)
        elif isinstance(doc, list) and doc and all(openhands.matches_record(r) for r in doc[:3]):
            yield from openhands.read_output_jsonl(doc, str(path), stem, self.limits)
        elif isinstance(doc, list) and doc and openhands_v1.is_v1_event(doc[0]):
            yield openhands_v1.read(doc, str(path), stem, self.limits)
        elif openai_chat.matches(doc):
            yield from openai_chat.read(doc, str(path), _instance_stem(path), self.limits)
        else:
            raise TraceError(f"not a trace: JSON with no known agent shape ({_describe(doc)})")

    def _conversation(self, folder: Path, kind: str) -> Iterator[Trace]:
        if kind == "v1":
            files = sorted(f for f in folder.iterdir() if _V1_EVENT.match(f.name))
            events = (e for e in (self._event(f) for f in files) if openhands_v1.is_v1_event(e))
            state_file = folder / "base_state.json"
            state = openhands_v1.load_state(load_text(state_file)) if state_file.is_file() else {}
            yield openhands_v1.read(events, str(folder), folder.name, self.limits, state=state)
        else:
            files = sorted((folder / "events").glob("*.json"), key=lambda f: int(f.stem) if f.stem.isdigit() else -1)
            meta_file = folder / "metadata.json"
            meta = _dict(load_json(meta_file, self.limits.max_json_bytes)) if meta_file.is_file() else {}
            events = [e for e in (self._event(f) for f in files) if openhands.is_event(e)]
            trace_id = str(meta.get("conversation_id") or folder.name)
            yield openhands.read_events(events, str(folder), trace_id, self.limits, meta=meta)

    def _event(self, path: Path) -> Any:
        self.bytes += path.stat().st_size
        try:
            return load_json(path, self.limits.max_json_bytes)
        except TraceError as exc:
            self.problems.append(Problem(str(path), f"event skipped: {exc}"))
            return None


def read_traces(paths: Iterable[str | Path], limits: Limits | None = None) -> TraceReader:
    """Traces from files and folders; see ``TraceReader.problems`` for what could not be read."""
    return TraceReader(paths, limits)


def _conversation_kind(folder: Path) -> str | None:
    """"v1" (event-NNNNN-*.json holding V1 events), "v0" (events/<n>.json), or None."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return None
    events = sorted(n for n in names if _V1_EVENT.match(n))
    if events and openhands_v1.is_v1_event(_peek(folder / events[0])):
        return "v1"
    numbered = folder / "events"
    if numbered.is_dir():
        first = next((p for p in sorted(numbered.glob("*.json")) if p.stem.isdigit()), None)
        if first is not None and openhands.is_event(_peek(first)):
            return "v0"
    return None


def _peek(path: Path) -> Any:
    try:
        if path.stat().st_size > 8 * 1024 * 1024:
            return None
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None


def _is_jsonl(head: str) -> bool:
    """JSON Lines: the first line is a complete JSON value and another line follows."""
    lines = [line for line in head.split("\n") if line.strip()]
    if len(lines) < 2:
        return False
    try:
        json.loads(lines[0])
    except ValueError:
        return False
    return True


def _aider_later(path: Path) -> bool:
    """aider files can open with pages of tool output; look further than the head."""
    with path.open("rb") as handle:
        chunk = handle.read(1024 * 1024).decode("utf-8", errors="replace")
    return aider.matches(chunk)


def _chain(first: list[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from first
    yield from rest


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".traj.json", ".traj", ".jsonl", ".json", ".md"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _instance_stem(path: Path) -> str:
    """llm_completions files live in ``<instance_id>/<model>-<time>.json``: prefer the folder."""
    stem = _stem(path)
    if "__" not in stem and "__" in path.parent.name:
        return path.parent.name
    return stem


def _keys(record: dict[str, Any]) -> str:
    return ", ".join(sorted(record)[:8]) or "none"


def _describe(doc: Any) -> str:
    if isinstance(doc, dict):
        return f"object with keys {_keys(doc)}"
    if isinstance(doc, list):
        return f"list of {len(doc)} {type(doc[0]).__name__ if doc else 'items'}"
    return type(doc).__name__


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
