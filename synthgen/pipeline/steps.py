"""Steps after the engine: a step is a small class with one method; a pipeline is a list of steps.

A step takes a batch of samples and returns the ones it forwards. Everything it does not
forward goes through ``drop`` with a reason code, so it is counted
(``total / forwarded / dropped_<reason>``) and saved (``rejected.jsonl`` or
``failed_prompts.jsonl``). Steps work on whole batches because Graphviz and the judge are
much cheaper per graph when many graphs go to one call.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

DropKind = Literal["rejected", "failed"]


@dataclass(slots=True)
class Sample:
    """One completion on its way to the record: what the plan asked and what came back."""

    item: Any  # the recipe's PlanItem (id, domain, subtopic, complexity, messages, ...)
    completion: Any  # synthgen.backends.base.Completion
    request: str = ""
    dot: str = ""
    grammar_ok: bool | None = None
    graphviz_ok: bool | None = None
    complexity: str | None = None  # measured
    features: dict[str, Any] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    judge: dict[str, Any] | None = None
    compute_s: float = 0.0  # this sample's share of the engine's wall time x accelerators

    @property
    def cell(self) -> tuple[str, str | None]:
        """The quota bucket: the planned domain and the MEASURED complexity."""
        return (self.item.domain, self.complexity)


@dataclass(slots=True)
class Drop:
    sample: Sample
    step: str
    reason: str
    detail: str
    kind: DropKind


@dataclass(slots=True)
class BatchResult:
    accepted: list[Sample] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)

    def of_kind(self, kind: DropKind) -> list[Drop]:
        return [d for d in self.drops if d.kind == kind]


class Step:
    """Base class: subclasses implement ``process`` and call ``drop`` for what they keep back."""

    name: ClassVar[str] = "step"

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self._drops: list[Drop] = []

    def process(self, batch: list[Sample]) -> list[Sample]:
        raise NotImplementedError

    def drop(self, sample: Sample, reason: str, detail: str = "", kind: DropKind = "rejected") -> None:
        self.counters[f"dropped_{reason}"] += 1
        self._drops.append(Drop(sample, self.name, reason, detail, kind))

    def __call__(self, batch: list[Sample], drops: list[Drop]) -> list[Sample]:
        self.counters["total"] += len(batch)
        self._drops = []
        kept = self.process(batch) if batch else []
        self.counters["forwarded"] += len(kept)
        drops.extend(self._drops)
        self._drops = []
        return kept


class Pipeline:
    """A list of steps run in order over one batch."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps

    def run(self, batch: list[Sample]) -> BatchResult:
        result = BatchResult()
        for step in self.steps:
            batch = step(batch, result.drops)
        result.accepted = batch
        return result

    def counters(self) -> dict[str, dict[str, int]]:
        return {s.name: dict(s.counters) for s in self.steps}

    def load_counters(self, saved: dict[str, dict[str, int]] | None) -> None:
        """Carry counters across --resume so the summary covers the whole run."""
        for step in self.steps:
            step.counters.update((saved or {}).get(step.name, {}))

    def drop_reasons(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for step in self.steps:
            for key, value in step.counters.items():
                if key.startswith("dropped_"):
                    total[key.removeprefix("dropped_")] += value
        return total
