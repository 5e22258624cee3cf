"""coding-tasks' checks, each a step with its reason codes.

parse (``malformed_output``, ``schema_invalid``) → files (``implausible_files``) → tools
(``unknown_tool``) → language (``language_mismatch``, ``language_unknown``) → kind (``kind_mismatch``) → seed
copy (``dup_seed``) → prompt (``prompt_cut``, ``prompt_repeated_ngrams``, ``prompt_too_short``,
``prompt_off_files``: ``quality.py``) → plan (never drops: an answer that fails its checks leaves the task
without a chat example) → measure (the cell and dedup keys for the generic steps).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import defaultdict
from typing import Any

from synthgen.recipes.coding_tasks.quality import plan_flaw
from synthgen.records import DedupKeys, Sample
from synthgen.steps.base import ParseStep, Step

_WORD = re.compile(r"[a-z0-9]+")
COPY_CONTAINMENT = 0.5  # a task whose word 3-shingles are half inside one seed's is a copy


class TaskParse(ParseStep):
    """The completion → the task's fields, if it is JSON that follows the item's schema."""

    def __init__(self, schema_for: Any) -> None:
        super().__init__()
        self._schema_for = schema_for

    def parse(self, sample: Sample) -> bool:
        data, problem = read_task(sample.completion.text, self._schema_for(sample.item))
        if problem is not None:
            self.drop(sample, *problem, kind="failed")
            return False
        sample.fields.update(
            prompt=" ".join(data["prompt"].split()), prompt_raw=data["prompt"], task_kind=data["task_kind"], target_files=list(dict.fromkeys(data["target_files"])),
            expected_tools=list(dict.fromkeys(data["expected_tools"])), plan=data["plan"],
        )
        return True


def read_task(text: str, schema: dict[str, Any]) -> tuple[Any, tuple[str, str] | None]:
    """The task's JSON, or ``(reason, detail)``: ``malformed_output`` (not JSON) or
    ``schema_invalid`` (the schema's first error, where and what); the repair step sends
    the detail back to the model."""
    import jsonschema

    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, ("malformed_output", f"not JSON: {exc}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        return None, ("schema_invalid", f"{where}: {error.message}"[:300])
    return data, None


class FilesStep(Step):
    """Target files a real task could name: for trace-seeded and augmented tasks, files the
    repository's seed traces touched or new files in their folders; for schema-driven ones,
    files of the checkout or new files in its folders."""

    name = "files"

    def __init__(self, allowed: Any) -> None:
        super().__init__()
        self._allowed = allowed  # item -> (files, folders)

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            files, folders = self._allowed(sample.item)
            bad = [f for f in sample.fields["target_files"] if f not in files and posixpath.dirname(f) not in folders]
            if bad:
                self.drop(sample, "implausible_files", f"not touched by the seeds nor in their folders: {', '.join(bad)[:200]}")
            else:
                kept.append(sample)
        return kept


class ToolsStep(Step):
    name = "tools"

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            vocabulary = set(sample.item.tools)
            used = sample.fields["expected_tools"] + [step["tool"] for step in sample.fields["plan"]]
            unknown = sorted({t for t in sample.fields["expected_tools"] if t not in vocabulary})
            if unknown:
                self.drop(sample, "unknown_tool", f"{', '.join(unknown)} not among the {sample.item.seed_format} tools")
            else:
                sample.fields["plan_tools_known"] = all(t in vocabulary for t in used)
                kept.append(sample)
        return kept


def language_of_files(files: list[str]) -> str | None:
    """The task's language: the most common code language of its files (markup only when
    there is no code), ties to the first file's."""
    from collections import Counter

    from synthgen.traces.paths import MARKUP, language_of

    langs = [lang for f in files if (lang := language_of(f))]
    code = [lang for lang in langs if lang not in MARKUP] or langs
    return Counter(code).most_common(1)[0][0] if code else None


class LanguageStep(Step):
    """The language follows from the target files; it must be one the item's candidates are
    in (``language_mismatch``: e.g. Perl files for a Python repository's task), and a task
    whose files have no known language is ``language_unknown``."""

    name = "language"

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            language = language_of_files(sample.fields["target_files"])
            if language is None:
                self.drop(sample, "language_unknown", f"no known language for {', '.join(sample.fields['target_files'])[:200]}")
            elif language not in sample.item.languages:
                self.drop(sample, "language_mismatch", f"{language} files, the seeds' files are in {', '.join(sample.item.languages)}")
            else:
                sample.fields["language"] = language
                kept.append(sample)
        return kept


def without_paths(text: str) -> str:
    """The words of a request without the file paths in it: ``docs/layout.md`` or
    ``tests/test_io.py`` name where a change goes, not what kind of change it is."""
    from synthgen.traces.paths import LANGUAGES

    exts = "|".join(sorted((e.lstrip(".") for e in LANGUAGES), key=len, reverse=True))
    return re.sub(rf"[\w.-]*/[\w./-]*|\b[\w-]+\.(?:{exts})\b", " ", text)


class KindStep(Step):
    """The declared kind must not contradict the classifier the seeds were sorted with, read
    on the request's words without its file paths (a classifier that finds no kind keyword
    at all says nothing)."""

    name = "kind"

    def process(self, batch: list[Sample]) -> list[Sample]:
        from synthgen.traces.classify import classify_task

        kept = []
        for sample in batch:
            found = classify_task(without_paths(sample.fields["prompt"]))
            sample.fields["kind_classified"] = found
            if found not in (sample.fields["task_kind"], "other"):
                self.drop(sample, "kind_mismatch", f"declared {sample.fields['task_kind']}, the classifier reads {found}")
            else:
                kept.append(sample)
        return kept


def shingles(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))} if words else set()


class SeedCopyStep(Step):
    """No copy of a seed task: the share of a task's word 3-shingles found in one seed's task
    (containment, not Jaccard: a task copied from part of a long issue is still a copy)."""

    name = "seed_copy"

    def __init__(self, seeds: list[Any], threshold: float = COPY_CONTAINMENT) -> None:
        super().__init__()
        self.threshold = threshold
        self._index: dict[str, list[int]] = defaultdict(list)
        self._ids = [s.id for s in seeds]
        for n, seed in enumerate(seeds):
            for sh in shingles(seed.task):
                self._index[sh].append(n)

    def nearest(self, text: str) -> tuple[float, str | None]:
        mine = shingles(text)
        if not mine:
            return 0.0, None
        hits: dict[int, int] = defaultdict(int)
        for sh in mine:
            for n in self._index.get(sh, ()):
                hits[n] += 1
        if not hits:
            return 0.0, None
        best = max(hits, key=lambda n: (hits[n], -n))
        return hits[best] / len(mine), self._ids[best]

    def process(self, batch: list[Sample]) -> list[Sample]:
        kept = []
        for sample in batch:
            share, seed_id = self.nearest(sample.fields["prompt"])
            sample.fields["seed_overlap"] = round(share, 3)
            if share >= self.threshold:
                self.drop(sample, "dup_seed", f"{share:.0%} of its word 3-shingles are in seed {seed_id}")
            else:
                kept.append(sample)
        return kept


class PlanStep(Step):
    """The generated answer (an ordered plan of tool calls) is a chat example only when it
    holds up: known tools, and at least one step on a target file. Otherwise the task is kept
    with ``plan: null`` (``plan_ok`` false), and export leaves it out of the chat examples:
    no answer is made up for it. A plan with a purpose cut at its bound or a step repeated
    exactly (``quality.plan_flaw``) is no answer either (counted ``no_answer_<flaw>``)."""

    name = "plan"

    def process(self, batch: list[Sample]) -> list[Sample]:
        for sample in batch:
            f = sample.fields
            targets = set(f["target_files"])
            on_target = any(any(t in step["target"] for t in targets) for step in f["plan"])
            flaw = plan_flaw(f["plan"])
            f["plan_ok"] = bool(f.get("plan_tools_known")) and on_target and flaw is None
            if not f["plan_ok"]:
                self.counters["no_answer"] += 1
            if flaw is not None:
                self.counters[f"no_answer_{flaw}"] += 1
        return batch


class MeasureStep(Step):
    name = "measure"

    def process(self, batch: list[Sample]) -> list[Sample]:
        for sample in batch:
            sample.cell = (sample.item.repository, sample.fields["task_kind"])
            sample.keys = keys_for(sample.fields["prompt"], sample.fields["target_files"], sample.fields["expected_tools"])
        return batch


def keys_for(prompt: str, target_files: list[str], tools: list[str]) -> DedupKeys:
    return DedupKeys(text=prompt, body=" ".join([*target_files, *tools]))
