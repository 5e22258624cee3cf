"""Normal form and hashes: layout-insensitive, name-insensitive where promised, stable."""

from __future__ import annotations

from synthgen.dot.normal import normal_form, normal_hash, shape_hash
from synthgen.dot.parser import parse

MESSY = """// a comment
DIGRAPH   "G"{ /* block */ node[ shape = box ;style=filled ]
"a"->b [color="red",label = "x"] # trailing
subgraph cluster_1 { c ; d } }"""
TIDY = 'digraph G {\n  node [style=filled shape="box"]\n  a -> "b" [label=x][color=red]\n  subgraph "cluster_1" {c d}\n}\n'


def test_formatting_quoting_and_attribute_order_do_not_matter() -> None:
    assert normal_form(parse(MESSY)) == normal_form(parse(TIDY))
    assert normal_hash(parse(MESSY)) == normal_hash(parse(TIDY))


def test_normal_form_reads_back_to_itself() -> None:
    text = normal_form(parse(MESSY))
    assert text == (
        "digraph G {\n"
        "  node [shape=box, style=filled];\n"
        "  a -> b [color=red, label=x];\n"
        "  subgraph cluster_1 {\n"
        "    c;\n"
        "    d;\n"
        "  };\n"
        "}\n"
    )
    assert normal_form(parse(text)) == text


def test_ids_that_need_quotes_keep_them() -> None:
    text = normal_form(parse('graph { "node" -- "a b" [label="say \\"hi\\""]; x [label=<<i>x</i>>] }'))
    assert '"node" -- "a b" [label="say \\"hi\\""];' in text
    assert "x [label=<<i>x</i>>];" in text


def test_content_and_statement_order_do_matter() -> None:
    base = normal_hash(parse("digraph { a -> b; b -> c }"))
    assert normal_hash(parse("digraph { b -> c; a -> b }")) != base
    assert normal_hash(parse("digraph { a -> b; b -> d }")) != base
    assert normal_hash(parse("graph { a -- b; b -- c }")) != base


def test_hashes_have_versioned_prefixes_and_are_stable() -> None:
    tree = parse("digraph { a -> b -> c; subgraph cluster_x { c } }")
    # Golden values: a change here means the normal form or shape algorithm changed, which
    # must come with a new prefix (dotn2:, shape2:), never silently.
    assert normal_hash(tree) == "dotn1:308aa688a29d0c62bc6987f4c378b0a554147f68a78a316f76b673586126e4a9"
    assert shape_hash(tree) == "shape1:6c8f1cb01cfb0c116ac3266d59dac4642237790e985b3fbede71dc40af826d57"


def test_shape_hash_ignores_names_labels_values_and_statement_order() -> None:
    a = shape_hash(parse("digraph { a -> b; b -> c; c -> a }"))
    assert shape_hash(parse('digraph Z { q -> r [label="go"]; p -> q; r -> p [color=red] }')) == a
    assert shape_hash(parse("digraph { x -> y -> z -> x }")) == a


def test_shape_hash_sees_structure_direction_and_clusters() -> None:
    a = shape_hash(parse("digraph { a -> b; b -> c; c -> a }"))
    assert shape_hash(parse("digraph { a -> b; b -> c; a -> c }")) != a  # not a cycle
    assert shape_hash(parse("graph { a -- b; b -- c; c -- a }")) != a  # undirected
    star_in = "digraph { subgraph cluster_1 { a b } c; a -> c; b -> c }"
    star_out = "digraph { subgraph cluster_1 { a c } b; a -> c; b -> c }"
    assert shape_hash(parse(star_in)) != shape_hash(parse(star_out))  # which nodes share a cluster
    assert shape_hash(parse(star_in)) != shape_hash(parse("digraph { a b c; a -> c; b -> c }"))
