"""nl2dot's checks: read REQUEST:/DOT: back, the request's quality, the grammar parse and
Graphviz, structure and complexity, then the graph's quality (``quality.py``).

Validation runs once per batch (``validate_texts`` hands the whole batch to one Graphviz
process and falls back one by one on error), so the cost per graph stays ~0.1 ms.
Measured complexity, not the requested one, decides the quota cell; the measure step sets
each sample's cell and dedup keys for the generic steps after it.
"""

from __future__ import annotations

from typing import Any

from synthgen.errors import SynthgenError
from synthgen.records import DedupKeys, Sample
from synthgen.steps.base import ParseStep, Step


class Nl2DotParse(ParseStep):
    """The completion → (request, dot), or ``malformed_output`` / ``empty_request``."""

    def __init__(self) -> None:
        super().__init__()
        from synthgen.dot.gen_grammar import split_output

        self._split = split_output

    def parse(self, sample: Sample) -> bool:
        try:
            parts = self._split(sample.completion.text)
        except (ValueError, SynthgenError) as exc:
            self.drop(sample, "malformed_output", " ".join(str(exc).split())[:300], kind="failed")
            return False
        if not parts or not parts[1].strip():
            self.drop(sample, "malformed_output", "no DOT in the output", kind="failed")
            return False
        request, dot = parts
        sample.fields.update(request=request.strip(), dot=dot.strip())
        if not sample.fields["request"]:
            self.drop(sample, "empty_request", "the request text is empty")
            return False
        return True


def _verdict_ok(verdict: Any) -> bool:
    ok = getattr(verdict, "ok", None)
    return bool(ok) if ok is not None else not getattr(verdict, "reason", None)


def _verdict_detail(verdict: Any) -> str:
    for attr in ("detail", "message", "error"):
        value = getattr(verdict, attr, None)
        if value:
            return " ".join(str(value).split())[:300]
    return ""


class ValidateStep(Step):
    name = "validate"

    def __init__(self, graphviz: bool = True) -> None:
        super().__init__()
        from synthgen.dot import validate
        from synthgen.dot.graphviz import GraphvizChecker

        self._validate = validate.validate_texts
        self._graphviz = graphviz
        self._checker = GraphvizChecker() if graphviz else None  # one long-lived checker: batches go to one process
        self._memo: dict[str, Any] = {}  # verdicts of this batch by text: the repair check's are not computed twice

    def process(self, batch: list[Sample]) -> list[Sample]:
        verdicts = self._run([s.fields["dot"] for s in batch])
        kept = []
        for sample, verdict in zip(batch, verdicts, strict=True):
            self._fill(sample, verdict)
            if _verdict_ok(verdict):
                kept.append(sample)
            else:
                self.drop(sample, str(verdict.reason), _verdict_detail(verdict))
        return kept

    def _run(self, texts: list[str]) -> list[Any]:
        return self.verdicts(texts)

    def verdicts(self, texts: list[str]) -> list[Any]:
        """Grammar and Graphviz verdicts, one per text, kept until the batch settles."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            self._memo.update(zip(missing, self._validate(missing, graphviz=self._graphviz, checker=self._checker), strict=True))
        return [self._memo[t] for t in texts]

    def settle(self, accepted: list[Sample]) -> None:
        self._memo.clear()

    @staticmethod
    def _fill(sample: Sample, verdict: Any) -> None:
        fields = sample.fields
        fields["grammar_ok"] = getattr(verdict, "grammar_ok", None)
        fields["graphviz_ok"] = getattr(verdict, "graphviz_ok", None)
        if _verdict_ok(verdict):
            fields["grammar_ok"] = True if fields["grammar_ok"] is None else fields["grammar_ok"]
            fields["graphviz_ok"] = True if fields["graphviz_ok"] is None else fields["graphviz_ok"]
        fields["features"] = dict(getattr(verdict, "features", None) or {})
        fields["complexity"] = getattr(verdict, "complexity", None)
        for key in ("normal_hash", "shape_hash"):
            value = getattr(verdict, key, None)
            if value:
                sample.hashes[key] = value


def repair_problems(samples: list[Sample], validate: ValidateStep) -> list[str | None]:
    """What a follow-up turn can fix: an output not in the REQUEST:/DOT: format (the parse
    step's message), an empty request, or DOT the grammar or Graphviz rejects (the
    validator's message, e.g. "syntax error in line 14 near ';'")."""
    from synthgen.dot.gen_grammar import split_output

    problems: list[str | None] = [None] * len(samples)
    dots: dict[int, str] = {}
    for i, sample in enumerate(samples):
        try:
            request, dot = split_output(sample.completion.text)
        except (ValueError, SynthgenError) as exc:
            problems[i] = " ".join(str(exc).split())
            continue
        if not request.strip():
            problems[i] = "the REQUEST: line is empty"
        elif not dot.strip():
            problems[i] = "no DOT after the DOT: line"
        else:
            dots[i] = dot.strip()
    for i, verdict in zip(dots, validate.verdicts(list(dots.values())), strict=True):
        if not _verdict_ok(verdict):
            what = _REPAIR_WHAT.get(str(verdict.reason), f"the DOT is invalid ({verdict.reason})")
            detail = _verdict_detail(verdict)
            problems[i] = f"{what}: {detail}{_LINES if 'line' in detail else ''}" if detail else what
    return problems


_REPAIR_WHAT = {"grammar": "the DOT does not parse", "graphviz": "Graphviz rejects the DOT",
                "not_dot": "the DOT part is not a graph", "empty": "the DOT part is empty"}
_LINES = " (line 1 is the first line after DOT:)"


class MeasureStep(Step):
    """Fills features and measured complexity where validation did not already compute them,
    then the sample's cell (domain, measured complexity) and dedup keys."""

    name = "measure"

    def __init__(self, complexities: tuple[str, ...] | list[str]) -> None:
        super().__init__()
        self._known = set(complexities)

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            if not sample.fields.get("features") or sample.fields.get("complexity") is None:
                self._measure(sample)
            complexity = sample.fields["complexity"]
            if complexity in self._known:
                sample.cell = (sample.item.domain, complexity)
                sample.keys = keys_for(sample.fields["request"], sample.fields["dot"], sample.hashes)
                kept.append(sample)
            else:
                self.drop(sample, "complexity_unknown", f"measured complexity {complexity!r}")
        return kept

    @staticmethod
    def _measure(sample: Sample) -> None:
        from synthgen.dot.features import complexity_of, measure
        from synthgen.dot.parser import parse

        features = measure(parse(sample.fields["dot"]))
        sample.fields["features"] = features if isinstance(features, dict) else _as_dict(features)
        sample.fields["complexity"] = complexity_of(features)


class RequestStep(Step):
    """The request's quality checks (``quality.REQUEST_CHECKS``), before Graphviz is asked:
    a request cut at its bound, looping on itself or saying nothing is dropped with the
    check's name as its reason."""

    name = "request"

    def __init__(self, quality: Any, off: frozenset[str] = frozenset()) -> None:
        super().__init__()
        from synthgen.recipes.nl2dot.quality import REQUEST_FUNCS

        self._q = quality
        self._checks = [(name, fn) for name, fn in REQUEST_FUNCS.items() if name not in off]

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            failed = next(((name, why) for name, fn in self._checks if (why := fn(sample.fields["request"], self._q))), None)
            if failed:
                self.drop(sample, *failed)
            else:
                kept.append(sample)
        return kept


class GraphStep(Step):
    """The graph's quality checks (``quality.GRAPH_CHECKS``) on valid, measured graphs:
    repeated edges, self-loops, repeated labels, isolated nodes, unreachable states, labels
    unrelated to the request, a size the request states and the graph does not have."""

    name = "graph"

    def __init__(self, quality: Any, off: frozenset[str] = frozenset()) -> None:
        super().__init__()
        from synthgen.recipes.nl2dot.quality import GRAPH_FUNCS

        self._q = quality
        self._checks = [(name, fn) for name, fn in GRAPH_FUNCS.items() if name not in off]

    def process(self, batch: list[Sample]) -> list[Sample]:
        from synthgen.dot.content import content_of
        from synthgen.recipes.nl2dot.quality import Facts

        kept = []
        for sample in batch:
            f = sample.fields
            facts = Facts(f["request"], content_of(f["dot"]), int(f.get("features", {}).get("cluster_count") or 0),
                          str(sample.item.params.get("style", "")))
            failed = next(((name, why) for name, fn in self._checks if (why := fn(facts, self._q))), None)
            if failed:
                self.drop(sample, *failed)
            else:
                kept.append(sample)
        return kept


def keys_for(request: str, dot: str, hashes: dict[str, Any]) -> DedupKeys:
    """Request words, DOT tokens, the DOT's normal-form hash and its shape hash."""
    return DedupKeys(text=request, body=dot, content_hash=hashes.get("normal_hash"), shape=hashes.get("shape_hash"))


def _as_dict(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj):
        return asdict(obj)
    return dict(vars(obj))
