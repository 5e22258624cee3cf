"""`synthgen compare RUN_A RUN_B [...]`: runs of one plan with different models, side by side
in the terminal and in compare.html, optionally re-judged by one common judge model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_(
        runs: Annotated[list[Path], typer.Argument(help="Two or more run folders of one recipe (the --output of each run).")],
        out: Annotated[Path, typer.Option("--out", help="Folder for compare.json and compare.html.")] = Path("."),
        judge: Annotated[Optional[str], typer.Option("--judge", envvar="SYNTHGEN_COMPARE_JUDGE", help=(
            "Re-judge every run's accepted records with this one model (a registry alias, or the model's name at "
            "--judge-provider's endpoint); its cost is counted per run."))] = None,
        judge_provider: Annotated[Optional[str], typer.Option("--judge-provider", help=(
            "Judge through an OpenAI-compatible endpoint: nim, openai, gemini, vllm-server or ollama."))] = None,
        judge_base_url: Annotated[Optional[str], typer.Option("--judge-base-url", help="The judge endpoint's URL (with --judge-provider).")] = None,
        judge_sample: Annotated[Optional[int], typer.Option("--judge-sample", help=(
            "Judge a seeded sample of this many accepted records per run instead of all."))] = None,
    ) -> None:
        """Compare runs: acceptance, drop reasons, validity, diversity, judge pass rate, cost per accepted example, wall time."""
        from synthgen.compare.build import compare

        spec = _judge_spec(judge, judge_provider, judge_base_url)
        result = compare(runs, out, judge=spec, judge_sample=judge_sample)
        data = result["data"]
        for line in data["warnings"]:
            typer.echo(f"synthgen: warning: {line}", err=True)
        for line in data["notes"]:
            typer.echo(f"synthgen: {line}", err=True)
        print_table(data)
        typer.echo(f"compare: {result['html']} (data: {result['json']})")


def _judge_spec(judge: str | None, provider: str | None, base_url: str | None) -> Any:
    from synthgen.errors import ConfigError

    if judge is None:
        if provider or base_url:
            raise ConfigError("--judge-provider and --judge-base-url need --judge MODEL")
        return None
    if provider:
        from synthgen.commands.generate import api_spec

        return api_spec(provider, judge, base_url)
    if base_url:
        raise ConfigError("--judge-base-url needs --judge-provider", hint="e.g. --judge-provider vllm-server")
    from synthgen.models import resolve_model

    return resolve_model(judge)


def print_table(data: dict[str, Any]) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    from synthgen.compare.build import rows, run_labels

    table = Table(title=f"synthgen compare: {data['recipe']}")
    table.add_column("")
    for label in run_labels(data):
        table.add_column(label, justify="right", overflow="fold")
    for label, cells in rows(data):
        table.add_row(label, *cells)
    console = Console(file=sys.stdout, highlight=False, markup=False)
    if not console.is_terminal:  # a pipe or a file: no wrapping, the whole table on each line
        console = Console(file=sys.stdout, highlight=False, markup=False, width=240)
    console.print(table)
