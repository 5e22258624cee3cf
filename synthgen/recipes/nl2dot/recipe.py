"""nl2dot behind the recipe interface: natural-language requests paired with the Graphviz
DOT that answers them (task_type ``NL_TO_DOT``), in cells of (domain, complexity).

Everything DOT-specific the runtime used to know lives here: the bounded generation grammar
per complexity level, the REQUEST:/DOT: output format (``synthgen.dot.gen_grammar``), the
parse / validate / measure steps, the judge's question, the record's fields and the fake
engine's answers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from synthgen.config import ConfigBase
from synthgen.recipes.base import Recipe, RecipeFlag
from synthgen.recipes.nl2dot.quality import CHECKS, Nl2DotQuality
from synthgen.records import Cell, DedupKeys, GenerationRequest, Sample, SamplingSettings
from synthgen.steps.base import Step

TASK_TYPE = "NL_TO_DOT"
CHAT_SYSTEM = "You turn a request into a Graphviz diagram. Answer with the DOT source only."
JUDGE_SYSTEM = (
    "You review datasets of Graphviz diagrams. Given a request and a DOT graph, answer 'yes' if "
    "the graph implements what the request describes (its states, steps and transitions), 'no' otherwise. "
    "Answer with one word: yes or no."
)


class Nl2DotOptions(ConfigBase):
    domains: str | list[str] | None = None  # "all" (default), a comma list, or a list
    complexity: str | dict[str, float] | None = None  # "30/50/20", "simple=30,...", or a mapping
    templates: Path | None = None  # a folder laid over the shipped templates/nl2dot
    quality: Nl2DotQuality = Field(default_factory=Nl2DotQuality)  # the quality checks' thresholds
    checks_off: str | list[str] | None = None  # quality checks switched off: a comma list or a list of names


@lru_cache(maxsize=8)
def grammar_for(complexity: str) -> tuple[str, int]:
    """The bounded generation grammar for one complexity level and the max_tokens it fits in."""
    from synthgen.dot import gen_grammar

    return gen_grammar.generation_grammar(complexity), int(gen_grammar.recommended_max_tokens(complexity))


class Nl2DotRecipe(Recipe):
    """Natural-language request → Graphviz DOT, valid by construction, checked by Graphviz."""

    name = "nl2dot"
    Options = Nl2DotOptions
    cell_names = ("domain", "complexity")
    cli_flags: ClassVar[tuple[RecipeFlag, ...]] = (
        RecipeFlag("domains", "--domains", "nl2dot: 'all' or a comma list of domains.", "SYNTHGEN_DOMAINS"),
        RecipeFlag("complexity", "--complexity", "nl2dot: weights of simple/medium/complex, e.g. 30/50/20.", "SYNTHGEN_COMPLEXITY"),
        RecipeFlag("templates", "--templates", "nl2dot: folder of your own recipe/domain templates.", "SYNTHGEN_TEMPLATES_DIR", Path),
        RecipeFlag("checks_off", "--checks-off", "Quality checks to switch off, a comma list (README: Quality checks).",
                   "SYNTHGEN_CHECKS_OFF"),
    )

    def __init__(self, options: Nl2DotOptions) -> None:
        from synthgen.recipes.nl2dot.quotas import normalize_weights, parse_complexity_weights, parse_domains
        from synthgen.recipes.nl2dot.templates import load_recipe

        super().__init__(options)
        self.templates = load_recipe(options.templates)
        domains = options.domains or "all"
        self.domains = parse_domains(domains if isinstance(domains, str) else ",".join(domains), self.templates.domains)
        weights = options.complexity
        defaults = dict(self.templates.default_weights)
        if weights is None:
            self.weights = defaults
        else:
            parsed = (parse_complexity_weights(weights) if isinstance(weights, str)
                      else normalize_weights(weights, source="recipe option 'complexity'"))
            # The defaults spelled out (--complexity 30/50/20) are the defaults: the same
            # fingerprint, so a run started without the flag resumes with it.
            self.weights = defaults if parsed == normalize_weights(defaults) else parsed
        self.checks_off = _checks_off(options.checks_off)
        self._validate_step: Any = None  # check_steps()' validate step: the repair check shares its verdicts

    @property
    def version(self) -> str:
        return self.templates.version

    def fingerprint(self) -> dict[str, Any]:
        """The quality settings join the fingerprint only when they differ from the defaults,
        so a run started before the checks existed still resumes (under the default checks)."""
        changed = self.options.quality.model_dump(exclude_defaults=True)
        return {"recipe_fingerprint": self.templates.fingerprint(), "domains": self.domains, "complexity_weights": self.weights,
                "quality": changed or None, "checks_off": sorted(self.checks_off) or None}

    def targets(self, count: int) -> dict[Cell, int]:
        from synthgen.recipes.nl2dot.quotas import compute_targets

        return compute_targets(count, self.domains, self.weights)

    def planner(self, seed: int, *, start_index: int = 0) -> Any:
        from synthgen.recipes.nl2dot.plan import Planner

        return Planner(self.templates, seed, start_index=start_index)

    def request_for(self, item: Any, *, temperature: float, seeded: bool) -> GenerationRequest:
        grammar, max_tokens = grammar_for(item.complexity)
        sampling = SamplingSettings(temperature=temperature, max_tokens=max_tokens)
        return GenerationRequest(item.id, item.messages, sampling, grammar, item.seed if seeded else None)

    def check_steps(self) -> list[Step]:
        from synthgen.recipes.nl2dot.steps import GraphStep, MeasureStep, Nl2DotParse, RequestStep, ValidateStep

        q, off = self.options.quality, self.checks_off
        self._validate_step = ValidateStep()
        return [Nl2DotParse(), RequestStep(q, off), self._validate_step, MeasureStep(self.templates.complexities), GraphStep(q, off)]

    def repair_problems(self, samples: Sequence[Sample]) -> list[str | None]:
        """The parse step's and the validator's messages (``steps.repair_problems``), through
        the validate step's own Graphviz checker, whose verdicts that step then reuses."""
        from synthgen.recipes.nl2dot.steps import ValidateStep, repair_problems

        if self._validate_step is None:
            self._validate_step = ValidateStep()
        return repair_problems(list(samples), self._validate_step)

    @classmethod
    def cell_of(cls, record: dict[str, Any]) -> Cell:
        return (record["domain"], record["complexity_measured"])

    @classmethod
    def keys_of(cls, record: dict[str, Any]) -> DedupKeys:
        from synthgen.recipes.nl2dot.steps import keys_for

        return keys_for(record["request"], record["dot"], record.get("validation", {}).get("hashes", {}))

    # -- the record -------------------------------------------------------------------------

    def record_fields(self, sample: Sample) -> dict[str, Any]:
        item, f = sample.item, sample.fields
        return {
            "task_type": TASK_TYPE,
            "request": f["request"],
            "dot": f["dot"],
            "domain": item.domain,
            "subtopic": item.subtopic,
            "complexity_requested": item.complexity,
            "complexity_measured": f.get("complexity"),
            "features": f.get("features", {}),
        }

    def validation_fields(self, sample: Sample) -> dict[str, Any]:
        return {"grammar": sample.fields.get("grammar_ok"), "graphviz": sample.fields.get("graphviz_ok")}

    def failed_fields(self, item: Any) -> dict[str, Any]:
        return {"domain": item.domain, "complexity_requested": item.complexity}

    def rejected_fields(self, sample: Sample) -> dict[str, Any]:
        f = sample.fields
        return {
            **self.failed_fields(sample.item),
            "complexity_measured": f.get("complexity"),
            "request": f.get("request", ""),
            "dot": f.get("dot", ""),
        }

    # -- hooks --------------------------------------------------------------------------------

    def judge_messages(self, sample: Sample) -> list[dict[str, str]]:
        return _judge_messages(sample.fields["request"], sample.fields["dot"])

    @classmethod
    def judge_messages_of(cls, record: dict[str, Any]) -> list[dict[str, str]] | None:
        request, dot = record.get("request"), record.get("dot")
        return _judge_messages(request, dot) if isinstance(request, str) and isinstance(dot, str) and request and dot else None

    @classmethod
    def chat_turns(cls, record: dict[str, Any]) -> list[dict[str, str]] | None:
        if not record.get("request") or not record.get("dot"):
            return None
        return [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": record["request"]},
                {"role": "assistant", "content": record["dot"]}]

    @classmethod
    def preview_html(cls, record: dict[str, Any]) -> str | None:
        """The graph drawn by ``dot -Tsvg`` as a base64 ``<img>``: in an image an SVG can run
        nothing and load nothing (a URL= attribute stays a dead link). Graphviz runs with a
        timeout and with file loading off (``SERVER_NAME`` set, no ``GV_FILE_PATH``), so a
        record's image= or shapefile= cannot read local files; a failure is one escaped line."""
        import base64
        import html
        import os
        import shutil
        import subprocess

        dot = record.get("dot")
        if not isinstance(dot, str) or not dot.strip():
            return None
        note = '<p class="muted">no drawing: {}</p>'
        program = shutil.which("dot")
        if program is None:
            return note.format("Graphviz's dot is not installed")
        env = {"PATH": os.environ.get("PATH", ""), "SERVER_NAME": "synthgen-report"}
        try:
            proc = subprocess.run([program, "-Tsvg"], input=dot.encode("utf-8", "replace"), capture_output=True, timeout=10, env=env)
        except subprocess.TimeoutExpired:
            return note.format("Graphviz took more than 10 s")
        except OSError as exc:
            return note.format(html.escape(f"cannot run Graphviz: {exc}", quote=True))
        if proc.returncode != 0 or not proc.stdout.strip():
            message = " ".join(proc.stderr.decode("utf-8", "replace").split())[:200] or f"exit {proc.returncode}"
            return note.format(html.escape(f"Graphviz: {message}", quote=True))
        data = base64.b64encode(proc.stdout).decode("ascii")
        return f'<img class="graph" alt="the graph, drawn by Graphviz" src="data:image/svg+xml;base64,{data}">'

    def fake_answer(self, request: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
        from synthgen.recipes.nl2dot.fake import fake_answer

        return fake_answer(request, rng, knobs)


def _checks_off(value: str | list[str] | None) -> frozenset[str]:
    from synthgen.errors import ConfigError

    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value or []) if n.strip()]
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ConfigError(f"recipe option 'checks_off': unknown check {unknown[0]!r}", hint=f"known checks: {', '.join(CHECKS)}")
    return frozenset(names)


def _judge_messages(request: str, dot: str) -> list[dict[str, str]]:
    user = f"Request:\n{request}\n\nDOT:\n{dot}\n\nDoes this DOT implement the request? Answer yes or no."
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]
