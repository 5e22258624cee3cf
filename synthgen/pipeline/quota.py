"""Quota: exact counts per (domain, measured complexity).

A sample counts toward the bucket its MEASURED complexity falls in, whatever was asked;
a sample for a full cell is dropped ``quota_full``. The runner stops when ``done``.
"""

from __future__ import annotations

from collections import Counter

from synthgen.pipeline.steps import Sample, Step

Cell = tuple[str, str]


class Quota:
    def __init__(self, targets: dict[Cell, int]) -> None:
        self.targets = {cell: n for cell, n in targets.items() if n > 0}
        self.counts: Counter[Cell] = Counter()

    def is_full(self, cell: tuple[str, str | None]) -> bool:
        return self.counts[cell] >= self.targets.get(cell, 0)  # type: ignore[arg-type]

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


class QuotaStep(Step):
    name = "quota"

    def __init__(self, quota: Quota) -> None:
        super().__init__()
        self.quota = quota

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            cell = sample.cell
            if self.quota.is_full(cell):
                target = self.quota.targets.get(cell, 0)  # type: ignore[arg-type]
                self.drop(sample, "quota_full", f"{cell[0]}/{cell[1]} has {self.quota.counts[cell]} of {target}")  # type: ignore[index]
                continue
            self.quota.add(cell)  # type: ignore[arg-type]
            kept.append(sample)
        return kept
