"""Quality defects for the fake engine, one knob per defect: ``defect_rates`` maps a check's
name (``quality.CHECKS``) to the share of answers given that defect, e.g.
``SYNTHGEN_FAKE_DEFECT_RATES="self_loops=0.1,size_not_met=0.05"``.

Each defect changes a clean fake graph (``fake.fake_graph``) so that exactly that check
fails and every other passes (``tests/recipes/test_nl2dot_quality.py`` checks it with
``quality.failures``). Which answer gets which defect depends only on (seed, request id)
(``seeded_defect``), so a test knows, for every record of a run, what was seeded in it.
A defect draws from its own rng: a run with no defect rates writes what it wrote before.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

# Words no clean fake graph or request uses (labels unrelated to the request).
OFF_WORDS = ("Amber Basalt Cobalt Dune Ember Fjord Garnet Harbor Indigo Jasper Kelp Lagoon Meadow Nimbus Onyx Pebble "
             "Quartz Reef Sierra Tundra Umber Velvet Willow Zephyr").split()


def seeded_defect(knobs: dict[str, Any], request_id: str) -> str | None:
    """The defect the fake engine gives the answer to ``request_id`` (None: a clean answer)."""
    from synthgen.backends.fake import parse_rates, seeded_pick
    from synthgen.recipes.nl2dot.quality import CHECKS

    return seeded_pick(parse_rates(knobs.get("defect_rates"), CHECKS), knobs.get("seed", 0), request_id)


def _names(graph: Any) -> list[str]:
    return [n for group in graph.groups for n in group]


def _repeated_edges(graph: Any, rng: random.Random) -> None:
    graph.edges += [graph.edges[0]] * 2


def _self_loops(graph: Any, rng: random.Random) -> None:
    names = _names(graph)
    k = min(len(names), len(graph.edges) // 2 + 1)
    graph.edges += [(n, n, "stay") for n in names[:k]]


def _duplicate_labels(graph: Any, rng: random.Random) -> None:
    names = _names(graph)
    for n in names[1:1 + len(names) // 2]:
        graph.labels[n] = graph.labels[names[0]]


def _isolated_nodes(graph: Any, rng: random.Random) -> None:
    graph.groups[-1].append("orphan")
    graph.labels["orphan"] = rng.choice(OFF_WORDS)


def _unreachable_states(graph: Any, rng: random.Random) -> None:
    names = _names(graph)
    graph.groups[-1].append("stray")
    graph.labels["stray"] = rng.choice(OFF_WORDS)
    graph.edges.append(("stray", names[1], "resume"))


def _labels_off_request(graph: Any, rng: random.Random) -> None:
    words = rng.sample(OFF_WORDS, len(OFF_WORDS))
    for i, n in enumerate(_names(graph)):
        graph.labels[n] = words[i % len(words)] + ("" if i < len(words) else f" {i}")
    graph.edges = [(a, b, rng.choice(OFF_WORDS).lower() if w else None) for a, b, w in graph.edges]


def _request_cut(graph: Any, rng: random.Random) -> None:
    from synthgen.recipes.nl2dot.fake import _WORDS

    filler = " ".join(w.replace("_", " ") for w in rng.sample(_WORDS, len(_WORDS)))
    graph.request = (graph.request + " It covers " + filler)[:299] + "."  # the grammar's bound is 300


def _repeated_ngrams(graph: Any, rng: random.Random) -> None:
    loop = ", ".join(["and then it waits again"] * 4)
    graph.request = graph.request[:-1] + f", {loop}."


def _request_too_short(graph: Any, rng: random.Random) -> None:
    first = _names(graph)[0].replace("_", " ")
    graph.request = f"Please draw the {first} one for me."


def _size_not_met(graph: Any, rng: random.Random) -> None:
    graph.request = graph.request[:-1] + f", with exactly {len(_names(graph)) + 4} states."


DEFECTS: dict[str, Callable[[Any, random.Random], None]] = {
    "repeated_edges": _repeated_edges, "self_loops": _self_loops, "duplicate_labels": _duplicate_labels,
    "isolated_nodes": _isolated_nodes, "unreachable_states": _unreachable_states, "labels_off_request": _labels_off_request,
    "request_cut": _request_cut, "repeated_ngrams": _repeated_ngrams, "request_too_short": _request_too_short,
    "size_not_met": _size_not_met,
}


def add_defect(graph: Any, defect: str, rng: random.Random) -> None:
    DEFECTS[defect](graph, rng)
