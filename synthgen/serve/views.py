"""What the API says of a job, read from its run folder without touching it (the reader that
report and export use): progress per quota cell, the acceptance funnel, tokens/s, spend
against the budget, an ETA; pages of records; ``log.jsonl`` as server-sent events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from synthgen.errors import SynthgenError
from synthgen.steps.base import FAILED_REASONS

KINDS = ("accepted", "rejected", "failed")
MAX_PAGE = 100
EVENT_POLL_S = 0.25
KEEPALIVE_S = 10.0


def _seconds_since(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return max(0.0, time.time() - datetime.fromisoformat(stamp).timestamp())
    except ValueError:
        return None


def progress(run_dir: Path, job: dict[str, Any]) -> dict[str, Any] | None:
    """The run folder's numbers; None before the job's process has written run.json."""
    from synthgen.runfolder.reader import open_run

    if not (run_dir / "run.json").exists():
        return None
    try:
        view = open_run(run_dir)
    except SynthgenError as exc:
        return {"unreadable": exc.one_line()}
    state = view.state
    quota = state.get("quota") or {}
    cells = [{"cell": name, "accepted": int(v[0]), "target": int(v[1])} for name, v in quota.items()
             if isinstance(v, list) and len(v) == 2]
    accepted = sum(c["accepted"] for c in cells)
    target = sum(c["target"] for c in cells) or job["count"]
    rejected: dict[str, int] = {}
    failed: dict[str, int] = {}
    for counts in (state.get("counters") or {}).values():
        for key, n in counts.items():
            if key.startswith("dropped_") and n:
                reason = key[len("dropped_"):]
                side = failed if reason in FAILED_REASONS else rejected
                side[reason] = side.get(reason, 0) + n
    candidates = int(state.get("candidates") or 0)
    ledger = dict(state.get("ledger") or {})
    engine_s = float(ledger.get("engine_seconds") or 0)
    request = job["request"]
    argv = job["argv"]
    budget = {"max_gpu_hours": _flag(argv, "--max-gpu-hours", request.get("max_gpu_hours")),
              "max_cost": _flag(argv, "--max-cost", request.get("max_cost"))}
    gpu_hours = float(ledger.get("gpu_seconds") or 0) / 3600
    usd = float(ledger.get("usd") or 0)
    elapsed = _seconds_since(job.get("started_at")) if job["status"] == "running" else None
    done_now = accepted - int(job.get("base_accepted") or 0)
    rate = done_now / elapsed if elapsed and done_now > 0 else None
    return {
        "run_id": state.get("run_id"),
        "run_status": state.get("status"),
        "stop_reason": state.get("stop_reason"),
        "live": view.live,
        "accepted": accepted,
        "target": target,
        "fraction": accepted / target if target else 0.0,
        "candidates": candidates,
        "acceptance": accepted / candidates if candidates else None,
        "funnel": {"candidates": candidates, "failed": failed, "rejected": rejected, "accepted": accepted},
        "cells": cells,
        "ledger": ledger,
        "tokens_per_s": float(ledger.get("completion_tokens") or 0) / engine_s if engine_s else None,
        "records_per_s": rate,
        "eta_s": (target - accepted) / rate if rate and accepted < target else (0.0 if accepted >= target else None),
        "spend": {"gpu_hours": gpu_hours, "usd": usd, **budget,
                  "gpu_share": gpu_hours / budget["max_gpu_hours"] if budget["max_gpu_hours"] else None,
                  "usd_share": usd / budget["max_cost"] if budget["max_cost"] else None},
        "updated_at": state.get("updated_at"),
        "note": view.note,
    }


def _flag(argv: list[str], flag: str, default: Any) -> float | None:
    if flag in argv:
        try:
            return float(argv[argv.index(flag) + 1])
        except (IndexError, ValueError):
            return None
    return float(default) if default is not None else None


def job_view(job: dict[str, Any], run_dir: Path, resumable: bool) -> dict[str, Any]:
    request = job["request"]
    return {
        "id": job["id"], "name": job["name"], "status": job["status"], "recipe": job["recipe"], "model": job["model"],
        "provider": request.get("provider"), "count": job["count"], "merge_mode": request.get("merge_mode", "separate"),
        "created_at": job["created_at"], "started_at": job["started_at"], "ended_at": job["ended_at"],
        "exit_code": job["exit_code"], "error": job["error"], "runs": job["runs"], "resumable": resumable, "gpus": job.get("gpus"),
        "cancel_requested": job["cancel_requested"], "request": request,
        "command": "synthgen " + " ".join(job["argv"]),
        "progress": progress(run_dir, job),
    }


def records(run_dir: Path, kind: str, offset: int, limit: int, reason: str | None) -> dict[str, Any]:
    """One page of a kind's records in file order (a reason filters rejected and failed ones)."""
    from synthgen.runfolder.reader import open_run

    page: list[dict[str, Any]] = []
    seen = 0
    more = False
    if (run_dir / "run.json").exists():
        view = open_run(run_dir)
        for record in view.records(kind):  # type: ignore[arg-type]
            if reason is not None and record.get("reason") != reason:
                continue
            if seen >= offset:
                if len(page) == limit:
                    more = True
                    break
                page.append(record)
            seen += 1
    return {"kind": kind, "offset": offset, "limit": limit, "reason": reason, "records": page,
            "next_offset": offset + len(page) if more else None}


def record_at(run_dir: Path, kind: str, index: int, recipe_ref: str) -> dict[str, Any] | None:
    """One record with the recipe's escaped picture of it (nl2dot: the graph as an SVG image)."""
    from synthgen.recipes import recipe_class
    from synthgen.runfolder.reader import open_run

    if not (run_dir / "run.json").exists():
        return None
    for i, record in enumerate(open_run(run_dir).records(kind)):  # type: ignore[arg-type]
        if i == index:
            try:
                preview = recipe_class(recipe_ref).preview_html(record)
            except SynthgenError:
                preview = None
            return {"kind": kind, "index": index, "record": record, "preview_html": preview}
    return None


async def events(log_path: Path, after: int, finished: Callable[[], str | None]) -> AsyncIterator[str]:
    """``log.jsonl``'s whole lines from line ``after`` + 1 on, as they are written, each an SSE
    event (``id`` its line number, ``event`` its event name); then ``end`` once the job is over
    and every line is sent. A comment line every few seconds keeps proxies from closing it."""
    number = 0
    offset = 0
    last_sent = time.monotonic()
    buffer = b""
    while True:
        chunk = b""
        try:
            with open(log_path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read(1 << 20)
        except FileNotFoundError:
            pass
        if chunk:
            offset += len(chunk)
            buffer += chunk
            *whole, buffer = buffer.split(b"\n")
            for raw in whole:
                number += 1
                if number <= after or not raw.strip():
                    continue
                text = raw.decode("utf-8", "replace")
                try:
                    name = str(json.loads(text).get("event", "message"))
                except (ValueError, AttributeError):
                    name = "message"
                yield f"id: {number}\nevent: {_token(name)}\ndata: {text}\n\n"
                last_sent = time.monotonic()
            if len(chunk) == 1 << 20:
                continue
        status = finished()
        if status == "server-stopping":  # the job goes on (or is stopped by the server): a client reconnects later
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
            return
        if status is not None and not chunk:
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
            return
        if time.monotonic() - last_sent > KEEPALIVE_S:
            yield ": keepalive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(EVENT_POLL_S)


def _token(name: str) -> str:
    clean = "".join(ch for ch in name if ch.isalnum() or ch in "_-.")[:40]
    return clean or "message"
