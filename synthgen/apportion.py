"""Largest-remainder apportionment: integers in proportion to shares, summing exactly.

One function for every place that splits a whole number by weights (a recipe's quotas per
cell, a planner's batch over the cells still short), so they round the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def largest_remainder(total: int, shares: Sequence[float]) -> list[int]:
    """Integers summing to ``total`` in proportion to ``shares`` (fractions summing to 1);
    ties go to the earlier entry. A value a hair under an integer (0.29 x 100 =
    28.999999999999996) counts as that integer."""
    exact = [total * s for s in shares]
    floors = [math.floor(x + 1e-9) for x in exact]
    left = total - sum(floors)
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def apportion(n: int, needs: Sequence[int]) -> list[int]:
    """``n`` split in proportion to whole-number ``needs`` (largest remainder)."""
    total = sum(needs)
    return largest_remainder(n, [k / total for k in needs])
