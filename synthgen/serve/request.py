"""What a job asks for (``POST /api/jobs``) and the ``synthgen`` command line it becomes.

The request is checked by the same code the CLI runs: the recipe's own ``Options`` model (a
typo names its field), the recipe built from them (unknown domains, missing traces), the run
bounds of ``synthgen generate``. The seed plan's request fields map onto those options:
``target_examples`` is ``count``; ``preset`` picks a count (quick_test 100, balanced 500,
production 2,000) and, for a recipe with a ``preset`` option, sets it; ``multiplier`` is tasks
per seed trace (count = multiplier x seeds); ``strategy`` and ``selected_repos`` are the
recipe's ``strategy`` and ``repositories`` options; ``provider`` runs the job on that
endpoint (``synthgen api``); ``merge_mode`` ``merged`` puts the job's records into one
export with every other merged job of its recipe.

A request names no file of the server: a recipe option that is a path is a relative path
under the server's ``--data-dir`` (refused without one), and the run folder is named, not
placed (``name``: letters, digits, ``.``, ``_``, ``-``).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from synthgen.errors import ConfigError

PRESET_COUNTS = {"quick_test": 100, "balanced": 500, "production": 2000}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_OPTIONS_BYTES = 16_384


class JobRequest(BaseModel):
    """One generation job. Every field but the recipe's options has a bound."""

    model_config = ConfigDict(extra="forbid")

    recipe: str = Field("nl2dot", max_length=64, description="A registered recipe (GET /api/recipes).")
    model: str = Field("smollm2-135m", max_length=200, description="A registry alias (GET /api/models), or the model's name at `provider`.")
    provider: str | None = Field(None, max_length=40, description="Run on this OpenAI-compatible endpoint (nim, openai, gemini, ...); its key comes from the server's environment.")
    count: int | None = Field(None, ge=1, description="Accepted examples to produce.")
    target_examples: int | None = Field(None, ge=1, description="The same as count (the seed plan's name).")
    preset: Literal["quick_test", "balanced", "production", "custom"] | None = Field(
        None, description="quick_test 100, balanced 500, production 2,000 examples; custom: give count.")
    multiplier: int | None = Field(None, ge=1, le=1000, description="Tasks per seed trace (recipes with seeds): count = multiplier x seeds.")
    strategy: str | None = Field(None, max_length=40, description="coding-tasks: trace_seeded, augmented or schema_driven.")
    selected_repos: list[str] | None = Field(None, max_length=200, description="coding-tasks: draw seeds from these repositories only.")
    merge_mode: Literal["separate", "merged"] = Field("separate", description="merged: one export with every other merged job of the recipe.")
    recipe_options: dict[str, Any] = Field(default_factory=dict, description="The recipe's own options, as in --recipe-config.")
    name: str | None = Field(None, max_length=64, description="The run folder's name under the server's runs/ (default: the job's id).")
    seed: int = Field(0, ge=0, le=2**63 - 1)
    batch_size: int | None = Field(None, ge=1, le=4096)
    max_candidates: int | None = Field(None, ge=1)
    max_gpu_hours: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_cost: float | None = Field(None, gt=0, allow_inf_nan=False)
    validate_semantics: bool = False
    judge_model: str | None = Field(None, max_length=200)


class ResumeRequest(BaseModel):
    """Budgets may change on resume; everything that decides the records may not."""

    model_config = ConfigDict(extra="forbid")

    max_gpu_hours: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_cost: float | None = Field(None, gt=0, allow_inf_nan=False)
    max_candidates: int | None = Field(None, ge=1)


def _is_path(annotation: Any) -> bool:
    if annotation is Path:
        return True
    return any(_is_path(a) for a in get_args(annotation)) if get_origin(annotation) is not None else False


def confine(value: Any, data_dir: Path | None, option: str) -> Any:
    """A request's path option as a path under ``data_dir``: relative, no ``..``, and still
    inside once symlinks are resolved."""
    if isinstance(value, list):
        return [confine(v, data_dir, option) for v in value]
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"recipe option {option!r}: expected a relative path, got {type(value).__name__}")
    if data_dir is None:
        raise ConfigError(f"recipe option {option!r} names a file, and this server takes none",
                          hint="start synthgen serve with --data-dir DIR and name paths inside it")
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or "\\" in value or "\x00" in value:
        raise ConfigError(f"recipe option {option!r}: {value!r} must be a relative path inside the server's data folder")
    root = data_dir.resolve()
    path = (root / pure).resolve()
    if path != root and root not in path.parents:
        raise ConfigError(f"recipe option {option!r}: {value!r} leads outside the server's data folder")
    return str(path)


def recipe_options(job: JobRequest, data_dir: Path | None) -> dict[str, Any]:
    """The recipe's options from the request: its own, then the seed plan's fields mapped on."""
    import json

    from synthgen.recipes import RECIPES, recipe_class

    if job.recipe not in RECIPES:
        from synthgen.errors import UnknownNameError

        raise UnknownNameError("recipe", job.recipe, sorted(RECIPES))
    if len(json.dumps(job.recipe_options, default=str)) > MAX_OPTIONS_BYTES:
        raise ConfigError(f"recipe_options: more than {MAX_OPTIONS_BYTES:,} bytes")
    cls = recipe_class(job.recipe)
    fields = cls.Options.model_fields
    options = dict(job.recipe_options)
    mapped = {"strategy": job.strategy, "repositories": job.selected_repos,
              "preset": job.preset if job.preset and "preset" in fields else None}
    for option, value in mapped.items():
        if value is None:
            continue
        if option not in fields:
            asked = "selected_repos" if option == "repositories" else option
            raise ConfigError(f"{asked}: recipe {job.recipe!r} has no such option")
        if option in options and options[option] != value:
            raise ConfigError(f"{option} is given twice, differently (in recipe_options and as a field)")
        options[option] = value
    for option, info in fields.items():
        if option in options and _is_path(info.annotation):
            options[option] = confine(options[option], data_dir, option)
    return options


def resolve_count(job: JobRequest, recipe: Any) -> int:
    """count, target_examples, multiplier x seeds, the preset, the recipe's default, else 100."""
    given = {k: v for k, v in (("count", job.count), ("target_examples", job.target_examples)) if v is not None}
    if len(set(given.values())) > 1:
        raise ConfigError("count and target_examples differ; give one")
    if given and job.multiplier is not None:
        raise ConfigError("give count (or target_examples) or multiplier, not both")
    if given:
        return next(iter(given.values()))
    if job.multiplier is not None:
        seeds = recipe.seed_count()
        if seeds is None:
            raise ConfigError(f"multiplier: recipe {job.recipe!r} has no seeds to multiply", hint="give count instead")
        return job.multiplier * seeds
    if job.preset == "custom":
        raise ConfigError("preset custom needs count")
    if job.preset:
        return PRESET_COUNTS[job.preset]
    return type(recipe).default_count(recipe.options.model_dump()) or 100


def job_name(job: JobRequest, job_id: str) -> str:
    name = job.name or job_id
    if not NAME.match(name) or name in (".", ".."):
        raise ConfigError(f"name {name!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def command(job: JobRequest, options_file: Path | None, run_dir: Path, count: int) -> list[str]:
    """The ``synthgen`` arguments of the job (the interpreter and ``-m synthgen`` come first)."""
    args = ["api", "--provider", job.provider] if job.provider else ["generate"]
    args += ["--model", job.model, "--recipe", job.recipe, "--output", str(run_dir), "--count", str(count), "--seed", str(job.seed)]
    if options_file is not None:
        args += ["--recipe-config", str(options_file)]
    for flag, value in (("--batch-size", job.batch_size), ("--max-candidates", job.max_candidates),
                        ("--max-gpu-hours", job.max_gpu_hours), ("--max-cost", job.max_cost), ("--judge-model", job.judge_model)):
        if value is not None:
            args += [flag, str(value)]
    if job.validate_semantics:
        args.append("--validate-semantics")
    return args
