"""Benchmark: the jobs service under load, on 127.0.0.1.

    python bench/serve_load.py                      # 2 jobs x 3,000 records, 50 pollers, 5 event followers, 3 rounds
    python bench/serve_load.py --count 1000 --rounds 1

Each round starts a real `synthgen serve --max-jobs 2` (the fake engine, registered as model
``fake``; ``--delay`` seconds per batch stand for the engine's time, so the job is not a pure
CPU loop the way no real engine run is) and runs 2 jobs at once, twice, side by side in one
process: once with nobody watching, once with ``--clients`` clients polling
``GET /api/jobs/{id}`` every ``--interval`` seconds and ``--followers`` clients following
``/events``. Reported: the jobs' records/s (accepted / the run's own wall time, from its
log's start and stop events) with and without the clients, their ratio (target: >= 0.95), and
the status endpoint's latency (median, p95, max) and error count under load. Medians over
rounds; rounds alternate which variant goes first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records_per_s(run: Path) -> float:
    start = stop = None
    accepted = 0
    for line in (run / "log.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "start":
            start = datetime.fromisoformat(event["ts"])
        elif event["event"] == "stop":
            stop, accepted = datetime.fromisoformat(event["ts"]), event["accepted"]
    assert start and stop, f"{run}: no start/stop events"
    return accepted / (stop - start).total_seconds()


async def poller(client: httpx.AsyncClient, job_ids: list[str], interval: float, latencies: list[float], errors: list[str],
                 done: asyncio.Event, offset: float) -> None:
    await asyncio.sleep(offset)
    i = 0
    while not done.is_set():
        t = time.perf_counter()
        try:
            r = await client.get(f"/api/jobs/{job_ids[i % len(job_ids)]}")
            if r.status_code != 200:
                errors.append(str(r.status_code))
        except httpx.HTTPError as exc:
            errors.append(type(exc).__name__)
        latencies.append(time.perf_counter() - t)
        i += 1
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t)))


async def follower(client: httpx.AsyncClient, job_id: str, counts: list[int]) -> None:
    n = 0
    async with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=None) as r:
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                n += 1
            if line.startswith("event: end"):
                break
    counts.append(n)


async def one_variant(url: str, args: argparse.Namespace, tag: str, load: bool) -> dict:
    limits = httpx.Limits(max_connections=args.clients + args.followers + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        ids = []
        for j in range(2):
            r = await client.post("/api/jobs", json={"model": "fake", "count": args.count, "batch_size": args.batch_size,
                                                     "name": f"{tag}-{j}", "seed": j})
            r.raise_for_status()
            ids.append(r.json()["id"])
        latencies: list[float] = []
        errors: list[str] = []
        counts: list[int] = []
        done = asyncio.Event()
        tasks = []
        if load:
            tasks += [asyncio.create_task(poller(client, ids, args.interval, latencies, errors, done, k * args.interval / args.clients))
                      for k in range(args.clients)]
            tasks += [asyncio.create_task(follower(client, ids[k % 2], counts)) for k in range(args.followers)]
        while True:
            states = [(await client.get(f"/api/jobs/{i}")).json()["status"] for i in ids]
            if all(s not in ("queued", "running") for s in states):
                break
            await asyncio.sleep(0.2)
        assert states == ["completed", "completed"], states
        done.set()
        await asyncio.gather(*tasks)
    return {"latencies": latencies, "errors": errors, "events": counts, "ids": ids}


def round_(args: argparse.Namespace, folder: Path, number: int) -> dict:
    models = folder / "models"
    models.mkdir(exist_ok=True)
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: bench stand-in\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_FAKE_")}
    env.update(PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models), SYNTHGEN_FAKE_DELAY_S=str(args.delay))
    jobs = folder / f"jobs-{number}"
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "synthgen", "serve", "--jobs-dir", str(jobs), "--port", str(port), "--max-jobs", "2"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        order = [False, True] if number % 2 == 0 else [True, False]
        out = {}
        for load in order:
            tag = "load" if load else "quiet"
            result = asyncio.run(one_variant(url, args, tag, load))
            result["rps"] = [records_per_s(jobs / "runs" / f"{tag}-{j}") for j in range(2)]
            out[tag] = result
        return out
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.1, help="fake engine seconds per batch")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--followers", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between one client's polls")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="synthgen-serve-bench-") as tmp:
        for n in range(args.rounds):
            rows.append(round_(args, Path(tmp), n))
    quiet = [statistics.mean(r["quiet"]["rps"]) for r in rows]
    loaded = [statistics.mean(r["load"]["rps"]) for r in rows]
    ratios = [lo / q for lo, q in zip(loaded, quiet)]
    lat = sorted(x for r in rows for x in r["load"]["latencies"])
    errors = sum(len(r["load"]["errors"]) for r in rows)
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    print(f"jobs: 2 at once x {args.count} records (fake engine, {args.delay} s per batch of {args.batch_size}); "
          f"load: {args.clients} clients polling every {args.interval} s + {args.followers} event followers; {args.rounds} rounds")
    for n, r in enumerate(rows):
        print(f"  round {n}: records/s quiet {statistics.mean(r['quiet']['rps']):,.0f}, with clients {statistics.mean(r['load']['rps']):,.0f} "
              f"(ratio {ratios[n]:.3f}); status calls {len(r['load']['latencies'])}, events per follower {r['load']['events']}")
    print(f"records/s per job (median of rounds): quiet {statistics.median(quiet):,.0f}, with clients {statistics.median(loaded):,.0f}; "
          f"ratio {statistics.median(ratios):.3f} (target >= 0.95)")
    print(f"status endpoint under load: {len(lat)} calls, median {1000 * statistics.median(lat):.1f} ms, p95 {1000 * p95:.1f} ms, "
          f"max {1000 * lat[-1]:.1f} ms, errors {errors}")


if __name__ == "__main__":
    main()
