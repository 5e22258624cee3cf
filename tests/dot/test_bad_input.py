"""Bad input never crashes or hangs: every file below gets a verdict with a reason.

The files are written by the tests into tmp_path. Each test has its own timeout
(pytest-timeout), so a hang fails that test instead of stalling the suite.
"""

from __future__ import annotations

import io
import json
import random

import pytest

from synthgen.dot.graphviz import GraphvizChecker
from synthgen.dot.inputs import iter_items
from synthgen.dot.validate import REASONS, validate_texts

pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]


def verdicts_for(*paths, **kwargs):
    max_bytes = kwargs.pop("max_bytes", 1_000_000)
    return validate_texts(list(iter_items(paths, max_bytes=max_bytes)), max_bytes=max_bytes, **kwargs)


def assert_judged(verdicts):
    for verdict in verdicts:
        assert verdict.reason in REASONS, verdict
        assert verdict.ok or verdict.message, verdict


@pytest.mark.timeout(30)
def test_binary_files(tmp_path):
    rng = random.Random(1)
    with_nul = tmp_path / "with_nul.dot"
    with_nul.write_bytes(bytes(rng.randrange(256) for _ in range(4096)) + b"\0")
    no_nul = tmp_path / "no_nul.gv"
    no_nul.write_bytes(bytes(rng.randrange(1, 256) for _ in range(4096)))
    dot_then_garbage = tmp_path / "dot_then_garbage.dot"
    dot_then_garbage.write_bytes(b"digraph g { a -> b }\n\x89PNG\r\n\x1a\n\xff\xfe\x01\x02")
    verdicts = verdicts_for(with_nul, no_nul, dot_then_garbage)
    assert_judged(verdicts)
    assert [v.ok for v in verdicts] == [False, False, False]
    assert verdicts[0].reason == "encoding"
    assert verdicts[1].reason in {"not_dot", "grammar"}


@pytest.mark.timeout(30)
def test_latin1_text_is_decoded_like_graphviz(tmp_path):
    path = tmp_path / "latin1.dot"
    path.write_bytes('digraph G {\n  charset=latin1;\n  a [label="Café, Müller"];\n  a -> b;\n}\n'.encode("latin-1"))
    (verdict,) = verdicts_for(path)
    assert verdict.ok, verdict.message


@pytest.mark.timeout(30)
def test_empty_and_blank_files(tmp_path):
    (tmp_path / "empty.dot").write_bytes(b"")
    (tmp_path / "blank.gv").write_bytes(b"\n \t\r\n")
    (tmp_path / "comment_only.dot").write_bytes(b"// nothing but a comment\n")
    verdicts = verdicts_for(tmp_path)
    assert_judged(verdicts)
    assert {v.id.rsplit("/", 1)[-1]: v.reason for v in verdicts} == {
        "blank.gv": "empty",
        "comment_only.dot": "not_dot",
        "empty.dot": "empty",
    }


@pytest.mark.timeout(30)
def test_50_mb_file_is_too_large_without_being_read(tmp_path):
    path = tmp_path / "huge.dot"
    with path.open("wb") as handle:
        handle.write(b"digraph huge {\n")
        handle.truncate(50 * 1024 * 1024)  # sparse: the size is real, the disk isn't used
    (verdict,) = verdicts_for(path)
    assert (verdict.reason, verdict.size_bytes) == ("too_large", 50 * 1024 * 1024)
    assert "--max-bytes" in verdict.message


@pytest.mark.timeout(120)
def test_10000_deep_nested_subgraphs(tmp_path):
    depth = 10_000
    path = tmp_path / "deep.dot"
    path.write_text("digraph deep {\n" + "subgraph {\n" * depth + "a;\n" + "}\n" * depth + "}\n")
    (verdict,) = verdicts_for(path)
    assert not verdict.ok
    assert verdict.reason in {"too_deep", "grammar", "graphviz"}, verdict
    # Graphviz alone agrees that this is not a graph it can take (its parser stack overflows).
    (alone,) = GraphvizChecker().check([path.read_text()])
    assert alone.reason == "graphviz" and "memory exhausted" in alone.message


@pytest.mark.timeout(120)
def test_graph_that_crashes_graphviz_layout(tmp_path):
    path = tmp_path / "weight.dot"
    path.write_text('digraph code {\n  edge [weight=1073741824];\n  "1" -> "0";\n}\n')
    good = tmp_path / "good.dot"
    good.write_text("digraph ok { a -> b }\n")
    verdicts = verdicts_for(path, good, checker=GraphvizChecker(layout=True, timeout_s=30))
    assert [(v.reason, v.grammar_ok) for v in verdicts] == [("graphviz", True), ("ok", True)]
    assert "crashed" in verdicts[0].message


@pytest.mark.timeout(60)
def test_jsonl_with_broken_lines(tmp_path):
    path = tmp_path / "broken.jsonl"
    lines = [
        json.dumps({"request": "fine", "dot": "digraph a { x -> y }"}),
        '{"request": "truncated", "dot": "digraph {',
        "[1, 2, 3]",
        json.dumps({"request": "no dot"}),
        json.dumps({"dot": 42}),
        "",
        json.dumps({"dot": "digraph b { x -> }"}),
        '{"dot": "digraph c { \\u0000 }"}',
        '{"dot": "' + "x" * 3000 + '"}',
        "\xff\xfe not utf-8",
        "[" * 100_000,
    ]
    path.write_bytes("\n".join(lines).encode("latin-1") + b"\n")
    verdicts = verdicts_for(path, max_bytes=1000)
    assert_judged(verdicts)
    got = {v.id.rsplit(":", 1)[1]: v.reason for v in verdicts}
    assert got == {
        "1": "ok",
        "2": "bad_json",
        "3": "bad_json",
        "4": "no_dot_field",
        "5": "no_dot_field",
        "7": "grammar",
        "8": "encoding",
        "9": "too_large",
        "10": "bad_json",
        "11": "too_large",
    }


@pytest.mark.timeout(60)
def test_malformed_dot_texts():
    texts = [
        "digraph { a -> ",
        'digraph { a [label="never closed ] }',
        "digraph { /* never closed",
        "digraph { a -> b } trailing words",
        "graph { a -> b }",
        "digraph { subgraph { subgraph { a } }",
        "}" * 10_000,
        "digraph " + "{" * 5_000,
        "\ufeffdigraph { a }",
        "digraph { a [label=<<b>unclosed>] }",
    ]
    verdicts = validate_texts(texts)
    assert_judged(verdicts)
    assert [v.ok for v in verdicts[:9]] == [False] * 9


@pytest.mark.timeout(30)
def test_stdin(monkeypatch):
    stdin = io.BytesIO(b"\x00\x01 not a graph")
    (item,) = iter_items(["-"], stdin=stdin)
    (verdict,) = validate_texts([item])
    assert verdict.reason == "encoding" and verdict.id == "-"
