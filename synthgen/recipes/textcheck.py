"""Plain-text measures the recipes' quality checks share: content words, repeated n-grams,
a cut at a length bound.

Content words are the words that say what a text is about: lower-cased, without stop words
and without the words every request of a dataset shares (draw, graph, diagram, create ...),
reduced to a crude stem so "payments" meets "Payment" and "retrying" meets "Retry". A small
hand-made list, not a language model: the checks must be cheap, deterministic and easy to
explain in a rejection's detail.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z][a-z0-9]*|[0-9]+")
_SENTENCE_END = ".!?"

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each either else even ever every few for from
further had has have having he her here hers him his how i if in into is it its itself just let lets like
make makes many may me might more most much must my near need needs new no nor not now of off on once one
only or other our out over own per please same shall she should show shows so some such than that the their
them then there these they this those through to too two under until up upon us use used uses using very via
want wants was we were what when where which while who whom why will with within without would yes you your
""".split())

# Words every request of a text-to-graph dataset may use without saying what it is about.
META_WORDS = frozenset("""
draw drawn drawing create generate give provide produce
graph graphs diagram diagrams chart flowchart graphviz dot digraph node nodes edge edges
state states step steps stage stages transition transitions arrow arrows label labels
cluster clusters subgraph subgraphs box boxes flow flows machine simple medium complex large small
following example request task diagrammed include including includes show
""".split())

_SUFFIXES = ("ations", "ation", "ions", "ion", "ings", "ing", "ies", "ied", "ed", "es", "s")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased (letters and digits; snake_case splits at ``_``)."""
    return _WORD.findall(text.lower().replace("_", " "))


def stem(word: str) -> str:
    """A crude stem: one common suffix off a word of five letters or more."""
    for suffix in _SUFFIXES:
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str, extra_stop: frozenset[str] = META_WORDS) -> set[str]:
    """The stems of the words that say what ``text`` is about (no numbers, no stop words)."""
    return {stem(w) for w in words(text) if not w.isdigit() and len(w) > 1 and w not in STOP_WORDS and w not in extra_stop}


def shared_words(a: set[str], b: set[str], min_prefix: int = 4) -> set[str]:
    """The content words of ``a`` that ``b`` also has: the same stem, or one stem starting
    the other when the shorter has ``min_prefix`` letters or more (the crude stems of
    "connected" and "connection" are "connect" and "connect"; of "order" and "orders" too,
    but "pay" and "payment" stay apart)."""
    found = a & b
    for x in a - found:
        if len(x) >= min_prefix and any(y.startswith(x) or (len(y) >= min_prefix and x.startswith(y)) for y in b):
            found.add(x)
    return found


def repeated_ngram_share(text: str, n: int) -> tuple[float, str | None]:
    """The share of the word n-grams of ``text`` that repeat an earlier one, and the most
    repeated n-gram (None when there is no repeat)."""
    ws = words(text)
    grams = [" ".join(ws[i:i + n]) for i in range(len(ws) - n + 1)]
    if not grams:
        return 0.0, None
    seen: dict[str, int] = {}
    for gram in grams:
        seen[gram] = seen.get(gram, 0) + 1
    repeats = len(grams) - len(seen)
    top = max(seen, key=lambda g: (seen[g], -grams.index(g)))
    return repeats / len(grams), (top if seen[top] > 1 else None)


def cut_at_bound(text: str, bound: int) -> str | None:
    """Why ``text`` reads as cut off: it fills its length bound (a grammar or schema stops a
    text there, mid-sentence or mid-word), else None."""
    if len(text) >= bound:
        return f"{len(text)} characters: it fills the {bound}-character bound, where generation is cut off"
    return None


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends at a sentence boundary (. ! or ?, before closing quotes or brackets)."""
    return text.rstrip().rstrip("\"')]").endswith(tuple(_SENTENCE_END))
