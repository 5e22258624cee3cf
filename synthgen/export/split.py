"""The train/val split: stratified by cell, grouped so near-duplicates never straddle it.

Groups join examples that share a shape hash (nl2dot's graph topology) or sit in one MinHash
cluster (text and body 3-shingles, Jaccard >= 0.8, the dedup step's measure). Whole groups
go to one side; they are taken in a seeded order and a group joins val while no cell it
touches would pass its target (round(fraction x all) apportioned over the cells by size:
each within one example of fraction x the cell's size). The same examples and seed
always give the same split.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter, defaultdict
from typing import Any

from synthgen.apportion import apportion
from synthgen.export.sources import Example

NEAR_THRESHOLD = 0.8


class Groups:
    """Near-duplicate groups, built one example at a time in the first pass: a union-find
    over example indices, joined on a shared shape hash and, with ``near``, on a MinHash LSH
    hit. MinHash clusters are only looked for across sources (``near``: more than one run id
    or a mixed file): within one run the dedup step already refused every near-duplicate with
    the same sketch and the same LSH bands, so a one-run export would find none (and MinHash
    is most of an export's time). Memory: an int per example, a key per distinct shape, and
    the LSH index where ``near``."""

    def __init__(self, near: bool) -> None:
        self.parent: array[int] = array("q")
        self.by_shape: dict[str, int] = {}
        self.near = near
        self._index: Any = None
        self._lsh: Any = None
        if near:
            from datasketch import MinHashLSH

            from synthgen.steps.dedup import DedupConfig, DedupIndex

            self._index = DedupIndex(DedupConfig())
            self._lsh = MinHashLSH(threshold=NEAR_THRESHOLD, num_perm=self._index.config.num_perm)

    def __len__(self) -> int:
        return len(self.parent)

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def add(self, i: int, ex: Example) -> None:
        assert i == len(self.parent)
        self.parent.append(i)
        shape = (ex.record.get("validation") or {}).get("hashes", {}).get("shape_hash")
        if shape:
            if shape in self.by_shape:
                self.join(i, self.by_shape[shape])
            self.by_shape.setdefault(shape, i)
        if self._lsh is not None and ex.keys is not None:
            mh = self._index.minhash(ex.keys.text, ex.keys.body)
            for hit in self._lsh.query(mh):
                self.join(i, int(hit))
            self._lsh.insert(str(i), mh)

    def members(self) -> list[list[int]]:
        """Indices in groups, each in index order, the groups in order of their first member."""
        out: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            out[self.find(i)].append(i)
        return list(out.values())

    def labels(self) -> list[str]:
        """Each example's group name (``g<n>``, n in ``members()`` order)."""
        names: dict[int, str] = {}
        out = []
        for i in range(len(self.parent)):
            root = self.find(i)
            out.append(names.setdefault(root, f"g{len(names)}"))
        return out


def split(cells: list[tuple[str, ...]], groups: Groups, fraction: float, seed: int) -> bytearray:
    """Which examples go to val: a flag per example index (1: val)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val fraction must be in [0, 1), got {fraction}")
    sizes = Counter(cells)
    # Val's size is round(fraction x all), spread over the cells by largest remainder, so each
    # cell's share is within one example of fraction x its size and tiny cells (1-3 records,
    # where fraction x size rounds to 0) still give val its share; ties in a seeded order.
    order_cells = sorted(sizes)
    random.Random(f"cells:{seed}").shuffle(order_cells)
    counts = apportion(round(fraction * len(cells)), [sizes[c] for c in order_cells]) if cells else []
    target = dict(zip(order_cells, counts))
    held: Counter[tuple[str, ...]] = Counter()
    members = groups.members()
    order = sorted(range(len(members)), key=lambda n: members[n][0])
    random.Random(seed).shuffle(order)
    val = bytearray(len(cells))
    for n in order:
        need = Counter(cells[i] for i in members[n])
        if all(held[c] + k <= target[c] for c, k in need.items()):
            held.update(need)
            for i in members[n]:
                val[i] = 1
    return val
