"""The examples an export writes: every accepted record of the runs that is a chat example,
deduplicated across runs, plus rows of a real dataset mixed in (``--mix``).

Every example written ends on an assistant turn that is the record's own generated content
(nl2dot: its DOT; coding-tasks: its checked plan of tool calls; a mixed row: its own last
turn), never a blank or stock reply. A record whose recipe gives no chat turns (a coding
task whose plan failed its checks), or whose last turn is not a non-blank assistant turn, is
left out and counted under ``left_out``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.errors import OutputError
from synthgen.records import DedupKeys
from synthgen.runfolder.reader import RunView, open_run

ROLES = frozenset({"system", "user", "assistant"})


@dataclass(slots=True)
class Example:
    messages: list[dict[str, str]]
    cell: tuple[str, ...]
    source: str  # "synthetic:<run_id>" or "real:<file name>"
    record: dict[str, Any]  # the record's own fields (metadata), or the real row
    keys: DedupKeys | None = None
    group: str = ""  # near-duplicates share one group (set by the split)


@dataclass(slots=True)
class Collected:
    """What the first pass learns: the runs, what was left out, and per example only its cell
    and its near-duplicate group (``split.Groups``); the examples themselves are read again,
    by ``examples()``, as they are written. ``limits``: records read per run, so the second
    pass reads exactly what the first saw even while a live run grows."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # why records were left out
    notes: list[str] = field(default_factory=list)
    cells: list[tuple[str, ...]] = field(default_factory=list)
    groups: Any = None  # split.Groups
    limits: list[int] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    mix: list[Path] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.cells)


def collect(paths: list[Path], mix: list[Path] | None = None) -> Collected:
    """The first pass: every example's cell and group, the runs and what was left out."""
    from synthgen.export.split import Groups

    out = Collected(paths=list(paths), mix=list(mix or []))
    views = [open_run(path) for path in paths]
    sources = {f"synthetic:{view.state.get('run_id')}" for view in views} | {f"real:{Path(m).name}" for m in out.mix}
    out.groups = Groups(near=len(sources) > 1)
    interned: dict[tuple[str, ...], tuple[str, ...]] = {}
    for view in views:
        out.runs.append(_describe(view))
        if view.live:
            out.notes.append(f"{view.path}: the run is still being written; exporting its records so far")
        if view.note:
            out.notes.append(f"{view.path}: {view.note}")
    for i, ex in enumerate(_examples(views, out.mix, out.skipped, out.limits)):
        out.cells.append(interned.setdefault(ex.cell, ex.cell))
        out.groups.add(i, ex)
    for view in views:
        for kind, n in view.torn.items():
            out.notes.append(f"{view.path}: skipped {n} torn last line(s) of its {kind} records")
    if not out.cells:
        raise OutputError("nothing to export: the runs hold no chat examples" + _why(out.skipped),
                          hint="export runs that accepted records (synthgen report RUN shows what a run holds)")
    return out


def examples(collected: Collected) -> Iterator[Example]:
    """The second pass: the same examples in the same order, each with its group."""
    views = [open_run(path) for path in collected.paths]
    labels = collected.groups.labels()
    for i, ex in enumerate(_examples(views, collected.mix, Counter(), None, collected.limits)):
        ex.group = labels[i]
        yield ex


def _examples(views: list[RunView], mix: list[Path], skipped: Counter[str], limits: list[int] | None,
              read_limits: list[int] | None = None) -> Iterator[Example]:
    """Every chat example of the runs, deduplicated across them, then the mixed rows. With
    ``limits`` it appends how many records it read of each run; with ``read_limits`` it reads
    no more than that of each."""
    from itertools import islice

    from synthgen.recipes import recipe_class

    seen: set[bytes] = set()
    for n, view in enumerate(views):
        cls = recipe_class(view.recipe_ref)
        source = f"synthetic:{view.state.get('run_id')}"  # as collect() counts sources
        records = view.records() if read_limits is None else islice(view.records(), read_limits[n])
        read = 0
        for record in records:
            read += 1
            exact = (record.get("validation") or {}).get("hashes", {}).get("exact")
            if exact:
                key = str(exact).encode()
                if key in seen:
                    skipped["duplicate across runs"] += 1
                    continue
                seen.add(key)
            turns = cls.chat_turns(record)
            if not _chat(turns):
                skipped["no chat example (no assistant turn)"] += 1
                continue
            yield Example(turns, tuple(cls.cell_of(record)), source, record, cls.keys_of(record))
        if limits is not None:
            limits.append(read)
    for path in mix:
        yield from _real(path, skipped)


def _chat(turns: list[dict[str, str]] | None) -> bool:
    """Turns with known roles and text content, ending on a non-blank assistant turn."""
    if not turns or not isinstance(turns, list):
        return False
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
            return False
    last = turns[-1]
    return last["role"] == "assistant" and not (last["content"] == "" or last["content"].isspace())


def _why(skipped: Counter[str]) -> str:
    return f" ({', '.join(f'{n} {why}' for why, n in skipped.items())})" if skipped else ""


def _describe(view: RunView) -> dict[str, Any]:
    fp = view.state.get("fingerprint", {})
    return {"path": str(view.path), "run_id": view.state.get("run_id"), "recipe": view.recipe, "status": view.status,
            "model": fp.get("model"), "model_revision": fp.get("model_revision"), "seed": fp.get("seed"),
            "count": fp.get("count"), "live": view.live, "license": view.state.get("model_license")}


def _real(path: Path, skipped: Counter[str]) -> Iterator[Example]:
    """A real dataset's JSONL: one ``{"messages": [...]}`` per line (extra fields are kept as metadata)."""
    try:
        fh = open(path, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"--mix {path}: cannot read: {exc}") from None
    with fh:
        n = 0
        while True:
            try:
                line = fh.readline()
            except (OSError, UnicodeDecodeError) as exc:
                raise OutputError(f"--mix {path}: cannot read: {exc}") from None
            if not line:
                return
            n += 1
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise OutputError(f"--mix {path}:{n}: not a JSON line") from None
            turns = row.get("messages") if isinstance(row, dict) else None
            if not _chat(turns):
                skipped["mixed row without a chat example"] += 1
                continue
            yield Example(turns, ("real",), f"real:{Path(path).name}", {k: v for k, v in row.items() if k != "messages"})
