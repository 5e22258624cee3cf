"""Diversity measures that stream over any number of records in bounded memory.

- Distinct values (word n-grams, graph shapes): exact while a run has at most ``K`` of them,
  past that a K-minimum-values estimate (the ``K`` smallest 64-bit hashes; relative error
  about 1/sqrt(K), 0.4 %), so a 100,000-record run costs the same memory as a 1,000-record
  one. Hashes are CRC-32 pairs, not ``hash()``: the same run gives the same report in
  every process.
- Compression ratio: raw bytes / zlib bytes of all texts streamed through one compressor;
  repeated phrasing compresses well, so a higher ratio means more repetition (zlib's 32 KiB
  window: it measures repetition between nearby records).
- Nearest-neighbour similarity: for each record of a seeded sample, the highest estimated
  Jaccard similarity to any other sampled record, with the dedup step's MinHash sketch
  (``DedupIndex.minhash``: text word and body token 3-shingles). A low-threshold LSH finds the
  candidates; a record with none is below the threshold.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from synthgen.steps.dedup import normalize_request

K = 1 << 16
NN_THRESHOLD = 0.3  # LSH candidates from here; the histogram's lowest bucket is "below"
_SALT = zlib.crc32(b"synthgen-report")
_FLUSH = 1 << 17


@dataclass(slots=True)
class Distinct:
    """How many distinct values were added (``estimate``) and how many in all (``total``)."""

    total: int = 0
    saturated: bool = False
    _lo: list[int] = field(default_factory=list)
    _hi: list[int] = field(default_factory=list)
    _kept: Any = None  # sorted unique uint64 hashes, at most K

    def add(self, values: list[bytes]) -> None:
        self.total += len(values)
        self._lo.extend(map(zlib.crc32, values))
        self._hi.extend(map(zlib.crc32, values, repeat(_SALT)))
        if len(self._lo) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        import numpy as np

        if not self._lo:
            return
        lo = np.fromiter(self._lo, dtype=np.uint64, count=len(self._lo))
        hi = np.fromiter(self._hi, dtype=np.uint64, count=len(self._hi))
        self._lo, self._hi = [], []
        values = (hi << np.uint64(32)) | lo
        if self.saturated:
            values = values[values < self._kept[-1]]
        merged = np.unique(values if self._kept is None else np.concatenate([self._kept, values]))
        if len(merged) > K:
            merged, self.saturated = merged[:K], True
        self._kept = merged

    @property
    def estimate(self) -> int:
        self._flush()
        if self._kept is None:
            return 0
        if not self.saturated:
            return len(self._kept)
        return round((K - 1) / ((float(self._kept[-1]) + 1.0) / 2.0**64))

    def summary(self) -> dict[str, Any]:
        distinct = self.estimate
        return {"distinct": distinct, "total": self.total, "ratio": round(distinct / self.total, 4) if self.total else None,
                "exact": not self.saturated}


class NGrams:
    """Distinct word 1-, 2- and 3-grams of texts (the dedup step's words: lower case, a-z0-9)."""

    def __init__(self) -> None:
        self.orders = {1: Distinct(), 2: Distinct(), 3: Distinct()}

    def add(self, text: str) -> None:
        words = normalize_request(text).encode().split()
        self.orders[1].add(words)
        self.orders[2].add(list(map(b" ".join, zip(words, words[1:]))))
        self.orders[3].add(list(map(b" ".join, zip(words, words[1:], words[2:]))))

    def summary(self) -> dict[str, Any]:
        return {str(n): d.summary() for n, d in self.orders.items()}


@dataclass(slots=True)
class Compression:
    raw: int = 0
    packed: int = 0
    _z: Any = field(default_factory=lambda: zlib.compressobj(6))
    _parts: list[str] = field(default_factory=list)
    _pending: int = 0

    def add(self, text: str) -> None:
        self._parts.append(text)
        self._pending += len(text)
        if self._pending >= 1 << 20:  # one compress call per MiB: per-record calls cost 3x the compression
            self._feed()

    def _feed(self) -> None:
        data = ("\n".join(self._parts) + "\n").encode("utf-8", "replace") if self._parts else b""
        self._parts, self._pending = [], 0
        self.raw += len(data)
        self.packed += len(self._z.compress(data))

    def summary(self) -> dict[str, Any]:
        if self._z is not None:
            self._feed()
            self.packed += len(self._z.flush())
            self._z = None
        return {"bytes": self.raw, "zlib_bytes": self.packed, "ratio": round(self.raw / self.packed, 3) if self.packed else None}


def nearest_similarities(pairs: list[tuple[str, str]]) -> list[float | None]:
    """Each (text, body)'s highest estimated Jaccard similarity to another one; ``None``: no
    LSH candidate (below ``NN_THRESHOLD``). The estimate is MinHash.jaccard's (the share of
    equal hash values), computed for all of a record's candidates at once."""
    import numpy as np
    from datasketch import MinHashLSH

    from synthgen.steps.dedup import DedupConfig, DedupIndex

    index = DedupIndex(DedupConfig())
    sketches = [index.minhash(text, body) for text, body in pairs]
    lsh = MinHashLSH(threshold=NN_THRESHOLD, num_perm=index.config.num_perm)
    with lsh.insertion_session() as session:
        for i, m in enumerate(sketches):
            session.insert(i, m)
    matrix = np.stack([m.hashvalues for m in sketches]) if sketches else None
    best: list[float | None] = []
    for i, m in enumerate(sketches):
        others = [j for j in lsh.query(m) if j != i]
        if not others:
            best.append(None)
            continue
        best.append(float((matrix[others] == m.hashvalues).sum(axis=1).max()) / index.config.num_perm)
    return best


def similarity_histogram(best: list[float | None], bins: int = 14) -> dict[str, Any]:
    """Counts of nearest-neighbour similarity in ``bins`` equal buckets from ``NN_THRESHOLD``
    to 1, and how many fall below the threshold (no LSH candidate, or none that close)."""
    width = (1.0 - NN_THRESHOLD) / bins
    counts = [0] * bins
    below = 0
    for value in best:
        if value is None or value < NN_THRESHOLD:
            below += 1
        else:
            counts[min(bins - 1, int((value - NN_THRESHOLD) / width))] += 1
    ordered = sorted(-1.0 if v is None else v for v in best)
    middle = ordered[len(ordered) // 2] if ordered else None
    return {"edges": [round(NN_THRESHOLD + k * width, 3) for k in range(bins + 1)], "counts": counts, "below_threshold": below,
            "threshold": NN_THRESHOLD, "median": None if middle is None else (round(middle, 3) if middle >= NN_THRESHOLD else f"< {NN_THRESHOLD}"),
            "at_least_0.8": sum(1 for v in best if v is not None and v >= 0.8)}
