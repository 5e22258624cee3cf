"""A fast, deterministic stand-in engine for the steps around the engine.

It answers in the generation output format with realistic DOT of the size the prompt asks
for (simple / medium / complex), so pipeline tests, kill tests and benchmarks exercise
the real parse, Graphviz, measure, dedup and quota code at thousands of records a second.
Knobs (constructor overrides, or ``SYNTHGEN_FAKE_<NAME>`` environment variables so a test
can drive the CLI): ``garbage_rate`` (text that is not the output format → failed),
``invalid_rate`` (DOT that Graphviz rejects → rejected), ``error_rate`` (engine errors),
``duplicate_rate`` (repeats an earlier answer), ``judge_no_rate`` (judge answers "no"),
``complexity`` (answer at this level whatever the prompt asks), ``delay_s`` (sleep per batch), ``seed``.
Outputs depend only on (seed, request id), so a resumed run sees the same answers.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from typing import Any, ClassVar, Sequence

from synthgen.backends.base import Completion, GenerationRequest

_KNOBS = {"garbage_rate": 0.0, "invalid_rate": 0.0, "error_rate": 0.0, "duplicate_rate": 0.0, "judge_no_rate": 0.0, "delay_s": 0.0, "seed": 0, "complexity": ""}
_WORDS = (
    "idle patrol chase attack flee search alert guard reload heal "
    "connect syn ack established fin_wait close_wait timeout retry handshake reset "
    "build test lint deploy approve review merge release rollback notify "
    "home login settings profile cart checkout search_page details help logout "
    "start move grasp lift place scan charge error_state calibrate stop "
    "begin_tx read write lock commit abort rollback_tx validate prepare done "
    "browse add_item payment shipped delivered refund cancel confirm invoice track "
    "draft submitted in_review approved published archived rejected revised signed expired"
).split()
_COLORS = ("lightblue", "lightgray", "palegreen", "lightyellow", "pink", "white")
_SHAPES = ("box", "ellipse", "circle", "diamond", "doublecircle", "note")
_SIZES = {"simple": (3, 7, 0), "medium": (9, 13, 0), "complex": (15, 20, 2)}  # nodes min, max, clusters (dot.complexity)


def _knob(name: str, overrides: dict[str, Any]) -> Any:
    default = _KNOBS[name]
    if name in overrides:
        return type(default)(overrides[name])
    env = os.environ.get(f"SYNTHGEN_FAKE_{name.upper()}")
    return type(default)(env) if env else default


def format_output(request: str, dot: str) -> str:
    """The generation output format that ``split_output`` reads."""
    try:
        from synthgen.dot.gen_grammar import format_output as grammar_format
    except ImportError:
        return f"REQUEST: {request.strip()}\nDOT:\n{dot.strip()}\n"
    return grammar_format(request, dot)


def _asked_complexity(req: GenerationRequest) -> str:
    text = " ".join(m.get("content", "") for m in req.messages[-1:]).lower()
    for level in ("complex", "medium", "simple"):
        if level in text:
            return level
    return "medium"


def fake_dot(rng: random.Random, complexity: str) -> tuple[str, str]:
    """(request, DOT) with node count and clusters typical of ``complexity``."""
    low, high, clusters = _SIZES.get(complexity, _SIZES["medium"])
    names = rng.sample(_WORDS, rng.randint(low, high))
    lines = [f"digraph {rng.choice(('G', 'flow', 'states', 'machine'))} {{", f"  rankdir={rng.choice(('LR', 'TB'))};"]
    lines.append(f"  node [shape={rng.choice(_SHAPES)}, style=filled, fillcolor={rng.choice(_COLORS)}];")
    groups = [names] if not clusters else [names[i::clusters] for i in range(clusters)]
    for gi, group in enumerate(groups):
        pad = "  "
        if clusters:
            lines.append(f'  subgraph cluster_{gi} {{\n    label="{group[0]} stage";')
            pad = "    "
        lines += [f'{pad}{n} [label="{n.replace("_", " ").title()}"];' for n in group]
        if clusters:
            lines.append("  }")
    for a, b in zip(names, names[1:]):
        lines.append(f'  {a} -> {b} [label="{rng.choice(_WORDS)}"];')
    for _ in range(len(names) // 3):
        a, b = rng.sample(names, 2)
        lines.append(f"  {a} -> {b};")
    lines.append("}")
    request = f"Draw a {complexity} state diagram where {names[0].replace('_', ' ')} leads to " + ", then ".join(
        n.replace("_", " ") for n in names[1:4]
    ) + f" (variant {rng.randint(0, 10**6)})."
    return request, "\n".join(lines)


class FakeBackend:
    name: ClassVar[str] = "fake"
    supports_grammar: ClassVar[bool] = True
    supports_batching: ClassVar[bool] = True

    def __init__(self, spec: Any = None, **overrides: Any) -> None:
        self.spec = spec
        self.knobs = {name: _knob(name, overrides) for name in _KNOBS}
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
        if "answer yes or no" in req.messages[-1].get("content", "").lower():
            text = "no" if roll < k["judge_no_rate"] else "yes"
            return Completion(req.id, text, "stop", prompt_tokens, 1, index=index)
        if roll < k["error_rate"]:
            return Completion(req.id, "", "error", prompt_tokens, 0, index=index, error="fake engine error")
        roll -= k["error_rate"]
        if roll < k["garbage_rate"]:
            text = rng.choice(("I cannot help with that.", "digraph { a -> ", "Sure! Here is a graph: a -> b"))
        elif roll - k["garbage_rate"] < k["duplicate_rate"] and self._pool:
            text = rng.choice(self._pool)
        else:
            request, dot = fake_dot(rng, k["complexity"] or _asked_complexity(req))
            if rng.random() < k["invalid_rate"]:
                dot = dot.replace(" -> ", " -> -> ", 1)
            text = format_output(request, dot)
            if len(self._pool) < 64:
                self._pool.append(text)
        return Completion(req.id, text, "stop", prompt_tokens, max(1, len(text) // 4), index=index)
