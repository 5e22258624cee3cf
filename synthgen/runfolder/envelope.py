"""The record envelope: what every accepted, rejected and failed line carries, whatever the
recipe, around the fields the recipe puts in.

An accepted record is the dataset's contract with export and report (README, "The
record"): ``id``, the recipe's fields, ``provenance`` (who wrote it, from which plan item
and template), ``validation`` (the recipe's check results, the judge, the hashes),
``tokens``, ``compute_s``, ``created_at``. A change of these fields is a change of
``RECORD_VERSION``; ``validation.repair`` (and ``repair`` on rejected and failed lines) is
added only where the repair step sent the output back, so other records read as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from synthgen.records import Drop, Sample

RECORD_VERSION = 1


class RecordFields(Protocol):
    """The recipe hooks the envelope calls (see ``synthgen.recipes.base.Recipe``)."""

    def record_fields(self, sample: Sample) -> dict[str, Any]: ...
    def validation_fields(self, sample: Sample) -> dict[str, Any]: ...
    def rejected_fields(self, sample: Sample) -> dict[str, Any]: ...
    def failed_fields(self, item: Any) -> dict[str, Any]: ...


@dataclass(slots=True, frozen=True)
class RecordContext:
    """What every record of one run shares."""

    run_id: str
    backend: str  # the backend's source label: vllm, transformers, fake, or the API provider
    model: str
    model_revision: str | None
    plan_seed: int


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def accepted_record(sample: Sample, ctx: RecordContext, recipe: RecordFields) -> dict[str, Any]:
    item = sample.item
    return {
        "id": sample.key,
        **recipe.record_fields(sample),
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
            **recipe.validation_fields(sample),
            "judge": sample.judge,
            "hashes": dict(sample.hashes),
            **_repair(sample),
        },
        "tokens": tokens_of(sample),
        "compute_s": round(sample.compute_s, 4),
        "created_at": now(),
    }


def tokens_of(sample: Sample) -> dict[str, int]:
    """What the record cost: its answer's tokens, plus every earlier attempt's when it was repaired."""
    if sample.repair is not None:
        return dict(sample.repair["total_tokens"])
    comp = sample.completion
    return {"prompt": comp.prompt_tokens, "completion": comp.completion_tokens}


def _repair(sample: Sample) -> dict[str, Any]:
    """``repair`` only where the output went back to the model: after how many rounds, the
    validator's messages it was sent, the follow-ups' tokens, whether the last answer passed."""
    trail = sample.repair
    if trail is None:
        return {}
    return {"repair": {"rounds": trail["rounds"], "ok": bool(trail.get("ok")), "errors": list(trail.get("errors", [])),
                       "tokens": dict(trail["tokens"])}}


def rejected_record(drop: Drop, ctx: RecordContext, recipe: RecordFields) -> dict[str, Any]:
    sample = drop.sample
    return {
        "id": sample.key,
        "run_id": ctx.run_id,
        "step": drop.step,
        "reason": drop.reason,
        "detail": drop.detail,
        "template": sample.item.template_name,
        **recipe.rejected_fields(sample),
        "hashes": dict(sample.hashes),
        **_repair(sample),
        "created_at": now(),
    }


def failed_record(drop: Drop, ctx: RecordContext, recipe: RecordFields) -> dict[str, Any]:
    sample, item, comp = drop.sample, drop.sample.item, drop.sample.completion
    return {
        "id": sample.key,
        "run_id": ctx.run_id,
        "step": drop.step,
        "reason": drop.reason,
        "detail": drop.detail,
        **recipe.failed_fields(item),
        "template": item.template_name,
        "prompt": item.messages,
        "raw_text": comp.text,
        "finish_reason": comp.finish_reason,
        "tokens": tokens_of(sample),
        **_repair(sample),
        "created_at": now(),
    }
