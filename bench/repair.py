"""Benchmark: what repair rescues and what it costs, against an endpoint that ignores grammars.

    python bench/repair.py                       # 48 records, fates 0=50%, 1=25%, 2=10%, never=15%
    python bench/repair.py --count 100 --shares 0.6,0.2,0.1,0.1 --repeats 3

The endpoint is the test suite's grammar-ignoring server (tests/backends/grammarless.py in
tests/backends/fault_proxy.py, a real HTTP server on 127.0.0.1): it answers nl2dot prompts
with seeded broken DOT that a follow-up turn carrying the validator's message fixes after
one round, after two, or never, in the shares given. ``synthgen api --provider openai
--model gpt-4o-mini`` (its list prices) runs the same plan with ``--repair-rounds`` 0, 1
and 2. Reported per setting: the share of first answers that failed and were rescued, the
follow-up requests and tokens per rescued record (from the records' ``repair.tokens`` and
the run's ledger), and what an accepted record cost in requests, tokens and USD, repair or
not; wall time is the median of ``--repeats`` runs. The rescue shares follow the seeding by
construction; what is measured is the pipeline's cost of getting them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def one_run(out: Path, shares: dict, rounds: int, count: int, seed: int) -> dict:
    from backends.fault_proxy import FaultProxy
    from backends.grammarless import BrokenDot, usage

    server = BrokenDot(shares, seed=seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_")}
    env.update(PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-bench-repair")
    with FaultProxy(reply=server, usage=usage) as proxy:
        cmd = [sys.executable, "-m", "synthgen", "api", "--provider", "openai", "--model", "gpt-4o-mini", "--base-url",
               proxy.base_url, "--count", str(count), "--batch-size", "16", "--seed", str(seed), "--repair-rounds", str(rounds),
               "--output", str(out)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - start
    if proc.returncode not in (0, 6):
        raise SystemExit(f"synthgen api failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    state = json.loads((out / "run.json").read_text())
    repair = state["counters"].get("repair", {})
    trails = [r.get("validation", {}).get("repair") or r.get("repair")
              for name in ("data.jsonl", "rejected.jsonl", "failed_prompts.jsonl") for r in lines(out / name)]
    extra = [t["tokens"]["prompt"] + t["tokens"]["completion"] for t in trails if t]
    fates = list(server.fates.values())
    return {"wall": wall, "state": state, "repair": repair, "extra_tokens": sum(extra), "failed_first": sum(f != 0 for f in fates),
            "candidates": state["candidates"], "accepted": state["summary"]["accepted"], "ledger": state["ledger"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=48)
    ap.add_argument("--shares", default="0.5,0.25,0.1,0.15", help="fates 0,1,2,never (sum 1)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    s0, s1, s2, never = (float(x) for x in args.shares.split(","))
    shares = {0: s0, 1: s1, 2: s2, None: never}
    print(f"server: first answer valid {s0:.0%}, fixed after 1 follow-up {s1:.0%}, after 2 {s2:.0%}, never {never:.0%}; "
          f"{args.count} records, median of {args.repeats} runs")
    header = (f"{'rounds':>6} {'failed 1st':>10} {'rescued':>8} {'share':>6} {'req/rescued':>11} {'tok/rescued':>11} "
              f"{'cand':>5} {'req/acc':>7} {'tok/acc':>8} {'usd/acc':>10} {'wall s':>7}")
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for rounds in (0, 1, 2):
            walls, last = [], None
            for n in range(args.repeats):
                last = one_run(Path(tmp) / f"r{rounds}-{n}", shares, rounds, args.count, args.seed)
                walls.append(last["wall"])
            assert last is not None
            r, led = last["repair"], last["ledger"]
            rescued, requests = r.get("repaired_ok", 0), r.get("repair_requests", 0)
            acc = max(1, last["accepted"])
            tokens = led["prompt_tokens"] + led["completion_tokens"]
            share = rescued / last["failed_first"] if last["failed_first"] else 0.0
            per = (f"{requests / rescued:>11.2f} {last['extra_tokens'] / rescued:>11.0f}" if rescued else f"{'-':>11} {'-':>11}")
            print(f"{rounds:>6} {last['failed_first']:>10} {rescued:>8} {share:>6.0%} {per} {last['candidates']:>5} "
                  f"{led['calls'] / acc:>7.2f} {tokens / acc:>8.0f} {led['usd'] / acc:>10.6f} {statistics.median(walls):>7.1f}")
            if rounds:
                by_round = {k: v for k, v in r.items() if k.startswith("repaired_round_")}
                print(f"{'':>6} rescued by round: {by_round}; follow-up tokens in the ledger: {last['extra_tokens']:,}")


if __name__ == "__main__":
    main()
