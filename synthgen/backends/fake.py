"""A fast, deterministic stand-in engine for the steps around the engine.

It knows no recipe: each answer comes from the recipe's ``fake_answer`` hook (the runner
passes it as ``answerer``), so pipeline tests, kill tests and benchmarks exercise a recipe's
real checks, dedup and quota at thousands of records a second. Knobs (constructor
overrides, or ``SYNTHGEN_FAKE_<NAME>`` environment variables so a test can drive the CLI):
``garbage_rate`` (text in no recipe's format → failed), ``error_rate`` (engine errors),
``duplicate_rate`` (repeats an earlier answer), ``judge_no_rate`` (the judge answers "no"),
``hostile_rate`` (control bytes, a lone surrogate and a bidi override inserted in an answer),
``delay_s`` (sleep per batch), ``seed``. Any other ``SYNTHGEN_FAKE_<NAME>`` (or override)
reaches the answerer as a string knob, for the recipe's own defects (nl2dot:
``invalid_rate``, ``complexity``). Outputs depend only on (seed, request id), so a resumed
run sees the same answers.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from synthgen.records import Completion, GenerationRequest

# (request, rng, knobs) -> the completion's text
Answerer = Callable[[GenerationRequest, random.Random, dict[str, Any]], str]

_KNOBS: dict[str, Any] = {"garbage_rate": 0.0, "error_rate": 0.0, "duplicate_rate": 0.0, "judge_no_rate": 0.0,
                          "hostile_rate": 0.0, "delay_s": 0.0, "seed": 0}
# Control bytes, an escape sequence, a lone surrogate (what invalid UTF-8 decodes to with
# surrogateescape), a noncharacter and a bidi override: what a broken or hostile engine sends.
_HOSTILE = "\x00\x07\x1b[31m\udc80\ufffe\u202e"
_ENV_PREFIX = "SYNTHGEN_FAKE_"
_GARBAGE = ("I cannot help with that.", "digraph { a -> ", "Sure! Here is a graph: a -> b")


def _knobs(overrides: dict[str, Any]) -> dict[str, Any]:
    """Typed generic knobs, then every other override or SYNTHGEN_FAKE_* variable as given."""
    extra = {k[len(_ENV_PREFIX):].lower(): v for k, v in os.environ.items() if k.startswith(_ENV_PREFIX) and v}
    extra.update({k: v for k, v in overrides.items() if k != "accelerators"})
    knobs = dict(extra)
    for name, default in _KNOBS.items():
        knobs[name] = type(default)(extra[name]) if name in extra else default
    return knobs


def _no_answers(req: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
    raise NotImplementedError("this recipe has no fake answers")


def parse_rates(raw: Any, known: Sequence[str], knob: str = "defect_rates") -> dict[str, float]:
    """A recipe's per-defect knob as {name: rate}: a mapping, or "name=rate,..." text (an
    environment variable); names from ``known``, rates >= 0 summing to at most 1."""
    from synthgen.errors import ConfigError

    if isinstance(raw, str):
        pairs = [p.split("=", 1) for p in raw.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ConfigError(f"fake knob {knob}: {raw!r}", hint="write name=rate,name=rate")
        raw = {k.strip(): v for k, v in pairs}
    try:
        rates = {str(k): float(v) for k, v in (raw or {}).items()}
    except (TypeError, ValueError, AttributeError):
        raise ConfigError(f"fake knob {knob}: {raw!r}", hint="write name=rate,name=rate") from None
    if set(rates) - set(known) or sum(rates.values()) > 1 or any(r < 0 for r in rates.values()):
        raise ConfigError(f"fake knob {knob}: {rates}", hint=f"rates >= 0 summing to at most 1, names from {', '.join(known)}")
    return rates


def seeded_pick(rates: dict[str, float], seed: Any, request_id: str) -> str | None:
    """Which defect (if any) the answer to ``request_id`` carries: a pure function of (seed,
    request id), apart from the answer's own rng, so a test knows each record's defect and a
    run without defects writes what it wrote before."""
    if not rates:
        return None
    digest = hashlib.blake2b(f"fake-defect|{seed}|{request_id}".encode(), digest_size=8).digest()
    roll = int.from_bytes(digest, "big") / 2**64
    for name in sorted(rates):
        if roll < rates[name]:
            return name
        roll -= rates[name]
    return None


def is_judge_request(req: GenerationRequest) -> bool:
    """The generic judge step's requests end by asking for one word, yes or no."""
    return "answer yes or no" in req.messages[-1].get("content", "").lower()


class FakeBackend:
    name: ClassVar[str] = "fake"
    supports_grammar: ClassVar[bool] = True
    supports_batching: ClassVar[bool] = True
    supports_json_schema: ClassVar[bool] = True
    answers_from_recipe: ClassVar[bool] = True
    supports_request_seed = True
    source_label = "fake"

    def __init__(self, spec: Any = None, *, answerer: Answerer | None = None, **overrides: Any) -> None:
        self.spec = spec
        self.answerer = answerer or _no_answers
        self.knobs = _knobs(overrides)
        self._accelerators = int(overrides.get("accelerators", 1))
        self._pool: list[str] = []
        self.calls = 0
        self.loaded = False

    @property
    def accelerators(self) -> int:
        return self._accelerators

    def load(self) -> None:
        self.loaded = True

    def close(self) -> None:
        self.loaded = False

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        start = time.perf_counter()
        if self.knobs["delay_s"]:
            time.sleep(self.knobs["delay_s"])
        self.calls += 1
        out = [self._one(req, i) for req in requests for i in range(req.sampling.n)]
        wall = time.perf_counter() - start
        for comp in out:
            comp.latency_s = wall
        return out

    def _one(self, req: GenerationRequest, index: int) -> Completion:
        digest = hashlib.blake2b(f"{self.knobs['seed']}|{req.id}|{index}".encode(), digest_size=8).digest()
        rng = random.Random(int.from_bytes(digest, "big"))
        prompt_tokens = sum(len(m.get("content", "")) for m in req.messages) // 4
        roll = rng.random()
        k = self.knobs
        if is_judge_request(req):
            text = "no" if roll < k["judge_no_rate"] else "yes"
            return Completion(req.id, text, "stop", prompt_tokens, 1, index=index)
        if roll < k["error_rate"]:
            return Completion(req.id, "", "error", prompt_tokens, 0, index=index, error="fake engine error")
        roll -= k["error_rate"]
        if roll < k["garbage_rate"]:
            text = rng.choice(_GARBAGE)
        elif roll - k["garbage_rate"] < k["duplicate_rate"] and self._pool:
            text = rng.choice(self._pool)
        else:
            try:
                text = self.answerer(req, rng, k)
            except NotImplementedError as exc:
                return Completion(req.id, "", "error", prompt_tokens, 0, index=index, error=str(exc))
            if len(self._pool) < 64:
                self._pool.append(text)
        if rng.random() < k["hostile_rate"]:
            cut = rng.randrange(len(text) + 1)
            text = text[:cut] + _HOSTILE + text[cut:]
        return Completion(req.id, text, "stop", prompt_tokens, max(1, len(text) // 4), index=index)
