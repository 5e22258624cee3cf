"""Reading what a graph says: node labels (explicit, defaults, the ID when none), edges with
their labels (chains, subgraph endpoints, defaults), strict graphs, titles."""

from __future__ import annotations

from synthgen.dot.content import content_of


def test_labels_edges_and_titles_follow_graphviz():
    c = content_of('digraph G { label="Flow"; node [label="X"]; a [label="Start"]; '
                   'a -> b -> {c d} [label="go"]; subgraph cluster_1 { label="C"; e } e -> a; f [label="\\N!"] }')
    assert c.labels == {"a": "Start", "b": "X", "c": "X", "d": "X", "e": "X", "f": "f!"}
    assert c.edges == [("a", "b", "go"), ("b", "c", "go"), ("b", "d", "go"), ("e", "a", "")]
    assert c.titles == ["Flow", "C"] and c.directed and c.nodes == ["a", "b", "c", "d", "e", "f"]


def test_unlabelled_nodes_show_their_id_and_edge_defaults_apply_in_their_scope():
    c = content_of('graph { a -- b; subgraph s { edge [label="in"]; b -- c } c -- a }')
    assert c.labels == {"a": "a", "b": "b", "c": "c"} and not c.directed
    assert c.edges == [("a", "b", ""), ("b", "c", "in"), ("c", "a", "")]


def test_a_strict_graph_keeps_one_edge_per_pair():
    c = content_of("strict digraph { a -> b; a -> b [label=x]; b -> a }")
    assert c.edges == [("a", "b", ""), ("b", "a", "")]


def test_a_deep_nest_reads_without_recursion():
    depth = 3000
    text = "digraph {" + "subgraph {" * depth + "a -> b" + "}" * depth + "}"
    assert content_of(text).edges == [("a", "b", "")]
