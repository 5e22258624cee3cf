"""The one interface every generation engine implements.

Backends are cheap to construct and expensive to ``load()``: heavy imports (vllm, torch,
transformers, outlines) happen inside ``load()`` only. ``generate`` takes a batch of
requests and returns completions in request order (``n`` completions per request, by
``index``), never raising for a single bad output: a failed item comes back with
``finish_reason == "error"`` and ``error`` set, so the pipeline can count it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol, Sequence, runtime_checkable

FinishReason = Literal["stop", "length", "error"]


@dataclass(slots=True, frozen=True)
class SamplingSettings:
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 1024
    n: int = 1


@dataclass(slots=True)
class GenerationRequest:
    id: str
    messages: list[dict[str, str]]  # chat messages: [{"role": "system"|"user"|"assistant", "content": ...}]
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    grammar: str | None = None  # Lark source (see grammars/); None means unconstrained
    seed: int | None = None


@dataclass(slots=True)
class Completion:
    request_id: str
    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0  # wall time of the call that produced it (a batch's wall time for batched engines)
    index: int = 0  # 0..n-1 when SamplingSettings.n > 1
    error: str | None = None  # one line, no secrets; set when finish_reason == "error"


@runtime_checkable
class Backend(Protocol):
    name: ClassVar[str]
    supports_grammar: ClassVar[bool]  # can constrain decoding with a Lark grammar
    supports_batching: ClassVar[bool]  # benefits from large batches in one generate() call

    @property
    def accelerators(self) -> int:
        """GPUs (or 1 for a CPU engine) held while generating; 0 for remote APIs.
        The budget ledger charges wall time x this number as GPU-seconds."""

    def load(self) -> None: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...

    def close(self) -> None: ...
