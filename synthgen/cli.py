"""The `synthgen` command. Thin: each command lives in synthgen/commands/<name>.py and
calls one function; domain errors are translated here, once, into a one-line message.

Command modules must not import torch, vllm or transformers at module level:
`synthgen --help` stays fast (tests/test_cli.py checks it).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import typer

from synthgen import __version__
from synthgen.errors import OutputError, SynthgenError

# Each module exposes register(app). Add a command by adding its module here.
COMMAND_MODULES: tuple[str, ...] = ("generate", "validate", "try_", "models", "recipes", "traces", "export", "report", "compare", "serve")

app = typer.Typer(
    name="synthgen",
    help="Build fine-tuning datasets with open models on your own hardware.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synthgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.", envvar="SYNTHGEN_DEBUG"),
) -> None:
    if debug:
        os.environ["SYNTHGEN_DEBUG"] = "1"


for _name in COMMAND_MODULES:
    importlib.import_module(f"synthgen.commands.{_name}").register(app)


def load_env_file() -> None:
    """``.env`` in the working directory (or ``$SYNTHGEN_ENV_FILE``), read by python-dotenv
    before the options are: a variable the environment already has wins. Its values are
    redacted like any other key's (``errors.redact`` reads the environment)."""
    path = Path(os.environ.get("SYNTHGEN_ENV_FILE") or ".env")
    if not path.is_file():
        return
    from dotenv import load_dotenv

    load_dotenv(path, override=False)


def main(argv: list[str] | None = None) -> None:
    try:
        load_env_file()
        code = app(args=argv, prog_name="synthgen", standalone_mode=False)
    except typer.TyperException as exc:  # a usage error (a bad value, an unknown option): one line, not a box
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command: its help, as click prints it
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        ctx = getattr(exc, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        print(f"synthgen: error: {' '.join(exc.format_message().split())}{hint}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        print("synthgen: aborted", file=sys.stderr)
        sys.exit(1)
    except SynthgenError as exc:
        if os.environ.get("SYNTHGEN_DEBUG") == "1":
            raise
        print(f"synthgen: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("synthgen: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # a path the user gave that the system refuses (too long, a loop, no permission)
        if os.environ.get("SYNTHGEN_DEBUG") == "1":
            raise
        name = str(exc.filename) if exc.filename is not None else ""
        name = name if len(name) <= 120 else name[:117] + "..."
        print(f"synthgen: error: {exc.strerror or exc}{': ' + name if name else ''}", file=sys.stderr)
        sys.exit(OutputError.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
