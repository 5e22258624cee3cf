"""Complexity buckets (simple / medium / complex) from measured structure only.

The rule, with the default thresholds (every number is a field of ``ComplexityThresholds``):

1. **complex** if ANY of:
   - nodes >= 15                         (``complex_min_nodes``)
   - edges >= 20                         (``complex_min_edges``)
   - subgraph nesting depth >= 2         (``complex_min_depth``; a subgraph inside a subgraph)
   - clusters >= 1 AND nodes >= 10       (``complex_cluster_min_nodes``)
2. else **simple** if ALL of:
   - nodes <= 8                          (``simple_max_nodes``)
   - edges <= 10                         (``simple_max_edges``)
   - clusters == 0                       (``simple_max_clusters``)
   - depth <= 1                          (``simple_max_depth``; a `{rank=same; a b}` group is fine)
3. else **medium**.

Counting (see ``synthgen.dot.features``): nodes are distinct node IDs, including nodes that
only appear in edges; edges are expanded (``a -> b -> c`` = 2, ``a -> {b c}`` = 2; a strict
graph counts one edge per node pair); clusters are distinct subgraph names starting with
``cluster``; depth is 0 for a flat graph, 1 for a subgraph in the graph body, 2 for a
subgraph inside a subgraph.

So a generation grammar lands in a bucket by construction when, e.g.: simple = 2..8 node
statements, <= 10 single edges, no clusters; medium = 9..14 nodes, <= 19 edges, at most
one level of clusters with fewer than 10 nodes in all (or no cluster); complex = >= 15
nodes, or >= 1 cluster with >= 10 nodes, or a cluster inside a cluster.

Why these numbers: a simple graph fits on a phone screen and reads at a glance (≈ a dozen
elements); clusters or nested grouping are what make a DOT answer structurally harder,
so a cluster never counts as simple, and grouping plus a real graph (>= 10 nodes) or any
nesting is complex. Recipes may override any field (YAML, loaded with ``load_yaml``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from synthgen.config import ConfigBase
from synthgen.dot.features import GraphFeatures

Complexity = Literal["simple", "medium", "complex"]
COMPLEXITIES: tuple[Complexity, ...] = ("simple", "medium", "complex")


class ComplexityThresholds(ConfigBase):
    """Bucket thresholds; the module docstring states the rule they plug into."""

    simple_max_nodes: int = 8
    simple_max_edges: int = 10
    simple_max_clusters: int = 0
    simple_max_depth: int = 1
    complex_min_nodes: int = 15
    complex_min_edges: int = 20
    complex_min_depth: int = 2
    complex_cluster_min_nodes: int = 10

    @model_validator(mode="after")
    def _ordered(self) -> ComplexityThresholds:
        if self.simple_max_nodes >= self.complex_min_nodes:
            raise ValueError("simple_max_nodes must be below complex_min_nodes")
        if self.simple_max_edges >= self.complex_min_edges:
            raise ValueError("simple_max_edges must be below complex_min_edges")
        if self.simple_max_depth >= self.complex_min_depth:
            raise ValueError("simple_max_depth must be below complex_min_depth")
        if min(self.model_dump().values()) < 0:
            raise ValueError("thresholds must be >= 0")
        return self


DEFAULT_THRESHOLDS = ComplexityThresholds()


def is_complex(f: GraphFeatures, t: ComplexityThresholds) -> bool:
    return (
        f.node_count >= t.complex_min_nodes
        or f.edge_count >= t.complex_min_edges
        or f.max_depth >= t.complex_min_depth
        or (f.cluster_count >= 1 and f.node_count >= t.complex_cluster_min_nodes)
    )


def is_simple(f: GraphFeatures, t: ComplexityThresholds) -> bool:
    return (
        f.node_count <= t.simple_max_nodes
        and f.edge_count <= t.simple_max_edges
        and f.cluster_count <= t.simple_max_clusters
        and f.max_depth <= t.simple_max_depth
    )


def complexity_of(features: GraphFeatures, thresholds: ComplexityThresholds | None = None) -> Complexity:
    """The bucket for measured features: complex first, then simple, else medium."""
    t = thresholds or DEFAULT_THRESHOLDS
    if is_complex(features, t):
        return "complex"
    if is_simple(features, t):
        return "simple"
    return "medium"
