"""Benchmark: reading agent traces and mining their patterns, and that memory stays flat.

Run from the repo root:  python bench/traces.py [--corpus ../shared/data/traces] [--files 1000]

The shared traces are symlinked into a temp dir again and again until there are --files
inputs (OpenHands conversation folders count as one input each). For 250/500/1000 inputs it
prints traces/s and MB/s for reading alone and for reading + pattern extraction, and the peak
traced Python memory (tracemalloc) of the read + extract pass, which should not grow with the
number of files. Target: >= 20 MB/s on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthgen.traces.patterns import TracePatterns  # noqa: E402
from synthgen.traces.read import _conversation_kind, read_traces  # noqa: E402


def inputs(corpus: Path) -> list[Path]:
    """Trace inputs of the corpus: files, plus conversation folders as one input each."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(corpus):
        here = Path(folder)
        if _conversation_kind(here):
            found.append(here)
            dirs.clear()
            continue
        found.extend(here / name for name in sorted(files) if not name.endswith((".md", ".tsv")) or "aider" in name)
    return sorted(found)


def replicate(sources: list[Path], count: int, into: Path) -> list[Path]:
    made = []
    for i in range(count):
        source = sources[i % len(sources)]
        target = into / f"{i:05d}_{source.name}"
        target.symlink_to(source.resolve(), target_is_directory=source.is_dir())
        made.append(target)
    return made


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def run(paths: list[Path], extract: bool) -> tuple[float, int, int]:
    start = time.perf_counter()
    patterns = TracePatterns()
    reader = read_traces(paths)
    traces = 0
    for trace in reader:
        traces += 1
        if extract:
            patterns.add(trace)
    if extract:
        patterns.summary()
    return time.perf_counter() - start, traces, len(reader.problems)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "traces")
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    sources = inputs(args.corpus)
    if not sources:
        sys.exit(f"no traces under {args.corpus}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = replicate(sources, args.files, Path(tmp))
        run(paths[: len(sources)], extract=True)  # warm the page cache
        print(f"corpus: {len(sources)} inputs from {args.corpus}, repeated to {args.files}")
        print(f"{'inputs':>7} {'MB':>7} {'traces':>7} | {'read tr/s':>9} {'read MB/s':>9} | "
              f"{'+patterns tr/s':>14} {'MB/s':>6} | {'peak MB':>7}")
        for n in sorted({max(1, args.files // 4), max(1, args.files // 2), args.files}):
            subset = paths[:n]
            megabytes = sum(size_of(p) for p in subset) / 1e6
            read_s, traces, _ = run(subset, extract=False)
            both_s, _, _ = run(subset, extract=True)
            tracemalloc.start()  # a separate pass: tracemalloc slows the code it watches
            run(subset, extract=True)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{n:>7} {megabytes:>7.1f} {traces:>7} | {traces / read_s:>9.0f} {megabytes / read_s:>9.1f} | "
                  f"{traces / both_s:>14.0f} {megabytes / both_s:>6.1f} | {peak / 1e6:>7.1f}")
        print("(+patterns: reading and pattern extraction together; peak: tracemalloc peak of a separate"
              " read + patterns pass)")


if __name__ == "__main__":
    main()
