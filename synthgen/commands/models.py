"""`synthgen models list` and `synthgen models pull ALIAS --to DIR`.

``pull`` prepares a self-contained model folder on a connected machine, to copy to an
air-gapped box and run there with ``--model DIR`` (no network calls at all).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from synthgen.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from synthgen.models import ModelSpec

Alias = Annotated[str, typer.Argument(help="Model alias (see synthgen models list).", show_default=False)]
To = Annotated[Path, typer.Option("--to", help="Folder to write the model into.", show_default=False)]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The model registry: list models, prepare folders for air-gapped use.", no_args_is_help=True)
    group.command("list", help="Every model alias: engine, source, size, prices, licence.")(list_command)
    group.command("pull", help="Write a model into a folder to copy to an air-gapped machine.")(pull_command)
    app.add_typer(group, name="models")


def list_command() -> None:
    from rich.console import Console
    from rich.table import Table

    from synthgen.models import list_models

    table = Table(title="synthgen models")
    for column in ("alias", "backend", "source", "params", "prices $/1M in/out", "licence"):
        table.add_column(column, overflow="fold")
    for alias, spec in sorted(list_models().items()):
        table.add_row(alias, spec.backend, describe_source(spec), _params(spec), _prices(spec), spec.license or "-")
    Console().print(table)


def describe_source(spec: ModelSpec) -> str:
    src = spec.source
    if src is None:
        return f"{spec.provider or spec.base_url}: {spec.api_model or spec.alias}"
    if src.packaged:
        return f"packaged {src.packaged}"
    if src.path:
        return f"path {src.path}"
    return f"hf {src.hf_id}@{src.revision or 'main'}"


def _params(spec: ModelSpec) -> str:
    if spec.params_b is None:
        return "-"
    return f"{spec.params_b * 1000:.0f}M" if spec.params_b < 1 else f"{spec.params_b:g}B"


def _prices(spec: ModelSpec) -> str:
    if spec.backend != "openai":
        return "local"
    return f"{spec.prices.input_per_1m:g} / {spec.prices.output_per_1m:g}"


def pull_command(alias: Alias, to: To) -> None:
    folder = pull(alias, to)
    typer.echo(f"{alias} ready in {folder} (copy it over, then: synthgen try --model {folder} \"...\")")


def pull(alias: str, to: Path) -> Path:
    """Write ``alias``'s weights, tokenizer and settings (``synthgen-model.yaml``: dtype,
    context, parallelism, prices, licence) into ``to``; returns the folder."""
    from synthgen.models import write_settings

    folder = _pull_weights(alias, to)
    write_settings(_spec(alias), folder)
    return folder


def _spec(alias: str) -> ModelSpec:
    from synthgen.models import resolve_model

    return resolve_model(alias)


def _pull_weights(alias: str, to: Path) -> Path:
    from synthgen.models import resolve_model

    spec = resolve_model(alias)
    if spec.source is None:
        raise ConfigError(f"{alias} is an API model ({spec.provider}): nothing to pull", hint="pull a local model (backend vllm)")
    to = to.expanduser().resolve()
    if to.exists() and any(to.iterdir()):
        raise ConfigError(f"{to} exists and is not empty", hint="pass an empty or new folder to --to")
    if spec.source.packaged or spec.source.path:
        from synthgen.models import local_weights

        folder, _ = local_weights(spec)
        shutil.copytree(folder, to, dirs_exist_ok=True)
        return to
    return _snapshot(spec.source.hf_id or "", spec.source.revision, to)


def _snapshot(repo_id: str, revision: str | None, to: Path) -> Path:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise BackendError(
            f"cannot download {repo_id}: HF_HUB_OFFLINE is set",
            hint="run 'synthgen models pull' on a machine with access to the Hugging Face Hub, then copy the folder",
        )
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise BackendError("huggingface_hub is not installed", hint="pip install 'synthgen[hf]'") from None
    try:
        snapshot_download(repo_id=repo_id, revision=revision, local_dir=str(to),
                          allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"])
    except Exception as exc:  # noqa: BLE001 - network/hub failures become one line
        raise BackendError(
            f"cannot download {repo_id}@{revision or 'main'}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
            hint="check network access to huggingface.co (and HF_TOKEN for gated models), or copy a folder by hand",
        ) from None
    return to
