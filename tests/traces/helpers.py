"""Small trace files the tests write themselves (never copies of the shared corpus)."""

from __future__ import annotations

import json
from pathlib import Path

from synthgen.traces.read import read_traces


def write_json(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_one(path: Path, **kw):
    reader = read_traces([path], **kw)
    traces = list(reader)
    assert len(traces) == 1, (traces, reader.problems)
    return traces[0], reader.problems


def problems_of(path: Path, **kw) -> list[str]:
    reader = read_traces([path], **kw)
    list(reader)
    return [p.reason for p in reader.problems]
