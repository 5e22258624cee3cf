"""All user-written YAML goes through here: pydantic models with extra="forbid".

A typo in a user's file is an error that names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from synthgen.errors import ConfigError


class ConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Read one YAML file into ``model``; any problem is a ConfigError naming file and field."""
    return validate_data(read_yaml(path), model, source=str(path))


def read_yaml(path: str | Path) -> object:
    """One YAML file's data (not empty); unreadable or malformed is a ConfigError naming the file."""
    import yaml

    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where} malformed YAML: {problem}") from None
    if data is None:
        raise ConfigError(f"{path}: file is empty")
    return data


def validate_data(data: object, model: type[M], *, source: str) -> M:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: field {field!r}: {first['msg']}{more}") from None
