"""The one interface every generation engine implements.

Backends are cheap to construct and expensive to ``load()``: heavy imports (vllm, torch,
transformers, outlines) happen inside ``load()`` only. ``generate`` takes a batch of
requests and returns completions in request order (``n`` completions per request, by
``index``), never raising for a single bad output: a failed item comes back with
``finish_reason == "error"`` and ``error`` set, so the pipeline can count it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from synthgen.records import Completion, FinishReason, GenerationRequest, SamplingSettings

__all__ = ["Backend", "Completion", "FinishReason", "GenerationRequest", "SamplingSettings"]


@runtime_checkable
class Backend(Protocol):
    name: ClassVar[str]
    supports_grammar: ClassVar[bool]  # can constrain decoding with a Lark grammar
    supports_batching: ClassVar[bool]  # benefits from large batches in one generate() call
    supports_json_schema: ClassVar[bool]  # can constrain decoding with GenerationRequest.json_schema
    answers_from_recipe: ClassVar[bool]  # a scripted stand-in: takes ``answerer=`` (the recipe's fake answers)

    @property
    def source_label(self) -> str:
        """What wrote a record, for its ``provenance.source`` (``synthetic-<label>``): the
        engine's name, or the API provider's."""

    @property
    def supports_request_seed(self) -> bool:
        """Whether per-request seeds are safe to send (asked after ``load()``)."""

    @property
    def accelerators(self) -> int:
        """GPUs (or 1 for a CPU engine) held while generating; 0 for remote APIs.
        The budget ledger charges wall time x this number as GPU-seconds."""

    def load(self) -> None: ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]: ...

    def close(self) -> None: ...
