"""Writing an export: NeMo chat JSONL, OpenAI fine-tuning JSONL, a Hugging Face dataset, and
``metadata.json`` beside each, all into a temporary folder renamed into place at the end, so
a failed export leaves nothing half-written.

- ``nemo``: ``train.jsonl`` / ``val.jsonl``, one ``{"messages": [{"role", "content"}...],
  "metadata": {...}}`` per line: the messages schema of NeMo Customizer's chat datasets and
  of NeMo AutoModel's chat datasets (applied with the model's chat template).
- ``openai``: ``train.jsonl`` / ``val.jsonl`` with ``{"messages": [...]}`` only (OpenAI's
  fine-tuning files take no other key).
- ``hf``: ``datasets.DatasetDict`` (``train``, ``validation``) saved with ``save_to_disk``
  (``datasets.load_from_disk`` opens it): a ``messages`` column, the record's fields as
  columns (nested ones as JSON text), and a dataset card ``README.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.errors import OutputError
from synthgen.export.sources import Collected, Example

FORMATS = ("nemo", "hf", "openai")
EXPORT_VERSION = 1


def metadata_of(ex: Example) -> dict[str, Any]:
    r = ex.record
    prov = r.get("provenance") or {}
    return {"id": r.get("id"), "source": ex.source, "cell": list(ex.cell), "group": ex.group, "task_type": r.get("task_type"),
            "model": prov.get("model"), "template": prov.get("template"), "template_version": prov.get("template_version")}


def _line(obj: dict[str, Any]) -> bytes:
    """One JSON line, UTF-8, keys in insertion order (orjson: the same bytes every time, and
    several times faster than json at export sizes)."""
    import orjson

    return orjson.dumps(obj) + b"\n"


@dataclass(slots=True)
class Tally:
    """What metadata.json counts of the examples written, per split."""

    cells: dict[str, Counter[str]] = field(default_factory=lambda: {"train": Counter(), "val": Counter()})
    sources: Counter[str] = field(default_factory=Counter)
    versions: set[str] = field(default_factory=set)

    def add(self, side: str, ex: Example) -> None:
        self.cells[side]["/".join(ex.cell)] += 1
        self.sources[ex.source] += 1
        if ex.source.startswith("synthetic"):
            self.versions.add(f"{ex.record.get('provenance', {}).get('template_version')}")

    def count(self, side: str) -> int:
        return sum(self.cells[side].values())


def write_jsonl(folder: Path, examples: Iterable[tuple[str, Example]], with_metadata: bool, tally: Tally) -> None:
    """``train.jsonl`` and ``val.jsonl``, one example at a time as the second pass reads it."""
    with open(folder / "train.jsonl", "wb") as train, open(folder / "val.jsonl", "wb") as val:
        files = {"train": train, "val": val}
        for side, ex in examples:
            row = {"messages": ex.messages, "metadata": metadata_of(ex)} if with_metadata else {"messages": ex.messages}
            files[side].write(_line(row))
            tally.add(side, ex)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def metadata(collected: Collected, tally: Tally, fmt: str, fraction: float, seed: int, folder: Path) -> dict[str, Any]:
    """What the export holds and where it came from; no timestamp, so the same inputs give
    the same bytes."""
    recipes = sorted({(r["recipe"]) for r in collected.runs})
    files = {p.name: _sha256(p) for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "metadata.json" and "/" not in
             str(p.relative_to(folder))}
    return {
        "export_version": EXPORT_VERSION, "format": fmt,
        "counts": {"train": tally.count("train"), "val": tally.count("val")},
        "cells": {side: dict(sorted(tally.cells[side].items())) for side in ("train", "val")},
        "sources": dict(sorted(tally.sources.items())),
        "runs": collected.runs, "models": sorted({str(r["model"]) for r in collected.runs}),
        "recipes": recipes, "template_versions": sorted(tally.versions),
        "split": {"val_fraction": fraction, "seed": seed, "stratified_by": "cell", "grouped_by": "shape hash or MinHash cluster",
                  "groups": len(collected.groups.members()) if collected.count else 0},
        "left_out": dict(collected.skipped),
        "files": files,
    }


def write_hf(folder: Path, train: list[Example], val: list[Example], card: str) -> None:
    try:
        import datasets
    except ImportError:
        raise OutputError("--format hf needs the datasets package", hint="pip install 'synthgen[export]'") from None

    def rows(examples: list[Example]) -> list[dict[str, Any]]:
        out = []
        for ex in examples:
            row = {"messages": ex.messages, "source": ex.source, "cell": "/".join(ex.cell), "group": ex.group}
            for key, value in ex.record.items():
                if key in row:
                    continue
                nested = isinstance(value, dict) or (isinstance(value, list) and any(not isinstance(v, str) for v in value))
                row[key] = json.dumps(value, ensure_ascii=False, sort_keys=True) if nested or value is None else value
            out.append(row)
        return out

    keys: dict[str, None] = {}
    for ex in train + val:
        keys.update(dict.fromkeys(ex.record))
    parts = {}
    for split_name, examples in (("train", train), ("validation", val)):
        data = rows(examples)
        for row in data:  # every column in every row: records of two runs may differ by a field
            for key in keys:
                row.setdefault(key, None)
        parts[split_name] = data
    first = datasets.Dataset.from_list(parts["train"] or parts["validation"])
    # An empty split keeps the columns (an empty from_list saves an arrow file with no schema).
    built = {name: datasets.Dataset.from_list(data, features=first.features) if data else first.select([])
             for name, data in parts.items()}
    datasets.DatasetDict(built).save_to_disk(str(folder / "data"), num_shards={name: 1 for name in built})
    (folder / "README.md").write_text(card, encoding="utf-8")


def into_place(target: Path, build: Any, overwrite: bool) -> None:
    """Build the export in a temp folder beside ``target``, then rename it into place."""
    target = Path(target).expanduser()
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise OutputError(f"{target} is not empty", hint="give a new --to, or add --overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(temp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(temp, target)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise OutputError(f"cannot write the export to {target}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
