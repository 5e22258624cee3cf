"""Graphviz as the oracle: batching must give the same verdicts as one process per graph."""

from __future__ import annotations

import random

import pytest

from synthgen.dot.graphviz import GraphvizChecker, GraphvizNotFound

pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz"), pytest.mark.timeout(120)]

VALID = "digraph g%d {\n  a -> b;\n  b -> c [label=\"x\"];\n}\n"
BROKEN = "digraph bad {\n  a -> b;\n  c -> ;\n}\n"  # error on the text's own line 3


def test_batch_places_each_error_on_its_own_text_and_line():
    texts = [VALID % i for i in range(20)]
    texts[3] = BROKEN
    texts[17] = BROKEN
    checker = GraphvizChecker(batch_size=50)
    results = checker.check(texts)
    bad = [i for i, r in enumerate(results) if not r.ok]
    assert bad == [3, 17]
    for i in bad:
        assert results[i].reason == "graphviz"
        assert results[i].line == 3, results[i].message
        assert "syntax error in line 3" in results[i].message
    # 1 batch up to the first error, 1 solo re-check, 1 batch resumed... not one per graph.
    assert checker.processes <= 6


def test_batch_agrees_with_one_process_per_graph():
    texts = [
        VALID % 1,
        "graph { a -> b }",  # wrong edge operator for an undirected graph
        "digraph { a /* never closed",
        "digraph { x } // comment without newline",
        "strict",
        "digraph { 0n }",  # accepted with a warning
        "",
        "digraph a {} digraph b {}",
        'digraph { a [label="two\nlines"] }',
        VALID % 2,
    ]
    batched = GraphvizChecker(batch_size=64).check(texts)
    alone = GraphvizChecker(batch_size=1).check(texts)
    assert [(r.ok, r.reason) for r in batched] == [(r.ok, r.reason) for r in alone]
    assert [r.graphs for r in batched if r.ok] == [1, 1, 1, 2, 1, 1]
    assert batched[6].reason == "not_dot"
    assert any("badly delimited number" in w for w in batched[5].warnings)


def test_parsed_texts_pass_in_one_quiet_process():
    texts = [VALID % i for i in range(40)] + ["digraph a {} digraph b {}"]
    checker = GraphvizChecker(batch_size=64)
    results = checker.check(texts, graphs=[1] * 40 + [2])
    assert all(r.ok and not r.warnings for r in results)
    assert [r.graphs for r in results] == [1] * 40 + [2]
    assert checker.processes == 1  # nop -p vouched for the whole batch


def test_quiet_road_gives_the_echo_roads_verdicts_errors_and_warnings():
    # Counts promise whole graphs; a batch with an error is re-checked the echo way, so errors
    # keep their own text and line; warnings stay with the text that caused them either way.
    texts = [VALID % i for i in range(10)]
    texts[4] = BROKEN
    texts[7] = "digraph { 0n }"  # accepted with a warning
    quiet = GraphvizChecker(batch_size=64).check(texts, graphs=[1] * len(texts))
    echo = GraphvizChecker(batch_size=64).check(texts)
    assert [r.to_dict() for r in quiet] == [r.to_dict() for r in echo]
    assert [i for i, r in enumerate(quiet) if not r.ok] == [4]
    assert quiet[4].line == 3
    assert any("badly delimited number" in w for w in quiet[7].warnings)
    assert not any(r.warnings for i, r in enumerate(quiet) if i != 7)


def test_quiet_road_places_warnings_without_an_echo():
    texts = [VALID % i for i in range(10)]
    texts[6] = "digraph {\n  a;\n  0n\n}\n"  # accepted with a warning on its own line 3
    checker = GraphvizChecker(batch_size=64)
    quiet = checker.check(texts, graphs=[1] * len(texts))
    assert checker.processes == 1
    assert all(r.ok for r in quiet)
    assert [r.warnings for r in quiet] == [r.warnings for r in GraphvizChecker().check(texts)]
    assert quiet[6].warnings and all("line 3" in w for w in quiet[6].warnings)
    assert not any(r.warnings for i, r in enumerate(quiet) if i != 6)


def test_quiet_road_needs_a_count_for_every_text():
    with pytest.raises(ValueError):
        GraphvizChecker().check([VALID % 1, VALID % 2], graphs=[1])


def test_text_with_nul_byte_is_checked_alone_without_derailing_the_batch():
    texts = [VALID % 1, "digraph { a }\0 digraph {", VALID % 2]
    results = GraphvizChecker().check(texts)
    assert results[0].ok and results[2].ok


def test_layout_crash_gives_a_graphviz_verdict_and_spares_the_others():
    # Graphviz 2.43 `dot` crashes on a huge edge weight that `nop` accepts (its test_1783).
    crash = "digraph code {\n edge [weight=1073741824];\n \"1\" -> \"0\";\n}\n"
    texts = [VALID % i for i in range(6)]
    texts[2] = crash
    results = GraphvizChecker(layout=True, timeout_s=60).check(texts)
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    assert results[2].reason == "graphviz"
    assert GraphvizChecker().check([crash])[0].ok  # parse-only mode accepts it


def test_layout_that_runs_too_long_gets_a_timeout_verdict():
    rng = random.Random(7)
    edges = "\n".join(f"n{rng.randrange(3000)} -> n{rng.randrange(3000)};" for _ in range(6000))
    slow = "digraph big {\n" + edges + "\n}\n"
    results = GraphvizChecker(layout=True, timeout_s=0.5).check([VALID % 1, slow, VALID % 2])
    assert [r.reason for r in results] == ["ok", "timeout", "ok"]


def test_missing_graphviz_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GraphvizNotFound) as info:
        GraphvizChecker().check([VALID % 1])
    assert "--no-graphviz" in info.value.one_line()


def test_corpus_verdicts_match_the_manifest(graphviz_corpus):
    rows = [line.split("\t") for line in (graphviz_corpus / "MANIFEST.tsv").read_text().splitlines()[1:]]
    texts = [(graphviz_corpus / row[0]).read_bytes() for row in rows]
    results = GraphvizChecker().check(texts)
    expected = [row[4] != "syntax_error" for row in rows]
    mismatches = [row[0] for row, r, e in zip(rows, results, expected) if r.ok != e]
    assert mismatches == []
