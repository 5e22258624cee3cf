"""Dedup: exact, near-duplicate and per-shape limits; in-batch duplicates; resume rebuild."""

from __future__ import annotations

from synthgen.backends.base import Completion
from synthgen.recipes.nl2dot import PlanItem
from synthgen.recipes.nl2dot.steps import keys_for
from synthgen.records import Sample
from synthgen.steps.base import Pipeline
from synthgen.steps.dedup import DedupConfig, DedupIndex, DedupStep, exact_key, normalize_request

DOT = (
    'digraph order {{\n  cart [label="Cart"];\n  pay [label="Payment"];\n  ship [label="Shipped"];\n'
    '  done [label="Delivered"];\n  cart -> pay [label="checkout"];\n  pay -> ship [label="{label}"];\n'
    '  ship -> done [label="arrive"];\n  pay -> cart [label="declined"];\n}}'
)
REQUEST = "Draw the order flow of a web shop from cart to payment, shipping and delivery, with declined payments going back."


def make(i: int, request: str, dot: str, shape: str = "s:a", normal: str | None = None, domain: str = "ecommerce") -> Sample:
    it = PlanItem(f"1-{i:06d}", i, domain, "orders", "medium", {}, [], "t", "1", i)
    hashes = {"normal_hash": normal or f"n:{hash(dot)}", "shape_hash": shape}
    return Sample(it, Completion(it.id, "", "stop"), fields={"request": request, "dot": dot, "complexity": "medium"},
                  cell=(domain, "medium"), keys=keys_for(request, dot, hashes), hashes=hashes)


def run(step: DedupStep, samples: list[Sample]):
    return Pipeline([step]).run(samples)  # the pipeline settles its steps


def test_exact_duplicate_ignores_case_spacing_and_punctuation_of_the_request():
    step = DedupStep(DedupIndex(DedupConfig(near=False, shape=False)))
    a = make(0, REQUEST, DOT.format(label="ship it"), normal="n:same")
    b = make(1, REQUEST.upper().replace(",", " ,  "), DOT.format(label="ship it"), normal="n:same")
    result = run(step, [a, b])
    assert [s.item.index for s in result.accepted] == [0]
    assert [d.reason for d in result.drops] == ["dup_exact"]
    assert normalize_request("Hello,  World!") == "hello world"
    assert exact_key("x", "n:1").startswith("x1:")


def test_near_duplicate_is_dropped_and_a_different_pair_is_kept():
    step = DedupStep(DedupIndex(DedupConfig(shape=False)))
    first = make(0, REQUEST, DOT.format(label="ship it"))
    near = make(1, REQUEST + " Please.", DOT.format(label="ship now"))  # one word added, one label changed
    other = make(2, "A robot arm picks a part, scans it and places it on the belt, or rejects it.",
                 'digraph arm {\n  pick -> scan;\n  scan -> place [label="ok"];\n  scan -> reject [label="bad"];\n}')
    result = run(step, [first, near, other])
    assert [s.item.index for s in result.accepted] == [0, 2]
    assert [(d.reason, d.sample.item.index) for d in result.drops] == [("dup_near", 1)]
    assert "1-000000" in result.drops[0].detail


def test_shape_repeats_are_limited_per_cell_not_dropped_outright():
    targets = {("ecommerce", "medium"): 12, ("robotics", "medium"): 2}  # limits: ceil(25% x 12) = 3, and 2
    step = DedupStep(DedupIndex(DedupConfig(near=False), targets))
    same_shape = [make(i, f"request number {i}", DOT.format(label=f"l{i}"), shape="s:chain") for i in range(4)]
    elsewhere = [make(i, f"request number {i}", DOT.format(label=f"l{i}"), shape="s:chain", domain="robotics") for i in (4, 5, 6)]
    other_shape = make(7, "request number 7", DOT.format(label="l7"), shape="s:star")
    result = run(step, [*same_shape, *elsewhere, other_shape])
    assert [s.item.index for s in result.accepted] == [0, 1, 2, 4, 5, 7]
    assert [(d.reason, d.sample.item.index) for d in result.drops] == [("dup_shape", 3), ("dup_shape", 6)]
    assert "limit 3" in result.drops[0].detail


def test_settle_releases_keys_of_samples_dropped_later():
    index = DedupIndex()
    step = DedupStep(index)
    a = make(0, REQUEST, DOT.format(label="x"))
    assert step([a], []) == [a]  # forwarded by dedup...
    step.settle([])  # ...then dropped by quota: the index must not keep it
    assert len(index) == 0
    result = run(step, [make(1, REQUEST, DOT.format(label="x"))])
    assert len(result.accepted) == 1 and len(index) == 1


def test_index_rebuilt_from_accepted_records_catches_duplicates_on_resume():
    accepted = make(0, REQUEST, DOT.format(label="ship it"), normal="n:z")
    step = DedupStep(DedupIndex())
    run(step, [accepted])
    record = {
        "id": "1-000000", "request": accepted.fields["request"], "dot": accepted.fields["dot"], "domain": "ecommerce",
        "complexity_measured": "medium", "validation": {"hashes": dict(accepted.hashes)},
    }
    from synthgen.recipes import create_recipe

    recipe = create_recipe("nl2dot")
    rebuilt = DedupIndex()
    rebuilt.add_record(record["id"], recipe.cell_of(record), recipe.keys_of(record), record["validation"]["hashes"].get("exact"))
    again = DedupStep(rebuilt)
    result = run(again, [make(5, REQUEST, DOT.format(label="ship it"), normal="n:z"),
                         make(6, REQUEST + " Thanks.", DOT.format(label="ship it"))])
    assert [d.reason for d in result.drops] == ["dup_exact", "dup_near"]


def test_minhash_equals_datasketch_update_batch_over_the_shingle_strings():
    """The direct sketch (CRCs sliced from one byte string, numpy permutations) is the one
    datasketch builds from the shingle strings, so near-duplicate decisions do not move."""
    import random

    import numpy as np
    from datasketch import MinHash

    from synthgen.recipes.nl2dot.fake import fake_dot
    from synthgen.steps.dedup import _hash_values, shingles

    index = DedupIndex()
    rng = random.Random(3)
    pairs = [fake_dot(rng, level) for level in ("simple", "medium", "complex") for _ in range(30)]
    pairs += [("", ""), ("a", "b"), ("one two", "x -> y"), ("café au lait", 'digraph { "é" -> b }'), ("a b a b a b", "a a a a")]
    for request, dot in pairs:
        reference = MinHash(num_perm=64, hashfunc=int, permutations=index._perms, scheme=index._scheme)
        reference.update_batch(_hash_values(shingles(request, dot)))
        assert np.array_equal(index.minhash(request, dot).hashvalues, reference.hashvalues), (request, dot)
