"""Compute and money: the ledger a run charges, the budget it checks, the --dry-run estimate.

One unit for every engine: GPU-seconds are wall time x accelerators held (a CPU engine counts
as one accelerator, a remote API as none), and USD comes from the per-1M-token prices in the
model's YAML. So a local run and an API run of the same recipe can be compared on one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgen.errors import ConfigError

if TYPE_CHECKING:
    from synthgen.backends.base import Completion
    from synthgen.models import ModelSpec, Prices
    from synthgen.pipeline.speed import Speed

CHARS_PER_TOKEN = 4  # the usual rough figure for English and code when no tokenizer is at hand


def usd_for(prompt_tokens: float, completion_tokens: float, prices: Prices | None) -> float:
    if prices is None:
        return 0.0
    return (prompt_tokens * prices.input_per_1m + completion_tokens * prices.output_per_1m) / 1_000_000


@dataclass(slots=True)
class Ledger:
    """What a run has spent so far; saved in run.json so a resumed run keeps counting."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0  # requests answered (one prompt, however many completions it asked for)
    engine_seconds: float = 0.0  # wall time inside backend.generate
    gpu_seconds: float = 0.0  # engine_seconds x accelerators held
    usd: float = 0.0
    cached_prompt_tokens: int = 0  # of prompt_tokens, served by the engine's prefix cache
    cache_reported_prompt_tokens: int = 0  # prompt tokens of the requests whose engine reported its cache

    def charge(
        self, completions: Sequence[Completion], wall_s: float, accelerators: int, prices: Prices | None
    ) -> None:
        """Charge one ``backend.generate`` call. A prompt is counted once per request even
        when it asked for n completions (that is how engines and APIs bill it)."""
        prompts: dict[str, int] = {}
        cached: dict[str, int] = {}  # requests whose engine reported its prefix cache
        completion_tokens = 0
        for c in completions:
            prompts[c.request_id] = max(prompts.get(c.request_id, 0), c.prompt_tokens)
            if c.cached_tokens is not None:
                cached[c.request_id] = max(cached.get(c.request_id, 0), c.cached_tokens)
            completion_tokens += c.completion_tokens
        prompt_tokens = sum(prompts.values())
        self.prompt_tokens += prompt_tokens
        self.cached_prompt_tokens += sum(cached.values())
        self.cache_reported_prompt_tokens += sum(prompts[r] for r in cached)
        self.completion_tokens += completion_tokens
        self.calls += len(prompts)
        self.engine_seconds += wall_s
        self.gpu_seconds += wall_s * accelerators
        self.usd += usd_for(prompt_tokens, completion_tokens, prices)

    @property
    def prefix_cache_hit_rate(self) -> float | None:
        """Share of prompt tokens the prefix cache served, over the requests whose engine
        reports it (vLLM; servers that fill ``usage.prompt_tokens_details``); ``None`` if none did."""
        if not self.cache_reported_prompt_tokens:
            return None
        return self.cached_prompt_tokens / self.cache_reported_prompt_tokens

    @property
    def gpu_hours(self) -> float:
        return self.gpu_seconds / 3600

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load(self, data: dict[str, Any] | None) -> None:
        """Take up a saved ledger in place (the engine-call paths hold this object)."""
        saved = Ledger.from_dict(data)
        for f in fields(Ledger):
            setattr(self, f.name, getattr(saved, f.name))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Ledger:
        """Unknown keys are ignored (a newer run.json), missing ones start at zero."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def summary(self) -> str:
        return (
            f"{self.calls} calls, {self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, "
            f"{self.gpu_hours:.4f} GPU-hours, ${self.usd:.4f}"
        )


@dataclass(slots=True)
class Budget:
    """Limits checked before every batch; ``None`` means no limit."""

    max_gpu_hours: float | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_gpu_hours", "max_cost"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} must be positive, got {value}", hint=f"leave {flag} out for no limit")

    def exceeded(self, ledger: Ledger) -> str | None:
        """Why the run must stop now, or ``None`` while it is within budget."""
        if self.max_gpu_hours is not None and ledger.gpu_hours >= self.max_gpu_hours:
            return f"GPU budget spent: {ledger.gpu_hours:.4f} of {self.max_gpu_hours:g} GPU-hours (--max-gpu-hours)"
        if self.max_cost is not None and ledger.usd >= self.max_cost:
            return f"cost budget spent: ${ledger.usd:.4f} of ${self.max_cost:g} (--max-cost)"
        return None


# -- estimates for --dry-run ----------------------------------------------------------------


@dataclass(slots=True)
class Estimate:
    """What a run would spend, expected and at worst (every output hitting max_tokens)."""

    model: str
    n_requests: int
    prompt_tokens: float
    completion_tokens: float
    completion_tokens_max: float
    remote: bool
    accelerators: int
    throughput_tokens_per_s: float | None
    wall_hours: float | None = None  # None: unknown (no throughput figure in the model YAML)
    gpu_hours: float | None = None
    gpu_hours_max: float | None = None
    usd: float = 0.0
    usd_max: float = 0.0
    notes: list[str] = field(default_factory=list)
    unknown: str = "the model YAML has no throughput_tokens_per_s"  # why GPU-hours are unknown

    def render(self) -> list[str]:
        lines = [
            f"model: {self.model} ({'remote API' if self.remote else f'{self.accelerators} accelerator(s)'})",
            f"requests: {self.n_requests}",
            f"prompt tokens: ~{self.prompt_tokens:,.0f}",
            f"completion tokens: ~{self.completion_tokens:,.0f} expected, at most {self.completion_tokens_max:,.0f}",
        ]
        if self.remote:
            lines.append("GPU-hours: 0 (remote API)")
        elif self.gpu_hours is None:
            lines.append(f"GPU-hours: unknown ({self.unknown})")
        else:
            lines.append(f"wall time: ~{_duration(self.wall_hours or 0.0)}")
            lines.append(f"GPU-hours: ~{self.gpu_hours:.4f} expected, at most {self.gpu_hours_max:.4f}")
        lines.append(f"cost: ~${self.usd:.4f} expected, at most ${self.usd_max:.4f}")
        lines.extend(f"note: {n}" for n in self.notes)
        return lines


def _duration(hours: float) -> str:
    seconds = hours * 3600
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{hours:.1f} h"


def estimate(
    n_requests: int,
    prompt_tokens_each: float,
    max_tokens: int,
    expected_completion_tokens: float,
    spec: ModelSpec,
    speed: Speed | None = None,
    unknown: str = "",
) -> Estimate:
    """Tokens from the plan; time from ``speed`` (a stored bench figure or a bandwidth
    estimate for the GPUs at hand, synthgen.pipeline.speed), else the spec's throughput figure.

    ``throughput_tokens_per_s`` is read as generated tokens per second of one replica
    (tensor x pipeline accelerators); data parallelism runs replicas side by side, so it
    shortens wall time but not GPU-hours. ``unknown`` says why there is no figure."""
    remote = spec.remote
    prompt = n_requests * prompt_tokens_each
    expected = n_requests * min(expected_completion_tokens, max_tokens)
    worst = float(n_requests * max_tokens)
    gpus = 0 if remote else spec.parallelism.gpus
    est = Estimate(
        model=spec.alias,
        n_requests=n_requests,
        prompt_tokens=prompt,
        completion_tokens=expected,
        completion_tokens_max=worst,
        remote=remote,
        accelerators=gpus,
        throughput_tokens_per_s=spec.throughput_tokens_per_s,
        usd=usd_for(prompt, expected, spec.prices),
        usd_max=usd_for(prompt, worst, spec.prices),
    )
    if unknown:
        est.unknown = unknown
    thr = spec.throughput_tokens_per_s
    if not remote and speed is not None:
        est.accelerators = speed.accelerators
        est.throughput_tokens_per_s = speed.tokens_per_s
        est.wall_hours = expected / speed.tokens_per_s / 3600
        est.gpu_hours = est.wall_hours * speed.accelerators
        est.gpu_hours_max = worst / speed.tokens_per_s / 3600 * speed.accelerators
        est.notes.append(f"GPU-hours basis: {speed.basis}")
    elif not remote and thr:
        replica_gpus = spec.parallelism.tensor * spec.parallelism.pipeline
        est.wall_hours = expected / (thr * spec.parallelism.data) / 3600
        est.gpu_hours = expected / thr / 3600 * replica_gpus
        est.gpu_hours_max = worst / thr / 3600 * replica_gpus
        if spec.throughput_source:
            est.notes.append(f"throughput {thr:g} tokens/s: {spec.throughput_source}")
    if remote and spec.prices.input_per_1m == 0 and spec.prices.output_per_1m == 0:
        est.notes.append("the model YAML has no prices; cost shown as $0")
    return est


# -- prompt token counting -------------------------------------------------------------------


@dataclass(slots=True)
class TokenCount:
    total: int
    method: str  # "tokenizer <folder>" or "chars/4"

    def per_prompt(self, n: int) -> float:
        return self.total / n if n else 0.0


def _tokenizer_folder(spec: ModelSpec | None, folder: str | Path | None) -> Path | None:
    candidates = [folder] if folder else []
    if spec is not None and spec.source is not None and spec.source.path:
        candidates.append(spec.source.path)
    for c in candidates:
        path = Path(c).expanduser()
        if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file():
            return path
    return None


def count_prompt_tokens(
    texts: Iterable[str], spec: ModelSpec | None = None, *, tokenizer_folder: str | Path | None = None
) -> TokenCount:
    """Count with the model's own tokenizer when a local folder has one (never the network:
    air-gapped machines must not hang on a hub lookup), else chars/4."""
    texts = list(texts)
    folder = _tokenizer_folder(spec, tokenizer_folder)
    if folder is not None and texts:
        try:
            from transformers import AutoTokenizer  # heavy: only when a tokenizer is there

            tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            total = sum(len(ids) for ids in tok(texts, add_special_tokens=True)["input_ids"])
            return TokenCount(total, f"tokenizer {folder}")
        except (ImportError, OSError, ValueError):
            pass  # fall back to the rough count; a dry run must not fail over an estimate
    return TokenCount(sum(-(-len(t) // CHARS_PER_TOKEN) for t in texts), f"chars/{CHARS_PER_TOKEN}")
