"""Steps after the engine: counters, reason codes, where drops go, and the record's fields."""

from __future__ import annotations

import pytest

from synthgen.backends.base import Completion
from synthgen.backends.fake import FakeBackend, fake_dot, format_output
from synthgen.pipeline.budget import Ledger
from synthgen.pipeline.judge import JudgeStep, parse_verdict
from synthgen.pipeline.parse_step import ParseStep
from synthgen.pipeline.record import RecordContext, accepted_record, failed_record, rejected_record
from synthgen.pipeline.steps import Pipeline, Sample, Step
from synthgen.recipes.nl2dot import PlanItem

GOOD_DOT = 'digraph G {\n  a [label="Start"];\n  b [label="Done"];\n  a -> b [label="go"];\n}'


def item(i: int = 0, domain: str = "workflows", complexity: str = "simple") -> PlanItem:
    return PlanItem(
        id=f"7-{i:06d}", index=i, domain=domain, subtopic="ci", complexity=complexity, params={},
        messages=[{"role": "user", "content": f"a {complexity} graph"}], template_name="nl2dot/workflows#0",
        template_version="1.0.0", seed=i,
    )


def sample(text: str, finish: str = "stop", i: int = 0, error: str | None = None) -> Sample:
    return Sample(item(i), Completion(item(i).id, text, finish, 10, 20, error=error))  # type: ignore[arg-type]


class EvenOnly(Step):
    name = "even"

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for s in batch:
            if s.item.index % 2 == 0:
                kept.append(s)
            else:
                self.drop(s, "odd", f"index {s.item.index}")
        return kept


def test_step_counts_total_forwarded_and_each_reason():
    pipeline = Pipeline([EvenOnly()])
    result = pipeline.run([sample("x", i=i) for i in range(5)])
    assert [s.item.index for s in result.accepted] == [0, 2, 4]
    assert pipeline.counters() == {"even": {"total": 5, "forwarded": 3, "dropped_odd": 2}}
    assert [d.reason for d in result.drops] == ["odd", "odd"] and result.drops[0].kind == "rejected"
    pipeline.run([sample("x", i=1)])
    assert pipeline.counters()["even"] == {"total": 6, "forwarded": 3, "dropped_odd": 3}
    assert pipeline.drop_reasons() == {"odd": 3}


def test_parse_step_sorts_engine_failures_from_output():
    step = ParseStep()
    batch = [
        sample(format_output("Draw a two-step flow.", GOOD_DOT), i=0),
        sample("", "error", i=1, error="engine died"),
        sample(format_output("cut", "digraph G {\n a -> "), "length", i=2),
        sample("I cannot help with that.", i=3),
    ]
    result = Pipeline([step]).run(batch)
    assert len(result.accepted) == 1
    ok = result.accepted[0]
    assert ok.request == "Draw a two-step flow." and ok.dot == GOOD_DOT
    assert {d.reason: d.kind for d in result.drops} == {
        "engine_error": "failed", "truncated": "failed", "malformed_output": "failed",
    }
    assert step.counters["dropped_malformed_output"] == 1 and step.counters["forwarded"] == 1


@pytest.mark.graphviz
def test_validate_and_measure_fill_hashes_and_drop_invalid(require_graphviz):
    from synthgen.pipeline.validate_step import MeasureStep, ValidateStep

    bad = GOOD_DOT.replace("a -> b", "a -> -> b")
    batch = [sample(format_output("r", GOOD_DOT), i=0), sample(format_output("r", bad), i=1)]
    validate, measure = ValidateStep(), MeasureStep(("simple", "medium", "complex"))
    result = Pipeline([ParseStep(), validate, measure]).run(batch)
    assert len(result.accepted) == 1
    good = result.accepted[0]
    assert good.grammar_ok and good.graphviz_ok
    assert good.complexity in ("simple", "medium", "complex") and good.features
    assert good.hashes["normal_hash"] and good.hashes["shape_hash"]
    (drop,) = result.drops
    assert drop.step == "validate" and drop.kind == "rejected" and drop.reason in ("grammar", "graphviz")
    assert drop.detail  # the parser's or Graphviz's own message


def test_judge_step_charges_the_ledger_and_drops_no():
    ledger = Ledger()
    judge = JudgeStep(FakeBackend(judge_no_rate=0.5), "fake", ledger)
    batch = []
    for i in range(20):
        s = sample("", i=i)
        s.request, s.dot = f"flow {i}", GOOD_DOT
        batch.append(s)
    result = Pipeline([judge]).run(batch)
    assert 0 < len(result.accepted) < 20
    assert all(s.judge == {"model": "fake", "verdict": "yes"} for s in result.accepted)
    assert {d.reason for d in result.drops} == {"judge_no"}
    assert ledger.calls == 20 and ledger.prompt_tokens > 0 and ledger.completion_tokens == 20


@pytest.mark.parametrize("text,verdict", [("yes", "yes"), (" No.", "no"), ("'Yes'", "yes"), ("maybe", None), ("", None)])
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) == verdict


def test_records_carry_the_documented_fields():
    import random

    request, dot = fake_dot(random.Random(1), "simple")
    s = sample(format_output(request, dot))
    s.request, s.dot, s.complexity, s.features = request, dot, "simple", {"nodes": 4}
    s.grammar_ok = s.graphviz_ok = True
    s.hashes = {"normal_hash": "n:1", "shape_hash": "s:1", "exact": "x1:1"}
    ctx = RecordContext(run_id="r1", backend="fake", model="fake", model_revision=None, plan_seed=7)
    rec = accepted_record(s, ctx)
    assert set(rec) == {
        "id", "task_type", "request", "dot", "domain", "subtopic", "complexity_requested", "complexity_measured",
        "features", "provenance", "validation", "tokens", "compute_s", "created_at",
    }
    assert rec["task_type"] == "NL_TO_DOT" and rec["provenance"]["source"] == "synthetic-fake"
    assert rec["provenance"]["plan_item_id"] == "7-000000" and rec["provenance"]["run_id"] == "r1"
    assert rec["validation"] == {"grammar": True, "graphviz": True, "judge": None, "hashes": s.hashes}
    assert rec["tokens"] == {"prompt": 10, "completion": 20}

    result = Pipeline([ParseStep()]).run([sample("garbage", i=3)])
    failed = failed_record(result.drops[0], ctx)
    assert failed["raw_text"] == "garbage" and failed["prompt"] == item(3).messages and failed["reason"] == "malformed_output"
    rejected = rejected_record(result.drops[0], ctx)
    assert rejected["reason"] == "malformed_output" and rejected["step"] == "parse"


def test_measure_step_measures_when_validation_did_not():
    from synthgen.pipeline.validate_step import MeasureStep

    s = sample(format_output("r", GOOD_DOT))
    s.request, s.dot = "r", GOOD_DOT
    result = Pipeline([MeasureStep(("simple", "medium", "complex"))]).run([s])
    assert result.accepted == [s] and s.complexity == "simple" and s.features
