"""`synthgen traces inspect PATH... [--json]`: what a folder of agent traces looks like.

Reads every trace it can (SWE-agent, mini-SWE-agent, OpenHands, Claude Code, aider; the format
is detected from content), prints the mined patterns as tables or JSON, then one line per
input that could not be read and why. Unreadable inputs never stop the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from synthgen.traces.patterns import TracePatterns
    from synthgen.traces.read import TraceReader

Paths = Annotated[list[Path], typer.Argument(help="Trace files or folders (searched recursively).", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print the patterns as one JSON object.")]
Top = Annotated[int, typer.Option("--top", min=1, help="Rows per table.")]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Real agent traces: read them and mine their patterns.", no_args_is_help=True)
    group.command("inspect", help="Read traces and print task types, languages, tools, files, prompts.")(inspect_command)
    app.add_typer(group, name="traces")


def inspect_command(paths: Paths, as_json: AsJson = False, top: Top = 10) -> None:
    reader, patterns = inspect(paths)
    if as_json:
        summary = patterns.summary(top)
        summary["files_read"] = reader.files
        summary["unreadable"] = [{"path": p.path, "reason": p.reason} for p in reader.problems]
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_tables(patterns, reader, top)
    if not patterns.traces:
        raise typer.Exit(1)


def inspect(paths: list[Path]) -> tuple[TraceReader, TracePatterns]:
    """Read every trace under ``paths`` into one TracePatterns; the reader holds the problems."""
    from synthgen.traces.patterns import TracePatterns
    from synthgen.traces.read import read_traces

    reader = read_traces(paths)
    patterns = TracePatterns()
    for trace in reader:
        patterns.add(trace)
    return reader, patterns


def _print_tables(patterns: TracePatterns, reader: TraceReader, top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summary = patterns.summary(top)
    console.print(f"[bold]{summary['traces']} traces[/bold] from {reader.files} inputs, "
                  f"{summary['tool_calls']} tool calls ({summary['average_tool_calls']} per trace, "
                  f"{summary['failed_tool_calls']} failed, {summary['malformed_tool_calls']} with malformed arguments)")
    console.print(_pairs("formats", summary["formats"].items()))
    console.print(_pairs("task types", summary["task_types"].items()))
    for title, key, column in (
        ("languages (traces)", "languages", "language"), ("tools", "tools", "tool"),
        ("tool bigrams", "tool_bigrams", "ngram"), ("tool trigrams", "tool_trigrams", "ngram"),
        ("files changed together", "file_clusters", "globs"), ("common paths", "common_paths", "path"),
        ("prompt keywords", "prompt_keywords", "keyword"), ("prompt templates", "prompt_templates", "template"),
        ("repositories", "repositories", "repository"), ("framework hints", "frameworks", "framework"),
        ("models", "models", "model"),
    ):
        rows = [(_cell(row[column]), row["count"]) for row in summary[key]]
        if rows:
            console.print(_pairs(title, rows))
    if reader.problems:
        table = Table(title=f"{len(reader.problems)} inputs not read", title_justify="left")
        table.add_column("path", overflow="fold")
        table.add_column("reason", overflow="fold")
        for problem in reader.problems:
            table.add_row(problem.path, problem.reason)
        console.print(table)


def _pairs(title: str, rows) -> object:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("value", overflow="fold")
    table.add_column("count", justify="right")
    for value, count in rows:
        table.add_row(str(value), str(count))
    return table


def _cell(value: object) -> str:
    if isinstance(value, list):
        return " -> ".join(map(str, value)) if all("*" not in str(v) for v in value) else ", ".join(map(str, value))
    return str(value)
