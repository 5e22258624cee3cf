"""Judge (``--validate-semantics``): an LLM yes/no on "does this output answer its request".

Checks only say an output is well formed; the judge catches a valid output that answers a
different question. The recipe writes the question (``Recipe.judge_messages``); this step
asks the whole batch in one engine call, constrained to ``yes``/``no`` where the engine
takes a grammar, through the run's one engine-call path, so its tokens and engine time are
charged to the ledger and logged like any other call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthgen.records import Completion, GenerationRequest, Sample, SamplingSettings
from synthgen.steps.base import Step

JUDGE_GRAMMAR = 'start: "yes" | "no"\n'
ANSWER_INSTRUCTION = "Answer yes or no."  # every judge prompt's last user turn ends with this


def parse_verdict(text: str) -> str | None:
    word = text.strip().lower().lstrip("'\"*").split()[:1]
    if word and word[0].startswith("yes"):
        return "yes"
    if word and word[0].startswith("no"):
        return "no"
    return None


def judge_request(request_id: str, messages: list[dict[str, str]], grammar: bool) -> GenerationRequest:
    """One judge question: greedy, four tokens, constrained to yes/no where the engine takes a grammar."""
    sampling = SamplingSettings(temperature=0.0, top_p=1.0, max_tokens=4)
    return GenerationRequest(id=request_id, messages=messages, sampling=sampling, grammar=JUDGE_GRAMMAR if grammar else None)


class JudgeStep(Step):
    name = "judge"

    def __init__(self, engine: Any, model: str, messages_for: Callable[[Sample], list[dict[str, str]]]) -> None:
        """``engine``: the run's engine-call path for the judge model (``call(requests)``,
        ``supports_grammar``); ``messages_for``: the recipe's judge prompt for a sample."""
        super().__init__()
        self.engine = engine
        self.model = model
        self.messages_for = messages_for

    def process(self, batch: list[Sample]) -> list[Sample]:
        requests = [judge_request(f"judge-{i}", self.messages_for(s), self.engine.supports_grammar) for i, s in enumerate(batch)]
        answers = self.engine.call(requests)
        by_id = {a.request_id: a for a in answers}
        return [s for req, s in zip(requests, batch) if self._judged(s, by_id.get(req.id))]

    def _judged(self, sample: Sample, answer: Completion | None) -> bool:
        if answer is None or answer.finish_reason == "error":
            self.drop(sample, "judge_error", (answer.error if answer else None) or "no answer from the judge")
            return False
        verdict = parse_verdict(answer.text)
        sample.judge = {"model": self.model, "verdict": verdict}
        if verdict == "yes":
            return True
        self.drop(sample, "judge_no" if verdict == "no" else "judge_unclear", answer.text.strip()[:80])
        return False
