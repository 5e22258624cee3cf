"""Validate and measure: the grammar parse, Graphviz itself, then structure and complexity.

Validation runs once per batch (``validate_texts`` hands the whole batch to one Graphviz
process and falls back one by one on error), so the cost per graph stays ~0.1 ms.
Measured complexity, not the requested one, decides the quota bucket.
"""

from __future__ import annotations

from typing import Any

from synthgen.pipeline.steps import Sample, Step


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

    def process(self, batch: list[Sample]) -> list[Sample]:
        verdicts = self._run([s.dot for s in batch])
        kept = []
        for sample, verdict in zip(batch, verdicts, strict=True):
            self._fill(sample, verdict)
            if _verdict_ok(verdict):
                kept.append(sample)
            else:
                self.drop(sample, str(verdict.reason), _verdict_detail(verdict))
        return kept

    def _run(self, texts: list[str]) -> list[Any]:
        return list(self._validate(texts, graphviz=self._graphviz, checker=self._checker))

    @staticmethod
    def _fill(sample: Sample, verdict: Any) -> None:
        sample.grammar_ok = getattr(verdict, "grammar_ok", None)
        sample.graphviz_ok = getattr(verdict, "graphviz_ok", None)
        if _verdict_ok(verdict):
            sample.grammar_ok = True if sample.grammar_ok is None else sample.grammar_ok
            sample.graphviz_ok = True if sample.graphviz_ok is None else sample.graphviz_ok
        sample.features = dict(getattr(verdict, "features", None) or {})
        sample.complexity = getattr(verdict, "complexity", None)
        for key in ("normal_hash", "shape_hash"):
            value = getattr(verdict, key, None)
            if value:
                sample.hashes[key] = value


class MeasureStep(Step):
    """Fills features and measured complexity where validation did not already compute them."""

    name = "measure"

    def __init__(self, complexities: tuple[str, ...] | list[str]) -> None:
        super().__init__()
        self._known = set(complexities)

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            if not sample.features or sample.complexity is None:
                self._measure(sample)
            if sample.complexity in self._known:
                kept.append(sample)
            else:
                self.drop(sample, "complexity_unknown", f"measured complexity {sample.complexity!r}")
        return kept

    @staticmethod
    def _measure(sample: Sample) -> None:
        from synthgen.dot.features import complexity_of, measure
        from synthgen.dot.parser import parse

        features = measure(parse(sample.dot))
        sample.features = features if isinstance(features, dict) else _as_dict(features)
        sample.complexity = complexity_of(features)


def _as_dict(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj):
        return asdict(obj)
    return dict(vars(obj))
