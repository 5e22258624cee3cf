"""The full grammar against Graphviz's own verdicts on its own test corpus.

Every file Graphviz 2.43 accepts must parse, every file it rejects must not, unless it is
listed in EXPECTED_DISAGREEMENTS with the reason the difference is acceptable. A listed
file that stops disagreeing fails too, so the list never goes stale. Each accepted graph is
also measured and hashed, so no real-world graph crashes those steps, and (files up to
60 KB) its normal form must parse back to itself with the same features and shape hash.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from synthgen.dot.features import measure
from synthgen.dot.normal import normal_form, normal_hash, shape_hash
from synthgen.dot.parser import DotSyntaxError, parse, parse_bytes

# flat_name -> why our verdict may differ from Graphviz's. Empty: the grammar agrees on all.
EXPECTED_DISAGREEMENTS: dict[str, str] = {}


ROUND_TRIP_MAX_BYTES = 60_000  # the round trip re-parses; the few big files add time, not cases


def _assert_round_trip(graph: object, features: object, name: str) -> None:
    """The normal form parses, is a fixpoint, and keeps the graph's features and shape."""
    text = normal_form(graph)
    again = parse(text)
    assert normal_form(again) == text, name
    assert measure(again) == features, name
    assert shape_hash(again) == shape_hash(graph), name


def _manifest(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.slow
def test_grammar_agrees_with_graphviz_on_its_corpus(graphviz_corpus: Path) -> None:
    rows = _manifest(graphviz_corpus)
    assert len(rows) > 800
    disagree: dict[str, str] = {}
    accepted = rejected = 0
    for row in rows:
        data = (graphviz_corpus / row["flat_name"]).read_bytes()
        graphviz_ok = row["graphviz_2.43_nop"] != "syntax_error"
        try:
            tree = parse_bytes(data, multiple=True)
        except DotSyntaxError as err:
            rejected += 1
            assert err.line >= 1, (row["flat_name"], str(err))
            if graphviz_ok:
                disagree[row["flat_name"]] = f"we reject, Graphviz accepts: {err.one_line()}"
            continue
        accepted += 1
        if not graphviz_ok:
            disagree[row["flat_name"]] = "we accept, Graphviz rejects"
        for graph in tree.graphs:
            features = measure(graph)
            assert normal_hash(graph).startswith("dotn1:") and shape_hash(graph).startswith("shape1:")
            if len(data) <= ROUND_TRIP_MAX_BYTES:
                _assert_round_trip(graph, features, row["flat_name"])
    agree = len(rows) - len(disagree)
    print(f"\ncorpus: {len(rows)} files, agree {agree}, disagree {len(disagree)}, accepted {accepted}, rejected {rejected}")
    unexpected = {k: v for k, v in disagree.items() if k not in EXPECTED_DISAGREEMENTS}
    stale = sorted(set(EXPECTED_DISAGREEMENTS) - set(disagree))
    assert not unexpected, f"disagreements not in EXPECTED_DISAGREEMENTS: {unexpected}"
    assert not stale, f"listed as disagreeing but now agree (remove them): {stale}"
    assert rejected >= 5  # the corpus's malformed inputs really are rejected


def test_grammar_compiles_in_xgrammar() -> None:
    xgrammar = pytest.importorskip("xgrammar", reason="xgrammar not installed (extra 'hf')")
    from synthgen.dot.parser import grammar_text

    grammar = xgrammar.Grammar.from_lark(grammar_text())
    assert "root" in str(grammar)


def test_grammar_compiles_in_llguidance() -> None:
    llguidance = pytest.importorskip("llguidance", reason="llguidance not installed")
    from synthgen.dot.parser import grammar_text

    error = llguidance.LLMatcher.validate_grammar(llguidance.grammar_from("lark", grammar_text()))
    assert error == ""


_TOKENS = ['a', 'B2', '"q s"', '"x\\"y"', "<<b>h</b>>", "1.", "-.5", "2a", "{", "}", "[", "]", "=", ";", ",", ":",
           "sw", "->", "--", "+", "node", "EDGE", "Graph", "subgraph", "strict", "cluster_x", "\n", "# c\n",
           "// c\n", "/* c */", "é", ".", "-", "@", '"open']


@pytest.mark.graphviz
@pytest.mark.slow
def test_grammar_agrees_with_graphviz_on_random_token_soup(require_graphviz: None) -> None:
    """Seeded random token sequences inside a graph: our verdict must equal Graphviz's `nop`."""
    import random
    import subprocess

    rng = random.Random(20261122)
    disagree = []
    accepted = 0
    for _ in range(300):
        head = rng.choice(["digraph", "graph", "strict digraph"])
        data = f"{head} {{ {' '.join(rng.choice(_TOKENS) for _ in range(rng.randint(1, 10)))} }}".encode()
        graphviz_ok = subprocess.run(["nop"], input=data, capture_output=True, timeout=30).returncode == 0
        try:
            parse_bytes(data, multiple=True)
            ours = True
        except DotSyntaxError:
            ours = False
        accepted += ours
        if ours != graphviz_ok:
            disagree.append((data, ours, graphviz_ok))
    assert 10 < accepted < 290  # the soup exercises both verdicts
    assert not disagree, disagree[:5]
