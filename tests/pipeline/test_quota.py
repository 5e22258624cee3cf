"""Quota: exact counts per MEASURED cell (nl2dot: domain, measured complexity); full cells drop quota_full."""

from __future__ import annotations

from synthgen.backends.base import Completion
from synthgen.recipes.nl2dot import PlanItem
from synthgen.records import Sample
from synthgen.steps.base import Pipeline
from synthgen.steps.quota import Quota, QuotaStep


def make(i: int, requested: str, measured: str, domain: str = "robotics") -> Sample:
    it = PlanItem(f"1-{i:06d}", i, domain, "arm", requested, {}, [], "t", "1", i)
    return Sample(it, Completion(it.id, "", "stop"), cell=(domain, measured))


def test_counts_go_to_the_measured_bucket_and_full_cells_drop():
    quota = Quota({("robotics", "simple"): 1, ("robotics", "medium"): 2, ("robotics", "complex"): 0})
    assert quota.targets == {("robotics", "simple"): 1, ("robotics", "medium"): 2}
    step = QuotaStep(quota)
    batch = [make(0, "simple", "medium"), make(1, "simple", "simple"), make(2, "medium", "simple"),
             make(3, "complex", "complex"), make(4, "medium", "medium")]
    result = Pipeline([step]).run(batch)
    assert [s.item.index for s in result.accepted] == [0, 1, 4]
    assert [(d.reason, d.sample.item.index) for d in result.drops] == [("quota_full", 2), ("quota_full", 3)]
    assert "robotics/simple has 1 of 1" in result.drops[0].detail
    assert quota.done and quota.needed() == {} and quota.accepted_total == quota.target_total == 3


def test_needed_lists_only_unmet_cells():
    quota = Quota({("a", "simple"): 2, ("b", "simple"): 1})
    quota.add(("a", "simple"))
    quota.add(("b", "simple"))
    assert quota.needed() == {("a", "simple"): 1}
    assert not quota.done and quota.accepted_total == 2 and quota.target_total == 3
    assert quota.is_full(("b", "simple")) and quota.is_full(("c", "medium"))  # no quota: full
