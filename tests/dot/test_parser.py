"""parse() / parse_bytes(): the DOT language as Graphviz scans and parses it."""

from __future__ import annotations

import pytest

from synthgen.dot.features import id_value
from synthgen.dot.parser import DotSyntaxError, DotTree, parse, parse_bytes
from synthgen.errors import SynthgenError


def _stmts(text: str) -> list:
    return parse(text).graph.children[-1].children


def _ids(tree: DotTree) -> list[str]:
    return [id_value(n.children[0])[0] for n in tree.tree.iter_subtrees_topdown() if n.data == "node_id"]


@pytest.mark.parametrize("text", ["DIGRAPH G { A -> B }", "Strict Graph { a -- b }", "digraph { NODE [shape=box] EDGE [color=red] GRAPH [rankdir=LR] SubGraph s { x } }"])
def test_keywords_in_any_case(text: str) -> None:
    assert parse(text).graph.children[-1].data == "body"


def test_a_keyword_is_never_a_name() -> None:
    with pytest.raises(DotSyntaxError):
        parse("digraph { a = node }")
    assert _ids(parse("digraph { nodes -> Edge_1 }")) == ["nodes", "Edge_1"]


def test_quoted_strings_escapes_and_concatenation() -> None:
    (stmt,) = _stmts('digraph { a [label="say \\"hi\\"" + " and" + "\\\nbye"] }')
    label = stmt.children[-1].children[0].children[1]
    assert id_value(label) == ('say "hi" andbye', False)
    (stmt,) = _stmts('digraph { a [label="c:\\\\dir\\\\\nnext\\\nend"] }')  # \\ stays; \\ + newline keeps it
    assert id_value(stmt.children[-1].children[0].children[1]) == ("c:\\\\dir\\\\\nnextend", False)


def test_importing_the_dot_modules_loads_no_parser() -> None:
    import subprocess
    import sys

    code = (
        "import sys, synthgen.dot.parser, synthgen.dot.features, synthgen.dot.normal, synthgen.dot.complexity;"
        "print([m for m in ('lark', 'lark_cython', 'xgrammar', 'llguidance') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_numerals_and_non_ascii_names() -> None:
    assert _ids(parse("graph { -.5 -- 1. -- 3.14 -- café -- 名前 }")) == ["-.5", "1.", "3.14", "café", "名前"]


def test_html_strings_nest() -> None:
    (stmt,) = _stmts("digraph { a [label=<<table><tr><td>x &lt; y</td></tr></table>>] }")
    assert id_value(stmt.children[-1].children[0].children[1]) == ("<table><tr><td>x &lt; y</td></tr></table>", True)


def test_ports_and_compass_points() -> None:
    (stmt,) = _stmts("digraph { n:p:sw -> m:ne }")
    tail, _, head = stmt.children
    assert [id_value(c)[0] for c in tail.children] == ["n", "p", "sw"]
    assert [id_value(c)[0] for c in head.children] == ["m", "ne"]


def test_comments_of_every_kind() -> None:
    text = "# 1 \"file\"\n// line\ndigraph { /* block\n * more */ a -> b # shell\n}\n"
    assert _ids(parse(text)) == ["a", "b"]


def test_edge_chains_with_subgraph_endpoints() -> None:
    (stmt,) = _stmts("digraph { a -> {b c} -> subgraph s { d } -> e, f }")
    assert [getattr(c, "data", "op") for c in stmt.children] == ["node_id", "op", "subgraph", "op", "subgraph", "op", "node_list"]


def test_separators_inside_attribute_lists() -> None:
    for text in ['digraph { a [label="x"; color=red] }', "digraph { a [x=1, y=2 z=3;] [w=4] }", "digraph { a [] }"]:
        parse(text)


def test_graph_level_assignments_and_bare_subgraphs() -> None:
    kinds = [s.data for s in _stmts("graph { rankdir=LR; { rank=same; a b } subgraph { c } }")]
    assert kinds == ["assign", "compound", "compound"]


@pytest.mark.parametrize(
    ("text", "line", "near"),
    [
        ("digraph {\n  a -> b\n  c -> ]\n}", 3, "]"),
        ("digraph {\n a -> b\n", 3, "end of input"),
        ("graph {\n a -> b }", 2, "->"),
        ("digraph { a -- b }", 1, "--"),
        ("digraph { a @ b }", 1, "end of input"),  # '@' is Graphviz's end-of-input token
        ("digraph { a $ b }", 1, "$"),
    ],
)
def test_errors_name_line_and_token(text: str, line: int, near: str) -> None:
    with pytest.raises(DotSyntaxError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, SynthgenError)
    assert (err.line, err.near) == (line, near)
    assert f"line {line}" in err.one_line() and "\n" not in err.one_line()


def test_input_ends_where_graphviz_stops_reading() -> None:
    # An unterminated string or comment, or '@', ends the input for Graphviz's scanner.
    for tail in (' "never closed', " /* never closed", " <b <i>", " @ junk } {"):
        assert len(parse("digraph { a }" + tail).graphs) == 1
    with pytest.raises(DotSyntaxError, match="end of input"):
        parse('digraph { a -> "b }')


def test_one_graph_unless_multiple_asked() -> None:
    with pytest.raises(DotSyntaxError, match="exactly one graph, found 2"):
        parse("graph {} digraph {}")
    with pytest.raises(DotSyntaxError, match="found 0"):
        parse("// nothing\n")
    assert len(parse("graph {} digraph { a -> b }", multiple=True).graphs) == 2
    assert parse("", multiple=True).graphs == []


def test_bytes_decode_like_graphviz() -> None:
    assert _ids(parse_bytes("digraph { café -> b }".encode())) == ["café", "b"]
    assert _ids(parse_bytes("digraph { café -> b }".encode("latin-1"))) == ["café", "b"]
    with pytest.raises(DotSyntaxError):
        parse_bytes(b"\x00\xff\xfe digraph")


def test_deep_nesting_gives_a_verdict_not_a_crash() -> None:
    depth = 10_000
    assert parse("digraph {" + "subgraph {" * depth + "a" + "}" * depth + "}")
    with pytest.raises(DotSyntaxError):
        parse("digraph {" + "subgraph {" * depth + "a" + "}" * (depth - 1))
