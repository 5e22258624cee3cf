"""nl2dot's quality checks: a request and a graph can be valid DOT and still be bad data.

Seen with the embedded model: a graph whose 10 edges were all ``n8 -> n8``, 13 of 14 nodes
labelled alike, requests cut mid-word at the 300-character bound, requests that describe
nothing, a request asking for "10 nodes" answered with 14. Each check is a pure function
that returns why a sample fails it (the drop's detail) or None; the steps in ``steps.py``
run them in the order below and drop at the first failure, with the check's name as the
reason code. Thresholds are the recipe option ``quality`` (``Nl2DotQuality``, defaults
documented in README's "Quality checks"); ``checks_off`` switches checks off by name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from synthgen.config import ConfigBase
from synthgen.recipes import textcheck

REQUEST_CHECKS = ("request_cut", "repeated_ngrams", "request_too_short")
GRAPH_CHECKS = ("repeated_edges", "self_loops", "duplicate_labels", "isolated_nodes", "unreachable_states",
                "labels_off_request", "size_not_met")
CHECKS = REQUEST_CHECKS + GRAPH_CHECKS


class Nl2DotQuality(ConfigBase):
    """Thresholds of the quality checks; each default is the value README documents."""

    max_repeated_edge_share: float = Field(0.0, ge=0, le=1)  # edges repeating an earlier one: same ends, same label
    max_self_loop_share: float = Field(0.25, ge=0, le=1)  # edges from a node to itself
    max_duplicate_label_share: float = Field(0.2, ge=0, le=1)  # nodes whose label an earlier node already has
    max_isolated_nodes: int = Field(0, ge=0)  # nodes on no edge
    max_unreachable_states: int = Field(0, ge=0)  # a state machine's states (not isolated) no path reaches from its start
    min_shared_label_words: int = Field(1, ge=0)  # content words the labels share with the request
    ngram: int = Field(3, ge=2, le=8)  # the n of repeated_ngrams
    max_repeated_ngram_share: float = Field(0.1, ge=0, le=1)  # the request's word n-grams repeating an earlier one
    min_request_words: int = Field(4, ge=0)  # distinct content words a request needs to describe a graph
    about_tolerance: float = Field(0.25, ge=0, le=1)  # "about 8 states": within 25 % (at least 1)


@dataclass(slots=True)
class Facts:
    """What the graph checks read: the request, the graph's content and the plan item's style."""

    request: str
    content: Any  # synthgen.dot.content.GraphContent
    clusters: int = 0
    style: str = ""


# ---------------------------------------------------------------- the request


def request_cut(request: str, q: Nl2DotQuality) -> str | None:
    from synthgen.dot.gen_grammar import REQUEST_CHARS

    if (why := textcheck.cut_at_bound(request, REQUEST_CHARS[1])) is not None:
        return why
    if not textcheck.ends_sentence(request):
        return f"ends mid-sentence: ...{request[-30:]!r}"
    return None


def repeated_ngrams(request: str, q: Nl2DotQuality) -> str | None:
    share, gram = textcheck.repeated_ngram_share(request, q.ngram)
    if share > q.max_repeated_ngram_share:
        return f"{share:.0%} of its word {q.ngram}-grams repeat (most: {gram!r}); at most {q.max_repeated_ngram_share:.0%}"
    return None


def request_too_short(request: str, q: Nl2DotQuality) -> str | None:
    found = textcheck.content_words(request)
    if len(found) < q.min_request_words:
        return f"{len(found)} content word(s) ({', '.join(sorted(found)) or 'none'}); a graph needs at least {q.min_request_words}"
    return None


# ---------------------------------------------------------------- the graph


def _edge_key(edge: tuple[str, str, str], directed: bool) -> tuple[str, str, str]:
    tail, head, label = edge
    return edge if directed or tail <= head else (head, tail, label)


def repeated_edges(f: Facts, q: Nl2DotQuality) -> str | None:
    edges = f.content.edges
    counts = Counter(_edge_key(e, f.content.directed) for e in edges)
    repeats = len(edges) - len(counts)
    if edges and repeats / len(edges) > q.max_repeated_edge_share:
        (tail, head, label), n = counts.most_common(1)[0]
        arrow = " -> " if f.content.directed else " -- "
        shown = f"{tail}{arrow}{head}" + (f" [{label}]" if label else "")
        return f"{repeats} of {len(edges)} edges repeat an earlier one ({shown} {n} times)"
    return None


def self_loops(f: Facts, q: Nl2DotQuality) -> str | None:
    edges = f.content.edges
    loops = sum(1 for tail, head, _ in edges if tail == head)
    if edges and loops / len(edges) > q.max_self_loop_share:
        return f"{loops} of {len(edges)} edges are self-loops; at most {q.max_self_loop_share:.0%}"
    return None


def _norm(label: str) -> str:
    return " ".join(textcheck.words(label))


def duplicate_labels(f: Facts, q: Nl2DotQuality) -> str | None:
    labels = [_norm(v) for v in f.content.labels.values()]
    counts = Counter(labels)
    repeats = len(labels) - len(counts)
    if labels and repeats / len(labels) > q.max_duplicate_label_share:
        label, n = counts.most_common(1)[0]
        return f"{repeats} of {len(labels)} nodes repeat a label ({label!r} on {n})"
    return None


def _isolated(content: Any) -> list[str]:
    touched = {n for tail, head, _ in content.edges for n in (tail, head)}
    return [n for n in content.labels if n not in touched]


def isolated_nodes(f: Facts, q: Nl2DotQuality) -> str | None:
    alone = _isolated(f.content)
    if len(alone) > q.max_isolated_nodes:
        return f"{len(alone)} node(s) on no edge: {', '.join(alone[:5])}"
    return None


_STATE_MACHINE = re.compile(r"\bstate[- ]?(?:machine|diagram|chart|transition)s?\b|\bfsm\b|\bfinite[- ]state\b", re.I)
_START_WORDS = frozenset({"start", "initial", "init", "begin", "entry"})


def is_state_machine(f: Facts) -> bool:
    return f.content.directed and (f.style == "state machine" or bool(_STATE_MACHINE.search(f.request)))


def start_state(content: Any) -> str | None:
    """The start: a node labelled as one (start, initial, begin, entry) that no edge enters,
    else the first node declared (the generation grammar and its examples declare it first)."""
    entered = {head for tail, head, _ in content.edges if tail != head}
    for name, label in content.labels.items():
        if name not in entered and _START_WORDS & set(textcheck.words(label)):
            return name
    return next(iter(content.labels), None)


def unreachable_states(f: Facts, q: Nl2DotQuality) -> str | None:
    """A state machine's states no path reaches from its start (isolated nodes are their own check)."""
    start = start_state(f.content)
    if not is_state_machine(f) or start is None:
        return None
    out: dict[str, list[str]] = {}
    for tail, head, _ in f.content.edges:
        out.setdefault(tail, []).append(head)
    seen, todo = {start}, [start]
    while todo:
        for nxt in out.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    alone = set(_isolated(f.content))
    lost = [n for n in f.content.labels if n not in seen and n not in alone]
    if len(lost) > q.max_unreachable_states:
        return f"{len(lost)} state(s) unreachable from the start {start} ({f.content.labels[start]!r}): {', '.join(lost[:5])}"
    return None


def label_text(content: Any) -> str:
    """Every node label that is not just the node's ID, and every edge label."""
    named = [label for name, label in content.labels.items() if label != name]
    return " ".join(named + [label for _, _, label in content.edges if label])


def labels_off_request(f: Facts, q: Nl2DotQuality) -> str | None:
    asked = textcheck.content_words(f.request)
    shown = textcheck.content_words(label_text(f.content))
    shared = textcheck.shared_words(shown, asked)
    if len(shared) < q.min_shared_label_words:
        return (f"its labels share {len(shared)} content word(s) with the request, at least {q.min_shared_label_words} needed "
                f"(labels: {', '.join(sorted(shown)[:8]) or 'none'})")
    return None


# "9 to 14 nodes", "between 3 and 5 states", "at most 10 edges", "about 7 steps", "a 5-step process".
_NUMBERS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUM = r"(?:\d{1,3}|" + "|".join(_NUMBERS) + r")"
_NOUNS = {"nodes": r"nodes|states|steps|stages|screens|phases|vertices|boxes|pages",
          "edges": r"edges|transitions|arrows|connections|links",
          "clusters": r"clusters|subgraphs"}
_ADJ = r"(?:(?:distinct|different|main|unique|total|separate|labell?ed|named|possible|key|major)\s+)?"
_QUAL = (r"(?:(?P<q>at most|up to|no more than|a maximum of|maximum of|max|at least|a minimum of|minimum of|more than|"
         r"fewer than|less than|about|around|roughly|approximately|some|~)\s*)?")
_SIZE = re.compile(rf"\b{_QUAL}(?:between\s+)?(?P<a>{_NUM})(?:\s*(?:to|-|and|or)\s*(?P<b>{_NUM}))?\s+{_ADJ}"
                   rf"(?P<noun>{'|'.join(_NOUNS.values())})\b|\b(?P<h>{_NUM})-(?:step|stage|state|node|screen)\b", re.I)


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBERS[text.lower()]


def stated_sizes(request: str, tolerance: float) -> list[tuple[str, int, float, str]]:
    """Each size the request states: (what: nodes/edges/clusters, lowest, highest, the phrase)."""
    found = []
    for m in _SIZE.finditer(request):
        if m["h"]:
            n = _number(m["h"])
            found.append(("nodes", n, n, m[0]))
            continue
        what = next(k for k, v in _NOUNS.items() if re.fullmatch(v, m["noun"], re.I))
        a = _number(m["a"])
        b = _number(m["b"]) if m["b"] else None
        qual = (m["q"] or "").lower()
        lo, hi = (min(a, b), max(a, b)) if b is not None else (a, a)
        if qual in ("at most", "up to", "no more than", "a maximum of", "maximum of", "max"):
            lo = 0
        elif qual in ("at least", "a minimum of", "minimum of"):
            hi = float("inf")
        elif qual == "more than":
            lo, hi = a + 1, float("inf")
        elif qual in ("fewer than", "less than"):
            lo, hi = 0, a - 1
        elif qual and b is None:  # about, around ...
            slack = max(1, round(a * tolerance))
            lo, hi = a - slack, a + slack
        found.append((what, lo, hi, m[0]))
    return found


def size_not_met(f: Facts, q: Nl2DotQuality) -> str | None:
    have = {"nodes": len(f.content.labels), "edges": len(f.content.edges), "clusters": f.clusters}
    for what, lo, hi, phrase in stated_sizes(f.request, q.about_tolerance):
        if not lo <= have[what] <= hi:
            return f"the request asks for {phrase.strip()!r}; the graph has {have[what]} {what}"
    return None


REQUEST_FUNCS: dict[str, Callable[[str, Nl2DotQuality], str | None]] = {
    "request_cut": request_cut, "repeated_ngrams": repeated_ngrams, "request_too_short": request_too_short,
}
GRAPH_FUNCS: dict[str, Callable[[Facts, Nl2DotQuality], str | None]] = {
    "repeated_edges": repeated_edges, "self_loops": self_loops, "duplicate_labels": duplicate_labels,
    "isolated_nodes": isolated_nodes, "unreachable_states": unreachable_states,
    "labels_off_request": labels_off_request, "size_not_met": size_not_met,
}


def failures(request: str, dot: str, q: Nl2DotQuality | None = None, style: str = "") -> dict[str, str]:
    """Every check a (request, DOT) pair fails, with its detail: for tests and for auditing
    a finished run's ``data.jsonl`` (the steps stop at the first)."""
    from synthgen.dot.content import read_content
    from synthgen.dot.features import measure
    from synthgen.dot.parser import parse

    q = q or Nl2DotQuality()
    out = {name: why for name, fn in REQUEST_FUNCS.items() if (why := fn(request, q)) is not None}
    tree = parse(dot)
    facts = Facts(request, read_content(tree), measure(tree).cluster_count, style)
    out.update({name: why for name, fn in GRAPH_FUNCS.items() if (why := fn(facts, q)) is not None})
    return out
