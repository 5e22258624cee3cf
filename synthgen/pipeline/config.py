"""What one run is: the options every recipe shares, the recipe's own, and the fingerprint
that ``--resume`` must match. The CLI builds a ``RunConfig`` from flags and SYNTHGEN_*
variables; tests and the service build it directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.steps.dedup import DedupConfig

DEFAULT_MODEL = "smollm2-135m"


@dataclass(slots=True)
class RunConfig:
    output: Path
    model: str = DEFAULT_MODEL
    count: int = 100
    recipe: str = "nl2dot"  # a registered name (synthgen recipes list) or package.module:Class
    recipe_options: dict[str, Any] = field(default_factory=dict)  # validated by the recipe's Options
    recipe_options_source: str | None = None  # where they came from, for error messages
    seed: int = 0
    batch_size: int = 32
    max_candidates: int | None = None  # hard cap; default max(4 x count, count + 64)
    max_gpu_hours: float | None = None
    max_cost: float | None = None
    validate_semantics: bool = False
    judge_model: str | None = None
    repair_rounds: int | None = None  # follow-ups for outputs that fail to parse (None: 2 on endpoints, 0 on local engines)
    temperature: float = 0.8
    resume: bool = False
    verbose: bool = False
    spec: Any = None  # a ModelSpec built on the fly (synthgen api); else resolved from ``model``
    fallback_spec: Any = None  # an endpoint's ModelSpec: where the run goes on when the local engine can't start or dies
    backend_overrides: dict[str, Any] = field(default_factory=dict)
    endpoint_options: dict[str, Any] = field(default_factory=dict)  # the OpenAI-compatible backend's (timeouts, attempts)
    dedup: DedupConfig = DedupConfig()
    resume_command: str = ""

    @property
    def cap(self) -> int:
        return self.max_candidates or max(4 * self.count, self.count + 64)


def fingerprint(config: RunConfig, recipe: Any, spec: Any) -> dict[str, Any]:
    """What decides which records this run produces; --resume must match it. The recipe adds
    its own part (templates hash, its options after parsing)."""
    from synthgen.runfolder.state import fingerprint_of

    source = spec.source
    return fingerprint_of(
        {
            "recipe": recipe.name,
            **recipe.fingerprint(),
            "model": spec.alias,
            "model_backend": spec.backend,
            "model_revision": source.revision if source else None,
            "count": config.count,
            "seed": config.seed,
            "temperature": config.temperature,
            "validate_semantics": config.validate_semantics,
            "judge_model": config.judge_model if config.validate_semantics else None,
            "fallback": config.fallback_spec.alias if config.fallback_spec is not None else None,
            "repair_rounds": config.repair_rounds,  # None (the default) is left out: runs from before resume
            "dedup": [config.dedup.near_threshold, config.dedup.num_perm, config.dedup.min_per_shape, config.dedup.max_shape_share],
        }
    )
