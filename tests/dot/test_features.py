"""measure() counts and complexity buckets, on hand-written graphs."""

from __future__ import annotations

import pytest

from synthgen.config import validate_data
from synthgen.dot.complexity import ComplexityThresholds, complexity_of
from synthgen.dot.features import GraphFeatures, measure
from synthgen.dot.parser import parse
from synthgen.errors import ConfigError

PIPELINE = """strict digraph "CI" {
  rankdir=LR; node [shape=box, style=rounded]
  edge [color=gray]
  src -> build -> {test lint} [label="on push"]
  subgraph cluster_deploy { label="deploy"; stage:out:e -> prod; subgraph inner { canary } }
  src -> build
  canary [label=<<b>1%</b>> shape=Diamond]
  "prod" -> prod
}"""


def test_counts_on_a_hand_written_graph() -> None:
    f = measure(parse(PIPELINE))
    assert (f.directed, f.strict, f.graph_id) == (True, True, "CI")
    assert f.node_count == 7  # src build test lint stage prod canary
    # src->build, build->test, build->lint, stage->prod, prod->prod (strict drops the repeat)
    assert f.edge_count == 5
    assert (f.subgraph_count, f.cluster_count, f.max_depth) == (3, 1, 2)  # {test lint}, cluster, inner
    assert f.labelled_edges == 3
    assert f.self_loops == 1
    assert f.max_degree == 3  # build: in from src, out to test and lint; prod: stage and its loop (2)
    assert f.rankdir == "LR"
    assert f.has_html_labels and f.has_ports
    assert f.shapes == {"box", "diamond"}
    assert f.graph_attrs == {"rankdir", "label"}
    assert f.node_attrs == {"shape", "style", "label"}
    assert f.edge_attrs == {"color", "label"}
    assert f.statement_count == 14  # 7 top-level + test, lint + label, stage->prod, inner + canary


def test_edge_chains_expand_and_non_strict_keeps_repeats() -> None:
    f = measure(parse("graph { a -- b -- c; {a b} -- {c d}; a -- b }"))
    assert (f.node_count, f.edge_count, f.directed, f.strict) == (4, 7, False, False)
    assert measure(parse("strict graph { a -- b; b -- a }")).edge_count == 1
    assert measure(parse("strict digraph { a -> b; b -> a }")).edge_count == 2


def test_nodes_only_in_edges_and_quoted_ids_are_the_same_nodes() -> None:
    f = measure(parse('digraph { "a" -> b; a -> "b"; c }'))
    assert (f.node_count, f.edge_count) == (3, 2)


def test_named_subgraph_twice_is_one_and_clusters_by_name() -> None:
    f = measure(parse("digraph { subgraph cluster_a { x } subgraph cluster_a { y } subgraph clusterB { z } { w } }"))
    assert (f.subgraph_count, f.cluster_count, f.max_depth, f.node_count) == (3, 2, 1, 4)


def test_to_dict_is_json_ready() -> None:
    d = measure(parse(PIPELINE)).to_dict()
    assert d["shapes"] == ["box", "diamond"] and d["node_count"] == 7
    assert set(d) == set(GraphFeatures.__slots__)


def _f(nodes: int, edges: int = 0, clusters: int = 0, depth: int = 0) -> GraphFeatures:
    return GraphFeatures(node_count=nodes, edge_count=edges, cluster_count=clusters, max_depth=depth)


@pytest.mark.parametrize(
    ("features", "bucket"),
    [
        (_f(8, 10), "simple"),
        (_f(9, 10), "medium"),
        (_f(8, 11), "medium"),
        (_f(2, 1, clusters=1, depth=1), "medium"),
        (_f(8, 10, depth=1), "simple"),
        (_f(14, 19), "medium"),
        (_f(15, 0), "complex"),
        (_f(5, 20), "complex"),
        (_f(9, 5, clusters=1, depth=1), "medium"),
        (_f(10, 5, clusters=1, depth=1), "complex"),
        (_f(3, 2, depth=2), "complex"),
    ],
)
def test_complexity_bucket_boundaries(features: GraphFeatures, bucket: str) -> None:
    assert complexity_of(features) == bucket


def test_complexity_of_parsed_graphs() -> None:
    assert complexity_of(measure(parse("digraph { a -> b -> c }"))) == "simple"
    assert complexity_of(measure(parse(PIPELINE))) == "complex"  # nesting 2
    chain = " -> ".join(f"n{i}" for i in range(12))
    assert complexity_of(measure(parse(f"digraph {{ {chain} }}"))) == "medium"


def test_thresholds_override_and_validate() -> None:
    loose = ComplexityThresholds(simple_max_nodes=12, simple_max_edges=12)
    assert complexity_of(_f(10, 9), loose) == "simple"
    with pytest.raises(ConfigError, match="complex_min_nodes"):
        validate_data({"simple_max_nodes": 20}, ComplexityThresholds, source="recipe.yaml")
    with pytest.raises(ConfigError, match="simple_max_node"):
        validate_data({"simple_max_node": 5}, ComplexityThresholds, source="recipe.yaml")


def test_measure_survives_deep_nesting() -> None:
    depth = 5_000
    f = measure(parse("digraph {" + "subgraph {" * depth + "a -> b" + "}" * depth + "}"))
    assert (f.max_depth, f.edge_count, f.node_count) == (depth, 1, 2)
