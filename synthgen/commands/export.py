"""`synthgen export RUN... --to DIR --format nemo|hf|openai`: run folders to training files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_(
        runs: Annotated[list[Path], typer.Argument(help="Run folders (the --output of synthgen generate).")],
        to: Annotated[Path, typer.Option("--to", help="Folder to write (must be new or empty).")],
        fmt: Annotated[str, typer.Option("--format", help="nemo (chat JSONL + metadata), hf (datasets folder), openai.")] = "nemo",
        val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of each cell in val.jsonl.")] = 0.1,
        seed: Annotated[int, typer.Option("--seed", help="Split seed: the same inputs and seed give the same files.")] = 0,
        mix: Annotated[Optional[list[Path]], typer.Option("--mix", help="A real dataset's JSONL ({'messages': [...]} lines) to add.")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace what --to holds.")] = False,
    ) -> None:
        """Write a train/val split of the runs' chat examples (stratified by cell, near-duplicates on one side)."""
        from synthgen.export.build import export

        result = export(runs, to, fmt, val_fraction=val_fraction, seed=seed, mix=mix, overwrite=overwrite)
        for note in result["notes"]:
            typer.echo(f"synthgen: {note}", err=True)
        left = ", ".join(f"{n} {why}" for why, n in result["left_out"].items()) or "none"
        typer.echo(f"exported {result['train']} train + {result['val']} val examples ({result['format']}) to {result['to']}; left out: {left}")
