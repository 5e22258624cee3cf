"""The recipe's prompt templates (templates/coding-tasks/prompts.yaml), checked on load."""

from __future__ import annotations

import string
from pathlib import Path

from pydantic import Field

from synthgen.config import ConfigBase, load_yaml
from synthgen.errors import ConfigError
from synthgen.paths import resource_dir

Strategy = str
STRATEGIES = ("trace_seeded", "augmented", "schema_driven")
PLACEHOLDERS = frozenset({"repository", "kind", "kind_hint", "examples", "files", "tools", "languages", "frameworks", "folders"})


class PromptsFile(ConfigBase):
    version: str = Field(min_length=1)
    system: str = Field(min_length=1)
    kind_hints: dict[str, str] = Field(default_factory=dict)  # task kind -> how such a task opens
    strategies: dict[str, str]


def prompts_path(folder: Path | None = None) -> Path:
    return (folder or resource_dir("templates") / "coding-tasks") / "prompts.yaml"


def load_prompts(folder: Path | None = None) -> PromptsFile:
    path = prompts_path(folder)
    prompts = load_yaml(path, PromptsFile)
    missing = [s for s in STRATEGIES if s not in prompts.strategies]
    if missing:
        raise ConfigError(f"{path}: field 'strategies': no template for {', '.join(missing)}")
    for name, text in prompts.strategies.items():
        used = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        unknown = used - PLACEHOLDERS
        if unknown:
            raise ConfigError(f"{path}: field 'strategies.{name}': unknown placeholder {sorted(unknown)[0]!r}",
                              hint=f"known: {', '.join(sorted(PLACEHOLDERS))}")
    return prompts
