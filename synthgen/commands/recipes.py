"""`synthgen recipes list`: the registered recipes, their options and flags."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    recipes_app = typer.Typer(help="The recipes synthgen can run (--recipe NAME).", no_args_is_help=True)
    app.add_typer(recipes_app, name="recipes")

    @recipes_app.command("list")
    def list_(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
        """The registry: name, what it makes, its cells, its options (--recipe-config) and flags."""
        import json

        from synthgen.recipes import DEFAULT_RECIPE, RECIPES, recipe_class

        rows = []
        for name in sorted(RECIPES):
            cls = recipe_class(name)
            rows.append({
                "name": name,
                "default": name == DEFAULT_RECIPE,
                "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
                "cells": list(cls.cell_names),
                "options": list(cls.Options.model_fields),
                "flags": [f.flag for f in cls.cli_flags],
            })
        if json_out:
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title="synthgen recipes")
        for column in ("name", "what it makes", "cells", "options", "flags"):
            table.add_column(column)
        for r in rows:
            table.add_row(r["name"] + (" (default)" if r["default"] else ""), r["description"], " x ".join(r["cells"]),
                          ", ".join(r["options"]), ", ".join(r["flags"]))
        Console().print(table)
