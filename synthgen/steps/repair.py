"""Repair: an output that fails its recipe's parse or validation goes back to the model as a
follow-up chat turn carrying the validator's own message ("syntax error in line 14 near
';'"), at most ``rounds`` times.

An endpoint that ignores the grammar field (OpenAI, Gemini, any server that answers 200
with unconstrained text) writes DOT or JSON that fails the checks a grammar would have made
impossible. Asking again with the error in hand keeps the plan item (its cell, its
template) and usually costs one short turn. The step runs first, before the recipe's own
checks: it asks the recipe what is wrong with each output (``Recipe.repair_problems``),
sends the failing ones back through the run's engine-call path (so every follow-up is in
the ledger and ``log.jsonl``), and replaces each sample's completion with the last answer.
It drops nothing: the recipe's checks then read the final text and drop what still fails,
with their usual reasons, so nothing that fails Graphviz or the schema is ever accepted.

Counters (``run.json``, step ``repair``): ``repaired_ok`` (an answer passed after 1..rounds
follow-ups; ``repaired_round_<k>`` says after how many), ``repair_failed`` (still failing
after the last round, or the follow-up failed in the engine or hit max_tokens),
``repair_requests`` (follow-up requests sent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from synthgen.records import Completion, GenerationRequest, Sample
from synthgen.steps.base import Step

MAX_ROUNDS = 5  # --repair-rounds above this is refused: each round resends the whole conversation
ENDPOINT_ROUNDS = 2  # the default on endpoints (--repair-rounds not given); local engines: 0
PROBLEM_CHARS = 300  # a validator message is cut to this in the follow-up turn

# (samples) -> for each, the validator's message when its output fails what a follow-up can fix, else None
ProblemCheck = Callable[[Sequence[Sample]], list[str | None]]


def rounds_for(setting: int | None, remote: bool) -> int:
    """Rounds for an engine: ``setting`` when given (0 turns repair off), else
    ``ENDPOINT_ROUNDS`` on an endpoint and none on a local engine. A local engine that
    honours the grammar rarely fails Graphviz, and a follow-up there is a second, serial
    engine call that holds the whole batch up; a new candidate in the next batch is cheaper."""
    if setting is None:
        return ENDPOINT_ROUNDS if remote else 0
    return setting


def repair_turn(problem: str) -> dict[str, str]:
    """The follow-up user turn: the validator's message, then what to do about it."""
    text = " ".join(problem.split())
    if len(text) > PROBLEM_CHARS:
        text = text[: PROBLEM_CHARS - 1] + "…"
    return {"role": "user", "content": f"That answer could not be used: {text}\n"
                                       "Write the whole answer again, corrected, in the same format, and nothing else."}


def followup_request(original: GenerationRequest, trail: Sequence[tuple[str, str]], request_id: str) -> GenerationRequest:
    """The original conversation, then for every failed answer so far the answer (assistant)
    and its validator's message (user). One completion, the original sampling, grammar,
    schema and seed, so an engine that honours the grammar still applies it."""
    messages = list(original.messages)
    for answer, problem in trail:
        messages += [{"role": "assistant", "content": answer}, repair_turn(problem)]
    return dataclasses.replace(original, id=request_id, messages=messages, sampling=dataclasses.replace(original.sampling, n=1))


class RepairStep(Step):
    name = "repair"

    def __init__(self, engine: Any, check: ProblemCheck, request_for: Callable[[Any], GenerationRequest],
                 setting: int | None = None) -> None:
        """``engine``: the run's engine-call path (``call``, ``remote``, ``backend``);
        ``check``: the recipe's ``repair_problems``; ``request_for``: the plan item's
        original request; ``setting``: ``--repair-rounds`` (None: the engine's default)."""
        super().__init__()
        if setting is not None and not 0 <= setting <= MAX_ROUNDS:
            raise ValueError(f"repair rounds must be from 0 to {MAX_ROUNDS}, got {setting}")
        self.engine = engine
        self.check = check
        self.request_for = request_for
        self.setting = setting

    @property
    def rounds(self) -> int:
        """Read per batch: a run that falls back from a local engine to an endpoint starts repairing."""
        return rounds_for(self.setting, bool(self.engine.remote))

    def process(self, batch: list[Sample]) -> list[Sample]:
        rounds = self.rounds
        if rounds <= 0:
            return batch
        todo = self._failing([s for s in batch if s.completion.finish_reason == "stop"])
        trails: dict[int, list[tuple[str, str]]] = {}
        for round_ in range(1, rounds + 1):
            if not todo:
                break
            for sample, problem in todo:
                trails.setdefault(id(sample), []).append((sample.completion.text, problem))
            answered = self._ask([(s, trails[id(s)]) for s, _ in todo], round_)
            still = [s for s in answered if s.completion.finish_reason == "stop"]
            for sample in answered:
                if sample.completion.finish_reason != "stop":
                    self._settle(sample, trails[id(sample)], ok=False)
            todo = []
            for sample, problem in zip(still, self.check(still) if still else [], strict=True):
                if problem:
                    todo.append((sample, problem))
                else:
                    self._settle(sample, trails[id(sample)], ok=True)
        for sample, _ in todo:
            self._settle(sample, trails[id(sample)], ok=False)
        return batch

    def _failing(self, samples: list[Sample]) -> list[tuple[Sample, str]]:
        if not samples:
            return []
        return [(s, p) for s, p in zip(samples, self.check(samples), strict=True) if p]

    def _ask(self, pending: list[tuple[Sample, list[tuple[str, str]]]], round_: int) -> list[Sample]:
        """One follow-up call for every sample still failing; each sample takes its answer."""
        requests = [followup_request(self.request_for(s.item), trail, f"{s.key}#repair{round_}") for s, trail in pending]
        answers = {c.request_id: c for c in self.engine.call(requests)}
        self.counters["repair_requests"] += len(requests)
        share = self.engine.last_wall_s * max(1, int(self.engine.backend.accelerators)) / max(1, len(requests))
        out = []
        for (sample, _), req in zip(pending, requests, strict=True):
            answer = answers.get(req.id) or Completion(req.id, "", "error", error="no answer to the repair request")
            self._take(sample, answer, share)
            out.append(sample)
        return out

    @staticmethod
    def _take(sample: Sample, answer: Completion, share: float) -> None:
        first = sample.completion
        spent = sample.repair or {"rounds": 0, "errors": [], "tokens": {"prompt": 0, "completion": 0},
                                  "total_tokens": {"prompt": first.prompt_tokens, "completion": first.completion_tokens}}
        spent["rounds"] += 1
        for key, n in (("prompt", answer.prompt_tokens), ("completion", answer.completion_tokens)):
            spent["tokens"][key] += n
            spent["total_tokens"][key] += n
        sample.repair = spent
        sample.completion = dataclasses.replace(answer, index=first.index)  # the record id keeps its completion index
        sample.compute_s += share

    def _settle(self, sample: Sample, trail: list[tuple[str, str]], *, ok: bool) -> None:
        assert sample.repair is not None
        sample.repair["errors"] = [problem for _, problem in trail]
        sample.repair["ok"] = ok
        if ok:
            self.counters["repaired_ok"] += 1
            self.counters[f"repaired_round_{sample.repair['rounds']}"] += 1
        else:
            self.counters["repair_failed"] += 1
