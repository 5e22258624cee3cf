"""Quota: exact counts per cell (a recipe's measured bucket, e.g. (domain, complexity)).

A sample counts toward the cell its checks MEASURED, whatever was asked; a sample for a
full cell is dropped ``quota_full``. The runner stops when ``done``.
"""

from __future__ import annotations

from collections import Counter

from synthgen.records import Cell, Sample, cell_label
from synthgen.steps.base import Step


class Quota:
    def __init__(self, targets: dict[Cell, int]) -> None:
        self.targets = {cell: n for cell, n in targets.items() if n > 0}
        self.counts: Counter[Cell] = Counter()

    def is_full(self, cell: Cell | None) -> bool:
        return cell is None or self.counts[cell] >= self.targets.get(cell, 0)

    def add(self, cell: Cell) -> None:
        self.counts[cell] += 1

    def needed(self) -> dict[Cell, int]:
        """The unmet cells and how many each still needs."""
        return {cell: n - self.counts[cell] for cell, n in self.targets.items() if self.counts[cell] < n}

    @property
    def target_total(self) -> int:
        return sum(self.targets.values())

    @property
    def accepted_total(self) -> int:
        return sum(min(self.counts[c], n) for c, n in self.targets.items())

    @property
    def done(self) -> bool:
        return not self.needed()

    def progress(self) -> dict[str, list[int]]:
        """``{"domain/complexity": [accepted, target]}``, as run.json keeps it."""
        return {cell_label(cell): [self.counts[cell], n] for cell, n in self.targets.items()}


class QuotaStep(Step):
    name = "quota"

    def __init__(self, quota: Quota) -> None:
        super().__init__()
        self.quota = quota

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            cell = sample.cell
            if cell is None or self.quota.is_full(cell):
                target = self.quota.targets.get(cell, 0) if cell is not None else 0
                held = self.quota.counts[cell] if cell is not None else 0
                self.drop(sample, "quota_full", f"{cell_label(cell or ('?',))} has {held} of {target}")
                continue
            self.quota.add(cell)
            kept.append(sample)
        return kept
