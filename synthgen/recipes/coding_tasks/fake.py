"""coding-tasks' fake answers: a task drawn from the item's own schema (its candidate files,
tools and languages), so the fake engine exercises every check. Knobs: ``bad_files_rate``
(a file no seed touched → implausible_files), ``copy_rate`` (the seed's own task →
dup_seed), ``kind_rate`` (a request whose words say another kind → kind_mismatch),
``defect_rates`` (``"prompt_cut=0.1,..."``: the share of answers whose prompt has that one
defect of ``quality.CHECKS``, chosen by (seed, request id), from an rng of its own)."""

from __future__ import annotations

import json
import posixpath
import random
from typing import Any

from synthgen.records import GenerationRequest

VERBS = {"feature": "Add", "bugfix": "Fix", "refactor": "Refactor", "test": "Write tests for", "docs": "Document",
         "spec": "Write a specification for"}
OBJECTS = ("the retry logic", "the config loader", "the parser's warnings", "the export command", "the cache layer",
           "the date handling", "the CLI flags", "the plugin registry", "the validation step", "the logging setup",
           "the rate limiter", "the schema migration", "the progress output", "the session store", "the search index")
DETAILS = ("so that empty input is handled", "for the case where the file is missing", "when two runs share a folder",
           "without changing the public API", "and keep the old behaviour behind a flag", "for very large inputs",
           "when the value is negative", "with a clear message", "so it works on Windows paths", "for unicode names")
OTHER_KIND = {"feature": "Fix the crash in", "bugfix": "Document", "refactor": "Add", "test": "Fix the bug in",
              "docs": "Fix the error in", "spec": "Fix the bug in"}


def fake_answer(req: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
    props = (req.json_schema or {}).get("properties", {})
    kind = props["task_kind"]["enum"][0]
    file_schema = props["target_files"]["items"]
    files = next((c["enum"] for c in file_schema.get("anyOf", [file_schema]) if "enum" in c), None) or ["new_module.py"]
    tools = props["expected_tools"]["items"]["enum"]
    targets = rng.sample(files, min(len(files), rng.randint(1, 2)))
    if rng.random() < float(knobs.get("bad_files_rate") or 0):
        targets = ["vendor/unrelated/never_touched.py"]
    verb = VERBS[kind] if rng.random() >= float(knobs.get("kind_rate") or 0) else OTHER_KIND[kind]
    prompt = f"{verb} {rng.choice(OBJECTS)} in {targets[0]} {rng.choice(DETAILS)} (case {rng.randint(0, 10**6)})."
    if rng.random() < float(knobs.get("copy_rate") or 0):
        prompt = _seed_task(req) or prompt
    used = rng.sample(tools, min(len(tools), rng.randint(1, 3)))
    plan = [{"tool": used[0], "target": targets[0], "purpose": f"read {targets[0]} to find where to change it"},
            {"tool": used[-1], "target": targets[-1], "purpose": "make the change and run the tests"}]
    answer = {"prompt": prompt[:400], "task_kind": kind, "target_files": targets, "expected_tools": used, "plan": plan}
    defect = seeded_defect(knobs, req.id)
    if defect is not None:
        answer["prompt"] = DEFECTS[defect](answer, random.Random(f"fake-defect:{knobs.get('seed', 0)}:{req.id}"))
    return json.dumps(answer)


def seeded_defect(knobs: dict[str, Any], request_id: str) -> str | None:
    """The prompt defect the answer to ``request_id`` carries (``defect_rates`` knob), if any."""
    from synthgen.backends.fake import parse_rates, seeded_pick
    from synthgen.recipes.coding_tasks.quality import CHECKS

    return seeded_pick(parse_rates(knobs.get("defect_rates"), CHECKS), knobs.get("seed", 0), request_id)


def _cut(answer: dict[str, Any], rng: random.Random) -> str:
    words = " ".join(rng.sample(FILLER, len(FILLER)) + rng.sample(FILLER, len(FILLER)))
    return (answer["prompt"] + " Also " + words)[:400]  # the schema's bound


def _looping(answer: dict[str, Any], rng: random.Random) -> str:
    return answer["prompt"][:-1] + ", " + ", ".join(["and then run it again"] * 4) + "."


def _verb(answer: dict[str, Any]) -> str:
    """The clean prompt's verb phrase, so the defect keeps the task's kind."""
    return next(v for v in sorted({*VERBS.values(), *OTHER_KIND.values()}, key=len, reverse=True) if answer["prompt"].startswith(v))


def _short(answer: dict[str, Any], rng: random.Random) -> str:
    return f"{_verb(answer)} this one in {posixpath.basename(answer['target_files'][0])} for me, please, if you can."


def _off_files(answer: dict[str, Any], rng: random.Random) -> str:
    return f"{_verb(answer)} the amber lagoon quartz gizmo behaviour (case {rng.randint(0, 10**6)})."


DEFECTS = {"prompt_cut": _cut, "prompt_repeated_ngrams": _looping, "prompt_too_short": _short, "prompt_off_files": _off_files}
# Distinct words no clean fake task uses, to pad a prompt to its bound without repeating an n-gram.
FILLER = ("amber basalt cobalt dune ember fjord garnet harbor indigo jasper kelp lagoon meadow nimbus onyx pebble quartz "
          "reef sierra tundra umber velvet willow zephyr acorn birch cedar dahlia elm fern ginger hazel iris juniper").split()


def _seed_task(req: GenerationRequest) -> str | None:
    """The first example task quoted in the prompt ("- <task>" lines)."""
    for line in req.messages[-1]["content"].splitlines():
        if line.startswith("- ") and len(line) > 40:
            return line[2:]
    return None
