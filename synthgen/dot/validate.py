"""Verdicts: is this text a DOT graph Graphviz accepts, and if so, what does it look like?

Cheapest checks first, so a bad item costs as little as possible: known input failures and
the size cap (no parsing), empty / not-DOT sniffing, then the grammar parse in-process
(which also gives features, complexity and hashes; a text in the one-statement-per-line
layout the generation grammar writes is read by ``synthgen.dot.fast`` without lark, with
the same results, anything else by the full parser), then Graphviz for those that parsed —
all of a batch in as few Graphviz processes as its errors allow. ``validate_texts`` is what
both `synthgen validate` and the generation pipeline call, one batch at a time.

Reason codes (``Verdict.reason``), stable for reports and counters:
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from synthgen.dot.inputs import DEFAULT_MAX_BYTES, DotItem, item_from_bytes

if TYPE_CHECKING:
    from synthgen.dot.features import GraphFeatures, GraphModel
    from synthgen.dot.graphviz import GraphvizChecker, GraphvizResult

REASONS: dict[str, str] = {
    "ok": "valid: parses with the DOT grammar and Graphviz accepts it",
    "empty": "nothing but whitespace",
    "not_dot": "does not start like a DOT graph (strict/graph/digraph), or Graphviz found no graph",
    "encoding": "binary data (NUL bytes), or a byte-order mark Graphviz rejects",
    "too_large": "over the size cap (--max-bytes); not parsed",
    "grammar": "rejected by synthgen's DOT grammar (message has line and column)",
    "too_deep": "nested too deeply to parse safely",
    "graphviz": "rejected by Graphviz, or Graphviz failed on it (message is Graphviz's own)",
    "timeout": "Graphviz did not finish in time",
    "bad_json": "a JSONL line that is not a JSON object",
    "no_dot_field": "a JSONL record without a string 'dot' field",
    "read_error": "the file could not be read",
    "internal": "synthgen failed on this item (a bug: please report it with the item)",
}
__doc__ += "\n".join(f"- ``{code}``: {text}" for code, text in REASONS.items())

# A DOT graph starts with optional comments, then strict / graph / digraph (any case).
_COMMENTS = r"(?:\s+|//[^\n]*|#[^\n]*|/\*.*?\*/)*"
_DOT_START = re.compile(_COMMENTS + r"(?:strict\s*)?(?:di)?graph\b", re.IGNORECASE | re.DOTALL)


@dataclass(slots=True)
class Verdict:
    """One item's verdict. Features and hashes are filled whenever the grammar parse passed."""

    id: str
    source: str
    ok: bool
    reason: str
    message: str = ""
    line: int | None = None
    column: int | None = None
    size_bytes: int = 0
    grammar_ok: bool | None = None
    graphviz_ok: bool | None = None
    features: dict | None = None
    complexity: str | None = None
    normal_hash: str | None = None
    shape_hash: str | None = None
    warnings: tuple[str, ...] = field(default=())
    # A file of several graphs: each graph's features, complexity and hashes, in file order.
    # The top-level hashes then describe the whole file (every graph, in order), the
    # features the first graph plus ``graph_count``, the complexity the highest.
    graphs: list[dict] | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "source": self.source,
            "ok": self.ok,
            "reason": self.reason,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "size_bytes": self.size_bytes,
            "grammar_ok": self.grammar_ok,
            "graphviz_ok": self.graphviz_ok,
            "features": self.features,
            "complexity": self.complexity,
            "normal_hash": self.normal_hash,
            "shape_hash": self.shape_hash,
            "warnings": list(self.warnings),
            **({"graphs": self.graphs} if self.graphs is not None else {}),
        }


def validate_texts(
    items: Iterable[str | bytes | DotItem],
    *,
    graphviz: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    checker: GraphvizChecker | None = None,
) -> list[Verdict]:
    """One verdict per item, in order. Never raises for bad input.

    ``items`` may be plain texts (ids are their positions), raw bytes (decoded like
    Graphviz does) — each must hold exactly one graph — or ``DotItem``s from
    ``synthgen.dot.inputs`` (a DOT file may hold several graphs, as Graphviz allows). Pass a long-lived
    ``checker`` to choose batch size, timeout or layout checking; ``graphviz=False`` stops
    at the grammar.
    """
    verdicts = [_grammar_stage(_as_item(i, item, max_bytes), max_bytes) for i, item in enumerate(items)]
    if graphviz:
        _graphviz_stage(verdicts, checker)
    return [v for v, _ in verdicts]


def _as_item(index: int, item: str | bytes | DotItem, max_bytes: int) -> DotItem:
    if isinstance(item, DotItem):
        return item
    if isinstance(item, bytes):
        item = item_from_bytes(str(index), "", item, max_bytes)
        item.multiple = False  # a text handed in by a caller is one sample: exactly one graph
        return item
    return DotItem(str(index), "", item, len(item.encode("utf-8", "surrogatepass")))


class _Parsed(NamedTuple):
    """A text that passed the grammar, and how many graphs it holds."""

    text: str
    graphs: int


def _grammar_stage(item: DotItem, max_bytes: int) -> tuple[Verdict, _Parsed | None]:
    """The verdict so far, and the text to send on to Graphviz (None once settled)."""
    verdict = Verdict(item.id, item.source, ok=False, reason=item.reason or "", size_bytes=item.size)
    if item.reason:
        verdict.message = item.message
        return verdict, None
    text = item.text or ""
    if item.size > max_bytes:
        verdict.reason = "too_large"
        verdict.message = f"graph is {item.size:,} bytes, over the {max_bytes:,}-byte cap (--max-bytes)"
        return verdict, None
    if not text.strip():
        verdict.reason, verdict.message = "empty", "no text"
        return verdict, None
    if text.startswith("\ufeff"):
        verdict.reason, verdict.message = "encoding", "starts with a byte-order mark (U+FEFF), which Graphviz rejects"
        return verdict, None
    if not _DOT_START.match(text):
        verdict.reason, verdict.message = "not_dot", f"does not start with graph/digraph/strict: {_snippet(text)!r}"
        return verdict, None
    return _parse_and_measure(verdict, text, item.multiple)


def _parse_and_measure(verdict: Verdict, text: str, multiple: bool) -> tuple[Verdict, _Parsed | None]:
    from synthgen.dot.fast import analyse
    from synthgen.dot.parser import DotSyntaxError, parse

    try:
        analysis = analyse(text)  # the generation layout, without lark; None: not that layout
    except Exception:  # noqa: BLE001 - the full parser below decides, and reports
        analysis = None
    if analysis is not None:  # exactly one graph
        verdict.grammar_ok = True
        _fill(verdict, analysis.features, analysis.model, analysis.normal_form)
        verdict.ok, verdict.reason = True, "ok"
        return verdict, _Parsed(text, 1)
    try:
        tree = parse(text, multiple=multiple)
    except DotSyntaxError as exc:
        verdict.reason, verdict.grammar_ok = "grammar", False
        verdict.message = " ".join(str(exc).split())[:500]
        verdict.line, verdict.column = getattr(exc, "line", None), getattr(exc, "column", None)
        return verdict, None
    except RecursionError:
        verdict.reason, verdict.grammar_ok = "too_deep", False
        verdict.message = "nested too deeply to parse (Python recursion limit)"
        return verdict, None
    except Exception as exc:  # noqa: BLE001 - a parser bug must cost one verdict, not the run
        return _internal(verdict, "parse", exc), None
    verdict.grammar_ok = True
    try:
        _measure(verdict, tree)
    except RecursionError:
        verdict.reason, verdict.message = "too_deep", "nested too deeply to measure (Python recursion limit)"
        return verdict, None
    except Exception as exc:  # noqa: BLE001
        return _internal(verdict, "measure", exc), None
    verdict.ok, verdict.reason = True, "ok"
    return verdict, _Parsed(text, len(tree.graphs))


def _measure(verdict: Verdict, tree: object) -> None:
    from synthgen.dot.features import build
    from synthgen.dot.normal import normal_form

    graphs = getattr(tree, "graphs", None)
    if graphs is not None and len(graphs) > 1:
        _measure_each(verdict, graphs)
        return
    features, model = build(tree)  # one walk for the features and the shape hash's model
    _fill(verdict, features, model, normal_form(tree))


def _measure_each(verdict: Verdict, graphs: list) -> None:
    """Every graph of a multi-graph file measured on its own; file-level hashes over all."""
    import hashlib

    from synthgen.dot.complexity import COMPLEXITIES
    from synthgen.dot.features import build
    from synthgen.dot.normal import NORMAL_PREFIX, SHAPE_PREFIX, normal_form

    parts = []
    for graph in graphs:
        features, model = build(graph)
        one = Verdict(verdict.id, verdict.source, True, "ok")
        _fill(one, features, model, normal_form(graph))
        parts.append({"features": one.features, "complexity": one.complexity, "normal_hash": one.normal_hash,
                      "shape_hash": one.shape_hash})
    verdict.graphs = parts
    verdict.features = {**parts[0]["features"], "graph_count": len(parts)}
    verdict.complexity = max((p["complexity"] for p in parts), key=COMPLEXITIES.index)
    joined = {key: "\n".join(p[key] for p in parts) for key in ("normal_hash", "shape_hash")}
    verdict.normal_hash = NORMAL_PREFIX + hashlib.sha256(joined["normal_hash"].encode()).hexdigest()
    verdict.shape_hash = SHAPE_PREFIX + hashlib.sha256(joined["shape_hash"].encode()).hexdigest()


def _fill(verdict: Verdict, features: GraphFeatures, model: GraphModel, form: str) -> None:
    from synthgen.dot.complexity import complexity_of
    from synthgen.dot.normal import normal_hash_of, shape_hash_of

    verdict.features = features.to_dict()
    verdict.complexity = str(complexity_of(features))
    verdict.normal_hash = normal_hash_of(form)
    verdict.shape_hash = shape_hash_of(model)


def _graphviz_stage(verdicts: list[tuple[Verdict, _Parsed | None]], checker: GraphvizChecker | None) -> None:
    pending = [(v, parsed) for v, parsed in verdicts if parsed is not None]
    if not pending:
        return
    if checker is None:
        from synthgen.dot.graphviz import GraphvizChecker

        checker = GraphvizChecker()
    # Every pending text passed the grammar (whole graphs only): Graphviz's quiet mode can vouch for a batch.
    results = checker.check([p.text for _, p in pending], graphs=[p.graphs for _, p in pending])
    for (verdict, _), result in zip(pending, results, strict=True):
        _apply(verdict, result)


def _apply(verdict: Verdict, result: GraphvizResult) -> None:
    verdict.graphviz_ok = result.ok
    verdict.warnings = result.warnings
    if not result.ok:
        verdict.ok, verdict.reason, verdict.message = False, result.reason, result.message
        verdict.line, verdict.column = result.line, None


def _internal(verdict: Verdict, stage: str, exc: Exception) -> Verdict:
    verdict.reason = "internal"
    verdict.message = f"{stage} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return verdict


def _snippet(text: str, width: int = 40) -> str:
    return " ".join(text.split())[:width]


def summarize(verdicts: Iterable[Verdict]) -> dict:
    """Counts by reason, for the CLI summary and reports."""
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict.reason] = counts.get(verdict.reason, 0) + 1
    return summary_from_counts(counts)


def summary_from_counts(counts: dict[str, int]) -> dict:
    """{"total", "valid", "invalid", "by_reason": {reason: count}} from counts by reason."""
    total = sum(counts.values())
    valid = counts.get("ok", 0)
    return {"total": total, "valid": valid, "invalid": total - valid, "by_reason": dict(sorted(counts.items()))}
