"""`synthgen try "a TCP handshake state machine"`: one constrained generation, printed.

The quickest way to see that a model, an engine and the grammar work together on this
machine: it loads the model, asks for one (request, DOT) pair under the bounded generation
grammar, and prints it with its timing, token counts and Graphviz's verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Optional

import typer

from synthgen.errors import BackendError

SYSTEM_PROMPT = (
    "You turn a topic into a Graphviz diagram. First write one line, 'REQUEST: ', restating "
    "what the user asked for as a clear request; then a line 'DOT:' and the DOT graph that "
    "answers it. Use short, meaningful labels."
)

Request = Annotated[str, typer.Argument(help="What the diagram should show.", show_default=False)]
Model = Annotated[str, typer.Option("--model", "-m", help="Model alias (synthgen models list) or a local model folder.")]
Backend = Annotated[Optional[str], typer.Option("--backend", "-b", help="Engine override: vllm, transformers, openai.")]
Complexity = Annotated[Optional[str], typer.Option("--complexity", "-c", help="simple, medium or complex (default: any).")]
Seed = Annotated[int, typer.Option("--seed", help="Sampling seed.")]
Temperature = Annotated[float, typer.Option("--temperature", min=0.0, help="Sampling temperature.")]
GrammarEngine = Annotated[str, typer.Option("--grammar-engine", help="vLLM structured-output engine: guidance or xgrammar.")]


@dataclass(slots=True)
class TryResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    load_s: float
    generate_s: float
    error: str | None


def register(app: typer.Typer) -> None:
    app.command("try", help="One grammar-constrained generation, printed with timing and token counts.",
                no_args_is_help=True)(try_command)


def try_command(
    request: Request,
    model: Model = "smollm2-135m",
    backend: Backend = None,
    complexity: Complexity = None,
    seed: Seed = 0,
    temperature: Temperature = 0.7,
    grammar_engine: GrammarEngine = "guidance",
) -> None:
    result = run_try(request, model=model, backend=backend, complexity=complexity, seed=seed,
                     temperature=temperature, grammar_engine=grammar_engine)
    show(result)
    if result.finish_reason != "stop":
        raise typer.Exit(1)


def run_try(request: str, *, model: str, backend: str | None, complexity: str | None, seed: int,
            temperature: float, grammar_engine: str) -> TryResult:
    from synthgen.backends.base import GenerationRequest, SamplingSettings
    from synthgen.backends.registry import create_backend
    from synthgen.dot.gen_grammar import generation_grammar, max_output_chars
    from synthgen.models import resolve_model

    spec = resolve_model(model)
    grammar = generation_grammar(complexity)
    overrides = {"grammar_engine": grammar_engine} if (backend or spec.backend) == "vllm" else {}
    engine = create_backend(spec, backend=backend, **overrides)
    started = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - started
    try:
        # Each token of the ASCII grammar is >= 1 char: this bound can never cut an output off
        # (capped to leave room for the prompt in the model's context).
        max_tokens = min(max_output_chars(complexity) + 1, spec.max_model_len - 512)
        sampling = SamplingSettings(temperature=temperature, max_tokens=max_tokens)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": request}]
        started = time.perf_counter()
        [completion] = engine.generate([GenerationRequest("try-0", messages, sampling, grammar=grammar, seed=seed)])
        generate_s = time.perf_counter() - started
    finally:
        engine.close()
    if completion.finish_reason == "error":
        raise BackendError(f"generation failed: {completion.error}", hint="rerun with --debug, or try --backend transformers")
    return TryResult(completion.text, completion.finish_reason, completion.prompt_tokens,
                     completion.completion_tokens, load_s, generate_s, completion.error)


def show(result: TryResult) -> None:
    from rich.console import Console
    from rich.syntax import Syntax

    from synthgen.dot.gen_grammar import split_output
    from synthgen.errors import SynthgenError

    console = Console()
    try:
        request, dot = split_output(result.text)
    except SynthgenError:
        request, dot = "(could not split the output)", result.text
    console.print(f"[bold]Request:[/bold] {request}")
    console.print(Syntax(dot, "dot", theme="ansi_dark", word_wrap=True))
    speed = result.completion_tokens / result.generate_s if result.generate_s > 0 else 0.0
    console.print(
        f"finish={result.finish_reason}  prompt_tokens={result.prompt_tokens}  "
        f"completion_tokens={result.completion_tokens}  load={result.load_s:.1f}s  "
        f"generate={result.generate_s:.2f}s  ({speed:.1f} tok/s)  graphviz={_graphviz_verdict(dot)}"
    )


def _graphviz_verdict(dot: str) -> str:
    from synthgen.dot.graphviz import GraphvizChecker, graphviz_available

    if not graphviz_available():
        return "not installed"
    [verdict] = GraphvizChecker().check([dot])
    return "ok" if verdict.ok else f"invalid ({verdict.message.strip()[:80]})"
