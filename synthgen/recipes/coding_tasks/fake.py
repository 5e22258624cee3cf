"""coding-tasks' fake answers: a task drawn from the item's own schema (its candidate files,
tools and languages), so the fake engine exercises every check. Knobs: ``bad_files_rate``
(a file no seed touched → implausible_files), ``copy_rate`` (the seed's own task →
dup_seed), ``kind_rate`` (a request whose words say another kind → kind_mismatch)."""

from __future__ import annotations

import json
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
    return json.dumps(answer)


def _seed_task(req: GenerationRequest) -> str | None:
    """The first example task quoted in the prompt ("- <task>" lines)."""
    for line in req.messages[-1]["content"].splitlines():
        if line.startswith("- ") and len(line) > 40:
            return line[2:]
    return None
