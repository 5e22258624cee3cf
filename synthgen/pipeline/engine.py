"""The one path every engine call takes: generate, charge the ledger, log the call.

The runner's generation, the repair step and the judge all call through an ``EngineCall``, so every token
and engine-second a run spends is in ``run.json``'s ledger and in ``log.jsonl``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synthgen.records import Completion, GenerationRequest


@dataclass(slots=True)
class EngineCall:
    backend: Any
    model: str  # the alias logged with each call
    prices: Any
    ledger: Any
    log: Any = None  # a RunLogger once the run folder is open
    last_wall_s: float = 0.0

    @property
    def supports_grammar(self) -> bool:
        return bool(self.backend.supports_grammar)

    @property
    def remote(self) -> bool:
        """An endpoint (no accelerators of ours held): requests are independent and billed per token."""
        return int(self.backend.accelerators) == 0

    def call(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        start = time.perf_counter()
        completions = self.backend.generate(requests)
        self.last_wall_s = time.perf_counter() - start
        for c in completions:
            c.text = encodable(c.text)
        self.ledger.charge(completions, self.last_wall_s, self.backend.accelerators, self.prices)
        if self.log is not None:
            self.log.engine_call(self.model, completions, self.last_wall_s, self.ledger)
        return completions


def encodable(text: str) -> str:
    """``text`` with lone surrogates (bytes an engine could not decode, under surrogateescape)
    replaced by U+FFFD, so every step and every file sees text UTF-8 can hold."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
