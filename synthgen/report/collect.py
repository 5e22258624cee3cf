"""One streaming pass over a run's records: counters, bounded sketches and seeded samples.

Nothing here keeps all records: counts per cell, template, reason and feature, histograms
of sizes (value -> count), the diversity sketches, the first few failures of each reason,
and reservoir samples (a seeded ``random.Random``, so the same run gives the same gallery)
for the gallery and the MinHash sample. Memory is the samples' size, whatever the run's.
"""

from __future__ import annotations

import posixpath
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from synthgen.report.diversity import Compression, Distinct, NGrams
from synthgen.runfolder.reader import RunView

UNKNOWN = "(unknown)"
OTHER = "(other)"
VALUES_PER_FEATURE = 40  # distinct values kept per feature; the rest count as "(other)"
ERROR_EXAMPLES = 3


@dataclass(slots=True)
class Reservoir:
    """A uniform sample of ``size`` items from a stream of unknown length (Algorithm R)."""

    size: int
    rng: random.Random
    items: list[Any] = field(default_factory=list)
    seen: int = 0

    def offer(self, item: Any) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        elif self.size:
            j = self.rng.randrange(self.seen)
            if j < self.size:
                self.items[j] = item


@dataclass(slots=True)
class TemplateStats:
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    @property
    def candidates(self) -> int:
        return self.accepted + sum(self.rejected.values()) + sum(self.failed.values())


@dataclass(slots=True)
class Collected:
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    unreadable: Counter[str] = field(default_factory=Counter)  # accepted records the recipe could not read back
    cells: Counter[tuple[str, ...]] = field(default_factory=Counter)
    features: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    sizes: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    ngrams: NGrams = field(default_factory=NGrams)
    text_zlib: Compression = field(default_factory=Compression)
    body_zlib: Compression = field(default_factory=Compression)
    shapes: Distinct = field(default_factory=Distinct)
    with_shape: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)  # accepted records' validation.judge verdicts
    models: Counter[str] = field(default_factory=Counter)
    template_versions: Counter[str] = field(default_factory=Counter)  # accepted records' provenance.template_version
    templates: dict[str, TemplateStats] = field(default_factory=lambda: defaultdict(TemplateStats))
    rejected_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)  # (step, reason)
    failed_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    failed_examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    gallery: Reservoir = field(default_factory=lambda: Reservoir(0, random.Random(0)))
    gallery_rejected: Reservoir = field(default_factory=lambda: Reservoir(0, random.Random(0)))
    near: Reservoir = field(default_factory=lambda: Reservoir(0, random.Random(0)))


def collect(view: RunView, cls: Any, *, sample: int, near_sample: int, seed: int = 0) -> Collected:
    out = Collected(gallery=Reservoir(sample, random.Random(seed)), gallery_rejected=Reservoir(sample, random.Random(seed + 1)),
                    near=Reservoir(near_sample, random.Random(seed + 2)))
    for record in view.records("accepted"):
        _accepted(out, cls, record)
    for record in view.records("rejected"):
        _rejected(out, record)
    for record in view.records("failed"):
        _failed(out, record)
    return out


def _accepted(out: Collected, cls: Any, record: dict[str, Any]) -> None:
    out.accepted += 1
    try:
        cell = tuple(str(part) for part in cls.cell_of(record))
        keys = cls.keys_of(record)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        out.unreadable[f"{type(exc).__name__}: {exc}"[:120]] += 1
        return
    out.cells[cell] += 1
    text, body = str(keys.text or ""), str(keys.body or "")
    out.ngrams.add(text)
    out.text_zlib.add(text)
    out.body_zlib.add(body)
    hashes = (record.get("validation") or {}).get("hashes") or {}
    if hashes.get("shape_hash"):
        out.with_shape += 1
        out.shapes.add([str(hashes["shape_hash"]).encode()])
    prov = record.get("provenance") or {}
    out.templates[str(prov.get("template") or UNKNOWN)].accepted += 1
    out.models[str(prov.get("model") or UNKNOWN)] += 1
    out.template_versions[str(prov.get("template_version") or UNKNOWN)] += 1
    judge = (record.get("validation") or {}).get("judge")
    out.verdicts[str(judge.get("verdict")) if isinstance(judge, dict) else "none"] += 1
    count_features(out.features, record)
    for name, value in sizes_of(record):
        out.sizes[name][value] += 1
    out.gallery.offer(record)
    out.near.offer((text, body))


def _rejected(out: Collected, record: dict[str, Any]) -> None:
    out.rejected += 1
    step, reason = str(record.get("step") or "?"), str(record.get("reason") or "?")
    out.rejected_reasons[(step, reason)] += 1
    out.templates[str(record.get("template") or UNKNOWN)].rejected[reason] += 1
    out.gallery_rejected.offer(record)


def _failed(out: Collected, record: dict[str, Any]) -> None:
    out.failed += 1
    step, reason = str(record.get("step") or "?"), str(record.get("reason") or "?")
    out.failed_reasons[(step, reason)] += 1
    out.templates[str(record.get("template") or UNKNOWN)].failed[reason] += 1
    examples = out.failed_examples[reason]
    if len(examples) < ERROR_EXAMPLES:
        examples.append({"id": record.get("id"), "step": step, "detail": _short(record.get("detail"), 300),
                         "finish_reason": record.get("finish_reason"), "template": record.get("template"),
                         "raw_text": _short(record.get("raw_text"), 600)})


def _short(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def count_features(counts: dict[str, Counter[str]], record: dict[str, Any]) -> None:
    """Count the features a record uses, from the fields records carry: nl2dot's ``features``
    dict (flags and non-zero counts under "uses", listed attributes and shapes, strings such
    as rankdir), coding tasks' language, expected tools and target file extensions. A feature
    keeps ``VALUES_PER_FEATURE`` distinct values; the rest count as "(other)"."""
    features = record.get("features")
    if isinstance(features, dict):
        uses = counts["uses"]
        for key, value in features.items():
            if value.__class__ in _NUMBERS:
                if value:
                    _bump(uses, key)
            elif value.__class__ is str:
                if value and not key.endswith("_id"):  # an id is a name, not a feature (graph_id)
                    _bump(counts[key], value)
            elif value.__class__ is list:
                group = counts[key]
                for v in value:
                    _bump(group, str(v))
    language = record.get("language")
    if isinstance(language, str):
        _bump(counts["language"], language)
    tools = record.get("expected_tools")
    if isinstance(tools, list):
        for tool in tools:
            _bump(counts["tool"], str(tool))
    files = record.get("target_files")
    if isinstance(files, list):
        for name in files:
            _bump(counts["file extension"], posixpath.splitext(str(name))[1] or "(none)")


_NUMBERS = frozenset({bool, int, float})


def _bump(counter: Counter[str], value: str) -> None:
    if value in counter:
        counter[value] += 1
    else:
        counter[value if len(counter) < VALUES_PER_FEATURE else OTHER] += 1


def sizes_of(record: dict[str, Any]) -> list[tuple[str, int]]:
    """Sizes worth a histogram: graph nodes and edges, prompt and completion tokens, target
    files and plan steps."""
    out: list[tuple[str, int]] = []
    features = record.get("features")
    if isinstance(features, dict):
        for key, name in (("node_count", "nodes"), ("edge_count", "edges")):
            if isinstance(features.get(key), int):
                out.append((name, features[key]))
    tokens = record.get("tokens")
    if isinstance(tokens, dict):
        for key in ("prompt", "completion"):
            if isinstance(tokens.get(key), int):
                out.append((f"{key} tokens", tokens[key]))
    for key, name in (("target_files", "target files"), ("plan", "plan steps")):
        if isinstance(record.get(key), list):
            out.append((name, len(record[key])))
    return out
