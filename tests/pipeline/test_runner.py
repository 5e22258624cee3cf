"""The runner end to end with the fake engine: real parse, Graphviz, measure, dedup, quota, sink.

Exact counts per cell, garbage counted as failures, duplicates dropped with reasons,
quota_full, the hard candidate cap, the budget stop, resume after a stop, the judge.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from synthgen.models import ModelSpec, Prices
from synthgen.pipeline.progress import Progress
from synthgen.pipeline.runner import RunConfig, Runner

pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]

FAKE = ModelSpec(alias="fake", backend="fake")


def run(tmp_path: Path, name: str = "run", spec: ModelSpec = FAKE, **kw) -> tuple[dict, Path, str]:
    overrides = kw.pop("fake", {})
    recipe_options = {k: kw.pop(k) for k in ("domains", "complexity", "templates") if k in kw}
    out = tmp_path / name
    log = io.StringIO()
    cfg = RunConfig(output=out, spec=spec, model=spec.alias, seed=3, batch_size=kw.pop("batch_size", 8),
                    backend_overrides=overrides, recipe_options=recipe_options, resume_command=f"synthgen generate --output {out} --resume", **kw)
    summary = Runner(cfg, progress=Progress(log, every_s=0)).run()
    return summary, out, log.getvalue()


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_exact_counts_per_cell_and_a_complete_run_json(tmp_path):
    summary, out, _ = run(tmp_path, count=24, complexity="25/50/25", domains="robotics,workflows,ecommerce")
    records = read(out / "data.jsonl")
    assert summary["status"] == "completed" and summary["accepted"] == 24 == len(records)
    cells = Counter((r["domain"], r["complexity_measured"]) for r in records)
    state = json.loads((out / "run.json").read_text())
    assert {f"{d}/{c}": n for (d, c), n in cells.items()} == {k: v[1] for k, v in state["quota"].items()}
    assert sum(v[1] for v in state["quota"].values()) == 24
    assert len({r["id"] for r in records}) == 24
    assert len({r["validation"]["hashes"]["exact"] for r in records}) == 24
    assert all(r["validation"]["graphviz"] and r["task_type"] == "NL_TO_DOT" for r in records)
    assert state["status"] == "completed" and state["ledger"]["calls"] == summary["candidates"]
    assert state["counters"]["quota"]["forwarded"] == 24
    events = Counter(e["event"] for e in read(out / "log.jsonl"))
    assert events["start"] == events["stop"] == 1 and events["engine_call"] == events["batch"] > 0


def test_garbage_errors_and_invalid_dot_are_counted_and_saved(tmp_path):
    fake = {"garbage_rate": 0.2, "error_rate": 0.1, "invalid_rate": 0.15}
    summary, out, _ = run(tmp_path, count=16, fake=fake)
    assert summary["status"] == "completed" and len(read(out / "data.jsonl")) == 16
    failed, rejected = read(out / "failed_prompts.jsonl"), read(out / "rejected.jsonl")
    assert Counter(f["reason"] for f in failed) == {k: v for k, v in summary["failed"].items()}
    assert {"malformed_output", "engine_error"} <= set(summary["failed"])
    assert all(f["prompt"] and "raw_text" in f for f in failed)
    invalid = [r for r in rejected if r["step"] == "validate"]
    assert invalid and all(r["detail"] for r in invalid)
    assert summary["candidates"] == 16 + len(failed) + len(rejected)


def test_duplicates_are_dropped_with_their_reason(tmp_path):
    summary, out, _ = run(tmp_path, count=16, fake={"duplicate_rate": 0.4})
    rejected = read(out / "rejected.jsonl")
    assert summary["status"] == "completed"
    assert summary["rejected"].get("dup_exact", 0) > 0
    assert {r["reason"] for r in rejected} <= {"dup_exact", "dup_near", "dup_shape", "quota_full"}
    records = read(out / "data.jsonl")
    assert len({r["validation"]["hashes"]["exact"] for r in records}) == len(records) == 16


def test_quota_full_and_the_candidate_cap_stop(tmp_path):
    # Every answer measures "medium": medium cells fill, extras are quota_full, simple never fills.
    summary, out, log = run(tmp_path, count=8, complexity="50/50/0", domains="robotics", max_candidates=20,
                            fake={"complexity": "medium"})
    assert summary["status"] == "stopped:cap" and summary["candidates"] == 20
    assert summary["accepted"] == 4 and summary["rejected"]["quota_full"] > 0
    assert "hard candidate cap hit" in log and "--resume" in log
    state = json.loads((out / "run.json").read_text())
    assert state["quota"] == {"robotics/simple": [0, 4], "robotics/medium": [4, 4]}


def test_budget_stops_before_the_next_batch(tmp_path):
    spec = ModelSpec(alias="fake", backend="fake", prices=Prices(input_per_1m=100.0, output_per_1m=100.0))
    summary, out, log = run(tmp_path, spec=spec, count=40, max_cost=0.001, batch_size=4)
    assert summary["status"] == "stopped:budget" and "--max-cost" in summary["stop_reason"]
    assert summary["ledger"]["usd"] >= 0.001 and summary["candidates"] < 40
    assert len(read(out / "data.jsonl")) == summary["accepted"] > 0


def test_resume_after_a_stop_finishes_without_duplicates(tmp_path):
    first, out, _ = run(tmp_path, count=20, max_candidates=8)
    assert first["status"] == "stopped:cap" and first["accepted"] == 8
    second, _, _ = run(tmp_path, count=20, resume=True)
    records = read(out / "data.jsonl")
    assert second["status"] == "completed" and second["accepted"] == 20 == len(records)
    assert len({r["id"] for r in records}) == 20 and len({r["provenance"]["run_id"] for r in records}) == 1
    assert second["candidates"] == 20 and second["ledger"]["calls"] == 20  # counters carried over


def test_judge_drops_no_and_is_charged(tmp_path):
    summary, out, _ = run(tmp_path, count=12, validate_semantics=True, fake={"judge_no_rate": 0.3})
    records = read(out / "data.jsonl")
    assert summary["status"] == "completed" and len(records) == 12
    assert all(r["validation"]["judge"] == {"model": "fake", "verdict": "yes"} for r in records)
    assert summary["rejected"]["judge_no"] > 0
    assert summary["ledger"]["calls"] == 2 * summary["candidates"] - summary["failed"].get("malformed_output", 0)
    events = read(out / "log.jsonl")  # the judge's calls are logged like the generation's
    calls = [e for e in events if e["event"] == "engine_call"]
    assert sum(e["completions"] for e in calls) == summary["ledger"]["calls"]
    assert len(calls) > len([e for e in events if e["event"] == "batch"])


def test_a_dead_engine_stops_the_run_instead_of_burning_the_cap(tmp_path):
    summary, out, log = run(tmp_path, count=40, batch_size=4, fake={"error_rate": 1.0})
    assert summary["status"] == "stopped:engine" and summary["candidates"] == 12
    assert "fake engine error" in summary["stop_reason"] and "--resume" in log
    assert summary["failed"] == {"engine_error": 12}


def test_a_stop_between_a_batchs_appends_and_its_save_duplicates_nothing(tmp_path):
    """The folder as a kill leaves it between a batch's appends and its run.json save: the
    batch's lines are on disk, run.json is the one from before. Resume must write no line twice
    and end with the side files matching the counters."""
    fake = {"invalid_rate": 0.3, "garbage_rate": 0.2}
    first, out, _ = run(tmp_path, count=20, batch_size=4, max_candidates=8, fake=fake)
    assert first["status"] == "stopped:cap"
    before = (out / "run.json").read_bytes()
    run(tmp_path, count=20, batch_size=4, max_candidates=12, fake=fake, resume=True)  # one more batch
    assert len(read(out / "rejected.jsonl")) + len(read(out / "failed_prompts.jsonl")) > 0
    (out / "run.json").write_bytes(before)  # ...whose save never happened
    summary, _, log = run(tmp_path, count=20, batch_size=4, fake=fake, resume=True)
    assert summary["status"] == "completed" and "written after the last saved state" in log
    records = read(out / "data.jsonl")
    assert len(records) == 20 and len({r["id"] for r in records}) == 20
    for name, counted in (("rejected.jsonl", summary["rejected"]), ("failed_prompts.jsonl", summary["failed"])):
        side = read(out / name)
        assert len({r["id"] for r in side}) == len(side), f"a line of {name} written twice"
        assert len(side) == sum(counted.values()), f"{name} does not match run.json's counters"
    assert len({r["provenance"]["run_id"] for r in records}) == 1


def _canned_dot(body: dict) -> str:
    """An OpenAI-compatible server's answer: the fake engine's DOT for the level the prompt asks."""
    import hashlib
    import random

    from synthgen.recipes.nl2dot.fake import fake_dot, format_output

    text = body["messages"][-1]["content"].lower()
    level = next((lvl for lvl in ("complex", "medium", "simple") if lvl in text), "medium")
    rng = random.Random(hashlib.sha256(json.dumps(body["messages"]).encode()).digest())
    return format_output(*fake_dot(rng, level))


def test_an_engine_error_fails_the_run_truthfully_and_resume_completes(tmp_path):
    """A real HTTP endpoint that serves two batches, then refuses the key: the run stops with
    status ``failed`` and the error's one line (not ``interrupted``), the records of the two
    batches stay, and a resume once the endpoint is back finishes the run under the same id."""
    from backends.fault_proxy import PASS, FaultProxy, Status

    from synthgen.errors import AuthError

    with FaultProxy(reply=_canned_dot) as server:
        spec = ModelSpec(alias="srv", backend="openai", provider="ollama", api_model="m", base_url=server.base_url)
        opts = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 10.0, "concurrency": 4}
        server.script(PASS, *[PASS] * 8, *[Status(401)] * 40)  # GET /models, 2 batches of 4, then 401s
        with pytest.raises(AuthError):
            run(tmp_path, spec=spec, count=16, batch_size=4, fake=opts)
        out = tmp_path / "run"
        state = json.loads((out / "run.json").read_text())
        assert state["status"] == "failed" and "refused" in state["stop_reason"].lower()
        assert "\n" not in state["stop_reason"] and state["summary"]["status"] == "failed"
        assert state["candidates"] == 8
        kept = read(out / "data.jsonl")
        assert 0 < len(kept) <= 8
        stop = read(out / "log.jsonl")[-1]
        assert stop["event"] == "stop" and stop["status"] == "failed"
        server.script()  # the endpoint is back
        summary, _, _ = run(tmp_path, spec=spec, count=16, batch_size=4, fake=opts, resume=True)
    records = read(out / "data.jsonl")
    assert summary["status"] == "completed" and len(records) == 16 == len({r["id"] for r in records})
    assert records[: len(kept)] == kept
    assert {r["provenance"]["run_id"] for r in records} == {state["run_id"]}


def test_an_engine_killed_by_the_same_ctrl_c_is_a_stop_not_a_failure(tmp_path, monkeypatch):
    """Ctrl-C in a terminal reaches vLLM's engine processes too, and they exit: the batch in
    flight ends in a BackendError right after our own SIGINT handler ran. The run is
    'interrupted' (exit 130 through StopNow), says why, and resumes; nothing written is lost."""
    import os
    import signal

    from synthgen.backends.fake import FakeBackend
    from synthgen.errors import BackendError
    from synthgen.pipeline.stopping import StopNow

    calls = {"n": 0}
    real_generate = FakeBackend.generate

    def generate(self, requests):
        calls["n"] += 1
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the terminal's Ctrl-C, a real signal
            raise BackendError("the vLLM engine died while generating: RuntimeError: cancelled")
        return real_generate(self, requests)

    monkeypatch.setattr(FakeBackend, "generate", generate)
    with pytest.raises(StopNow) as stopped:
        run(tmp_path, count=24, batch_size=4)
    assert stopped.value.signum == signal.SIGINT
    out = tmp_path / "run"
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "interrupted" and state["stop_signal"] == "SIGINT"
    assert "engine's own processes" in state["stop_reason"] and "SIGTERM" in state["stop_reason"]
    kept = read(out / "data.jsonl")
    assert 0 < len(kept) <= 8
    monkeypatch.setattr(FakeBackend, "generate", real_generate)
    summary, _, _ = run(tmp_path, count=24, batch_size=4, resume=True)
    records = read(out / "data.jsonl")
    assert summary["status"] == "completed" and len(records) == 24 == len({r["id"] for r in records})
    assert records[: len(kept)] == kept
