"""The report's numbers, as plain JSON: what ``report.json`` holds and the page shows.

Quality comes from ``run.json``'s step counters (every drop is counted there, README "The
record"); diversity, templates and errors from the records; cost from ``log.jsonl``'s
``engine_call`` events per model, with ``run.json``'s ledger for the totals (what the ledger
holds that the log does not is shown as its own row, never spread over the models).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from synthgen.report.collect import Collected
from synthgen.report.diversity import similarity_histogram
from synthgen.runfolder.folder import LOG_FILE

NOT_LOGGED = "(in the ledger, not in log.jsonl)"


def funnel(state: dict[str, Any]) -> dict[str, Any]:
    """Candidates, then each step in pipeline order: what it saw, forwarded and dropped by reason."""
    steps = []
    for name, counts in (state.get("counters") or {}).items():
        drops = {key.removeprefix("dropped_"): int(n) for key, n in counts.items() if key.startswith("dropped_")}
        steps.append({"step": name, "total": int(counts.get("total", 0)), "forwarded": int(counts.get("forwarded", 0)),
                      "dropped": dict(sorted(drops.items(), key=lambda kv: -kv[1]))})
    candidates = int(state.get("candidates") or (steps[0]["total"] if steps else 0))
    accepted = steps[-1]["forwarded"] if steps else 0
    return {"candidates": candidates, "steps": steps, "accepted": accepted,
            "acceptance": round(accepted / candidates, 4) if candidates else None}


def judge(state: dict[str, Any], c: Collected) -> dict[str, Any]:
    counts = (state.get("counters") or {}).get("judge")
    verdicts = dict(c.verdicts.most_common())
    if not counts:
        return {"enabled": False, "verdicts_of_accepted": verdicts}
    fp = state.get("fingerprint") or {}
    total, forwarded = int(counts.get("total", 0)), int(counts.get("forwarded", 0))
    return {"enabled": True, "judged": total, "passed": forwarded, "pass_rate": round(forwarded / total, 4) if total else None,
            "dropped": {k.removeprefix("dropped_"): int(v) for k, v in counts.items() if k.startswith("dropped_")},
            "verdicts_of_accepted": verdicts, "model": fp.get("judge_model") or fp.get("model")}


def templates(c: Collected) -> list[dict[str, Any]]:
    rows = []
    for name, t in c.templates.items():
        drops = t.rejected + t.failed
        rows.append({"template": name, "candidates": t.candidates, "accepted": t.accepted,
                     "success_rate": round(t.accepted / t.candidates, 4) if t.candidates else None,
                     "dropped": dict(drops.most_common())})
    return sorted(rows, key=lambda r: (-r["candidates"], r["template"]))


def diversity(c: Collected, cell_names: tuple[str, ...], near_best: list[float | None]) -> dict[str, Any]:
    cells = [{"cell": list(cell), "accepted": n} for cell, n in sorted(c.cells.items())]
    return {
        "cell_names": list(cell_names), "cells": cells,
        "features": {group: dict(counter.most_common()) for group, counter in sorted(c.features.items())},
        "sizes": {name: _distribution(counter) for name, counter in sorted(c.sizes.items())},
        "ngrams": c.ngrams.summary(),
        "compression": {"text": c.text_zlib.summary(), "body": c.body_zlib.summary()},
        "shapes": {"records_with_shape": c.with_shape, **c.shapes.summary()},
        "nearest_neighbour": {"sampled": len(near_best), "of": c.near.seen, "seed": "fixed (reservoir sample)",
                              **similarity_histogram(near_best)},
        "unreadable": dict(c.unreadable),
    }


def _distribution(counter: Any) -> dict[str, Any]:
    n = sum(counter.values())
    values = sorted(counter.items())
    total = sum(v * k for v, k in values)

    def quantile(q: float) -> int:
        seen, goal = 0, q * (n - 1)
        for value, k in values:
            seen += k
            if seen > goal:
                return int(value)
        return int(values[-1][0])

    return {"count": n, "min": int(values[0][0]), "max": int(values[-1][0]), "mean": round(total / n, 2),
            "median": quantile(0.5), "p90": quantile(0.9), "histogram": {str(v): k for v, k in values}}


def errors(c: Collected) -> dict[str, Any]:
    return {
        "failed": [{"step": step, "reason": reason, "count": n, "examples": c.failed_examples.get(reason, [])}
                   for (step, reason), n in c.failed_reasons.most_common()],
        "rejected": [{"step": step, "reason": reason, "count": n} for (step, reason), n in c.rejected_reasons.most_common()],
    }


def engine_calls(folder: Path) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Per model, from ``log.jsonl``: calls, completions, tokens, wall seconds, and the
    GPU-seconds and USD each call added to the run's ledger (the log's running totals)."""
    import orjson

    per: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(
        ("calls", "completions", "prompt_tokens", "completion_tokens", "wall_s", "gpu_seconds", "usd"), 0.0))
    notes: list[str] = []
    last_gpu = last_usd = 0.0
    try:
        fh = open(folder / LOG_FILE, "rb")
    except OSError:
        return {}, [f"no readable {LOG_FILE}: cost per model is unknown"]
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                notes.append(f"skipped a torn last line of {LOG_FILE}")
                break
            try:
                event = orjson.loads(raw)
            except ValueError:
                continue
            if not isinstance(event, dict) or event.get("event") != "engine_call":
                continue
            row = per[str(event.get("model") or "?")]
            gpu, usd = float(event.get("gpu_seconds_total") or 0.0), float(event.get("usd_total") or 0.0)
            row["gpu_seconds"] += gpu - last_gpu if gpu >= last_gpu else gpu  # a running total; a restart begins again
            row["usd"] += usd - last_usd if usd >= last_usd else usd
            last_gpu, last_usd = gpu, usd
            row["calls"] += 1
            for key in ("completions", "prompt_tokens", "completion_tokens", "wall_s"):
                row[key] += float(event.get(key) or 0)
    return dict(per), notes


def cost(state: dict[str, Any], folder: Path, accepted: int) -> tuple[dict[str, Any], list[str]]:
    ledger = {k: float(v) for k, v in (state.get("ledger") or {}).items() if isinstance(v, int | float)}
    per, notes = engine_calls(folder)
    rest = {"completions": ledger.get("calls", 0.0), "prompt_tokens": ledger.get("prompt_tokens", 0.0),
            "completion_tokens": ledger.get("completion_tokens", 0.0), "gpu_seconds": ledger.get("gpu_seconds", 0.0),
            "usd": ledger.get("usd", 0.0)}
    for row in per.values():
        for key in rest:
            rest[key] -= row[key]
    if rest["completions"] >= 1 or rest["prompt_tokens"] >= 1 or rest["completion_tokens"] >= 1:
        per[NOT_LOGGED] = {"calls": 0.0, "wall_s": 0.0, **{k: max(0.0, v) for k, v in rest.items()}}
        notes.append(f"{int(rest['completions'])} engine completions in run.json's ledger are not in {LOG_FILE} "
                     "(e.g. the judge's calls): shown as their own row")
    models = []
    for model, row in sorted(per.items(), key=lambda kv: (kv[0] == NOT_LOGGED, kv[0])):
        out = {"model": model, **{k: _num(v) for k, v in row.items()}}
        out["per_accepted"] = _per(row, accepted)
        models.append(out)
    total = {"prompt_tokens": ledger.get("prompt_tokens", 0.0), "completion_tokens": ledger.get("completion_tokens", 0.0),
             "completions": ledger.get("calls", 0.0), "engine_seconds": ledger.get("engine_seconds", 0.0),
             "gpu_seconds": ledger.get("gpu_seconds", 0.0), "usd": ledger.get("usd", 0.0)}
    return {"models": models, "total": {k: _num(v) for k, v in total.items()}, "per_accepted": _per(total, accepted),
            "accepted": accepted}, notes


def _per(row: dict[str, float], accepted: int) -> dict[str, float] | None:
    if not accepted:
        return None
    tokens = row.get("prompt_tokens", 0.0) + row.get("completion_tokens", 0.0)
    return {"tokens": round(tokens / accepted, 2), "gpu_seconds": round(row.get("gpu_seconds", 0.0) / accepted, 6),
            "usd": round(row.get("usd", 0.0) / accepted, 8)}


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 6)
