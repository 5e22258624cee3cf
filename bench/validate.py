"""Benchmark: how fast is validation on a real corpus, and what does batching Graphviz buy?

Run from the repo root:  python bench/validate.py [--corpus ../shared/data/dot/graphviz]

Prints graphs/s and MB/s for (a) the grammar alone (parse only, and full grammar-stage
validation with features and hashes), (b) Graphviz with many graphs per process, (c) Graphviz
with one process per graph, and the batched / one-by-one ratio. Each figure is the median of
--repeats runs, all measured in this one process, side by side. Targets: grammar parse
>= 1 MB/s on one core; batched Graphviz >= 10x one process per graph.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthgen.dot.graphviz import GraphvizChecker  # noqa: E402
from synthgen.dot.inputs import DotItem, iter_items  # noqa: E402
from synthgen.dot.validate import validate_texts  # noqa: E402


def load_corpus(corpus: Path, max_bytes: int) -> list[str]:
    items = [item for item in iter_items([corpus], max_bytes=max_bytes) if item.text is not None]
    return [item.text for item in items]


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process + the Graphviz children).

    CPU seconds are the fairer figure on a shared, loaded machine: wall time there includes
    waiting for a core.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        before = os.times()
        start = time.perf_counter()
        run()
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append(sum(after[:4]) - sum(before[:4]))
    return statistics.median(walls), statistics.median(cpus)


def parse_all(texts: list[str]) -> int:
    from synthgen.dot.parser import DotSyntaxError, parse

    parsed = 0
    for text in texts:
        try:
            parse(text, multiple=True)  # corpus files may hold several graphs
            parsed += 1
        except (DotSyntaxError, RecursionError):
            pass
    return parsed


def graph_counts(texts: list[str]) -> tuple[list[str], list[int]]:
    """The texts the grammar passes and how many graphs each holds."""
    from synthgen.dot.parser import DotSyntaxError, parse

    sent, counts = [], []
    for text in texts:
        try:
            graphs = len(parse(text, multiple=True).graphs)
        except (DotSyntaxError, RecursionError):
            continue
        if graphs:
            sent.append(text)
            counts.append(graphs)
    return sent, counts


def measure_set(label: str, texts: list[str], args: argparse.Namespace) -> None:
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"== {label}: {len(texts)} graphs, {megabytes:.2f} MB")
    rows: list[tuple[str, tuple[float, float], int]] = []
    if not args.skip_grammar:
        rows.append(("grammar parse only", median_seconds(lambda: parse_all(texts), args.repeats), 0))
        items = [DotItem(str(i), "", t, len(t.encode("utf-8")), multiple=True) for i, t in enumerate(texts)]
        grammar = median_seconds(lambda: validate_texts(items, graphviz=False), args.repeats)
        rows.append(("grammar validation (+features, hashes)", grammar, 0))
    # Graphviz rows: the texts the grammar passed, as the validator sends them (all rows the same set).
    sent, counts = graph_counts(texts)
    if len(sent) < len(texts):
        print(f"(Graphviz rows: the {len(sent)} graphs the grammar passed; the validator sends no others)")
    graphviz_rows = (
        (f"Graphviz nop -p, batched x{args.batch_size}", args.batch_size, counts),
        (f"Graphviz nop echo, batched x{args.batch_size}", args.batch_size, None),
        ("Graphviz nop, one process per graph", 1, None),
    )
    for name, size, graphs in graphviz_rows:
        checker = GraphvizChecker(batch_size=size)
        seconds = median_seconds(lambda: checker.check(sent, graphs=graphs), args.repeats)  # noqa: B023
        rows.append((name, seconds, checker.processes // args.repeats))
    print(f"{'mode':<40} {'graphs/s':>9} {'MB/s':>6} {'wall s':>7} {'cpu s':>7} {'MB/cpu-s':>8} {'procs':>6}")
    for name, (wall, cpu), processes in rows:
        print(
            f"{name:<40} {len(texts) / wall:>9.0f} {megabytes / wall:>6.2f} {wall:>7.2f} {cpu:>7.2f}"
            f" {megabytes / max(cpu, 1e-9):>8.2f} {processes:>6}"
        )
    quiet, echo, single = rows[-3][1], rows[-2][1], rows[-1][1]
    print(f"batched / one-by-one speed-up: {single[0] / quiet[0]:.1f}x wall, {single[1] / quiet[1]:.1f}x CPU (target >= 10x)")
    print(f"  (echo road alone, used for batches with an error or warning: {single[0] / echo[0]:.1f}x wall, {single[1] / echo[1]:.1f}x CPU)")
    if not args.skip_grammar:
        wall, cpu = rows[0][1]
        print(f"grammar parse: {megabytes / wall:.2f} MB/s wall, {megabytes / cpu:.2f} MB per CPU-second (target >= 1 MB/s on one core)")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "dot" / "graphviz")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--max-bytes", type=int, default=1_000_000)
    parser.add_argument("--typical-bytes", type=int, default=4096, help="Also measure graphs up to this size (generated graphs are small); 0 skips it.")
    parser.add_argument("--skip-grammar", action="store_true", help="Graphviz figures only.")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus} (pass --corpus)")
    texts = load_corpus(args.corpus, args.max_bytes)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"corpus: {args.corpus}; machine: {os.cpu_count()} CPUs, load average {load:.1f}; median of {args.repeats} runs\n")
    measure_set(f"all graphs <= {args.max_bytes:,} bytes", texts, args)
    small = [t for t in texts if len(t.encode("utf-8")) <= args.typical_bytes]
    if small and len(small) < len(texts):
        measure_set(f"graphs <= {args.typical_bytes:,} bytes (the size generated samples have)", small, args)


if __name__ == "__main__":
    main()
