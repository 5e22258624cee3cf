"""`synthgen validate PATH...`: a verdict for every DOT graph in files, folders, JSONL or stdin.

Thin: inputs.iter_items reads, validate.validate_texts judges (a batch at a time, so output
streams and memory stays flat), this module prints. Exit status: 0 all valid, 1 anything
invalid, 2 usage errors (a missing path, Graphviz not installed).
"""

from __future__ import annotations

import json
import os
import sys
from itertools import islice
from typing import Annotated

import typer

HELP = """Check DOT graphs with synthgen's grammar and with Graphviz itself.

PATH is a .dot/.gv file, a folder (searched recursively for .dot, .gv and .jsonl), a JSONL file whose lines are objects with a "dot" field (item id FILE:LINE), or - for stdin.

Default output: one line per invalid item (ID: REASON: MESSAGE), then counts by reason.

--json output: one JSON object per item, then one summary object:

\b
{"id", "source", "ok", "reason", "message", "line", "column", "size_bytes", "grammar_ok", "graphviz_ok", "features", "complexity", "normal_hash", "shape_hash", "warnings"}
{"summary": {"total", "valid", "invalid", "by_reason": {REASON: COUNT}}}

Reasons: ok, empty, not_dot, encoding, too_large, grammar, too_deep, graphviz, timeout, bad_json, no_dot_field, read_error, internal.

Exit status: 0 when every item is valid, 1 when any is invalid, 2 on usage errors.
"""

Paths = Annotated[list[str], typer.Argument(metavar="PATH", help="Files, folders, or - for stdin.", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="JSON lines per item, then a summary object.")]
NoGraphviz = Annotated[bool, typer.Option("--no-graphviz", help="Grammar only; don't run Graphviz.")]
Layout = Annotated[bool, typer.Option("--layout", help="Also lay out with `dot -Tcanon` (slower, stricter) instead of parse-only `nop`.")]
MaxBytes = Annotated[int, typer.Option("--max-bytes", min=1, max=2**31, help="Graphs larger than this are rejected as too_large without parsing.")]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, max=86400.0, help="Seconds allowed per Graphviz process (a batch, or one graph).")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="Graphs per Graphviz process.")]


def register(app: typer.Typer) -> None:
    app.command("validate", help=HELP, no_args_is_help=True)(validate)


def validate(
    paths: Paths,
    as_json: AsJson = False,
    no_graphviz: NoGraphviz = False,
    layout: Layout = False,
    max_bytes: MaxBytes = 1_000_000,
    timeout: Timeout = 30.0,
    batch_size: BatchSize = 256,
) -> None:
    from synthgen.dot import inputs
    from synthgen.dot.graphviz import GraphvizChecker, GraphvizNotFound, graphviz_available
    from synthgen.dot.validate import summary_from_counts, validate_texts

    inputs.resolve_paths(paths)
    checker = None
    if not no_graphviz:
        checker = GraphvizChecker(batch_size=batch_size, timeout_s=timeout, layout=layout)
        if not graphviz_available(layout):
            raise GraphvizNotFound(checker.program)
    items = inputs.iter_items(paths, max_bytes=max_bytes)
    counts: dict[str, int] = {}
    try:
        while chunk := list(islice(items, batch_size)):
            for verdict in validate_texts(chunk, graphviz=not no_graphviz, max_bytes=max_bytes, checker=checker):
                counts[verdict.reason] = counts.get(verdict.reason, 0) + 1
                _print_item(verdict, as_json)
    except BrokenPipeError:  # `synthgen validate ... | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    if not counts:
        raise inputs.InputPathError(
            f"no .dot, .gv or .jsonl files found in {', '.join(paths)}", hint="give DOT files or a folder that holds some"
        )
    summary = summary_from_counts(counts)
    _print_summary(summary, as_json)
    if summary["invalid"]:
        raise typer.Exit(1)


def _print_item(verdict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))
    elif not verdict.ok:
        message = " ".join(verdict.message.split())
        typer.echo(f"{verdict.id}: {verdict.reason}: {message}")


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"summary": summary}))
        return
    typer.echo(f"{summary['total']} checked: {summary['valid']} valid, {summary['invalid']} invalid")
    width = max(len("reason"), *(len(r) for r in summary["by_reason"]))
    typer.echo(f"  {'reason':<{width}}  count")
    for reason, count in summary["by_reason"].items():
        typer.echo(f"  {reason:<{width}}  {count:>5}")
