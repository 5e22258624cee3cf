"""coding-tasks' quality checks on the task's own text, the same kind nl2dot runs on its
requests: a prompt the schema cut at its length bound, a prompt looping on itself, one too
short to be a task, one that has nothing to do with the files it targets.

The ``prompt`` step runs them after the seed-copy check (a copied seed task is ``dup_seed``,
the more telling reason, even when it also fits none of its files), in the order of ``CHECKS``, dropping at the first failure with the check's name as
its reason. Thresholds are the recipe option ``quality`` (``CodingTasksQuality``); the
option ``checks_off`` switches checks off by name. The plan's own checks (a purpose cut at
its bound, a step repeated) never drop: like the plan's other checks they leave the task
without a chat example (``steps.PlanStep``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import Field

from synthgen.config import ConfigBase
from synthgen.recipes import textcheck
from synthgen.records import Sample
from synthgen.steps.base import Step

CHECKS = ("prompt_cut", "prompt_repeated_ngrams", "prompt_too_short", "prompt_off_files")
# Words any coding task uses without saying what it is about.
CODE_META = frozenset("add fix change changes update make code file files task implement write new please".split())


class CodingTasksQuality(ConfigBase):
    """Thresholds of the prompt checks; each default is the value README documents."""

    ngram: int = Field(3, ge=2, le=8)  # the n of prompt_repeated_ngrams
    max_repeated_ngram_share: float = Field(0.1, ge=0, le=1)  # the prompt's word n-grams repeating an earlier one
    min_prompt_words: int = Field(4, ge=0)  # distinct content words a task needs
    min_shared_file_words: int = Field(1, ge=0)  # content words the prompt shares with its target files' paths


def prompt_cut(sample: Sample, q: CodingTasksQuality) -> str | None:
    from synthgen.recipes.coding_tasks.schema import PROMPT_CHARS

    return textcheck.cut_at_bound(sample.fields.get("prompt_raw", sample.fields["prompt"]), PROMPT_CHARS[1])


def prompt_repeated_ngrams(sample: Sample, q: CodingTasksQuality) -> str | None:
    share, gram = textcheck.repeated_ngram_share(sample.fields["prompt"], q.ngram)
    if share > q.max_repeated_ngram_share:
        return f"{share:.0%} of its word {q.ngram}-grams repeat (most: {gram!r}); at most {q.max_repeated_ngram_share:.0%}"
    return None


def prompt_too_short(sample: Sample, q: CodingTasksQuality) -> str | None:
    found = textcheck.content_words(sample.fields["prompt"], CODE_META)
    if len(found) < q.min_prompt_words:
        return f"{len(found)} content word(s) ({', '.join(sorted(found)) or 'none'}); a task needs at least {q.min_prompt_words}"
    return None


def path_words(path: str) -> str:
    """The words of a path: its folders and file name, camelCase split, the extension left out."""
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", path)
    return " ".join(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", stem))


def prompt_off_files(sample: Sample, q: CodingTasksQuality) -> str | None:
    files = sample.fields["target_files"]
    shown = textcheck.content_words(" ".join(path_words(f) for f in files), CODE_META)
    asked = textcheck.content_words(sample.fields["prompt"], CODE_META)
    shared = textcheck.shared_words(asked, shown)
    if len(shared) < q.min_shared_file_words:
        return (f"the prompt shares {len(shared)} word(s) with its target files ({', '.join(files)[:120]}), "
                f"at least {q.min_shared_file_words} needed")
    return None


FUNCS: dict[str, Callable[[Sample, CodingTasksQuality], str | None]] = {
    "prompt_cut": prompt_cut, "prompt_repeated_ngrams": prompt_repeated_ngrams, "prompt_too_short": prompt_too_short,
    "prompt_off_files": prompt_off_files,
}


def checks_off(value: str | list[str] | None) -> frozenset[str]:
    from synthgen.errors import ConfigError

    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value or []) if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ConfigError(f"recipe option 'checks_off': unknown check {unknown[0]!r}", hint=f"known checks: {', '.join(CHECKS)}")
    return frozenset(names)


class PromptStep(Step):
    """The prompt checks (``CHECKS``), each drop with its check's name as the reason."""

    name = "prompt"

    def __init__(self, quality: CodingTasksQuality, off: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self._q = quality
        self._checks = [(name, fn) for name, fn in FUNCS.items() if name not in off]

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            failed = next(((name, why) for name, fn in self._checks if (why := fn(sample, self._q))), None)
            if failed:
                self.drop(sample, *failed)
            else:
                kept.append(sample)
        return kept


def plan_flaw(plan: list[dict[str, Any]]) -> str | None:
    """Why a plan is no answer on its own terms: a purpose that fills its bound (cut there), or
    a step repeated exactly. None: no such flaw."""
    from synthgen.recipes.coding_tasks.schema import PURPOSE_CHARS

    if any(len(step.get("purpose", "")) >= PURPOSE_CHARS[1] for step in plan):
        return "plan_cut"
    keys = [(s.get("tool"), s.get("target"), " ".join(str(s.get("purpose", "")).split()).lower()) for s in plan]
    if len(set(keys)) < len(keys):
        return "plan_repeated"
    return None
