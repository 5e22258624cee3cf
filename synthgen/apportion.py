"""Largest-remainder apportionment: integers in proportion to shares, summing exactly.

One function for every place that splits a whole number by weights (a recipe's quotas per
cell, a planner's batch over the cells still short), so they round the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def largest_remainder(total: int, shares: Sequence[float]) -> list[int]:
    """Integers summing to ``total`` in proportion to ``shares`` (fractions summing to 1);
    ties go to the earlier entry. A value a hair under an integer (0.29 x 100 =
    28.999999999999996) counts as that integer."""
    return _round([total * s for s in shares], total, slack=1e-9)


def apportion(n: int, needs: Sequence[int]) -> list[int]:
    """``n`` split in proportion to whole-number ``needs`` (largest remainder). The exact
    shares are ``n * k / sum``, computed as that quotient, so remainders that tie in exact
    arithmetic break as they always have (floating-point rounding decides, reproducibly)."""
    total = sum(needs)
    return _round([n * k / total for k in needs], n, slack=0.0)


def _round(exact: list[float], total: int, slack: float) -> list[int]:
    floors = [math.floor(x + slack) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: total - sum(floors)]:
        floors[i] += 1
    return floors


def spread(cells: Sequence[T], needs: Sequence[int], n: int, shift: int) -> list[T]:
    """``n`` picks over ``cells`` in proportion to ``needs``, interleaved round-robin so a
    batch cut short still covers every cell; the cells are rotated by ``shift`` (a planner
    passes its next index) so ties don't always favour the first cell."""
    if n <= 0 or not cells:
        return []
    k = shift % len(cells)
    order = list(range(len(cells)))[k:] + list(range(len(cells)))[:k]
    counts = apportion(n, [needs[i] for i in order])
    picks: list[T] = []
    while len(picks) < n:
        for j, i in enumerate(order):
            if counts[j] > 0:
                counts[j] -= 1
                picks.append(cells[i])
    return picks
