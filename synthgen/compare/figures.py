"""One run's figures for ``synthgen compare``: the report's single pass over the run
(``report.collect``, no gallery), reduced to the numbers a side-by-side table holds.

Everything comes from the run folder: the funnel from ``run.json``'s step counters, validity
before dedup from the last check step's forwarded count, diversity from the records, cost
from the ledger and ``log.jsonl``, wall time from the log's start/stop events (each session
of a resumed run counted once).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from synthgen.runfolder.folder import LOG_FILE
from synthgen.runfolder.reader import RunView

NEAR_SAMPLE = 2000  # records whose nearest-neighbour similarity is measured per run
AFTER_CHECKS = ("judge", "dedup", "quota")  # steps that are not validity checks


def run_figures(view: RunView, cls: Any) -> dict[str, Any]:
    from synthgen.report.build import build_data
    from synthgen.report.collect import collect

    c = collect(view, cls, sample=0, near_sample=NEAR_SAMPLE)
    data = build_data(view, cls, c)
    state = view.state
    fp = state.get("fingerprint") or {}
    funnel = data["quality"]["funnel"]
    candidates = int(funnel["candidates"])
    valid = _valid_before_dedup(funnel)
    div = data["diversity"]
    cost = data["cost"]
    drops: Counter[str] = Counter()
    for step in funnel["steps"]:
        for reason, n in step["dropped"].items():
            drops[reason] += int(n)
    judge = data["quality"]["judge"]
    ngrams, near = div["ngrams"], div["nearest_neighbour"]
    return {
        "path": str(view.path),
        "run_id": state.get("run_id"),
        "recipe": view.recipe,
        "recipe_ref": view.recipe_ref,
        "status": view.status,
        "live": view.live,
        "model": fp.get("model"),
        "models_of_accepted": data["run"]["models_of_accepted"],
        "plan": {k: fp.get(k) for k in sorted(fp) if k not in ("model", "model_backend", "judge_model")},
        "template_versions": dict(sorted(c.template_versions.items())),
        "accepted": c.accepted,
        "target": data["run"]["target"],
        "candidates": candidates,
        "acceptance": _rate(c.accepted, candidates),
        "valid_before_dedup": valid,
        "validity_before_dedup": _rate(valid, candidates),
        "drops": dict(drops.most_common()),
        "diversity": {
            "cells_filled": len(div["cells"]),
            "distinct_shapes": div["shapes"].get("distinct"),
            "records_with_shape": div["shapes"].get("records_with_shape"),
            "distinct_ngrams": {n: ngrams[n]["ratio"] for n in ("1", "2", "3")},
            "distinct_ngram_counts": {n: ngrams[n]["distinct"] for n in ("1", "2", "3")},
            "compression_text": div["compression"]["text"]["ratio"],
            "near_duplicate_share": _rate(near["at_least_0.8"], near["sampled"]),
            "nearest_similarity_median": near["median"],
        },
        "judge": {"enabled": judge["enabled"], "model": judge.get("model"), "pass_rate": judge.get("pass_rate"),
                  "judged": judge.get("judged")},
        "cost": {"total": cost["total"], "per_accepted": cost["per_accepted"]},
        "wall_s": wall_seconds(view.path),
        "notes": data["notes"],
    }


def _valid_before_dedup(funnel: dict[str, Any]) -> int:
    """Candidates that passed every check: what the last step before judge/dedup/quota forwarded."""
    forwarded = None
    for step in funnel["steps"]:
        if step["step"] in AFTER_CHECKS:
            break
        forwarded = step["forwarded"]
    return int(forwarded if forwarded is not None else funnel["candidates"])


def _rate(n: int, of: int) -> float | None:
    return round(n / of, 4) if of else None


def wall_seconds(folder: Path) -> float | None:
    """Seconds the run was running: each session from its ``start`` to its ``stop`` (or to its
    last event, for a session that was killed)."""
    import orjson

    try:
        fh = open(folder / LOG_FILE, "rb")
    except OSError:
        return None
    total, begun, last = 0.0, None, None
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                event = orjson.loads(raw)
                ts = datetime.fromisoformat(event["ts"]).timestamp()
            except (ValueError, KeyError, TypeError):
                continue
            if event.get("event") == "start":
                if begun is not None and last is not None:
                    total += last - begun
                begun = ts
            elif event.get("event") == "stop" and begun is not None:
                total += ts - begun
                begun = None
            last = ts
    if begun is not None and last is not None:
        total += last - begun
    return round(total, 3)
