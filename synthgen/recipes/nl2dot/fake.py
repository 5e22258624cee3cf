"""nl2dot's fake answers: realistic DOT of the size the prompt asks for, in the
REQUEST:/DOT: output format, for the fake engine (tests, kill tests, benchmarks).

Knobs (``SYNTHGEN_FAKE_<NAME>`` or fake-backend overrides): ``invalid_rate`` (DOT that
Graphviz rejects → rejected), ``complexity`` (answer at this level whatever the prompt asks).
"""

from __future__ import annotations

import random
from typing import Any

from synthgen.records import GenerationRequest

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


def format_output(request: str, dot: str) -> str:
    """The generation output format that ``split_output`` reads."""
    from synthgen.dot.gen_grammar import format_output as grammar_format

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


def fake_answer(req: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
    request, dot = fake_dot(rng, str(knobs.get("complexity") or "") or _asked_complexity(req))
    if rng.random() < float(knobs.get("invalid_rate") or 0.0):
        dot = dot.replace(" -> ", " -> -> ", 1)
    return format_output(request, dot)
