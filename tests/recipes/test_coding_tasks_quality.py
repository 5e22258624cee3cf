"""coding-tasks' prompt checks and plan flaws: a passing and a failing example of each,
written here; a fake-engine run seeded with every prompt defect drops exactly the seeded
tasks, each with its defect's reason (confusion counts); the options."""

from __future__ import annotations

import io
import json
import random
from collections import Counter

import pytest

from recipes.test_coding_tasks import TASKS, trace
from recipes.test_coding_tasks_checks import GOOD, direct, filled, item
from synthgen.errors import ConfigError
from synthgen.recipes import create_recipe
from synthgen.recipes.coding_tasks import quality as Q
from synthgen.recipes.coding_tasks.fake import DEFECTS, fake_answer, seeded_defect
from synthgen.records import GenerationRequest, SamplingSettings

DEFAULT = Q.CodingTasksQuality()


def check(name: str, **changes) -> str | None:
    return Q.FUNCS[name](filled({**GOOD, **changes}), DEFAULT)


def test_the_good_task_passes_every_check():
    assert [name for name in Q.CHECKS if check(name)] == []


def test_prompt_cut():
    at_bound = ("Fix TimeDelta serialization in fields.py so that milliseconds round, not truncate, for every unit. " * 5)[:400]
    assert "400-character bound" in check("prompt_cut", prompt=at_bound)


def test_prompt_repeated_ngrams():
    looping = "Fix TimeDelta rounding in fields.py, then run the tests, then run the tests, then run the tests again."
    assert "'then run the'" in check("prompt_repeated_ngrams", prompt=looping)


def test_prompt_too_short():
    assert check("prompt_too_short", prompt="Please fix this one in fields.py for me, thank you.") == (
        "3 content word(s) (field, py, thank); a task needs at least 4")


def test_prompt_off_files():
    unrelated = "Add a dark mode toggle to the settings page of the mobile application."
    assert check("prompt_off_files", prompt=unrelated).startswith("the prompt shares 0 word(s) with its target files")
    assert check("prompt_off_files", prompt="Round TimeDelta milliseconds in the Fields module instead of truncating.") is None


def test_path_words():
    assert Q.path_words("src/marshmallow/TimeDeltaField.py") == "src marshmallow Time Delta Field"


def test_plan_flaws_leave_the_task_without_an_answer():
    from synthgen.recipes.coding_tasks.steps import PlanStep

    assert Q.plan_flaw(GOOD["plan"]) is None
    cut = [GOOD["plan"][0], {**GOOD["plan"][1], "purpose": "x" * 100}]
    twice = [GOOD["plan"][0], GOOD["plan"][0]]
    assert Q.plan_flaw(cut) == "plan_cut" and Q.plan_flaw(twice) == "plan_repeated"
    step = PlanStep()
    samples = [filled({**GOOD, "plan": plan}) for plan in (GOOD["plan"], cut, twice)]
    for s in samples:
        s.fields["plan_tools_known"] = True
    result = direct(step, *samples)
    assert [s.fields["plan_ok"] for s in result.accepted] == [True, False, False]
    assert step.counters["no_answer_plan_cut"] == step.counters["no_answer_plan_repeated"] == 1


def test_the_prompt_step_drops_with_the_checks_name_and_skips_what_is_off():
    bad = filled({**GOOD, "prompt": "Add a dark mode toggle to the settings page of the mobile application."})
    result = direct(Q.PromptStep(DEFAULT), bad)
    assert [d.reason for d in result.drops] == ["prompt_off_files"]
    assert len(direct(Q.PromptStep(DEFAULT, frozenset({"prompt_off_files"})), bad).accepted) == 1


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_fake_defect_fails_exactly_its_own_check(defect):
    from synthgen.recipes.coding_tasks.schema import structural, task_schema
    from synthgen.recipes.coding_tasks.seeds import KINDS

    it = item()
    schema = task_schema(it.kind, it.files, None, it.tools)
    request = GenerationRequest(it.id, it.messages, SamplingSettings(), json_schema=schema)
    import jsonschema

    for n in range(20):
        knobs = {"defect_rates": {defect: 1.0}, "seed": n}
        clean = json.loads(fake_answer(request, random.Random(n), {"seed": n}))
        seeded = json.loads(fake_answer(request, random.Random(n), knobs))
        jsonschema.validate(seeded, structural(schema, KINDS))  # still a task the parse step reads
        assert [c for c in Q.CHECKS if Q.FUNCS[c](filled(clean), DEFAULT)] == []
        assert [c for c in Q.CHECKS if Q.FUNCS[c](filled(seeded), DEFAULT)] == [defect], seeded["prompt"]


def test_a_fake_run_seeded_with_every_prompt_defect_drops_exactly_them(tmp_path):
    from synthgen.models import ModelSpec
    from synthgen.pipeline.progress import Progress
    from synthgen.pipeline.runner import RunConfig, Runner

    seeds = tmp_path / "traces"
    seeds.mkdir()
    for n, (task, files, _) in enumerate(TASKS):
        (seeds / f"t{n}.traj.json").write_text(json.dumps(trace(task, files, n)))
    rates = {name: 0.1 for name in Q.CHECKS}
    out = tmp_path / "run"
    cfg = RunConfig(output=out, spec=ModelSpec(alias="fake", backend="fake"), model="fake", recipe="coding-tasks",
                    recipe_options={"traces": [str(seeds)]}, count=30, seed=2, batch_size=16, max_candidates=400,
                    backend_overrides={"defect_rates": rates})
    assert Runner(cfg, progress=Progress(io.StringIO(), every_s=0)).run()["status"] == "completed"
    accepted = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    knobs = {"defect_rates": rates, "seed": 0}
    confusion = Counter((seeded_defect(knobs, r["id"]), r["reason"]) for r in rejected)
    seeded = Counter(seeded_defect(knobs, r["id"]) for r in accepted + rejected)
    for defect in Q.CHECKS:
        assert seeded[defect] > 0 and confusion[(defect, defect)] == seeded[defect], (defect, confusion)
    assert {pair for pair in confusion if pair[1] in Q.CHECKS} == {(d, d) for d in Q.CHECKS}
    assert all(seeded_defect(knobs, r["id"]) is None for r in accepted)


def test_checks_off_and_thresholds_are_options(tmp_path):
    traces = tmp_path / "t.traj.json"
    traces.write_text(json.dumps(trace(*TASKS[0][:2], 0)))
    with pytest.raises(ConfigError, match="checks_off': unknown check 'prompt_short'"):
        create_recipe("coding-tasks", {"traces": str(traces), "checks_off": "prompt_short"})
    with pytest.raises(ConfigError, match="quality.min_words"):
        create_recipe("coding-tasks", {"traces": str(traces), "quality": {"min_words": 2}})
    recipe = create_recipe("coding-tasks", {"traces": str(traces), "checks_off": ["prompt_off_files"],
                                            "quality": {"min_prompt_words": 6}})
    step = next(s for s in recipe.check_steps() if s.name == "prompt")
    assert [n for n, _ in step._checks] == ["prompt_cut", "prompt_repeated_ngrams", "prompt_too_short"]
    part = recipe.fingerprint()["coding_tasks"]
    assert part["quality"] == {"min_prompt_words": 6} and part["checks_off"] == ["prompt_off_files"]
    assert "quality" not in create_recipe("coding-tasks", {"traces": str(traces)}).fingerprint()["coding_tasks"]
