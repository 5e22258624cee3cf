"""Judge (``--validate-semantics``): an LLM yes/no on "does this DOT implement this request".

Graphviz only says a graph is well formed; the judge catches a valid graph that answers a
different question. It asks the whole batch in one ``generate`` call, constrained to
``yes``/``no`` where the engine takes a grammar, and charges its tokens and engine time
to the run's ledger like any other call, so the summary's cost per example includes it.
"""

from __future__ import annotations

import time
from typing import Any

from synthgen.backends.base import GenerationRequest, SamplingSettings
from synthgen.pipeline.steps import Sample, Step

JUDGE_GRAMMAR = 'start: "yes" | "no"\n'
SYSTEM = (
    "You review datasets of Graphviz diagrams. Given a request and a DOT graph, answer 'yes' if "
    "the graph implements what the request describes (its states, steps and transitions), 'no' otherwise. "
    "Answer with one word: yes or no."
)


def judge_messages(request: str, dot: str) -> list[dict[str, str]]:
    user = f"Request:\n{request}\n\nDOT:\n{dot}\n\nDoes this DOT implement the request? Answer yes or no."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> str | None:
    word = text.strip().lower().lstrip("'\"*").split()[:1]
    if word and word[0].startswith("yes"):
        return "yes"
    if word and word[0].startswith("no"):
        return "no"
    return None


class JudgeStep(Step):
    name = "judge"

    def __init__(self, backend: Any, model: str, ledger: Any, prices: Any = None) -> None:
        super().__init__()
        self.backend = backend
        self.model = model
        self.ledger = ledger
        self.prices = prices

    def process(self, batch: list[Sample]) -> list[Sample]:
        grammar = JUDGE_GRAMMAR if getattr(self.backend, "supports_grammar", False) else None
        sampling = SamplingSettings(temperature=0.0, top_p=1.0, max_tokens=4)
        requests = [
            GenerationRequest(id=f"judge-{i}", messages=judge_messages(s.request, s.dot), sampling=sampling, grammar=grammar)
            for i, s in enumerate(batch)
        ]
        start = time.perf_counter()
        answers = self.backend.generate(requests)
        self.ledger.charge(answers, time.perf_counter() - start, self.backend.accelerators, self.prices)
        by_id = {a.request_id: a for a in answers}
        kept = []
        for req, sample in zip(requests, batch):
            if self._judged(sample, by_id.get(req.id)):
                kept.append(sample)
        return kept

    def _judged(self, sample: Sample, answer: Any) -> bool:
        if answer is None or answer.finish_reason == "error":
            self.drop(sample, "judge_error", getattr(answer, "error", None) or "no answer from the judge")
            return False
        verdict = parse_verdict(answer.text)
        sample.judge = {"model": self.model, "verdict": verdict}
        if verdict == "yes":
            return True
        self.drop(sample, "judge_no" if verdict == "no" else "judge_unclear", answer.text.strip()[:80])
        return False
