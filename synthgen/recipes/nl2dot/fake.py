"""nl2dot's fake answers: realistic DOT of the size the prompt asks for, in the
REQUEST:/DOT: output format, for the fake engine (tests, kill tests, benchmarks).

Knobs (``SYNTHGEN_FAKE_<NAME>`` or fake-backend overrides): ``invalid_rate`` (DOT that
Graphviz rejects → rejected), ``complexity`` (answer at this level whatever the prompt asks),
``defect_rates`` (``"self_loops=0.1,size_not_met=0.05"`` or a mapping: the share of answers
given that quality defect and no other, one per answer; ``fake_defects.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from synthgen.recipes.nl2dot.fake_defects import add_defect, seeded_defect
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


@dataclass(slots=True)
class FakeGraph:
    """A fake answer before it is written: the parts a defect changes."""

    head: list[str]
    groups: list[list[str]]
    labels: dict[str, str]
    edges: list[tuple[str, str, str | None]]
    request: str
    clustered: bool

    def dot(self) -> str:
        lines = list(self.head)
        for gi, group in enumerate(self.groups):
            pad = "  "
            if self.clustered:
                lines.append(f'  subgraph cluster_{gi} {{\n    label="{group[0]} stage";')
                pad = "    "
            lines += [f'{pad}{n} [label="{self.labels[n]}"];' for n in group]
            if self.clustered:
                lines.append("  }")
        lines += [f'  {a} -> {b} [label="{w}"];' if w else f"  {a} -> {b};" for a, b, w in self.edges]
        lines.append("}")
        return "\n".join(lines)


def fake_graph(rng: random.Random, complexity: str) -> FakeGraph:
    """A clean graph: distinct labels, a path from the first node through every node, no
    self-loop, no edge twice; its request names the first states and no size."""
    low, high, clusters = _SIZES.get(complexity, _SIZES["medium"])
    names = rng.sample(_WORDS, rng.randint(low, high))
    head = [f"digraph {rng.choice(('G', 'flow', 'states', 'machine'))} {{", f"  rankdir={rng.choice(('LR', 'TB'))};",
            f"  node [shape={rng.choice(_SHAPES)}, style=filled, fillcolor={rng.choice(_COLORS)}];"]
    groups = [names] if not clusters else [names[i::clusters] for i in range(clusters)]
    labels = {n: n.replace("_", " ").title() for g in groups for n in g}
    edges: list[tuple[str, str, str | None]] = [(a, b, rng.choice(_WORDS)) for a, b in zip(names, names[1:])]
    for _ in range(len(names) // 3):
        a, b = rng.sample(names, 2)
        if (a, b, None) not in edges:
            edges.append((a, b, None))
    request = f"Draw a {complexity} state diagram where {names[0].replace('_', ' ')} leads to " + ", then ".join(
        n.replace("_", " ") for n in names[1:4]
    ) + f" (variant {rng.randint(0, 10**6)})."
    return FakeGraph(head, groups, labels, edges, request, bool(clusters))


def fake_dot(rng: random.Random, complexity: str) -> tuple[str, str]:
    """(request, DOT) with node count and clusters typical of ``complexity``."""
    graph = fake_graph(rng, complexity)
    return graph.request, graph.dot()


def fake_answer(req: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
    graph = fake_graph(rng, str(knobs.get("complexity") or "") or _asked_complexity(req))
    defect = seeded_defect(knobs, req.id)
    if defect is not None:
        add_defect(graph, defect, random.Random(f"fake-defect:{knobs.get('seed', 0)}:{req.id}"))
    request, dot = graph.request, graph.dot()
    if rng.random() < float(knobs.get("invalid_rate") or 0.0):
        dot = dot.replace(" -> ", " -> -> ", 1)
    return format_output(request, dot)
