"""Comparing run folders field by field: what a change that keeps behaviour must keep."""

from __future__ import annotations

import json
from pathlib import Path

# Not the same from one run to the next: ids of the run, wall-clock stamps, and the share
# of measured engine wall time each record carries.
VOLATILE = ("run_id", "created_at", "compute_s")
FILES = ("data.jsonl", "rejected.jsonl", "failed_prompts.jsonl")
# Fields added to a kind of record since the fixtures were written: present in new lines,
# absent from old ones; every field the old lines have must still match.
ADDED = {"rejected.jsonl": {"template"}}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def stable(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in VOLATILE}
    if isinstance(out.get("provenance"), dict):
        out["provenance"] = {k: v for k, v in out["provenance"].items() if k not in VOLATILE}
    return out


def differences(expected: Path, actual: Path, files: tuple[str, ...] = FILES) -> list[str]:
    """Every field that differs, file by file and line by line (empty: the same records)."""
    found = []
    for name in files:
        want, got = read(expected / name), read(actual / name)
        if len(want) != len(got):
            found.append(f"{name}: {len(want)} lines expected, {len(got)} written")
        for n, (a, b) in enumerate(zip(want, got), 1):
            a, b = stable(a), stable(b)
            for key in ADDED.get(name, set()) - set(a):
                b.pop(key, None)
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    found.append(f"{name}:{n}: {key}: {str(a.get(key))[:80]!r} != {str(b.get(key))[:80]!r}")
    return found
