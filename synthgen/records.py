"""The shared vocabulary of a run: what goes to an engine, what comes back, and a sample on
its way to the record.

Every layer speaks these types: recipes build ``GenerationRequest``s and fill ``Sample``s,
backends answer with ``Completion``s, generic steps read a sample's ``cell`` and ``keys``,
and the run folder writes records built from samples. They are plain slotted dataclasses
with no imports beyond the standard library, so any layer may use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FinishReason = Literal["stop", "length", "error"]
DropKind = Literal["rejected", "failed"]
Cell = tuple[str, ...]  # a quota bucket, e.g. (domain, complexity) or (repo, task_kind)


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
    grammar: str | None = None  # Lark source (see grammars/); None means no grammar
    seed: int | None = None
    json_schema: dict[str, Any] | None = None  # a JSON schema the output must follow (instead of a grammar)


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
    cached_tokens: int | None = None  # of prompt_tokens, those the engine's prefix cache served; None: it doesn't say


class PlanItem(Protocol):
    """What the runtime needs of a recipe's plan item; a recipe's own item carries more."""

    @property
    def id(self) -> str: ...  # unique in a run: the record id
    @property
    def index(self) -> int: ...  # position in the seeded plan stream (resume continues after the largest)
    @property
    def seed(self) -> int: ...  # per-item sampling seed
    @property
    def template_name(self) -> str: ...
    @property
    def template_version(self) -> str: ...
    @property
    def messages(self) -> list[dict[str, str]]: ...  # the prompt (saved with a failed record)


@dataclass(slots=True, frozen=True)
class DedupKeys:
    """What the generic dedup step compares, set by a recipe's checks.

    ``text``: the natural-language part (exact match after normalising, word 3-shingles for
    MinHash); ``body``: the structured part (token 3-shingles); ``content_hash``: a hash of
    the body's normal form (``None``: whitespace-folded body); ``shape``: a structural hash
    that may fill only a share of a cell (``None``: no structural check)."""

    text: str
    body: str
    content_hash: str | None = None
    shape: str | None = None


@dataclass(slots=True)
class Sample:
    """One completion on its way to the record: what the plan asked and what came back.

    ``fields`` belong to the recipe (its checks fill them, its record hooks read them);
    ``cell`` (the MEASURED quota bucket) and ``keys`` are what the generic steps use."""

    item: Any  # the recipe's plan item (see PlanItem)
    completion: Completion
    fields: dict[str, Any] = field(default_factory=dict)
    cell: Cell | None = None
    keys: DedupKeys | None = None
    hashes: dict[str, str] = field(default_factory=dict)  # saved in the record (validation.hashes)
    judge: dict[str, Any] | None = None
    compute_s: float = 0.0  # this sample's share of the engine's wall time x accelerators
    # Set by the repair step when the output went back to the model (synthgen.steps.repair):
    # rounds, the validator's messages sent back, tokens of the follow-ups, whether it passed.
    repair: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """The record id: the plan item id, plus the completion index when n > 1."""
        index = self.completion.index
        return self.item.id if not index else f"{self.item.id}-{index}"


@dataclass(slots=True)
class Drop:
    sample: Sample
    step: str
    reason: str
    detail: str
    kind: DropKind


@dataclass(slots=True)
class BatchResult:
    accepted: list[Sample] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)

    def of_kind(self, kind: DropKind) -> list[Drop]:
        return [d for d in self.drops if d.kind == kind]


def cell_label(cell: Cell) -> str:
    """``domain/complexity``: how a cell is written in run.json and shown to people."""
    return "/".join(str(part) for part in cell)
