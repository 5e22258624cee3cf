"""A step is a small class with one method; a pipeline is a list of steps.

A step takes a batch of samples and returns the ones it forwards. Everything it does not
forward goes through ``drop`` with a reason code, so it is counted
(``total / forwarded / dropped_<reason>``) and saved (``rejected.jsonl`` or
``failed_prompts.jsonl``). Steps work on whole batches because Graphviz and the judge are
much cheaper per sample when many go to one call. After every batch the pipeline calls
each step's ``settle`` with what was finally accepted (dedup releases what a later step
dropped), so no caller has to know which step holds state.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from synthgen.records import BatchResult, Drop, DropKind, Sample

# Reasons that mean the engine's output was unusable (failed_prompts.jsonl), whatever the
# recipe: the engine failed, the output hit max_tokens, or it is not in the recipe's format
# (not parsable, or not following the JSON schema it was asked for).
FAILED_REASONS = frozenset({"engine_error", "truncated", "malformed_output", "schema_invalid"})


class Step:
    """Base class: subclasses implement ``process`` and call ``drop`` for what they keep back."""

    name: ClassVar[str] = "step"

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self._drops: list[Drop] = []

    def process(self, batch: list[Sample]) -> list[Sample]:
        raise NotImplementedError

    def settle(self, accepted: list[Sample]) -> None:
        """Called once per batch with the samples the whole pipeline accepted."""

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
    """A list of steps run in order over one batch, then settled."""

    def __init__(self, steps: list[Step]) -> None:
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"two steps share a name (their counters would mix): {names}")
        self.steps = steps

    def run(self, batch: list[Sample]) -> BatchResult:
        result = BatchResult()
        for step in self.steps:
            batch = step(batch, result.drops)
        result.accepted = batch
        for step in self.steps:
            step.settle(result.accepted)
        return result

    def counters(self) -> dict[str, dict[str, int]]:
        return {s.name: dict(s.counters) for s in self.steps}

    def load_counters(self, saved: dict[str, dict[str, int]] | None) -> None:
        """Carry counters across --resume so the summary covers the whole run."""
        for step in self.steps:
            step.counters.clear()
            step.counters.update((saved or {}).get(step.name, {}))

    def drop_reasons(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for step in self.steps:
            for key, value in step.counters.items():
                if key.startswith("dropped_"):
                    total[key.removeprefix("dropped_")] += value
        return total


class ParseStep(Step):
    """The first check of every recipe: engine errors and cut-off outputs are failures
    whatever the recipe; a recipe's subclass reads the text in ``parse`` (fill the sample,
    or ``drop`` it and return False)."""

    name = "parse"

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            comp = sample.completion
            if comp.finish_reason == "error":
                self.drop(sample, "engine_error", comp.error or "engine error", kind="failed")
            elif comp.finish_reason == "length":
                self.drop(sample, "truncated", f"cut off at {comp.completion_tokens} tokens", kind="failed")
            elif self.parse(sample):
                kept.append(sample)
        return kept

    def parse(self, sample: Sample) -> bool:
        raise NotImplementedError
