"""Measure a parsed DOT graph: the structure complexity buckets and reports are computed from.

Counts follow Graphviz's semantics, not the text: a node is a distinct ID (``"a"`` and ``a``
are one node; nodes that only appear in edges count); an edge chain ``a -> b -> c`` is 2
edges; a subgraph endpoint stands for every node in it (``a -> {b c}`` is 2 edges); a strict
graph keeps one edge per node pair. A named subgraph that appears twice is one subgraph.

The walk is iterative (an explicit stack of generators), so a 10,000-deep nest measures
without hitting Python's recursion limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from synthgen.dot.parser import DotSyntaxError, DotTree

LABEL_KEYS = frozenset({"label", "xlabel", "headlabel", "taillabel"})


def id_value(node: Any) -> tuple[str, bool]:
    """An ID's value as Graphviz stores it, and whether it is an HTML string.

    Quoted strings lose their quotes; ``\\"`` becomes ``"`` and a backslash-newline goes
    (Graphviz's scanner); other backslashes stay. ``+`` concatenations are joined.
    """
    if hasattr(node, "data"):  # qid: a "+" concatenation
        parts = [id_value(tok) for tok in node.children]
        return "".join(p[0] for p in parts), any(p[1] for p in parts)
    kind, text = node.type, node.value
    if kind == "QSTRING":
        body = text[1:-1]
        return (_QUOTE_ESCAPE.sub(_unescape, body) if "\\" in body else body), False
    if kind == "HTML":
        return text[1:-1], True
    return text, False


# Graphviz's qstring rules: \" -> ", \\ -> \\ (kept), backslash-newline -> nothing.
_QUOTE_ESCAPE = re.compile(r'\\(["\\\n])')


def _unescape(match: re.Match[str]) -> str:
    char = match.group(1)
    return '"' if char == '"' else ("\\\\" if char == "\\" else "")


def drive(root: Generator[Any, Any, Any]) -> Any:
    """Run nested generators without recursion: a generator yields a child generator to
    run and receives its return value."""
    stack = [root]
    value = None
    while stack:
        try:
            child = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            value = stop.value
            continue
        stack.append(child)
        value = None
    return value


@dataclass(slots=True)
class GraphFeatures:
    """What ``measure`` found. Sets become sorted lists in ``to_dict``."""

    directed: bool = False
    strict: bool = False
    graph_id: str | None = None
    node_count: int = 0
    edge_count: int = 0
    subgraph_count: int = 0
    cluster_count: int = 0
    max_depth: int = 0
    statement_count: int = 0
    labelled_edges: int = 0
    labelled_nodes: int = 0
    self_loops: int = 0
    max_degree: int = 0
    graph_attrs: set[str] = field(default_factory=set)
    node_attrs: set[str] = field(default_factory=set)
    edge_attrs: set[str] = field(default_factory=set)
    shapes: set[str] = field(default_factory=set)
    rankdir: str | None = None
    has_html_labels: bool = False
    has_ports: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Every field in order (what ``dataclasses.asdict`` gives), sets as sorted lists."""
        out = {}
        for key in _FEATURE_FIELDS:
            value = getattr(self, key)
            out[key] = sorted(value) if isinstance(value, set) else value
        return out


_FEATURE_FIELDS = tuple(f.name for f in fields(GraphFeatures))


@dataclass(slots=True)
class GraphModel:
    """The graph behind the text: node order, expanded edges, and each node's clusters.

    Shared by ``measure`` and the shape hash so both see the same nodes and edges.
    """

    directed: bool
    strict: bool
    nodes: dict[str, int] = field(default_factory=dict)  # id -> index, first-seen order
    edges: list[tuple[int, int]] = field(default_factory=list)
    clusters: dict[str, set[int]] = field(default_factory=dict)  # cluster name -> member nodes
    cluster_parent: dict[str, str | None] = field(default_factory=dict)

    def node(self, name: str) -> int:
        index = self.nodes.get(name)
        if index is None:
            index = self.nodes[name] = len(self.nodes)
        return index


@dataclass(slots=True)
class _Scope:
    """Attribute defaults in force inside one body (inherited by nested subgraphs)."""

    edge_label: bool = False
    node_label: bool = False
    clusters: tuple[str, ...] = ()


class _Walker:
    def __init__(self, graph: Any) -> None:
        head = graph.children
        strict = head[0].type == "STRICT"
        kind = head[1] if strict else head[0]
        self.features = GraphFeatures(directed=kind.type == "DIGRAPH", strict=strict)
        self.model = GraphModel(self.features.directed, strict)
        named = [c for c in head if not hasattr(c, "type") or c.type not in ("STRICT", "GRAPH", "DIGRAPH")]
        if len(named) == 2:
            self.features.graph_id = id_value(named[0])[0]
        self.subgraph_names: set[str] = set()
        self.anonymous = 0
        self.node_labels: set[int] = set()

    def body(self, body: Any, depth: int, scope: _Scope) -> Generator[Any, Any, set[int]]:
        f = self.features
        f.max_depth = max(f.max_depth, depth)
        members: set[int] = set()
        for stmt in body.children:
            f.statement_count += 1
            kind = stmt.data
            if kind == "compound":
                members |= yield self.compound(stmt, depth, scope)
            elif kind == "assign":
                self.graph_attr(stmt, depth)
            else:
                self.attr_stmt(stmt, depth, scope)
        return members

    def compound(self, stmt: Any, depth: int, scope: _Scope) -> Generator[Any, Any, set[int]]:
        attrs: list[Any] = []
        groups: list[list[int]] = []
        for part in stmt.children:
            kind = getattr(part, "data", None)
            if kind == "attr_list":
                attrs = part.children
            elif kind == "subgraph":
                groups.append(sorted((yield self.subgraph(part, depth, scope))))
            elif kind is not None:
                groups.append(self.node_ids(part, scope))
        keys = self.attr_keys(attrs)
        members = {n for group in groups for n in group}
        if len(groups) == 1:
            self.features.node_attrs |= keys
            if keys & LABEL_KEYS:
                self.node_labels.update(groups[0])
        else:
            self.features.edge_attrs |= keys
            labelled = scope.edge_label or bool(keys & LABEL_KEYS)
            for tails, heads in zip(groups, groups[1:]):
                self.add_edges(tails, heads, labelled)
        if "shape" in keys:
            self.features.shapes.update(id_value(a.children[1])[0].lower() for a in attrs if id_value(a.children[0])[0] == "shape")
        return members

    def subgraph(self, sub: Any, depth: int, scope: _Scope) -> Generator[Any, Any, set[int]]:
        name = None
        for part in sub.children:
            if not hasattr(part, "data") and part.type != "SUBGRAPH":
                name = id_value(part)[0]
            elif getattr(part, "data", None) == "qid":
                name = id_value(part)[0]
        if name is None:
            self.anonymous += 1
        else:
            self.subgraph_names.add(name)
        clusters = scope.clusters
        if name is not None and name.startswith("cluster"):
            self.model.cluster_parent.setdefault(name, clusters[-1] if clusters else None)
            clusters = clusters + (name,)
        inner = _Scope(scope.edge_label, scope.node_label, clusters)
        members = yield self.body(sub.children[-1], depth + 1, inner)
        if name is not None and name.startswith("cluster"):
            self.model.clusters.setdefault(name, set()).update(members)
        return members

    def node_ids(self, part: Any, scope: _Scope) -> list[int]:
        items = part.children if part.data == "node_list" else [part]
        out = []
        for item in items:
            if len(item.children) > 1:
                self.features.has_ports = True
            index = self.model.node(id_value(item.children[0])[0])
            if scope.node_label:
                self.node_labels.add(index)
            for name in scope.clusters:
                self.model.clusters.setdefault(name, set()).add(index)
            out.append(index)
        return out

    def add_edges(self, tails: Iterable[int], heads: list[int], labelled: bool) -> None:
        for tail in tails:
            for head in heads:
                self.model.edges.append((tail, head))
                if labelled:
                    self.features.labelled_edges += 1

    def attr_stmt(self, stmt: Any, depth: int, scope: _Scope) -> None:
        kind = stmt.children[0].type
        keys = self.attr_keys(stmt.children[-1].children)
        if kind == "GRAPH":
            self.features.graph_attrs |= keys
            for a in stmt.children[-1].children:
                self.note_graph_value(a, depth)
        elif kind == "NODE":
            self.features.node_attrs |= keys
            scope.node_label = scope.node_label or bool(keys & LABEL_KEYS)
            for a in stmt.children[-1].children:
                key, value = id_value(a.children[0])[0], id_value(a.children[1])[0]
                if key == "shape":
                    self.features.shapes.add(value.lower())
        else:
            self.features.edge_attrs |= keys
            scope.edge_label = scope.edge_label or bool(keys & LABEL_KEYS)

    def graph_attr(self, stmt: Any, depth: int) -> None:
        key = id_value(stmt.children[0])[0]
        self.features.graph_attrs.add(key)
        self.note_graph_value(stmt, depth)

    def note_graph_value(self, assign: Any, depth: int) -> None:
        key, value = id_value(assign.children[0])[0], id_value(assign.children[1])[0]
        if key == "rankdir" and depth == 0:
            self.features.rankdir = value

    def attr_keys(self, assigns: list[Any]) -> set[str]:
        keys = set()
        for a in assigns:
            key = id_value(a.children[0])[0]
            keys.add(key)
            if key in LABEL_KEYS and id_value(a.children[1])[1]:
                self.features.has_html_labels = True
        return keys


def build(tree: DotTree | Any) -> tuple[GraphFeatures, GraphModel]:
    """Walk the first graph once; return its features and its node/edge model."""
    graph = first_graph(tree)
    walker = _Walker(graph)
    drive(walker.body(graph.children[-1], 0, _Scope()))
    return _finish(walker), walker.model


def measure(tree: DotTree | Any) -> GraphFeatures:
    """Features of the first graph in ``tree`` (a DotTree or a lark ``graph``/``start`` tree)."""
    return build(tree)[0]


def first_graph(tree: DotTree | Any) -> Any:
    if isinstance(tree, DotTree):
        tree = tree.tree
    if getattr(tree, "data", None) == "start":
        if not tree.children:
            raise DotSyntaxError("no graph to measure: the text holds no DOT graph")
        tree = tree.children[0]
    return tree


def _finish(walker: _Walker) -> GraphFeatures:
    f, model = walker.features, walker.model
    if model.strict:
        model.edges = _dedupe(model.edges, model.directed)
    f.node_count = len(model.nodes)
    f.edge_count = len(model.edges)
    f.labelled_edges = min(f.labelled_edges, f.edge_count)
    f.labelled_nodes = len(walker.node_labels)
    f.subgraph_count = len(walker.subgraph_names) + walker.anonymous
    f.cluster_count = len(model.clusters)
    f.self_loops = sum(1 for tail, head in model.edges if tail == head)
    f.max_degree = _max_degree(model.edges)
    return f


def _dedupe(edges: list[tuple[int, int]], directed: bool) -> list[tuple[int, int]]:
    key: Callable[[tuple[int, int]], tuple[int, int]] = (lambda e: e) if directed else (lambda e: (min(e), max(e)))
    seen: dict[tuple[int, int], tuple[int, int]] = {}
    for edge in edges:
        seen.setdefault(key(edge), edge)
    return list(seen.values())


def _max_degree(edges: list[tuple[int, int]]) -> int:
    degree: dict[int, int] = {}
    for tail, head in edges:
        degree[tail] = degree.get(tail, 0) + 1
        degree[head] = degree.get(head, 0) + 1
    return max(degree.values(), default=0)


def complexity_of(features: GraphFeatures, thresholds: Any = None) -> str:
    """Same as ``synthgen.dot.complexity.complexity_of`` (the rule lives there), for callers
    that import it from here."""
    from synthgen.dot.complexity import complexity_of as bucket

    return bucket(features, thresholds)
