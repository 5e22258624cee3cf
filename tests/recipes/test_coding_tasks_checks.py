"""coding-tasks' checks, one by one, each with a passing and a failing sample written here."""

from __future__ import annotations

import json

import pytest

from synthgen.recipes.coding_tasks import steps
from synthgen.recipes.coding_tasks.plan import TaskItem
from synthgen.recipes.coding_tasks.schema import new_file_pattern, task_schema
from synthgen.recipes.coding_tasks.seeds import Seed
from synthgen.records import Completion, Sample
from synthgen.steps.base import Pipeline

TOOLS = ("bash", "str_replace_editor", "submit")
FILES = ("src/marshmallow/fields.py", "tests/test_fields.py")


def item(kind: str = "bugfix", strategy: str = "trace_seeded") -> TaskItem:
    return TaskItem(id="0-000001", index=1, seed=1, template_name=f"coding-tasks/{strategy}", template_version="1",
                    messages=[{"role": "user", "content": "write a task"}], repository="marshmallow-code/marshmallow", kind=kind,
                    strategy=strategy, seed_ids=("s1",), seed_format="sweagent", tools=TOOLS, languages=("Python",),
                    files=FILES, folders=("src/marshmallow", "tests"), extensions=(".py",))


GOOD = {"prompt": "Fix TimeDelta serialization so that 345 milliseconds round to 345, not 344, in fields.py",
        "task_kind": "bugfix", "target_files": ["src/marshmallow/fields.py"], "expected_tools": ["bash", "str_replace_editor"],
        "plan": [{"tool": "bash", "target": "grep -n TimeDelta src/marshmallow/fields.py", "purpose": "find the serializer"},
                 {"tool": "str_replace_editor", "target": "src/marshmallow/fields.py", "purpose": "round instead of truncating"}]}


def sample(answer: dict | str, it: TaskItem | None = None) -> Sample:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    it = it or item()
    return Sample(it, Completion(it.id, text, "stop", 10, 50))


def schema_for(it: TaskItem) -> dict:
    from synthgen.recipes.coding_tasks.schema import structural
    from synthgen.recipes.coding_tasks.seeds import KINDS

    return structural(task_schema(it.kind, it.files, new_file_pattern(it.folders, it.extensions), it.tools), KINDS)


def allowed(it: TaskItem):
    return set(FILES), {"src/marshmallow", "tests"}


def run(step, *samples: Sample):
    parse = steps.TaskParse(schema_for)
    return Pipeline([parse, step] if not isinstance(step, steps.TaskParse) else [parse]).run(list(samples))


def filled(answer: dict, it: TaskItem | None = None) -> Sample:
    """A sample as the parse step leaves it, for answers the schema would have closed off
    (a model behind an endpoint that ignores the schema can still write them)."""
    s = sample(answer, it)
    s.fields.update(answer)
    return s


def direct(step, *samples: Sample):
    return Pipeline([step]).run(list(samples))


def reasons(result) -> list[str]:
    return [d.reason for d in result.drops]


def test_parse_keeps_schema_valid_json_and_fails_the_rest():
    bad_kind = {**GOOD, "task_kind": "chore"}  # not a task kind at all
    result = run(steps.TaskParse(schema_for), sample(GOOD), sample("not json {"), sample(bad_kind),
                 sample({k: v for k, v in GOOD.items() if k != "plan"}))
    assert len(result.accepted) == 1 and result.accepted[0].fields["target_files"] == ["src/marshmallow/fields.py"]
    assert reasons(result) == ["malformed_output", "schema_invalid", "schema_invalid"]
    assert {d.kind for d in result.drops} == {"failed"}


def test_files_must_be_seed_files_or_new_files_in_their_folders():
    new_in_folder = {**GOOD, "target_files": ["tests/test_timedelta.py"]}
    elsewhere = {**GOOD, "target_files": ["docs/conf.py"]}
    result = run(steps.FilesStep(allowed), sample(GOOD), sample(new_in_folder), sample(elsewhere))  # parse lets all three by
    assert len(result.accepted) == 2 and reasons(result) == ["implausible_files"]
    assert "docs/conf.py" in result.drops[0].detail


def test_expected_tools_come_from_the_seeds_vocabulary():
    result = run(steps.ToolsStep(), sample(GOOD), sample({**GOOD, "expected_tools": ["websearch"]}))
    assert len(result.accepted) == 1 and result.accepted[0].fields["plan_tools_known"]
    assert reasons(result) == ["unknown_tool"] and "sweagent" in result.drops[0].detail


def test_the_language_follows_the_files_and_must_be_one_of_the_candidates():
    mixed = {**GOOD, "target_files": ["tests/notes.md", "src/marshmallow/fields.py", "src/marshmallow/schema.py"]}
    perl = {**GOOD, "target_files": ["tests/run.pl"]}
    unknown = {**GOOD, "target_files": ["tests/LICENSE"]}
    result = direct(steps.LanguageStep(), filled(GOOD), filled(mixed), filled(perl), filled(unknown))
    assert [s.fields["language"] for s in result.accepted] == ["Python", "Python"]  # code before markup
    assert reasons(result) == ["language_mismatch", "language_unknown"]
    assert steps.language_of_files(["README.md", "docs/a.rst"]) == "Markdown"  # only markup: the first markup language
    assert steps.language_of_files(["a.ts", "b.tsx", "c.py"]) == "TypeScript"


def test_declared_kind_must_not_contradict_the_classifier():
    docs_words = {**GOOD, "prompt": "Document the TimeDelta field in the README and add a docstring explaining rounding"}
    no_keyword = {**GOOD, "prompt": "TimeDelta of 345 milliseconds comes out as 344 when serialized by the field"}
    result = run(steps.KindStep(), sample(GOOD), sample(docs_words), sample(no_keyword))
    assert [s.fields["kind_classified"] for s in result.accepted] == ["bugfix", "other"]
    assert reasons(result) == ["kind_mismatch"] and "docs" in result.drops[0].detail
    in_docs_folder = {**GOOD, "prompt": "Fix the broken anchor links in docs/layout.md and tests/test_links.py output"}
    assert direct(steps.KindStep(), filled(in_docs_folder)).accepted  # paths say where, not what kind
    assert steps.without_paths("see docs/a.md, setup.py and e.g. this.") == "see  ,   and e.g. this."


def test_a_copy_of_a_seed_task_is_dropped_even_when_cut_from_a_longer_text():
    seed_text = ("TimeDelta serialization precision Hi there! I just found quite strange behaviour of TimeDelta field "
                 "serialization: from marshmallow.fields import TimeDelta and td_field = TimeDelta(precision=milliseconds) "
                 "returns 344 for 345 milliseconds")
    seed = Seed(id="marshmallow-1867", format="sweagent", task=seed_text, kind="bugfix", repository="marshmallow-code/marshmallow",
                files_changed=FILES[:1], files_read=(), tools=TOOLS, languages=("Python",))
    copied = {**GOOD, "prompt": "Hi there! I just found quite strange behaviour of TimeDelta field serialization: fix it"}
    result = run(steps.SeedCopyStep([seed]), sample(GOOD), sample(copied))
    assert len(result.accepted) == 1 and reasons(result) == ["dup_seed"]
    assert "marshmallow-1867" in result.drops[0].detail
    assert result.accepted[0].fields["seed_overlap"] < 0.5


def test_a_plan_that_fails_its_checks_leaves_the_task_without_an_answer():
    off_target = {**GOOD, "plan": [{"tool": "bash", "target": "ls", "purpose": "look around"},
                                   {"tool": "submit", "target": "done", "purpose": "finish the task"}]}
    parse, tools, plan = steps.TaskParse(schema_for), steps.ToolsStep(), steps.PlanStep()
    result = Pipeline([parse, tools, plan]).run([sample(GOOD), sample(off_target)])
    assert [s.fields["plan_ok"] for s in result.accepted] == [True, False]  # kept, but no chat example
    assert plan.counters["no_answer"] == 1 and not result.drops


@pytest.mark.parametrize("path,ok", [("src/marshmallow/timedelta_utils.py", True), ("tests/test_td.py", True),
                                     ("src/other/x.py", False), ("src/marshmallow/Bad Name.py", False), ("tests/x.md", False)])
def test_new_file_names_are_bounded_to_the_candidate_folders(path, ok):
    import re

    assert bool(re.match(new_file_pattern(("src/marshmallow", "tests"), (".py",)), path)) is ok
