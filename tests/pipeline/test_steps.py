"""Steps after the engine: counters, reason codes, where drops go, and the record's fields."""

from __future__ import annotations

import pytest

from synthgen.backends.base import Completion
from synthgen.backends.fake import FakeBackend
from synthgen.pipeline.budget import Ledger
from synthgen.pipeline.engine import EngineCall
from synthgen.recipes import create_recipe
from synthgen.recipes.nl2dot import PlanItem
from synthgen.recipes.nl2dot.fake import fake_dot, format_output
from synthgen.recipes.nl2dot.steps import MeasureStep, ValidateStep
from synthgen.recipes.nl2dot.steps import Nl2DotParse as ParseStep
from synthgen.records import Sample
from synthgen.runfolder.envelope import RecordContext, accepted_record, failed_record, rejected_record
from synthgen.steps.base import Pipeline, Step
from synthgen.steps.judge import JudgeStep, parse_verdict

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
    assert ok.fields["request"] == "Draw a two-step flow." and ok.fields["dot"] == GOOD_DOT
    assert {d.reason: d.kind for d in result.drops} == {
        "engine_error": "failed", "truncated": "failed", "malformed_output": "failed",
    }
    assert step.counters["dropped_malformed_output"] == 1 and step.counters["forwarded"] == 1


@pytest.mark.graphviz
def test_validate_and_measure_fill_hashes_and_drop_invalid(require_graphviz):
    bad = GOOD_DOT.replace("a -> b", "a -> -> b")
    batch = [sample(format_output("r", GOOD_DOT), i=0), sample(format_output("r", bad), i=1)]
    validate, measure = ValidateStep(), MeasureStep(("simple", "medium", "complex"))
    result = Pipeline([ParseStep(), validate, measure]).run(batch)
    assert len(result.accepted) == 1
    good = result.accepted[0]
    assert good.fields["grammar_ok"] and good.fields["graphviz_ok"]
    assert good.fields["complexity"] in ("simple", "medium", "complex") and good.fields["features"]
    assert good.hashes["normal_hash"] and good.hashes["shape_hash"]
    assert good.cell == ("workflows", good.fields["complexity"])  # what the generic steps read
    assert good.keys.content_hash == good.hashes["normal_hash"] and good.keys.shape == good.hashes["shape_hash"]
    (drop,) = result.drops
    assert drop.step == "validate" and drop.kind == "rejected" and drop.reason in ("grammar", "graphviz")
    assert drop.detail  # the parser's or Graphviz's own message


def test_judge_step_charges_the_ledger_logs_and_drops_no(tmp_path):
    from synthgen.runfolder.log import RunLogger

    ledger = Ledger()
    log = RunLogger(tmp_path / "log.jsonl")
    engine = EngineCall(FakeBackend(judge_no_rate=0.5), "fake", None, ledger, log)
    judge = JudgeStep(engine, "fake", create_recipe("nl2dot").judge_messages)
    batch = []
    for i in range(20):
        s = sample("", i=i)
        s.fields.update(request=f"flow {i}", dot=GOOD_DOT)
        batch.append(s)
    result = Pipeline([judge]).run(batch)
    assert 0 < len(result.accepted) < 20
    assert all(s.judge == {"model": "fake", "verdict": "yes"} for s in result.accepted)
    assert {d.reason for d in result.drops} == {"judge_no"}
    assert ledger.calls == 20 and ledger.prompt_tokens > 0 and ledger.completion_tokens == 20
    log.close()
    assert '"event": "engine_call"' in (tmp_path / "log.jsonl").read_text()  # the judge's call is logged too


@pytest.mark.parametrize("text,verdict", [("yes", "yes"), (" No.", "no"), ("'Yes'", "yes"), ("maybe", None), ("", None)])
def test_parse_verdict(text, verdict):
    assert parse_verdict(text) == verdict


def test_records_carry_the_documented_fields():
    import random

    request, dot = fake_dot(random.Random(1), "simple")
    s = sample(format_output(request, dot))
    s.fields.update(request=request, dot=dot, complexity="simple", features={"nodes": 4}, grammar_ok=True, graphviz_ok=True)
    s.hashes = {"normal_hash": "n:1", "shape_hash": "s:1", "exact": "x1:1"}
    ctx = RecordContext(run_id="r1", backend="fake", model="fake", model_revision=None, plan_seed=7)
    recipe = create_recipe("nl2dot")
    rec = accepted_record(s, ctx, recipe)
    assert set(rec) == {
        "id", "task_type", "request", "dot", "domain", "subtopic", "complexity_requested", "complexity_measured",
        "features", "provenance", "validation", "tokens", "compute_s", "created_at",
    }
    assert rec["task_type"] == "NL_TO_DOT" and rec["provenance"]["source"] == "synthetic-fake"
    assert rec["provenance"]["plan_item_id"] == "7-000000" and rec["provenance"]["run_id"] == "r1"
    assert rec["validation"] == {"grammar": True, "graphviz": True, "judge": None, "hashes": s.hashes}
    assert rec["tokens"] == {"prompt": 10, "completion": 20}

    result = Pipeline([ParseStep()]).run([sample("garbage", i=3)])
    failed = failed_record(result.drops[0], ctx, recipe)
    assert failed["raw_text"] == "garbage" and failed["prompt"] == item(3).messages and failed["reason"] == "malformed_output"
    rejected = rejected_record(result.drops[0], ctx, recipe)
    assert rejected["reason"] == "malformed_output" and rejected["step"] == "parse"


def test_measure_step_measures_when_validation_did_not():
    s = sample(format_output("r", GOOD_DOT))
    s.fields.update(request="r", dot=GOOD_DOT)
    result = Pipeline([MeasureStep(("simple", "medium", "complex"))]).run([s])
    assert result.accepted == [s] and s.fields["complexity"] == "simple" and s.fields["features"]
    assert s.cell == ("workflows", "simple")
