"""One largest-remainder apportionment for every recipe: it rounds exactly as the two
copies it replaced (nl2dot's quota split and its planner's batch split), on any input."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from synthgen.apportion import apportion, largest_remainder


def old_quota_split(total: int, shares: list[float]) -> list[int]:  # recipes/nl2dot/quotas.py before
    exact = [total * s for s in shares]
    floors = [math.floor(x + 1e-9) for x in exact]
    left = total - sum(floors)
    order = sorted(range(len(shares)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def old_planner_split(n: int, needs: list[int]) -> list[int]:  # recipes/nl2dot/plan.py before
    total = sum(needs)
    exact = [n * k / total for k in needs]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(needs)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 100_000), st.lists(st.integers(1, 5000), min_size=1, max_size=40))
@example(19758, [47, 57, 57, 110, 375, 1315])  # remainders tie exactly (592/1961): float rounding decides, as before
def test_the_planner_split_is_unchanged(n, needs):
    assert apportion(n, needs) == old_planner_split(n, needs)
    assert sum(apportion(n, needs)) == n


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 1_000_000), st.lists(st.integers(0, 100), min_size=1, max_size=3).filter(lambda w: sum(w) > 0))
def test_the_quota_split_is_unchanged(total, weights):
    shares = [w / sum(weights) for w in weights]
    assert largest_remainder(total, shares) == old_quota_split(total, shares)
    assert sum(largest_remainder(total, shares)) == total


def test_a_share_a_hair_under_an_integer_counts_as_it():
    assert largest_remainder(100, [0.29, 0.71]) == [29, 71]  # 0.29 x 100 = 28.999999999999996
