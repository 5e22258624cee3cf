"""Verdicts and inputs: reason codes, ids, decoding, and what a valid verdict carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgen.dot.graphviz import GraphvizChecker
from synthgen.dot.inputs import DotItem, InputPathError, decode_dot, iter_items
from synthgen.dot.validate import REASONS, summarize, validate_texts

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).parent / "fixtures" / "validate"
GOOD = 'digraph shop {\n  cart -> pay [label="checkout"];\n  subgraph cluster_x { pay -> done }\n}\n'

pytestmark = pytest.mark.timeout(120)


def test_decode_like_graphviz():
    assert decode_dot("café".encode()) == "café"
    assert decode_dot("café".encode("latin-1")) == "café"
    (bom,) = validate_texts([b"\xef\xbb\xbfdigraph { a }"], graphviz=False)
    assert bom.reason == "encoding"  # Graphviz 2.43 rejects a byte-order mark too


def test_folder_walk_is_sorted_recursive_and_reads_jsonl_lines(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "b" / "z.gv").write_text(GOOD)
    (tmp_path / "a.dot").write_text(GOOD)
    (tmp_path / ".hidden" / "x.dot").write_text(GOOD)
    (tmp_path / "notes.txt").write_text("not a graph")
    (tmp_path / "c.jsonl").write_text(json.dumps({"dot": GOOD}) + "\n\n" + json.dumps({"dot": GOOD}) + "\n")
    ids = [Path(item.id).relative_to(tmp_path).as_posix() for item in iter_items([tmp_path])]
    assert ids == ["a.dot", "c.jsonl:1", "c.jsonl:3", "b/z.gv"]


def test_missing_path_is_a_usage_error(tmp_path):
    with pytest.raises(InputPathError) as info:
        list(iter_items([tmp_path / "nope.dot"]))
    assert info.value.exit_code == 2
    assert "nope.dot" in info.value.one_line()


def test_settled_inputs_keep_their_reason_without_parsing():
    items = [DotItem("x", "f", None, 10, "bad_json", "not a JSON object: Expecting value")]
    (verdict,) = validate_texts(items, graphviz=False)
    assert (verdict.ok, verdict.reason, verdict.id) == (False, "bad_json", "x")
    assert verdict.grammar_ok is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("  \n\t", "empty"), ('{"dot": "x"}', "not_dot"), ("hello world", "not_dot"), ("x" * 50, "too_large")],
)
def test_cheap_reasons_need_no_parse(text, reason):
    (verdict,) = validate_texts([text], graphviz=False, max_bytes=40)
    assert (verdict.ok, verdict.reason) == (False, reason)
    assert verdict.message


def test_comments_before_the_graph_are_still_dot():
    texts = ["// a comment\n/* block */\n# preprocessor line\n" + GOOD, "STRICT DiGraph { a }"]
    assert [v.reason for v in validate_texts(texts, graphviz=False)] == ["ok", "ok"]


def test_valid_graph_carries_features_complexity_and_hashes():
    (verdict,) = validate_texts([GOOD], graphviz=False)
    assert verdict.ok and verdict.grammar_ok and verdict.graphviz_ok is None
    assert verdict.features and verdict.complexity
    assert verdict.normal_hash and verdict.shape_hash
    # Formatting doesn't change the normal hash; renaming changes it but not the shape.
    (reformatted,) = validate_texts([" ".join(GOOD.split())], graphviz=False)
    assert reformatted.normal_hash == verdict.normal_hash
    json.dumps(verdict.to_dict())  # serialisable as is


def test_grammar_error_has_line_and_column():
    (verdict,) = validate_texts(["digraph g {\n  a -> b;\n  c -> ;\n}\n"], graphviz=False)
    assert (verdict.ok, verdict.reason, verdict.grammar_ok) == (False, "grammar", False)
    assert verdict.line == 3
    assert verdict.column is not None


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_examples_are_all_valid_with_graphviz_too():
    verdicts = validate_texts(list(iter_items([EXAMPLES])))
    assert len(verdicts) >= 6
    assert [v.id for v in verdicts if not v.ok] == []
    assert all(v.graphviz_ok and v.grammar_ok for v in verdicts)
    assert summarize(verdicts)["invalid"] == 0


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_graphviz_rejection_keeps_the_grammar_results():
    # Parses fine; Graphviz 2.43's layout crashes on the huge weight (its test_1783).
    crash = 'digraph code {\n  edge [weight=1073741824];\n  "1" -> "0";\n}\n'
    checker = GraphvizChecker(layout=True)
    verdicts = validate_texts([GOOD, crash], checker=checker)
    assert [v.reason for v in verdicts] == ["ok", "graphviz"]
    assert verdicts[1].grammar_ok is True and verdicts[1].graphviz_ok is False
    assert verdicts[1].features is not None


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_fixture_jsonl_has_one_valid_and_two_invalid_records():
    verdicts = validate_texts(list(iter_items([FIXTURES / "mixed_pairs.jsonl"])))
    assert [v.ok for v in verdicts] == [True, False, False]
    assert verdicts[1].id.endswith("mixed_pairs.jsonl:2")
    assert {v.reason for v in verdicts[1:]} <= {"grammar", "graphviz"}


def test_every_reason_is_documented():
    assert {"ok", "grammar", "graphviz", "encoding", "too_large", "timeout", "empty", "not_dot"} <= set(REASONS)


@pytest.mark.slow
@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_corpus_verdicts_agree_with_graphviz(graphviz_corpus):
    # Files up to 64 KB (859 of 884; the size generated graphs have) keep this test to seconds.
    rows = [line.split("\t") for line in (graphviz_corpus / "MANIFEST.tsv").read_text().splitlines()[1:]]
    rows = [row for row in rows if int(row[2]) <= 65_536]
    verdicts = validate_texts(list(iter_items([graphviz_corpus / row[0] for row in rows])))
    assert len(verdicts) > 800
    disagree = [
        f"{row[0]}: {v.reason} {v.message[:80]}" for row, v in zip(rows, verdicts) if v.ok != (row[4] != "syntax_error")
    ]
    assert disagree == []


def test_a_file_of_several_graphs_measures_every_graph():
    """Features and hashes described only the first graph, so a two-graph file had the same
    hash as its first graph alone."""
    from synthgen.dot.inputs import DotItem

    first = "digraph A {\n  a -> b\n}\n"
    second = "digraph B {\n  x -> y\n  y -> z\n  z -> x\n  x [label=\"X\"]\n}\n"

    def file(text: str):
        return DotItem("f", "f", text, len(text), multiple=True)

    both, alone_a, alone_b, swapped = validate_texts([file(first + second), file(first), file(second), file(second + first)],
                                                     graphviz=False)
    assert both.ok and both.features["graph_count"] == 2 and len(both.graphs) == 2
    assert both.shape_hash != alone_a.shape_hash and both.normal_hash != alone_a.normal_hash
    assert [g["shape_hash"] for g in both.graphs] == [alone_a.shape_hash, alone_b.shape_hash]
    assert [g["normal_hash"] for g in both.graphs] == [alone_a.normal_hash, alone_b.normal_hash]
    assert both.graphs[1]["features"]["edge_count"] == 3 and both.graphs[1]["features"]["labelled_nodes"] == 1
    assert swapped.normal_hash != both.normal_hash  # the file's graphs in order
    order = ("simple", "medium", "complex")
    assert both.complexity == max(alone_a.complexity, alone_b.complexity, key=order.index)
    assert alone_a.graphs is None and "graphs" not in alone_a.to_dict()  # one graph: as before
