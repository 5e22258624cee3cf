"""Benchmark: synthgen report of a large fake-engine run, seconds and peak memory.

    python bench/report.py                  # 100,000 records (generated once into a temp folder)
    python bench/report.py --n 20000
    python bench/report.py --run runs/big   # an existing run folder

The run is made by `synthgen generate --model fake --count N --batch-size 1024
--max-candidates 3N`. Each report runs in a fresh process (so imports count, as they do for
a user): once on the whole run and once on its first tenth (a copy of run.json, log.jsonl
and the first lines of data.jsonl), to show that memory stays flat as the run grows (the
records are streamed; only the gallery and the MinHash sample are kept). Reported: wall
seconds and peak RSS of each, and Python's peak allocation (tracemalloc, a separate pass).
Target: <= 30 s for 100,000 records.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_S = 30.0

CHILD = """
import json, re, sys, time, tracemalloc
from synthgen.report.build import report
run, out, trace = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if trace:
    tracemalloc.start()
start = time.perf_counter()
result = report(run, out)
seconds = time.perf_counter() - start
peak = tracemalloc.get_traced_memory()[1] if trace else None
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec
hwm = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"seconds": seconds, "rss_mb": hwm / 1024,
                  "traced_peak_mb": peak / 2**20 if peak else None, "accepted": result["accepted"]}))
"""


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


def prefix_copy(run: Path, folder: Path, share: float) -> Path:
    """The run's state and log with the first ``share`` of its accepted records."""
    folder.mkdir()
    for name in ("run.json", "log.jsonl"):
        if (run / name).exists():
            shutil.copy(run / name, folder / name)
    with open(run / "data.jsonl", "rb") as fh:
        keep = max(1, int(sum(1 for _ in fh) * share))
    with open(run / "data.jsonl", "rb") as fh, open(folder / "data.jsonl", "wb") as out:
        out.writelines(itertools.islice(fh, keep))
    return folder


def measure(run: Path, out: Path, trace: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(run), str(out), "1" if trace else "0"], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--run", type=Path, help="report this run folder instead of generating one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or make_run(Path(tmp), args.n)
        small = prefix_copy(run, Path(tmp) / "tenth", 0.1)
        rows = []
        for label, folder in (("whole run", run), ("first tenth", small)):
            timed = measure(folder, Path(tmp) / f"out-{label}", trace=False)
            traced = measure(folder, Path(tmp) / f"out-{label}", trace=True)
            rows.append((label, timed["accepted"], timed["seconds"], timed["rss_mb"], traced["traced_peak_mb"]))
        print(f"{'':12} {'accepted':>9} {'seconds':>8} {'peak RSS MB':>12} {'peak traced MB':>15}")
        for label, n, seconds, rss, traced in rows:
            print(f"{label:12} {n:>9,} {seconds:>8.1f} {rss:>12.0f} {traced:>15.1f}")
        whole = rows[0]
        print(f"{whole[1] / whole[2]:,.0f} records/s; target <= {TARGET_S:.0f} s: {'met' if whole[2] <= TARGET_S else 'MISSED'}; "
              f"peak RSS whole / tenth: {rows[0][3] / rows[1][3]:.2f}x")


if __name__ == "__main__":
    main()
