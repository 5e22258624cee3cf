"""The train/val split: stratified by cell, grouped so near-duplicates never straddle it.

Groups join examples that share a shape hash (nl2dot's graph topology) or sit in one MinHash
cluster (text and body 3-shingles, Jaccard >= 0.8, the dedup step's measure). Whole groups
go to one side; they are taken in a seeded order and a group joins val while no cell it
touches would pass its target, round(fraction x the cell's size). The same examples and seed
always give the same split.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from synthgen.export.sources import Example

NEAR_THRESHOLD = 0.8


class _Groups:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group(examples: list[Example]) -> list[list[int]]:
    """Indices of ``examples`` in near-duplicate groups (each group in index order).

    MinHash clusters are only looked for across sources: within one run the dedup step
    already refused every near-duplicate with the same sketch and the same LSH bands, so a
    one-run export would find none (and MinHash is most of an export's time)."""
    from datasketch import MinHashLSH

    from synthgen.steps.dedup import DedupConfig, DedupIndex

    groups = _Groups(len(examples))
    by_shape: dict[str, int] = {}
    near = len({ex.source for ex in examples}) > 1
    index = DedupIndex(DedupConfig())
    lsh = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=index.config.num_perm)
    for i, ex in enumerate(examples):
        shape = (ex.record.get("validation") or {}).get("hashes", {}).get("shape_hash")
        if shape:
            if shape in by_shape:
                groups.join(i, by_shape[shape])
            by_shape.setdefault(shape, i)
        if near and ex.keys is not None:
            mh = index.minhash(ex.keys.text, ex.keys.body)
            for hit in lsh.query(mh):
                groups.join(i, int(hit))
            lsh.insert(str(i), mh)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(examples)):
        members[groups.find(i)].append(i)
    return list(members.values())


def split(examples: list[Example], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, val indices), each in the examples' order."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val fraction must be in [0, 1), got {fraction}")
    sizes = Counter(ex.cell for ex in examples)
    target = {cell: round(fraction * n) for cell, n in sizes.items()}
    held: Counter[tuple[str, ...]] = Counter()
    groups = group(examples)
    for n, members in enumerate(groups):
        for i in members:
            examples[i].group = f"g{n}"
    order = sorted(range(len(groups)), key=lambda n: groups[n][0])
    random.Random(seed).shuffle(order)
    val: set[int] = set()
    for n in order:
        need = Counter(examples[i].cell for i in groups[n])
        if all(held[c] + k <= target[c] for c, k in need.items()):
            held.update(need)
            val.update(groups[n])
    return [i for i in range(len(examples)) if i not in val], sorted(val)
