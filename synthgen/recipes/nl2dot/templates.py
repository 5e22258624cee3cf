"""The nl2dot recipe's YAML: pydantic models for the files, and the frozen ``Templates`` built from them.

Layout of a templates folder (the shipped one is ``templates/nl2dot/``)::

    recipe.yaml          system prompt, output format, complexity levels, default weights
    fewshot.yaml         hand-written examples (request + DOT), tagged by domain and complexity
    domains/<name>.yaml  one file per domain; the file name is the domain's name

A user folder (``--templates DIR`` or ``$SYNTHGEN_TEMPLATES_DIR``) is laid over the shipped
one: any of those files it holds replaces the shipped file, and its ``domains/*.yaml`` are
added to (or replace, by name) the shipped domains. So adding a domain means dropping one
YAML file into a folder; nothing else has to be copied. ``DIR`` may be the nl2dot folder
itself or a folder holding ``nl2dot/``.

Every file goes through ``synthgen.config.load_yaml`` (extra="forbid"), and every
cross-file rule (placeholders a template uses, domains a few-shot example names) is checked
at load time, so a typo is one ConfigError naming the file and the field, never a
KeyError in the middle of a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from synthgen.config import ConfigBase, load_yaml
from synthgen.errors import ConfigError
from synthgen.paths import resource_dir
from synthgen.recipes.nl2dot.quotas import COMPLEXITIES, normalize_weights

RECIPE_NAME = "nl2dot"
# The measured buckets (synthgen.dot.features.complexity_of) are exactly COMPLEXITIES.
ComplexityName = Literal["simple", "medium", "complex"]
TEMPLATES_ENV = "SYNTHGEN_TEMPLATES_DIR"

# Placeholders every domain user-prompt template may use without declaring them.
BUILTIN_PLACEHOLDERS = frozenset(
    {"domain", "domain_description", "subtopic", "focus", "complexity", "structure", "n_states", "style"}
)
# Placeholders of a complexity level's ``structure`` text (filled from its own ranges).
RANGE_PLACEHOLDERS = frozenset(
    {"nodes_min", "nodes_max", "edges_min", "edges_max", "clusters_min", "clusters_max"}
)
_DOMAIN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Range(ConfigBase):
    min: int = Field(ge=0)
    max: int = Field(ge=0)


class ComplexityLevel(ConfigBase):
    """Structure a level asks for; the ranges must agree with the measured bucket rule."""

    nodes: Range
    edges: Range
    clusters: Range
    structure: str = Field(min_length=1)  # words for the prompt; may use {nodes_min} ... {clusters_max}


class RecipeFile(ConfigBase):
    name: Literal["nl2dot"]
    version: str = Field(min_length=1)
    task_type: Literal["NL_TO_DOT"] = "NL_TO_DOT"
    system_prompt: str = Field(min_length=1)
    output_format: str = Field(min_length=1)
    request_suffix: str = Field(min_length=1)  # appended to every user turn: {complexity}, {structure}, {tone}
    # How the REQUEST line should be phrased; one drawn per item (the first for few-shot turns),
    # so the dataset's requests vary in register, not only in topic.
    request_tones: list[str] = Field(min_length=1)
    fewshot_user: str = Field(min_length=1)  # user turn of a few-shot pair: {domain}, {topic}, {complexity}, {structure}
    fewshot_k: int = Field(default=2, ge=0, le=8)
    style_hints: list[str] = Field(min_length=1)
    complexities: dict[ComplexityName, ComplexityLevel]
    default_weights: dict[ComplexityName, float]


class FewShotExample(ConfigBase):
    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    domains: list[str] = Field(min_length=1)
    complexity: ComplexityName
    topic: str = Field(min_length=1)
    request: str = Field(min_length=20, max_length=300, pattern=r"^[^\n]+$")
    dot: str = Field(min_length=1)


class FewShotFile(ConfigBase):
    examples: list[FewShotExample] = Field(min_length=1)


class SubtopicFile(ConfigBase):
    name: str = Field(min_length=1)
    focus: str = Field(min_length=1)
    params: dict[str, list[str]] = Field(default_factory=dict)


class DomainFile(ConfigBase):
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    subtopics: list[SubtopicFile] = Field(min_length=1)
    params: dict[str, list[str]] = Field(default_factory=dict)
    styles: list[str] = Field(default_factory=list)  # empty: the recipe's style_hints
    user_templates: list[str] = Field(min_length=1)


@dataclass(slots=True, frozen=True)
class Subtopic:
    name: str
    focus: str
    params: dict[str, tuple[str, ...]]


@dataclass(slots=True, frozen=True)
class Domain:
    """One domain, ready for the planner. A subtopic's params override the domain's of the same
    name when an item is rendered, so values can be made to fit the subtopic."""

    name: str
    title: str
    description: str
    subtopics: tuple[Subtopic, ...]
    params: dict[str, tuple[str, ...]]
    styles: tuple[str, ...]
    user_templates: tuple[str, ...]
    source: str


@dataclass(slots=True, frozen=True)
class Templates:
    """Everything the planner needs, validated once; ``fingerprint()`` pins it for resume."""

    name: str
    version: str
    task_type: str
    system_prompt: str
    output_format: str
    request_suffix: str
    request_tones: tuple[str, ...]
    fewshot_user: str
    fewshot_k: int
    style_hints: tuple[str, ...]
    complexity_levels: dict[str, ComplexityLevel]
    default_weights: dict[str, float]
    domains: dict[str, Domain]
    fewshot: tuple[FewShotExample, ...]
    sources: tuple[str, ...]

    @property
    def complexities(self) -> tuple[str, ...]:
        return tuple(self.complexity_levels)

    def structure(self, complexity: str) -> str:
        """The level's structure requirement in words, numbers filled from its ranges."""
        level = self.complexity_levels[complexity]
        return level.structure.format(**_range_values(level))

    def fingerprint(self) -> str:
        """Hash of the template *content* (not file bytes): reformatting YAML keeps it, any
        change of wording, examples, params or version changes it. Resume compares it."""
        payload = {
            "name": self.name,
            "version": self.version,
            "task_type": self.task_type,
            "system_prompt": self.system_prompt,
            "output_format": self.output_format,
            "request_suffix": self.request_suffix,
            "request_tones": list(self.request_tones),
            "fewshot_user": self.fewshot_user,
            "fewshot_k": self.fewshot_k,
            "style_hints": list(self.style_hints),
            "complexities": {k: v.model_dump() for k, v in self.complexity_levels.items()},
            "default_weights": self.default_weights,
            "domains": {k: _domain_payload(d) for k, d in sorted(self.domains.items())},
            "fewshot": [e.model_dump() for e in self.fewshot],
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _domain_payload(domain: Domain) -> dict:
    return {
        "title": domain.title,
        "description": domain.description,
        "subtopics": [[s.name, s.focus, {k: list(v) for k, v in s.params.items()}] for s in domain.subtopics],
        "params": {k: list(v) for k, v in domain.params.items()},
        "styles": list(domain.styles),
        "user_templates": list(domain.user_templates),
    }


def _range_values(level: ComplexityLevel) -> dict[str, int]:
    return {
        "nodes_min": level.nodes.min,
        "nodes_max": level.nodes.max,
        "edges_min": level.edges.min,
        "edges_max": level.edges.max,
        "clusters_min": level.clusters.min,
        "clusters_max": level.clusters.max,
    }


# ---------------------------------------------------------------- loading


def templates_root(templates_dir: Path | str | None = None) -> Path | None:
    """The user's folder (argument, else $SYNTHGEN_TEMPLATES_DIR), resolved to its nl2dot part."""
    raw = templates_dir if templates_dir is not None else os.environ.get(TEMPLATES_ENV) or None
    if raw is None:
        return None
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"templates {path} is a file; --templates takes a folder (recipe.yaml, fewshot.yaml, domains/)",
                          hint="pass the folder that holds it")
    if not path.is_dir():
        raise ConfigError(f"templates folder {path} does not exist", hint=f"pass an existing folder or unset ${TEMPLATES_ENV}")
    if (path / RECIPE_NAME).is_dir():
        path = path / RECIPE_NAME
    if not any((path / part).exists() for part in ("recipe.yaml", "fewshot.yaml", "domains")):
        raise ConfigError(
            f"templates folder {path} holds no nl2dot templates",
            hint="put recipe.yaml, fewshot.yaml and/or domains/<name>.yaml there (or in DIR/nl2dot/)",
        )
    return path


def shipped_dir() -> Path:
    return resource_dir("templates") / RECIPE_NAME


def load_recipe(templates_dir: Path | str | None = None) -> Templates:
    """Load the shipped templates with the user's folder (if any) laid over them."""
    base = shipped_dir()
    user = templates_root(templates_dir)
    recipe_path = _pick(user, base, "recipe.yaml")
    fewshot_path = _pick(user, base, "fewshot.yaml")
    head = load_yaml(recipe_path, RecipeFile)
    _check_recipe(head, recipe_path)
    domain_paths = _domain_files(base)
    if user is not None:
        domain_paths.update(_domain_files(user))
    if not domain_paths:
        raise ConfigError(f"{base / 'domains'}: no domain files (*.yaml)")
    domains = {name: _load_domain(name, path) for name, path in sorted(domain_paths.items())}
    fewshot = load_yaml(fewshot_path, FewShotFile)
    _check_fewshot(fewshot, fewshot_path, domains)
    return Templates(
        name=head.name,
        version=head.version,
        task_type=head.task_type,
        system_prompt=head.system_prompt.strip(),
        output_format=head.output_format.strip(),
        request_suffix=head.request_suffix.strip(),
        request_tones=tuple(" ".join(t.split()) for t in head.request_tones),
        fewshot_user=head.fewshot_user.strip(),
        fewshot_k=head.fewshot_k,
        style_hints=tuple(head.style_hints),
        complexity_levels={c: head.complexities[c] for c in COMPLEXITIES},
        default_weights={c: float(head.default_weights.get(c, 0.0)) for c in COMPLEXITIES},
        domains=domains,
        fewshot=tuple(fewshot.examples),
        sources=(str(recipe_path), str(fewshot_path), *(str(p) for _, p in sorted(domain_paths.items()))),
    )


def _pick(user: Path | None, base: Path, name: str) -> Path:
    if user is not None and (user / name).is_file():
        return user / name
    return base / name


def _domain_files(root: Path) -> dict[str, Path]:
    folder = root / "domains"
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        if not _DOMAIN_NAME.match(path.stem):
            raise ConfigError(
                f"{path}: bad domain file name {path.stem!r}",
                hint="name domain files like my_domain.yaml (lower case letters, digits, _)",
            )
        found[path.stem] = path
    return found


def _load_domain(name: str, path: Path) -> Domain:
    raw = load_yaml(path, DomainFile)
    _check_domain(raw, path)
    return Domain(
        name=name,
        title=raw.title.strip(),
        description=" ".join(raw.description.split()),
        subtopics=tuple(Subtopic(s.name, " ".join(s.focus.split()), _tuples(s.params)) for s in raw.subtopics),
        params=_tuples(raw.params),
        styles=tuple(raw.styles),
        user_templates=tuple(" ".join(t.split()) for t in raw.user_templates),
        source=str(path),
    )


def _tuples(params: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in params.items()}


# ---------------------------------------------------------------- cross-field checks


def placeholders(template: str, *, source: str, field: str) -> set[str]:
    """Named ``{placeholders}`` of a template; positional or formatted ones are errors."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{source}: field {field!r}: bad template: {exc}", hint="write literal braces as {{ and }}") from None
    names = set()
    for _, name, spec, conv in parts:
        if name is None:
            continue
        if not name.isidentifier() or spec or conv:
            raise ConfigError(f"{source}: field {field!r}: bad placeholder {{{name}}}", hint="use plain {name} placeholders")
        names.add(name)
    return names


def _require(names: set[str], allowed: set[str] | frozenset[str], *, source: str, field: str) -> None:
    unknown = sorted(names - set(allowed))
    if unknown:
        raise ConfigError(
            f"{source}: field {field!r}: unknown placeholder {{{unknown[0]}}}",
            hint=f"known placeholders: {', '.join(sorted(allowed))}",
        )


def _check_recipe(head: RecipeFile, path: Path) -> None:
    src = str(path)
    missing = [c for c in COMPLEXITIES if c not in head.complexities]
    if missing:
        raise ConfigError(f"{src}: field 'complexities': missing level {missing[0]!r}", hint="define simple, medium and complex")
    for name, level in head.complexities.items():
        for part in ("nodes", "edges", "clusters"):
            rng = getattr(level, part)
            if rng.min > rng.max:
                raise ConfigError(f"{src}: field 'complexities.{name}.{part}': min {rng.min} > max {rng.max}")
        field = f"complexities.{name}.structure"
        _require(placeholders(level.structure, source=src, field=field), RANGE_PLACEHOLDERS, source=src, field=field)
    _require(placeholders(head.request_suffix, source=src, field="request_suffix"), {"complexity", "structure", "tone"}, source=src, field="request_suffix")
    allowed_fs = {"domain", "topic", "complexity", "structure"}
    _require(placeholders(head.fewshot_user, source=src, field="fewshot_user"), allowed_fs, source=src, field="fewshot_user")
    normalize_weights(head.default_weights, source=f"{src}: field 'default_weights'")


def _check_domain(raw: DomainFile, path: Path) -> None:
    src = str(path)
    for key, values in raw.params.items():
        if not values:
            raise ConfigError(f"{src}: field 'params.{key}': empty list", hint="give at least one value")
    names = [s.name for s in raw.subtopics]
    for i, sub in enumerate(raw.subtopics):
        if names.count(sub.name) > 1:
            raise ConfigError(f"{src}: field 'subtopics.{i}.name': duplicate subtopic {sub.name!r}")
        for key, values in sub.params.items():
            if not values:
                raise ConfigError(f"{src}: field 'subtopics.{i}.params.{key}': empty list")
    # A placeholder must resolve for every subtopic: builtins, domain params, or params all subtopics share.
    shared = set.intersection(*(set(s.params) for s in raw.subtopics))
    allowed = BUILTIN_PLACEHOLDERS | set(raw.params) | shared
    for i, template in enumerate(raw.user_templates):
        field = f"user_templates.{i}"
        _require(placeholders(template, source=src, field=field), allowed, source=src, field=field)


def _check_fewshot(fewshot: FewShotFile, path: Path, domains: dict[str, Domain]) -> None:
    seen: set[str] = set()
    for i, example in enumerate(fewshot.examples):
        if example.id in seen:
            raise ConfigError(f"{path}: field 'examples.{i}.id': duplicate id {example.id!r}")
        seen.add(example.id)
        for j, name in enumerate(example.domains):
            if name not in domains:
                raise ConfigError(
                    f"{path}: field 'examples.{i}.domains.{j}': unknown domain {name!r}",
                    hint=f"known domains: {', '.join(sorted(domains))}",
                )
