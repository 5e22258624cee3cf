"""Benchmark: synthgen export of a large fake-engine run, records/s and peak memory.

    python bench/export.py                # 100,000 records (generated once into a temp folder)
    python bench/export.py --n 20000

The run is made by `synthgen generate --model fake` (real parse, Graphviz, dedup, quota,
sink); only the export is timed, three times in one process (median reported), for the
nemo and openai formats (and hf with --hf). Pinned to one core. Target: >= 20,000 records/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_run(folder: Path, n: int) -> Path:
    models = folder / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: bench stand-in\n")
    out = folder / "run"
    env = dict(os.environ, SYNTHGEN_MODELS_DIR=str(models), PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "synthgen", "generate", "--model", "fake", "--count", str(n), "--batch-size", "1024",
           "--max-candidates", str(3 * n), "--output", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    print(f"made a {n:,}-record run in {time.perf_counter() - start:.0f} s ({(out / 'data.jsonl').stat().st_size / 1e6:.0f} MB)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--hf", action="store_true", help="also the hf format (needs datasets)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from synthgen.export.build import export

    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), args.n)
        for fmt in ("nemo", "openai", *(("hf",) if args.hf else ())):
            times = []
            for attempt in range(3):
                target = Path(tmp) / f"export-{fmt}"
                shutil.rmtree(target, ignore_errors=True)
                tracemalloc.start() if attempt == 2 else None
                start = time.perf_counter()
                result = export([run], target, fmt)
                times.append(time.perf_counter() - start)
                peak = tracemalloc.get_traced_memory()[1] if attempt == 2 else None
                tracemalloc.stop() if attempt == 2 else None
            n = result["train"] + result["val"]
            med = statistics.median(times[:2])  # the traced third run is slower
            print(f"{fmt:7} {n:,} records: median {med:.2f} s, {n / med:,.0f} records/s "
                  f"(runs {', '.join(f'{t:.2f}' for t in times)} s); peak traced memory {peak / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
