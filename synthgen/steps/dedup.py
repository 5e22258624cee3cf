"""Dedup: exact, near-duplicate and structural, with a reason code for every drop.

It works on the ``DedupKeys`` a recipe's checks put on each sample (``text``: the
natural-language part; ``body``: the structured part; ``content_hash``: the body's normal
form; ``shape``: a structural hash), so every recipe gets the same three checks:

- exact (``dup_exact``): the content hash plus the normalized text's hash, one key with a
  versioned prefix (``x1:``), so a change of normal form never mixes keys.
- near (``dup_near``): MinHash LSH (datasketch) over one set holding the text's word
  3-shingles and the body's token 3-shingles; a pair whose estimated Jaccard similarity is
  at least ``near_threshold`` (default 0.8) is a near-duplicate.
- structural (``dup_shape``): samples with the same shape hash are not dropped outright,
  because small structures have few shapes and a small cell would starve; instead one shape
  may fill at most ``max(min_per_shape, ceil(max_shape_share x the cell's target))``
  records of one cell (defaults: 2 and 25%), so no cell is filled by one structure.

The index holds only accepted records: the step reserves keys while a batch is in flight
(so duplicates inside one batch are caught) and ``settle`` releases the ones that a later
step dropped. On ``--resume`` the index is rebuilt from the accepted records on disk, with
the keys the recipe reads back from each record.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import Any

from synthgen.records import Cell, DedupKeys, Sample, cell_label
from synthgen.steps.base import Step

EXACT_PREFIX = "x1:"
_WORD = re.compile(r"[a-z0-9]+")
_DOT_TOKEN = re.compile(r"\w+|->|--")


@dataclass(slots=True, frozen=True)
class DedupConfig:
    near_threshold: float = 0.8
    num_perm: int = 64
    min_per_shape: int = 2
    max_shape_share: float = 0.25
    exact: bool = True
    near: bool = True
    shape: bool = True


def normalize_request(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _fallback_hash(dot: str) -> str:
    return "ws1:" + hashlib.blake2b(" ".join(dot.split()).encode(), digest_size=16).hexdigest()


def exact_key(text: str, content_hash: str) -> str:
    text_hash = hashlib.blake2b(normalize_request(text).encode(), digest_size=16).hexdigest()
    return f"{EXACT_PREFIX}{hashlib.blake2b(f'{content_hash}|{text_hash}'.encode(), digest_size=16).hexdigest()}"


def exact_of(keys: DedupKeys) -> str:
    return exact_key(keys.text, keys.content_hash or _fallback_hash(keys.body))


def shingles(text: str, body: str) -> set[str]:
    """Word 3-shingles of the text and token 3-shingles of the body, tagged apart."""
    words = _WORD.findall(text.lower()) or [""]
    tokens = _DOT_TOKEN.findall(body) or [""]
    # map + str.format runs the loop in C; same strings as f"t:{a} {b} {c}" over zip(...)
    out = set(map("t:{} {} {}".format, words, words[1:] or [""], words[2:] or [""]))
    out.update(map("d:{} {} {}".format, tokens, tokens[1:] or [""], tokens[2:] or [""]))
    return out


def _hash_values(items: set[str]) -> Any:
    """CRC-32 of the shingles, computed in C (map + numpy), not one Python call each.
    CRC-32 rather than ``hash()``: the same records give the same decisions in every process."""
    import numpy as np

    return np.fromiter(map(zlib.crc32, map(str.encode, items)), dtype=np.uint32, count=len(items))


def _shingle_hashes(text: str, body: str) -> Any:
    """CRC-32 of every shingle occurrence (``shingles`` without building the strings).

    A repeated shingle repeats its value, which leaves a MinHash unchanged (a minimum over
    a multiset is the minimum over its set), so the sketch equals the one of ``shingles``.
    """
    import numpy as np

    words = _WORD.findall(text.lower()) or [""]
    tokens = _DOT_TOKEN.findall(body) or [""]
    values = _trigram_crcs(words, _T_SEED, "t:{} {} {}")
    values += _trigram_crcs(tokens, _D_SEED, "d:{} {} {}")
    return np.fromiter(values, dtype=np.uint32, count=len(values))


_T_SEED, _D_SEED = zlib.crc32(b"t:"), zlib.crc32(b"d:")
_PLUS_ONE, _MINUS_ONE = (1).__add__, (-1).__add__  # C callables: no Python frame per part


def _trigram_crcs(parts: list[str], seed: int, form: str) -> list[int]:
    """crc32(tag + "a b c") for each 3 consecutive parts: one joined byte string, sliced in C."""
    joined = " ".join(parts)
    if len(parts) < 3 or not joined.isascii():  # short or non-ASCII: the strings themselves
        texts = map(form.format, parts, parts[1:] or [""], parts[2:] or [""])
        return list(map(zlib.crc32, map(str.encode, texts)))
    data = joined.encode("ascii")
    starts = list(accumulate(map(_PLUS_ONE, map(len, parts)), initial=0))  # where each part starts
    ends = map(_MINUS_ONE, starts[3:])  # a trigram ends one space before the part after it starts
    return list(map(zlib.crc32, map(data.__getitem__, map(slice, starts, ends)), repeat(seed)))


def _fmix32(h: Any) -> Any:
    """MurmurHash3's 32-bit finalizer on a uint32 array (what datasketch applies to each
    input hash under its ``affine32`` scheme before the permutations)."""
    h = h ^ (h >> 16)
    h = h * _FMIX1
    h = h ^ (h >> 13)
    h = h * _FMIX2
    return h ^ (h >> 16)


_FMIX1: Any = None
_FMIX2: Any = None


def _set_fmix() -> bool:
    import numpy as np

    global _FMIX1, _FMIX2
    _FMIX1, _FMIX2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
    return True


class DedupIndex:
    """Everything accepted so far, in the three forms the checks need."""

    def __init__(self, config: DedupConfig = DedupConfig(), targets: dict[Cell, int] | None = None) -> None:
        from datasketch import MinHash, MinHashLSH

        self.config = config
        self._targets = targets or {}
        self._MinHash = MinHash
        template = MinHash(num_perm=config.num_perm, seed=1)
        self._perms, self._scheme = template.permutations, template.scheme
        # A MinHash of hash values, built straight from numpy (update_batch converts each
        # value with a Python call); tests/pipeline/test_dedup.py checks both agree.
        self._template = MinHash(num_perm=config.num_perm, hashfunc=int, permutations=self._perms, scheme=self._scheme)
        self._direct = self._scheme == "affine32" and _set_fmix()
        self._lsh = MinHashLSH(threshold=config.near_threshold, num_perm=config.num_perm)
        self._exact: set[str] = set()
        self._shapes: Counter[tuple[Any, ...]] = Counter()

    def minhash(self, text: str, body: str) -> Any:
        if not self._direct:
            values = _hash_values(shingles(text, body))
            m = self._MinHash(num_perm=self.config.num_perm, hashfunc=int, permutations=self._perms, scheme=self._scheme)
            m.update_batch(values)
            return m
        import numpy as np

        values = _shingle_hashes(text, body)
        a, b = self._perms
        m = copy.copy(self._template)  # shares the permutations, as update_batch's MinHash does
        m.hashvalues = np.minimum(self._template.hashvalues, (_fmix32(values.reshape(-1, 1)) * a + b).min(axis=0))
        return m

    def shape_limit(self, shape_key: tuple[Any, ...]) -> int:
        target = self._targets.get(shape_key[0], 0)
        return max(self.config.min_per_shape, math.ceil(self.config.max_shape_share * target))

    def check_cheap(self, exact: str, shape_key: tuple[Any, ...] | None) -> tuple[str, str] | None:
        """Exact and shape checks: set and counter look-ups, before any MinHash is computed."""
        if self.config.exact and exact in self._exact:
            return "dup_exact", exact
        if self.config.shape and shape_key is not None:
            held, limit = self._shapes[shape_key], self.shape_limit(shape_key)
            if held >= limit:
                return "dup_shape", f"{held} records of {cell_label(shape_key[0])} already share shape {shape_key[1]} (limit {limit})"
        return None

    def check_near(self, mh: Any) -> tuple[str, str] | None:
        hits = self._lsh.query(mh) if mh is not None else []
        return ("dup_near", f"near-duplicate of {hits[0]}") if hits else None

    def add(self, key: str, exact: str, shape_key: tuple[Any, ...] | None, mh: Any) -> None:
        self._exact.add(exact)
        if shape_key is not None:
            self._shapes[shape_key] += 1
        if mh is not None and key not in self._lsh:
            self._lsh.insert(key, mh)

    def remove(self, key: str, exact: str, shape_key: tuple[Any, ...] | None) -> None:
        self._exact.discard(exact)
        if shape_key is not None:
            self._shapes[shape_key] -= 1
        if key in self._lsh:
            self._lsh.remove(key)

    def add_record(self, key: str, cell: Cell, keys: DedupKeys, exact: str | None = None) -> None:
        """Rebuild from one accepted record (on --resume): its id, cell and keys, and the
        exact key it was saved with (kept as written, so a later normal form never
        re-keys old records)."""
        shape_key = (cell, keys.shape) if keys.shape else None
        mh = self.minhash(keys.text, keys.body) if self.config.near else None
        self.add(key, exact or exact_of(keys), shape_key, mh)

    def __len__(self) -> int:
        return len(self._exact)


class DedupStep(Step):
    name = "dedup"

    def __init__(self, index: DedupIndex) -> None:
        super().__init__()
        self.index = index
        self._pending: dict[str, tuple[str, tuple[Any, ...] | None]] = {}

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            keys = sample.keys
            if keys is None:
                raise ValueError(f"sample {sample.key} reached dedup without keys: the recipe's checks must set them")
            key = sample.key
            exact = exact_of(keys)
            sample.hashes["exact"] = exact
            shape_key = (sample.cell, keys.shape) if keys.shape else None
            found = self.index.check_cheap(exact, shape_key)
            mh = None
            if not found and self.index.config.near:
                mh = self.index.minhash(keys.text, keys.body)
                found = self.index.check_near(mh)
            if found:
                self.drop(sample, *found)
                continue
            self.index.add(key, exact, shape_key, mh)
            self._pending[key] = (exact, shape_key)
            kept.append(sample)
        return kept

    def settle(self, accepted: list[Sample]) -> None:
        """Release the keys of samples that a later step (quota) dropped."""
        keep = {s.key for s in accepted}
        for key, (exact, shape_key) in self._pending.items():
            if key not in keep:
                self.index.remove(key, exact, shape_key)
        self._pending = {}
