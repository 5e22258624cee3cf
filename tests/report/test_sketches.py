"""The bounded-memory pieces the report streams through: distinct counts (exact up to K,
estimated past it), the reservoir sample, the compression ratio, the similarity histogram."""

from __future__ import annotations

import random
import zlib

from synthgen.report.collect import Reservoir, count_features
from synthgen.report.diversity import Compression, Distinct, K, NGrams, nearest_similarities, similarity_histogram


def test_distinct_is_exact_below_k_and_close_past_it():
    small = Distinct()
    small.add([str(i % 5000).encode() for i in range(20_000)])
    assert small.summary() == {"distinct": 5000, "total": 20_000, "ratio": 0.25, "exact": True}
    big = Distinct()
    for start in range(0, 400_000, 50_000):  # 400k distinct values, each twice, in batches
        batch = [f"v{i}".encode() for i in range(start, start + 50_000)]
        big.add(batch + batch)
    s = big.summary()
    assert not s["exact"] and s["total"] == 800_000 and abs(s["distinct"] - 400_000) / 400_000 < 4 / K**0.5  # ~1.6%


def test_ngrams_count_words_pairs_and_triples():
    grams = NGrams()
    grams.add("The cat sat. The cat ran!")
    assert {n: d["distinct"] for n, d in grams.summary().items()} == {"1": 4, "2": 4, "3": 4}
    assert {n: d["total"] for n, d in grams.summary().items()} == {"1": 6, "2": 5, "3": 4}


def test_the_reservoir_is_seeded_and_uniform():
    def sample(seed: int) -> list[int]:
        r = Reservoir(10, random.Random(seed))
        for i in range(1000):
            r.offer(i)
        return r.items

    assert sample(1) == sample(1) != sample(2) and len(sample(1)) == 10
    hits = [0] * 10
    for seed in range(400):
        for item in sample(seed):
            hits[item // 100] += 1
    assert min(hits) > 300 and max(hits) < 500  # each tenth of the stream gets about 400 of 4,000 picks


def test_compression_equals_zlib_of_all_texts():
    c = Compression()
    texts = [f"request number {i % 37}" for i in range(5000)]
    for t in texts:
        c.add(t)
    data = ("\n".join(texts) + "\n").encode()
    s = c.summary()
    assert s["bytes"] == len(data) and abs(s["zlib_bytes"] - len(zlib.compress(data, 6))) <= 16 and s["ratio"] > 10


def test_nearest_similarity_finds_the_close_pair_and_not_the_far_one():
    base = "draw the checkout flow of a web shop with cart payment and shipping states"
    pairs = [(base, "a -> b -> c -> d"), (base + " today", "a -> b -> c -> d"), ("a haiku about autumn leaves falling", "x -- y")]
    best = nearest_similarities(pairs)
    assert best[0] is not None and best[0] > 0.6 and best[1] == best[0] and best[2] is None
    hist = similarity_histogram(best)
    assert sum(hist["counts"]) == 2 and hist["below_threshold"] == 1


def test_features_keep_a_bounded_number_of_values():
    from collections import Counter, defaultdict

    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for i in range(500):
        count_features(counts, {"features": {"directed": True, "subgraph_count": 0, "graph_id": f"g{i}", "rankdir": f"r{i}",
                                             "shapes": ["box"]}, "language": "python", "expected_tools": ["bash"],
                                "target_files": ["src/a.py", "Makefile"]})
    assert counts["uses"] == {"directed": 500} and "graph_id" not in counts and counts["shapes"] == {"box": 500}
    assert len(counts["rankdir"]) == 41 and counts["rankdir"]["(other)"] == 460
    assert counts["file extension"] == {".py": 500, "(none)": 500} and counts["tool"] == {"bash": 500}
