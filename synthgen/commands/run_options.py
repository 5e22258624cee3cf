"""The run options, declared once for ``generate``, ``local`` and ``api``.

Each command is a function built from the shared parameter list (typer reads a function's
signature), plus a command's own parameters and every registered recipe's ``cli_flags``:
``--domains`` is nl2dot's flag, set on that recipe's options. A flag of another recipe is
a one-line error, not silently ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

DEFAULT_OUTPUT = Path("synthgen-output")


def _opt(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


MODEL_HELP = "Model alias (synthgen models list) or a local model folder."


def shared_parameters(model_help: str = MODEL_HELP, model_default: Any = "smollm2-135m") -> list[inspect.Parameter]:
    """``model_default=inspect.Parameter.empty`` makes --model required."""
    opt = typer.Option
    return [
        _opt("model", Annotated[str, opt("--model", "-m", envvar="SYNTHGEN_MODEL", help=model_help)], model_default),
        _opt("count", Annotated[Optional[int], opt("--count", "-n", envvar="SYNTHGEN_COUNT",
                                                   help="Accepted examples to produce (default: the recipe's preset, else 100).")], None),
        _opt("recipe", Annotated[str, opt("--recipe", envvar="SYNTHGEN_RECIPE", help="Recipe name (synthgen recipes list) or package.module:Class.")], "nl2dot"),
        _opt("recipe_config", Annotated[Optional[Path], opt("--recipe-config", envvar="SYNTHGEN_RECIPE_CONFIG", help="YAML file of the recipe's options (flags override it).")], None),
        _opt("output", Annotated[Path, opt("--output", "-o", envvar="SYNTHGEN_OUTPUT", help="Run folder (data.jsonl, rejected.jsonl, failed_prompts.jsonl, run.json).")], DEFAULT_OUTPUT),
        _opt("max_gpu_hours", Annotated[Optional[float], opt("--max-gpu-hours", envvar="SYNTHGEN_MAX_GPU_HOURS", help="Stop before a batch once this many GPU-hours are spent.")], None),
        _opt("max_cost", Annotated[Optional[float], opt("--max-cost", envvar="SYNTHGEN_MAX_COST", help="Stop before a batch once this many USD are spent.")], None),
        _opt("validate_semantics", Annotated[bool, opt("--validate-semantics", envvar="SYNTHGEN_VALIDATE_SEMANTICS", help="Ask an LLM judge whether each output answers its request.")], False),
        _opt("judge_model", Annotated[Optional[str], opt("--judge-model", envvar="SYNTHGEN_JUDGE_MODEL", help="Judge model alias (default: the generating model).")], None),
        _opt("repair_rounds", Annotated[Optional[int], opt("--repair-rounds", envvar="SYNTHGEN_REPAIR_ROUNDS", help=(
            "Follow-up turns for an output that fails to parse or validate, with the validator's message "
            "(0-5; default 2 on endpoints, 0 on local engines; 0 turns repair off)."))], None),
        _opt("dry_run", Annotated[bool, opt("--dry-run", help="Print the plan and the cost estimate; generate nothing.")], False),
        _opt("gpu_kind", Annotated[Optional[str], opt("--gpu-kind", envvar="SYNTHGEN_GPU_KIND", help=(
            "--dry-run: estimate for these GPUs ([COUNTx]KIND: H200, 2xH100, 8xA100-40GB, L4, cpu) instead of the ones visible."))], None),
        _opt("tensor_parallel", Annotated[Optional[int], opt("--tensor-parallel", envvar="SYNTHGEN_TENSOR_PARALLEL", help=(
            "vLLM: GPUs to split the model over (default: the model YAML's parallelism.tensor; 'auto' there fits the GPUs visible)."))], None),
        _opt("resume", Annotated[bool, opt("--resume", help="Continue the run in --output.")], False),
        _opt("seed", Annotated[int, opt("--seed", envvar="SYNTHGEN_SEED", help="Plan seed.")], 0),
        _opt("batch_size", Annotated[int, opt("--batch-size", envvar="SYNTHGEN_BATCH_SIZE", help="Prompts per engine call.")], 32),
        _opt("max_candidates", Annotated[Optional[int], opt("--max-candidates", envvar="SYNTHGEN_MAX_CANDIDATES", help="Hard cap on candidates generated (default max(4 x count, count + 64)).")], None),
        _opt("verbose", Annotated[bool, opt("--verbose", "-v", help="A progress line after every batch.")], False),
        _opt("fallback", Annotated[Optional[str], opt("--fallback", envvar="SYNTHGEN_FALLBACK", help=(
            "An endpoint model (a registry alias such as nim-qwen2.5-coder-32b, or a model name with --fallback-provider) "
            "the run goes on with, in the same run folder, when the engine can't start or dies."))], None),
        _opt("fallback_provider", Annotated[Optional[str], opt("--fallback-provider", envvar="SYNTHGEN_FALLBACK_PROVIDER", help=(
            "The fallback's provider (nim, openai, gemini, vllm-server, ollama)."))], None),
        _opt("fallback_base_url", Annotated[Optional[str], opt("--fallback-base-url", envvar="SYNTHGEN_FALLBACK_BASE_URL", help=(
            "The fallback endpoint's URL, overriding its provider's."))], None),
        _opt("request_timeout", Annotated[Optional[float], opt("--request-timeout", envvar="SYNTHGEN_REQUEST_TIMEOUT", help=(
            "Endpoints: seconds one request may take, connect to last byte (default 120)."))], None),
        _opt("request_attempts", Annotated[Optional[int], opt("--request-attempts", envvar="SYNTHGEN_REQUEST_ATTEMPTS", help=(
            "Endpoints: attempts per request on timeouts, 429 and 5xx (default 3)."))], None),
        _opt("give_up_after", Annotated[Optional[float], opt("--give-up-after", envvar="SYNTHGEN_GIVE_UP_AFTER", help=(
            "Endpoints: stop the run when the endpoint has sent no reply for this many seconds (default 300)."))], None),
    ]


def recipe_flag_parameters() -> tuple[list[inspect.Parameter], dict[str, list[str]]]:
    """One parameter per recipe flag (registered recipes only), and which recipes take it."""
    from synthgen.recipes import RECIPES, recipe_class

    params: dict[str, inspect.Parameter] = {}
    owners: dict[str, list[str]] = {}
    for name in RECIPES:
        for flag in recipe_class(name).cli_flags:
            owners.setdefault(flag.option, []).append(name)
            if flag.option not in params:
                option = typer.Option(flag.flag, envvar=flag.envvar, help=flag.help)
                params[flag.option] = _opt(flag.option, Annotated[Optional[flag.type], option], None)
    return list(params.values()), owners


def build_command(body: Callable[[dict[str, Any]], None], doc: str, leading: list[inspect.Parameter] | None = None,
                  model_help: str = MODEL_HELP, model_default: Any = "smollm2-135m") -> Callable[..., None]:
    """A typer command whose parameters are ``leading`` + the shared run options + recipe flags;
    ``body`` gets every value as one dict."""
    flags, owners = recipe_flag_parameters()
    shared = shared_parameters(model_help, model_default)
    params = [*(leading or []), *shared, *flags]

    def command(**values: Any) -> None:
        values["_recipe_flags"] = {k: values.pop(k) for k in list(values) if k in owners}
        values["_flag_owners"] = owners
        body(values)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = doc
    return command


def recipe_options(recipe: str, config_file: Path | None, flags: dict[str, Any], owners: dict[str, list[str]]) -> tuple[dict[str, Any], str]:
    """The recipe's options: the --recipe-config file, then the flags given on top."""
    from synthgen.config import read_yaml
    from synthgen.errors import ConfigError

    options: dict[str, Any] = {}
    source = f"options of recipe {recipe!r}"
    if config_file is not None:
        data = read_yaml(config_file)
        if not isinstance(data, dict):
            raise ConfigError(f"{config_file}: expected a mapping of option: value, got {type(data).__name__}")
        options, source = dict(data), str(config_file)
    for option, value in flags.items():
        if value is None:
            continue
        if recipe not in owners.get(option, []):
            flag = "--" + option.replace("_", "-")
            raise ConfigError(f"{flag} is an option of recipe {', '.join(owners.get(option, ['?']))}, not of {recipe!r}",
                              hint=f"leave {flag} out, or put the option in --recipe-config")
        options[option] = value
    return options, source
