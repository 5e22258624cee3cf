"""The common judge of ``synthgen compare --judge MODEL``: every run's accepted records asked
the recipe's judge question (``Recipe.judge_messages_of``) by one model, so pass rates of
runs made by different models can be set side by side.

The judge calls go through the runs' own engine-call path (``EngineCall``, a ``Ledger`` per
run), so each run's re-judging has its tokens, engine-seconds, GPU-seconds and USD counted
like generation's. Records stream in batches; with ``sample`` a seeded reservoir sample of
each run's accepted records is judged instead of all of them. Nothing is written into the
run folders.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

from synthgen.runfolder.reader import RunView

BATCH = 64
NO_IDS_KEPT = 200  # ids of records the judge said "no" to, per run, in compare.json


def rejudge(views: list[RunView], cls: Any, spec: Any, *, sample: int | None = None, seed: int = 0,
            overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per run: judged, verdict counts, pass rate, the ids judged "no" (the first few), cost."""
    from synthgen.backends.registry import create_backend
    from synthgen.pipeline.budget import Ledger
    from synthgen.pipeline.engine import EngineCall

    backend = create_backend(spec, **(overrides or {}))
    backend.load()
    try:
        results = []
        for view in views:
            ledger = Ledger()
            engine = EngineCall(backend, spec.alias, spec.prices, ledger)
            results.append(_judge_run(view, cls, engine, sample, seed) | {"cost": ledger.to_dict()})
        return results
    finally:
        backend.close()


def _judge_run(view: RunView, cls: Any, engine: Any, sample: int | None, seed: int) -> dict[str, Any]:
    from synthgen.steps.judge import judge_request, parse_verdict

    verdicts: Counter[str] = Counter()
    no_ids: list[str] = []
    unaskable = 0
    for batch in _batches(_records(view, sample, seed), BATCH):
        asked = []
        for record in batch:
            messages = cls.judge_messages_of(record)
            if messages is None:
                unaskable += 1
            else:
                asked.append((str(record.get("id")), messages))
        if not asked:
            continue
        requests = [judge_request(f"judge-{i}", messages, engine.supports_grammar) for i, (_, messages) in enumerate(asked)]
        answers = {a.request_id: a for a in engine.call(requests)}
        for req, (record_id, _) in zip(requests, asked):
            answer = answers.get(req.id)
            if answer is None or answer.finish_reason == "error":
                verdicts["error"] += 1
                continue
            verdict = parse_verdict(answer.text) or "unclear"
            verdicts[verdict] += 1
            if verdict == "no" and len(no_ids) < NO_IDS_KEPT:
                no_ids.append(record_id)
    judged = sum(verdicts.values())
    answered = judged - verdicts["error"]
    return {"model": engine.model, "judged": judged, "verdicts": dict(verdicts.most_common()),
            "pass_rate": round(verdicts["yes"] / answered, 4) if answered else None, "unaskable": unaskable,
            "sampled": sample is not None, "no_ids": sorted(no_ids)}


def _records(view: RunView, sample: int | None, seed: int) -> Iterator[dict[str, Any]]:
    if sample is None:
        yield from view.records("accepted")
        return
    from synthgen.report.collect import Reservoir

    reservoir = Reservoir(sample, random.Random(seed))  # a uniform, seeded sample
    for record in view.records("accepted"):
        reservoir.offer(record)
    yield from sorted(reservoir.items, key=lambda r: str(r.get("id")))


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
