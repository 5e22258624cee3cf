"""The schema of ``run.json``: what a run folder remembers between a kill and ``--resume``.

``run.json`` is small and rewritten whole (atomically, by ``RunFolder.save_state``) after
every batch. The records themselves live in the JSONL files; ``run.json`` only holds what
cannot be recomputed from them: the config fingerprint that a resume must match, the
compute/money ledger, and the status a user or a report reads.

The fingerprint is everything in the config that changes *which* records a run produces.
Anything that only changes *how* or *where* it runs (output folder, budgets, batch size,
concurrency, logging) is left out, so a user can resume with a bigger budget or a
different batch size but not with a different seed or count.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from synthgen.errors import ResumeError
from synthgen.runfolder.log import now_iso, scrub

SCHEMA_VERSION = 1

STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_INTERRUPTED = "interrupted"  # SIGINT or SIGTERM; ``stop_signal`` says which
STATUS_FAILED = "failed"  # an error ended the run; ``stop_reason`` is its one line

# Config keys that may change between a run and its resume. Everything else must match.
NOT_FINGERPRINTED = frozenset(
    {
        "output",
        "output_dir",
        "resume",
        "dry_run",
        "max_gpu_hours",
        "max_cost",
        "budget",
        "batch_size",
        "concurrency",
        "max_concurrency",
        "workers",
        "log_level",
        "verbose",
        "quiet",
        "debug",
        "progress",
    }
)


def stopped(reason: str) -> str:
    """Status of a run that stopped early on purpose, e.g. ``stopped:budget``."""
    return f"stopped:{reason}"


def _normalise(value: Any) -> Any:
    """JSON round trip (tuples → lists, Paths → str) so old and new compare like for like;
    every string redacted, so a key in a config value never reaches run.json."""
    return scrub(json.loads(json.dumps(value, sort_keys=True, default=str)))


def fingerprint_of(config: dict[str, Any]) -> dict[str, Any]:
    """What must match on resume: recipe fingerprint, model alias/revision, seed, count,
    domains, weights, grammar hash, sampling — every key except the runtime-only ones in
    ``NOT_FINGERPRINTED``. ``None`` values are dropped so adding an unset option to the
    config later does not break resuming an old run."""
    kept = {k: v for k, v in config.items() if k not in NOT_FINGERPRINTED and v is not None}
    return _normalise(kept)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def diff_fingerprints(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per key that differs, ``key: old -> new``; empty when they match."""
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, "<unset>"), new.get(key, "<unset>")
        if before != after:
            changes.append(f"{key}: {_show(before)} -> {_show(after)}")
    return changes


def new_state(fingerprint: dict[str, Any], *, resume_command: str = "", run_id: str | None = None) -> dict[str, Any]:
    """A fresh ``run.json`` body; the runner fills counters and ledger as it goes."""
    stamp = now_iso()
    return {
        "version": SCHEMA_VERSION,
        "run_id": run_id or uuid.uuid4().hex[:12],
        "created_at": stamp,
        "updated_at": stamp,
        "fingerprint": fingerprint,
        "counters": {},
        "ledger": {},
        "status": STATUS_RUNNING,
        "resume_command": resume_command,
    }


_NUMBER = (int, float)
# run.json's fields and the types this version reads; (type, required). Unknown fields are kept.
FIELDS: dict[str, tuple[Any, bool]] = {
    "version": (int, True), "run_id": (str, True), "fingerprint": (dict, True), "created_at": (str, False),
    "updated_at": (str, False), "counters": (dict, False), "ledger": (dict, False), "status": (str, False),
    "resume_command": (str, False), "files": (dict, False), "candidates": (int, False), "plan_next_index": (int, False),
    "quota": (dict, False), "stop_reason": (str, False), "stop_signal": ((str, type(None)), False),
    "summary": (dict, False), "pending": (dict, False), "recipe_ref": (str, False), "model_license": ((str, type(None)), False),
}


def check_state(state: Any, where: str) -> dict[str, Any]:
    """Refuse a run.json this version cannot read, instead of misreading it: one line naming
    the field that is missing or of the wrong type."""
    if not isinstance(state, dict) or "fingerprint" not in state:
        raise ResumeError(f"{where} is not a synthgen run state", hint="start a new run with a new --output")
    version = state.get("version")
    if version != SCHEMA_VERSION:
        raise ResumeError(
            f"{where} has schema version {version!r}; this synthgen reads version {SCHEMA_VERSION}",
            hint="resume it with the synthgen version that wrote it, or start a new --output",
        )
    hint = "the file was changed outside synthgen; restore it, or start a new --output"
    for key, (kind, required) in FIELDS.items():
        if key not in state:
            if required:
                raise ResumeError(f"{where}: field {key!r} is missing", hint=hint)
            continue
        value = state[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)) or (kind is int and value < 0):
            raise ResumeError(f"{where}: field {key!r} is {_show(value)}, not a {_kind(kind)}", hint=hint)
    for name, counts in (state.get("counters") or {}).items():
        if not isinstance(counts, dict) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts.values()):
            raise ResumeError(f"{where}: counters of step {name!r} are not whole numbers", hint=hint)
    for key, value in (state.get("ledger") or {}).items():
        if not isinstance(value, _NUMBER) or isinstance(value, bool) or value < 0:
            raise ResumeError(f"{where}: ledger field {key!r} is {_show(value)}, not a number", hint=hint)
    for key, value in (state.get("files") or {}).items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ResumeError(f"{where}: files field {key!r} is {_show(value)}, not a byte length", hint=hint)
    return state


def _kind(kind: Any) -> str:
    names = {int: "whole number", str: "string", dict: "JSON object", type(None): "null"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)
