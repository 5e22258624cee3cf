"""The record: one JSON line per accepted example, and the shapes of rejects and failures.

The accepted record is the dataset's contract with export and report (README, "The
record"); a change of its fields is a change of ``RECORD_VERSION``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from synthgen.pipeline.dedup import sample_key
from synthgen.pipeline.steps import Drop, Sample

TASK_TYPE = "NL_TO_DOT"
RECORD_VERSION = 1


@dataclass(slots=True, frozen=True)
class RecordContext:
    """What every record of one run shares."""

    run_id: str
    backend: str
    model: str
    model_revision: str | None
    plan_seed: int


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def accepted_record(sample: Sample, ctx: RecordContext) -> dict[str, Any]:
    item, comp = sample.item, sample.completion
    return {
        "id": sample_key(sample),
        "task_type": TASK_TYPE,
        "request": sample.request,
        "dot": sample.dot,
        "domain": item.domain,
        "subtopic": item.subtopic,
        "complexity_requested": item.complexity,
        "complexity_measured": sample.complexity,
        "features": sample.features,
        "provenance": {
            "source": f"synthetic-{ctx.backend}",
            "model": ctx.model,
            "model_revision": ctx.model_revision,
            "template": item.template_name,
            "template_version": item.template_version,
            "plan_seed": ctx.plan_seed,
            "item_seed": item.seed,
            "run_id": ctx.run_id,
            "plan_item_id": item.id,
            "plan_index": item.index,
            "record_version": RECORD_VERSION,
        },
        "validation": {
            "grammar": sample.grammar_ok,
            "graphviz": sample.graphviz_ok,
            "judge": sample.judge,
            "hashes": dict(sample.hashes),
        },
        "tokens": {"prompt": comp.prompt_tokens, "completion": comp.completion_tokens},
        "compute_s": round(sample.compute_s, 4),
        "created_at": now(),
    }


def rejected_record(drop: Drop, ctx: RecordContext) -> dict[str, Any]:
    sample, item = drop.sample, drop.sample.item
    return {
        "id": sample_key(sample),
        "run_id": ctx.run_id,
        "step": drop.step,
        "reason": drop.reason,
        "detail": drop.detail,
        "domain": item.domain,
        "complexity_requested": item.complexity,
        "complexity_measured": sample.complexity,
        "request": sample.request,
        "dot": sample.dot,
        "hashes": dict(sample.hashes),
        "created_at": now(),
    }


def failed_record(drop: Drop, ctx: RecordContext) -> dict[str, Any]:
    sample, item, comp = drop.sample, drop.sample.item, drop.sample.completion
    return {
        "id": sample_key(sample),
        "run_id": ctx.run_id,
        "step": drop.step,
        "reason": drop.reason,
        "detail": drop.detail,
        "domain": item.domain,
        "complexity_requested": item.complexity,
        "template": item.template_name,
        "prompt": item.messages,
        "raw_text": comp.text,
        "finish_reason": comp.finish_reason,
        "tokens": {"prompt": comp.prompt_tokens, "completion": comp.completion_tokens},
        "created_at": now(),
    }
