"""Repair of outputs that fail to parse or validate (synthgen/steps/repair.py).

Unit tests for the follow-up turn, the bound on rounds and the recipes' repair checks; then
``synthgen api`` against a real HTTP server on 127.0.0.1 that ignores the grammar field and
answers with seeded broken DOT (tests/backends/grammarless.py): the repair counters equal
what was seeded, the ledger holds every attempt, records say they were repaired, and no
accepted record fails Graphviz.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from backends.fault_proxy import FaultProxy
from backends.grammarless import BrokenDot, usage

from synthgen.records import Completion, GenerationRequest, Sample, SamplingSettings
from synthgen.steps.repair import ENDPOINT_ROUNDS, MAX_ROUNDS, RepairStep, followup_request, repair_turn, rounds_for

ROOT = Path(__file__).resolve().parents[2]
GOOD = 'REQUEST: Draw a login flow from start to done.\nDOT:\ndigraph g {\n  a [label="Start"];\n  b [label="Done"];\n  a -> b;\n}'
BROKEN = GOOD.replace("a -> b;", "a -> b;;")


# ----- the follow-up turn --------------------------------------------------------------------
def test_repair_turn_carries_the_message_on_one_line_and_bounded():
    turn = repair_turn("syntax error in line 14\n near ';'")
    assert turn["role"] == "user"
    assert "syntax error in line 14 near ';'" in turn["content"] and "Write the whole answer again" in turn["content"]
    long = repair_turn("x" * 1000)["content"]
    assert "x" * 299 in long and "x" * 300 not in long and "…" in long


def test_followup_request_appends_each_failed_answer_and_its_message():
    original = GenerationRequest("0-000001", [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
                                 SamplingSettings(temperature=0.7, max_tokens=99, n=3), grammar='start: "x"', seed=5)
    req = followup_request(original, [("answer one", "problem one"), ("answer two", "problem two")], "0-000001#repair2")
    assert [m["role"] for m in req.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert req.messages[2]["content"] == "answer one" and "problem one" in req.messages[3]["content"]
    assert req.messages[4]["content"] == "answer two" and "problem two" in req.messages[5]["content"]
    assert (req.id, req.sampling.n, req.sampling.max_tokens, req.sampling.temperature, req.grammar, req.seed) == (
        "0-000001#repair2", 1, 99, 0.7, 'start: "x"', 5)
    assert len(original.messages) == 2  # the plan's own request is untouched


def test_rounds_default_to_endpoints_only_and_a_setting_wins():
    assert (rounds_for(None, remote=True), rounds_for(None, remote=False)) == (ENDPOINT_ROUNDS, 0)
    assert (rounds_for(0, remote=True), rounds_for(3, remote=False)) == (0, 3)
    with pytest.raises(ValueError):
        RepairStep(None, lambda s: [], lambda i: None, MAX_ROUNDS + 1)


# ----- the step, with a scripted engine ------------------------------------------------------
@dataclass
class Item:
    id: str
    index: int = 0
    seed: int = 0
    template_name: str = "t"
    template_version: str = "1"
    messages: list = field(default_factory=lambda: [{"role": "user", "content": "draw"}])


@dataclass
class Backend:
    accelerators: int = 0


@dataclass
class ScriptedEngine:
    """Answers follow-ups from a script per plan item: the n-th follow-up gets the n-th text."""

    script: dict[str, list[str]]
    backend: Backend = field(default_factory=Backend)
    calls: list[list[GenerationRequest]] = field(default_factory=list)
    last_wall_s: float = 0.5

    @property
    def remote(self) -> bool:
        return self.backend.accelerators == 0

    def call(self, requests):
        self.calls.append(list(requests))
        out = []
        for r in requests:
            item_id, round_ = r.id.split("#repair")
            texts = self.script[item_id.split("-")[0]]
            out.append(Completion(r.id, texts[min(int(round_), len(texts)) - 1], "stop", 10, 4))
        return out


def _check(samples):
    return [None if s.completion.text == "ok" else f"bad: {s.completion.text}" for s in samples]


def _sample(item_id: str, text: str, finish: str = "stop", index: int = 0) -> Sample:
    return Sample(Item(item_id), Completion(item_id, text, finish, 20, 8, index=index))


def _run(step: RepairStep, samples: list[Sample]) -> list[Sample]:
    drops: list = []
    out = step(samples, drops)
    assert drops == [] and out == samples  # repair never drops: the recipe's checks decide
    return out


def test_step_repairs_in_rounds_within_the_bound_and_counts():
    engine = ScriptedEngine({"a": ["ok"], "b": ["bad2", "ok"], "c": ["bad2", "bad3", "ok"]})
    step = RepairStep(engine, _check, lambda item: GenerationRequest(item.id, item.messages), None)
    samples = [_sample("a", "bad1"), _sample("b", "bad1", index=2), _sample("c", "bad1"), _sample("d", "ok")]
    _run(step, samples)
    a, b, c, d = samples
    assert [len(call) for call in engine.calls] == [3, 2]  # two rounds (the endpoint default), never a third
    assert (a.completion.text, b.completion.text, c.completion.text) == ("ok", "ok", "bad3")
    assert (a.repair["rounds"], b.repair["rounds"], c.repair["rounds"], d.repair) == (1, 2, 2, None)
    assert (a.repair["ok"], b.repair["ok"], c.repair["ok"]) == (True, True, False)
    assert b.repair["errors"] == ["bad: bad1", "bad: bad2"] and b.key == "b-2"  # the completion index is kept
    assert b.repair["tokens"] == {"prompt": 20, "completion": 8} and b.repair["total_tokens"] == {"prompt": 40, "completion": 16}
    assert step.counters["repaired_ok"] == 2 and step.counters["repair_failed"] == 1
    assert (step.counters["repaired_round_1"], step.counters["repaired_round_2"], step.counters["repair_requests"]) == (1, 1, 5)
    # the second round's conversation carries both failed answers and both messages
    second = next(r for r in engine.calls[1] if r.id == "b-2#repair2")
    assert [m["content"] for m in second.messages if m["role"] == "assistant"] == ["bad1", "bad2"]


def test_step_is_off_at_zero_and_on_a_local_engine_by_default_but_not_engine_failures():
    engine = ScriptedEngine({"a": ["ok"]}, Backend(accelerators=1))
    step = RepairStep(engine, _check, lambda item: GenerationRequest(item.id, item.messages), None)
    _run(step, [_sample("a", "bad")])
    assert engine.calls == [] and step.counters["repaired_ok"] == 0
    step = RepairStep(engine, _check, lambda item: GenerationRequest(item.id, item.messages), 1)  # asked for: applies locally too
    _run(step, [_sample("a", "bad"), _sample("x", "", "error"), _sample("y", "cut", "length")])
    assert [[r.id for r in call] for call in engine.calls] == [["a#repair1"]] and step.counters["repaired_ok"] == 1
    off = RepairStep(ScriptedEngine({}), _check, lambda item: None, 0)
    _run(off, [_sample("a", "bad")])
    assert off.engine.calls == []


# ----- the recipes' checks -------------------------------------------------------------------
@pytest.mark.graphviz
def test_nl2dot_repair_problems_name_the_validators_line(require_graphviz):
    from synthgen.recipes import create_recipe

    recipe = create_recipe("nl2dot", {})
    samples = [_sample("a", GOOD), _sample("b", BROKEN), _sample("c", "Sure! Here is a graph"), _sample("d", GOOD[:-1])]
    good, broken, garbage, cut = recipe.repair_problems(samples)
    assert good is None
    assert "syntax error in line 4 near ';'" in broken and broken.startswith("the DOT does not parse")
    assert "REQUEST:" in garbage and cut is not None


def test_coding_tasks_repair_problems_are_the_parse_steps_messages():
    from synthgen.recipes.coding_tasks.steps import read_task

    schema = {"type": "object", "required": ["prompt"], "properties": {"prompt": {"type": "string"}}}
    assert read_task('{"prompt": "x"}', schema) == ({"prompt": "x"}, None)
    assert read_task("{oops", schema)[1][0] == "malformed_output"
    reason, detail = read_task('{"other": 1}', schema)[1]
    assert reason == "schema_invalid" and "'prompt' is a required property" in detail


# ----- synthgen api against a server that ignores the grammar ----------------------------------
SHARES = {0: 0.4, 1: 0.25, 2: 0.2, None: 0.15}
PRICES = (0.15, 0.60)  # models/gpt-4o-mini.yaml, USD per 1M tokens


def _api_run(out: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_")}
    env.update(PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-test-repair")
    cmd = [sys.executable, "-m", "synthgen", "api", "--provider", "openai", "--model", "gpt-4o-mini", "--base-url", url,
           "--count", "16", "--batch-size", "8", "--seed", "3", "--output", str(out), *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
@pytest.mark.engine
@pytest.mark.graphviz
def test_api_run_repairs_exactly_what_was_seeded_and_charges_every_attempt(tmp_path, require_graphviz):
    from synthgen.dot.graphviz import GraphvizChecker

    server = BrokenDot(SHARES, seed=1)
    with FaultProxy(reply=server, usage=usage) as proxy:
        proc = _api_run(tmp_path / "run", proxy.base_url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    fates = list(server.fates.values())
    assert len(fates) == state["candidates"]  # one original prompt per candidate
    repair = state["counters"]["repair"]
    assert repair["repaired_ok"] == fates.count(1) + fates.count(2) > 0
    assert repair["repair_failed"] == fates.count(None) > 0
    assert (repair.get("repaired_round_1", 0), repair.get("repaired_round_2", 0)) == (fates.count(1), fates.count(2))
    assert repair["repair_requests"] == fates.count(1) + 2 * fates.count(2) + 2 * fates.count(None)
    assert state["summary"]["repair"]["repaired_ok"] == repair["repaired_ok"]
    assert "repaired ok" in proc.stdout and "repair failed" in proc.stdout

    ledger = state["ledger"]  # every attempt: originals and follow-ups, tokens and dollars
    assert ledger["calls"] == server.chat_calls == state["candidates"] + repair["repair_requests"]
    assert [ledger["prompt_tokens"], ledger["completion_tokens"]] == server.tokens
    assert ledger["usd"] == pytest.approx((server.tokens[0] * PRICES[0] + server.tokens[1] * PRICES[1]) / 1e6)

    folder = tmp_path / "run"
    accepted, rejected, failed = _lines(folder / "data.jsonl"), _lines(folder / "rejected.jsonl"), _lines(folder / "failed_prompts.jsonl")
    assert len(accepted) == 16
    for record in accepted:  # each says after how many rounds, as seeded for its prompt
        fate = server.fate_of_request[record["request"]]
        trail = record["validation"].get("repair")
        assert (trail["rounds"] if trail else 0) == fate
        if trail:
            assert trail["ok"] and len(trail["errors"]) == fate and all("syntax error in line" in e for e in trail["errors"])
    assert any(r["validation"].get("repair") for r in accepted)
    never = [r for r in rejected if r.get("repair") and not r["repair"]["ok"]]
    assert len(never) == fates.count(None) and all(r["reason"] == "grammar" and not r["repair"]["ok"] for r in never)
    assert failed == []
    for record in accepted:  # a repaired record's tokens hold its first answer and every follow-up
        trail = record["validation"].get("repair")
        if trail:
            assert record["tokens"]["prompt"] > trail["tokens"]["prompt"] > 0
    results = GraphvizChecker().check([r["dot"] for r in accepted])
    assert all(r.ok for r in results), [r for r in results if not r.ok][:2]


@pytest.mark.slow
@pytest.mark.engine
@pytest.mark.graphviz
def test_repair_rounds_zero_turns_it_off(tmp_path, require_graphviz):
    server = BrokenDot(SHARES, seed=1)
    with FaultProxy(reply=server, usage=usage) as proxy:
        proc = _api_run(tmp_path / "run", proxy.base_url, "--repair-rounds", "0", "--count", "4", "--max-candidates", "8")
    assert proc.returncode in (0, 6), proc.stderr[-2000:]
    state = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "repair" not in state["counters"] and server.chat_calls == state["candidates"]
    assert state["fingerprint"].get("repair_rounds") == 0
