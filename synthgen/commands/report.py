"""`synthgen report RUN [--out DIR] [--sample N]`: a run folder's report.json and report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_(
        run: Annotated[Path, typer.Argument(help="A run folder (the --output of synthgen generate).")],
        out: Annotated[Optional[Path], typer.Option("--out", help="Folder for report.json and report.html (default: the run folder).")] = None,
        sample: Annotated[int, typer.Option("--sample", help="Accepted and rejected records shown in the gallery (a seeded sample).")] = 12,
    ) -> None:
        """Write report.json and one self-contained report.html: diversity, quality, cost, errors and a gallery."""
        from synthgen.report.build import report

        result = report(run, out, sample=sample)
        for note in result["notes"]:
            typer.echo(f"synthgen: {note}", err=True)
        typer.echo(f"report of {result['accepted']:,} accepted, {result['rejected']:,} rejected and {result['failed']:,} failed "
                   f"records: {result['html']} (data: {result['json']})")
