"""The JSON schema a generated task is constrained to, per plan item.

Everything that can be closed is closed by the schema, so a small model's output lands in
its cell and names plausible files by construction (the checks still verify): the task
kind is the one planned, target files are the item's candidate files or new files (a
bounded name) in its candidate folders, tools come from the seeds' vocabulary, the
language from the candidate files'. Strings are bounded, so the longest output fits in
``max_tokens`` (a cut-off JSON object is a failure however it was constrained).
"""

from __future__ import annotations

import math
import re
from typing import Any

PROMPT_CHARS = (40, 400)
PURPOSE_CHARS = (5, 100)
TARGET_CHARS = 100
MAX_FILES, MAX_TOOLS, PLAN_STEPS = 4, 5, (2, 5)
NEW_FILE_STEM = "[a-z][a-z0-9_]{2,24}"
CHARS_PER_TOKEN = 2.0  # JSON punctuation and paths tokenize short; measured 2.4-3 on SmolLM2 outputs


def new_file_pattern(folders: tuple[str, ...], extensions: tuple[str, ...]) -> str | None:
    """A regex for a new file in one of ``folders`` with one of ``extensions``."""
    if not folders or not extensions:
        return None
    where = "|".join(re.escape(f + "/") if f else "" for f in sorted(set(folders)))
    exts = "|".join(re.escape(e.lstrip(".")) for e in sorted(set(extensions)))
    return f"^(?:{where}){NEW_FILE_STEM}\\.(?:{exts})$"


def task_schema(kind: str, files: tuple[str, ...], new_pattern: str | None, tools: tuple[str, ...]) -> dict[str, Any]:
    """The task and its plan. No ``language`` field: it follows from the target files (a
    model asked for both picks them apart; seen here: 7 of 12 SmolLM2 tasks said Python for
    JavaScript files), and the language step derives and checks it."""
    choices: list[dict[str, Any]] = []
    if files:
        choices.append({"enum": list(files)})
    if new_pattern:
        choices.append({"type": "string", "pattern": new_pattern})
    file_item = choices[0] if len(choices) == 1 else {"anyOf": choices}
    tool = {"enum": list(tools)}
    step = {
        "type": "object",
        "properties": {
            "tool": tool,
            "target": {"type": "string", "minLength": 1, "maxLength": TARGET_CHARS},
            "purpose": {"type": "string", "minLength": PURPOSE_CHARS[0], "maxLength": PURPOSE_CHARS[1]},
        },
        "required": ["tool", "target", "purpose"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "minLength": PROMPT_CHARS[0], "maxLength": PROMPT_CHARS[1]},
            "task_kind": {"enum": [kind]},
            "target_files": {"type": "array", "items": file_item, "minItems": 1, "maxItems": MAX_FILES},
            "expected_tools": {"type": "array", "items": tool, "minItems": 1, "maxItems": MAX_TOOLS},
            "plan": {"type": "array", "items": step, "minItems": PLAN_STEPS[0], "maxItems": PLAN_STEPS[1]},
        },
        "required": ["prompt", "task_kind", "target_files", "expected_tools", "plan"],
        "additionalProperties": False,
    }


def structural(schema: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
    """The schema without its closed choices (files, tools, the planned kind): what the parse
    step checks, so a task naming an unknown file or tool (an endpoint that ignored the
    schema) is dropped by the check that names that defect, not as "schema_invalid"."""
    import copy

    loose = copy.deepcopy(schema)
    props = loose["properties"]
    name = {"type": "string", "minLength": 1, "maxLength": 200}
    props["task_kind"] = {"enum": list(kinds)}
    props["target_files"]["items"] = name
    props["expected_tools"]["items"] = name
    props["plan"]["items"]["properties"]["tool"] = name
    return loose


def max_tokens_for(files: tuple[str, ...], tools: tuple[str, ...]) -> int:
    """The longest output the schema allows, in tokens at ``CHARS_PER_TOKEN``, rounded up to 64."""
    longest_file = max([len(f) for f in files] + [60])
    longest_tool = max([len(t) for t in tools] + [8])
    chars = 120  # keys, braces, quotes
    chars += PROMPT_CHARS[1] * 1.1  # escapes
    chars += MAX_FILES * (longest_file + 4) + MAX_TOOLS * (longest_tool + 4)
    chars += PLAN_STEPS[1] * (50 + longest_tool + TARGET_CHARS * 1.1 + PURPOSE_CHARS[1] * 1.1)
    return 64 * math.ceil(chars / CHARS_PER_TOKEN / 64)
