"""coding-tasks behind the recipe interface: new coding tasks seeded from real agent traces.

Cells are (repository, task kind), by default in the seeds' proportions; the output is
JSON under a per-item schema (``schema.task_schema``) holding the task and the generated
plan of tool calls that answers it. Strategies: ``trace_seeded`` (from the patterns of the
cell's seed traces), ``augmented`` (a variation of one real seed task: same kind and file
area, other specifics), ``schema_driven`` (from a checkout's structure, ``--repo-dir``).
"""

from __future__ import annotations

import hashlib
import json
import math
import posixpath
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from synthgen.apportion import largest_remainder
from synthgen.config import ConfigBase
from synthgen.errors import ConfigError
from synthgen.recipes.base import Recipe, RecipeFlag
from synthgen.recipes.coding_tasks.quality import CodingTasksQuality, checks_off
from synthgen.records import Cell, DedupKeys, GenerationRequest, Sample, SamplingSettings
from synthgen.steps.base import Step

TASK_TYPE = "CODING_TASK"
PRESETS = {"quick_test": 100, "balanced": 500, "production": 2000}


class CodingTasksOptions(ConfigBase):
    traces: list[Path] = Field(default_factory=list)  # trace files or folders (the seeds)
    strategy: Literal["trace_seeded", "augmented", "schema_driven"] = "trace_seeded"
    preset: Literal["quick_test", "balanced", "production", "custom"] | None = None
    repo_dir: Path | None = None  # a checkout (schema_driven)
    cells: dict[str, float] | None = None  # "repository/kind": weight; default: the seeds' proportions
    repositories: list[str] | None = None  # only the seeds of these repositories (as `traces inspect` names them)
    quality: CodingTasksQuality = Field(default_factory=CodingTasksQuality)  # the prompt checks' thresholds
    checks_off: str | list[str] | None = None  # prompt checks switched off: a comma list or a list of names

    @field_validator("traces", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | Path) else value


@dataclass(slots=True)
class Context:
    """What the planner and the checks share, built once from the options."""

    strategy: str
    seeds: list[Any]
    prompts: Any
    vocabulary: dict[str, tuple[str, ...]]
    main_format: str
    repo: Any = None
    cell_seeds: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    kind_seeds: dict[str, list[Any]] = field(default_factory=dict)
    repo_files: dict[str, tuple[str, ...]] = field(default_factory=dict)


class CodingTasksRecipe(Recipe):
    """New coding tasks seeded from real coding-agent traces, with a generated plan of tool calls."""

    name = "coding-tasks"
    Options = CodingTasksOptions
    cell_names = ("repository", "kind")
    cli_flags: ClassVar[tuple[RecipeFlag, ...]] = (
        RecipeFlag("traces", "--traces", "coding-tasks: agent trace files or a folder of them (the seeds).", "SYNTHGEN_TRACES", Path),
        RecipeFlag("strategy", "--strategy", "coding-tasks: trace_seeded, augmented or schema_driven.", "SYNTHGEN_STRATEGY"),
        RecipeFlag("preset", "--preset", "coding-tasks: quick_test (100), balanced (500), production (2,000) or custom (--count).",
                   "SYNTHGEN_PRESET"),
        RecipeFlag("repo_dir", "--repo-dir", "coding-tasks: a repository checkout (schema_driven).", "SYNTHGEN_REPO_DIR", Path),
        RecipeFlag("checks_off", "--checks-off", "Quality checks to switch off, a comma list (README: Quality checks).",
                   "SYNTHGEN_CHECKS_OFF"),
    )

    def __init__(self, options: CodingTasksOptions) -> None:
        from synthgen.recipes.coding_tasks.prompts import load_prompts
        from synthgen.recipes.coding_tasks.seeds import require_seeds, tool_vocabulary

        super().__init__(options)
        if options.strategy == "schema_driven" and options.repo_dir is None:
            raise ConfigError("--strategy schema_driven needs --repo-dir", hint="give the path of a repository checkout")
        seeds = require_seeds(options.traces)
        if options.repositories is not None:
            seeds = _of_repositories(seeds, options.repositories)
        vocabulary = tool_vocabulary(seeds)
        if not vocabulary:
            raise ConfigError("the seed traces hold no tool call", hint="give traces of agents that used tools")
        formats = Counter(s.format for s in seeds if s.format in vocabulary)
        self.context = Context(options.strategy, seeds, load_prompts(), vocabulary, formats.most_common(1)[0][0])
        ctx = self.context
        for s in seeds:
            ctx.cell_seeds.setdefault((s.repository, s.kind), []).append(s)
            ctx.kind_seeds.setdefault(s.kind, []).append(s)
        for repository, group in _by_repo(seeds).items():
            ctx.repo_files[repository] = tuple(dict.fromkeys(f for s in group for f in s.files))
        if options.repo_dir is not None:
            from synthgen.recipes.coding_tasks.repo import snapshot

            ctx.repo = snapshot(options.repo_dir)
        self.weights = self._weights()
        self.checks_off = checks_off(options.checks_off)

    @classmethod
    def default_count(cls, options: dict[str, Any]) -> int | None:
        return PRESETS.get(str(options.get("preset") or ""))

    def seed_count(self) -> int | None:
        return len(self.context.seeds)

    # -- what to generate ------------------------------------------------------------------

    @property
    def version(self) -> str:
        return self.context.prompts.version

    def _weights(self) -> dict[Cell, float]:
        from synthgen.recipes.coding_tasks.seeds import KINDS, seed_weights

        if self.options.cells:
            weights: dict[Cell, float] = {}
            for key, weight in self.options.cells.items():
                repository, sep, kind = key.rpartition("/")
                if not sep or kind not in KINDS or weight < 0:
                    raise ConfigError(f"recipe option 'cells': {key!r}: {weight!r}",
                                      hint=f"write 'repository/kind': weight, kind one of {', '.join(KINDS)}")
                weights[(repository, kind)] = float(weight)
        elif self.context.repo is not None and self.options.strategy == "schema_driven":
            kinds = Counter(s.kind for s in self.context.seeds)
            weights = {(self.context.repo.name, k): float(n) for k, n in kinds.items()}
        else:
            weights = {cell: float(n) for cell, n in seed_weights(self.context.seeds).items()}
        if not weights or sum(weights.values()) <= 0:
            raise ConfigError("recipe option 'cells': no cell has a positive weight")
        return dict(sorted(weights.items()))

    def fingerprint(self) -> dict[str, Any]:
        from synthgen.recipes.coding_tasks.seeds import seeds_digest

        ctx = self.context
        prompts = json.dumps(ctx.prompts.model_dump(), sort_keys=True)
        repo = sorted(ctx.repo.files) if ctx.repo is not None else None
        return {"coding_tasks": {
            "strategy": self.options.strategy, "seeds": seeds_digest(ctx.seeds),
            "prompts": "sha256:" + hashlib.sha256(prompts.encode()).hexdigest(),
            "repo": "sha256:" + hashlib.sha256(json.dumps(repo).encode()).hexdigest() if repo else None,
            "cells": {"/".join(c): w for c, w in self.weights.items()},
            **self._quality_fingerprint(),
        }}

    def _quality_fingerprint(self) -> dict[str, Any]:
        """The prompt checks' settings, only where not the defaults: folders from before the
        checks still resume."""
        changed = self.options.quality.model_dump(exclude_defaults=True)
        return {**({"quality": changed} if changed else {}), **({"checks_off": sorted(self.checks_off)} if self.checks_off else {})}

    def targets(self, count: int) -> dict[Cell, int]:
        cells = list(self.weights)
        total = sum(self.weights.values())
        return dict(zip(cells, largest_remainder(count, [self.weights[c] / total for c in cells])))

    def describe(self, count: int) -> list[str]:
        seeds = self.context.seeds
        formats = Counter(s.format for s in seeds)
        multiplier = max(1, math.ceil(count / len(seeds)))
        lines = [f"seeds: {len(seeds)} traces ({', '.join(f'{f} {n}' for f, n in formats.most_common())}); "
                 f"strategy {self.options.strategy}; multiplier {multiplier} (tasks per seed trace: ceil({count} / {len(seeds)}))"]
        if self.context.repo is not None:
            repo = self.context.repo
            lines.append(f"repository {repo.name}: {len(repo.files)} files, {', '.join(repo.languages[:4])}")
        return lines

    def planner(self, seed: int, *, start_index: int = 0) -> Any:
        from synthgen.recipes.coding_tasks.plan import Planner

        return Planner(self.context, seed, start_index=start_index)

    def schema_for(self, item: Any) -> dict[str, Any]:
        from synthgen.recipes.coding_tasks.schema import new_file_pattern, task_schema

        return task_schema(item.kind, item.files, new_file_pattern(item.folders, item.extensions), item.tools)

    def parse_schema_for(self, item: Any) -> dict[str, Any]:
        from synthgen.recipes.coding_tasks.schema import structural
        from synthgen.recipes.coding_tasks.seeds import KINDS

        return structural(self.schema_for(item), KINDS)

    def request_for(self, item: Any, *, temperature: float, seeded: bool) -> GenerationRequest:
        from synthgen.recipes.coding_tasks.schema import max_tokens_for

        sampling = SamplingSettings(temperature=temperature, max_tokens=max_tokens_for(item.files, item.tools))
        return GenerationRequest(item.id, item.messages, sampling, seed=item.seed if seeded else None,
                                 json_schema=self.schema_for(item))

    # -- reading completions back -------------------------------------------------------------

    def check_steps(self) -> list[Step]:
        from synthgen.recipes.coding_tasks import steps
        from synthgen.recipes.coding_tasks.quality import PromptStep

        return [steps.TaskParse(self.parse_schema_for), steps.FilesStep(self.allowed_files), steps.ToolsStep(), steps.LanguageStep(),
                steps.KindStep(), steps.SeedCopyStep(self.context.seeds), PromptStep(self.options.quality, self.checks_off),
                steps.PlanStep(), steps.MeasureStep()]

    def repair_problems(self, samples: Sequence[Sample]) -> list[str | None]:
        """Output that is not JSON or breaks the item's schema (the parse step's message)."""
        from synthgen.recipes.coding_tasks.steps import read_task

        out: list[str | None] = []
        for sample in samples:
            _, problem = read_task(sample.completion.text, self.parse_schema_for(sample.item))
            out.append(None if problem is None else problem[1])
        return out

    def allowed_files(self, item: Any) -> tuple[set[str], set[str]]:
        """Files a task may name, and folders a new file may go in."""
        repo = self.context.repo
        if item.strategy == "schema_driven" and repo is not None:
            return set(repo.files), set(repo.folders)
        files = set(self.context.repo_files.get(item.repository, ())) | set(item.files)
        return files, {posixpath.dirname(f) for f in files} | set(item.folders)

    @classmethod
    def cell_of(cls, record: dict[str, Any]) -> Cell:
        return (record["repository"], record["task_kind"])

    @classmethod
    def keys_of(cls, record: dict[str, Any]) -> DedupKeys:
        from synthgen.recipes.coding_tasks.steps import keys_for

        return keys_for(record["prompt"], record["target_files"], record["expected_tools"])

    # -- the record -------------------------------------------------------------------------

    def record_fields(self, sample: Sample) -> dict[str, Any]:
        item, f = sample.item, sample.fields
        return {
            "task_type": TASK_TYPE,
            "prompt": f["prompt"],
            "task_kind": f["task_kind"],
            "target_files": f["target_files"],
            "expected_tools": f["expected_tools"],
            "language": f["language"],
            "repository": item.repository,
            "strategy": item.strategy,
            "seed_trace_ids": list(item.seed_ids),
            "source_pattern": item.source_pattern,
            "tool_format": item.seed_format,
            "plan": f["plan"] if f.get("plan_ok") else None,
            "kind_classified": f.get("kind_classified"),
            "seed_overlap": f.get("seed_overlap"),
        }

    def validation_fields(self, sample: Sample) -> dict[str, Any]:
        return {"schema": True, "plan_ok": bool(sample.fields.get("plan_ok"))}

    def failed_fields(self, item: Any) -> dict[str, Any]:
        return {"repository": item.repository, "kind_requested": item.kind, "strategy": item.strategy,
                "seed_trace_ids": list(item.seed_ids)}

    def rejected_fields(self, sample: Sample) -> dict[str, Any]:
        f = sample.fields
        keep = ("prompt", "task_kind", "target_files", "expected_tools", "language", "plan", "kind_classified", "seed_overlap")
        return {**self.failed_fields(sample.item), **{k: f[k] for k in keep if k in f}}

    # -- hooks --------------------------------------------------------------------------------

    def judge_messages(self, sample: Sample) -> list[dict[str, str]]:
        f = sample.fields
        return _judge_messages(sample.item.repository, f["prompt"], f["target_files"])

    @classmethod
    def judge_messages_of(cls, record: dict[str, Any]) -> list[dict[str, str]] | None:
        repository, prompt, files = record.get("repository"), record.get("prompt"), record.get("target_files")
        if not (isinstance(repository, str) and isinstance(prompt, str) and prompt and isinstance(files, list)):
            return None
        return _judge_messages(repository, prompt, [str(f) for f in files])

    @classmethod
    def chat_turns(cls, record: dict[str, Any]) -> list[dict[str, str]] | None:
        """The task → its generated plan; a task whose plan failed its checks is no chat example."""
        plan = record.get("plan")
        if not plan:
            return None
        steps = "\n".join(f"{n}. {s['tool']} {s['target']}: {s['purpose']}" for n, s in enumerate(plan, 1))
        system = f"You are a coding agent working in the {record['repository']} repository. Plan your tool calls, then make them."
        return [{"role": "system", "content": system}, {"role": "user", "content": record["prompt"]},
                {"role": "assistant", "content": steps}]

    @classmethod
    def preview_html(cls, record: dict[str, Any]) -> str | None:
        """The task as an escaped block: prompt, kind, language, target files, tools and the plan."""
        from html import escape

        def esc(value: Any) -> str:
            return escape("" if value is None else str(value), quote=True)

        def codes(values: Any) -> str:
            return ", ".join(f"<code>{esc(v)}</code>" for v in values or []) or "–"

        plan = record.get("plan")
        if plan:
            steps = "".join(f"<li><code>{esc(s.get('tool'))}</code> <code>{esc(s.get('target'))}</code>: {esc(s.get('purpose'))}</li>"
                            if isinstance(s, dict) else f"<li>{esc(s)}</li>" for s in plan)
            plan_html = f'<ol class="plan">{steps}</ol>'
        else:
            plan_html = '<p class="muted">no plan (it failed its checks: no chat example)</p>'
        return (f'<div class="task"><p>{esc(record.get("prompt"))}</p><dl>'
                f'<dt>kind</dt><dd>{esc(record.get("task_kind"))}</dd><dt>language</dt><dd>{esc(record.get("language"))}</dd>'
                f'<dt>target files</dt><dd>{codes(record.get("target_files"))}</dd>'
                f'<dt>tools</dt><dd>{codes(record.get("expected_tools"))}</dd></dl>{plan_html}</div>')

    def fake_answer(self, request: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
        from synthgen.recipes.coding_tasks.fake import fake_answer

        return fake_answer(request, rng, knobs)


def _by_repo(seeds: list[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for s in seeds:
        groups.setdefault(s.repository, []).append(s)
    return groups


def _judge_messages(repository: str, prompt: str, target_files: list[str]) -> list[dict[str, str]]:
    user = (f"Task for a coding agent in the {repository} repository:\n{prompt}\n\n"
            f"Target files: {', '.join(target_files)}\n\n"
            "Is this a realistic, specific coding task a developer could give an agent? Answer yes or no.")
    system = "You review datasets of coding tasks for coding agents. Answer with one word: yes or no."
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _of_repositories(seeds: list[Any], names: list[str]) -> list[Any]:
    """The seeds of the named repositories; a name no seed has is an error listing those there are."""
    known = sorted({s.repository for s in seeds})
    missing = [n for n in names if n not in known]
    if missing or not names:
        shown = ", ".join(known[:20]) + (f" (+{len(known) - 20} more)" if len(known) > 20 else "")
        raise ConfigError(f"recipe option 'repositories': {', '.join(map(repr, missing)) or 'an empty list'} "
                          f"{'is' if len(missing) == 1 else 'are'} not among the seeds' repositories",
                          hint=f"the seeds' repositories: {shown}")
    wanted = set(names)
    return [s for s in seeds if s.repository in wanted]
