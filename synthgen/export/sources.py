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
    examples: list[Example] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # why records were left out
    notes: list[str] = field(default_factory=list)


def collect(paths: list[Path], mix: list[Path] | None = None) -> Collected:
    from synthgen.recipes import recipe_class

    out = Collected()
    seen: dict[str, str] = {}
    for path in paths:
        view = open_run(path)
        cls = recipe_class(view.recipe_ref)
        out.runs.append(_describe(view))
        if view.live:
            out.notes.append(f"{view.path}: the run is still being written; exporting its records so far")
        for record in view.records():
            exact = (record.get("validation") or {}).get("hashes", {}).get("exact")
            if exact and exact in seen:
                out.skipped["duplicate across runs"] += 1
                continue
            if exact:
                seen[exact] = record["id"]
            turns = cls.chat_turns(record)
            if not _chat(turns):
                out.skipped["no chat example (no assistant turn)"] += 1
                continue
            out.examples.append(Example(turns, tuple(cls.cell_of(record)), f"synthetic:{view.state.get('run_id')}", record,
                                        cls.keys_of(record)))
        for kind, n in view.torn.items():
            out.notes.append(f"{view.path}: skipped {n} torn last line(s) of its {kind} records")
    for path in mix or []:
        out.examples += _real(path, out.skipped)
    if not out.examples:
        raise OutputError("nothing to export: the runs hold no chat examples" + _why(out.skipped),
                          hint="export runs that accepted records (synthgen report RUN shows what a run holds)")
    return out


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


def _real(path: Path, skipped: Counter[str]) -> list[Example]:
    """A real dataset's JSONL: one ``{"messages": [...]}`` per line (extra fields are kept as metadata)."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"--mix {path}: cannot read: {exc}") from None
    for n, line in enumerate(lines, 1):
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
        rows.append(Example(turns, ("real",), f"real:{Path(path).name}", {k: v for k, v in row.items() if k != "messages"}))
    return rows
