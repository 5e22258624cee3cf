"""What a graph says, not only its shape: each node's label and each edge with its label.

``synthgen.dot.features`` counts nodes and edges; the quality checks of a generated graph
also need to read them: which edges repeat exactly (same ends, same label), which nodes
share a label, which words the labels use. Semantics follow Graphviz where it matters here:
a node without a label shows its ID (``\\N``), ``node [label=...]`` and ``edge [label=...]``
defaults apply in their body and the subgraphs inside it, an edge chain ``a -> b -> c`` is
two edges, a subgraph endpoint stands for its nodes, a strict graph keeps one edge per pair.

The walk is iterative (``features.drive``), so a deep nest of subgraphs reads without
Python recursion, like ``measure``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from synthgen.dot.features import drive, first_graph, id_value
from synthgen.dot.parser import DotTree

Edge = tuple[str, str, str]  # tail, head, label ("" when none)


@dataclass(slots=True)
class GraphContent:
    directed: bool
    labels: dict[str, str] = field(default_factory=dict)  # node ID -> its label, first-seen order
    edges: list[Edge] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)  # graph and cluster labels

    @property
    def nodes(self) -> list[str]:
        return list(self.labels)


@dataclass(slots=True)
class _Scope:
    node_label: str | None = None
    edge_label: str | None = None


class _Reader:
    def __init__(self, graph: Any) -> None:
        head = graph.children
        strict = head[0].type == "STRICT"
        kind = head[1] if strict else head[0]
        self.strict = strict
        self.content = GraphContent(directed=kind.type == "DIGRAPH")
        self._explicit: set[str] = set()

    def body(self, body: Any, scope: _Scope) -> Generator[Any, Any, list[str]]:
        members: list[str] = []
        for stmt in body.children:
            if stmt.data == "compound":
                members += yield self.compound(stmt, scope)
            elif stmt.data == "assign":
                self.title(stmt)
            else:
                self.defaults(stmt, scope)
        return members

    def title(self, assign: Any) -> None:
        key, value = id_value(assign.children[0])[0], id_value(assign.children[1])[0]
        if key == "label" and value:
            self.content.titles.append(value)

    def defaults(self, stmt: Any, scope: _Scope) -> None:
        kind = stmt.children[0].type
        for assign in stmt.children[-1].children:
            if kind == "GRAPH":
                self.title(assign)
                continue
            key, value = id_value(assign.children[0])[0], id_value(assign.children[1])[0]
            if key == "label":
                if kind == "NODE":
                    scope.node_label = value
                else:
                    scope.edge_label = value

    def compound(self, stmt: Any, scope: _Scope) -> Generator[Any, Any, list[str]]:
        label: str | None = None
        groups: list[list[str]] = []
        for part in stmt.children:
            kind = getattr(part, "data", None)
            if kind == "attr_list":
                for assign in part.children:
                    if id_value(assign.children[0])[0] == "label":
                        label = id_value(assign.children[1])[0]
            elif kind == "subgraph":
                groups.append((yield self.subgraph(part, scope)))
            elif kind is not None:
                groups.append([self.node(item, scope) for item in (part.children if kind == "node_list" else [part])])
        if len(groups) == 1 and label is not None:
            for name in groups[0]:
                self.content.labels[name] = self._shown(label, name)
                self._explicit.add(name)
        elif len(groups) > 1:
            text = label if label is not None else (scope.edge_label or "")
            for tails, heads in zip(groups, groups[1:]):
                self.content.edges += [(t, h, text) for t in tails for h in heads]
        return [n for group in groups for n in group]

    def subgraph(self, sub: Any, scope: _Scope) -> Generator[Any, Any, list[str]]:
        inner = _Scope(scope.node_label, scope.edge_label)
        return (yield self.body(sub.children[-1], inner))

    def node(self, item: Any, scope: _Scope) -> str:
        name = id_value(item.children[0])[0]
        if name not in self.content.labels:
            self.content.labels[name] = self._shown(scope.node_label, name) if scope.node_label is not None else name
        return name

    @staticmethod
    def _shown(label: str, name: str) -> str:
        return label.replace("\\N", name)


def read_content(tree: DotTree | Any) -> GraphContent:
    """The labels and edges of the first graph in ``tree``."""
    graph = first_graph(tree)
    reader = _Reader(graph)
    drive(reader.body(graph.children[-1], _Scope()))
    content = reader.content
    if reader.strict:
        seen: set[tuple[str, str]] = set()
        kept = []
        for tail, head, label in content.edges:
            key = (tail, head) if content.directed else tuple(sorted((tail, head)))
            if key not in seen:
                seen.add(key)  # type: ignore[arg-type]
                kept.append((tail, head, label))
        content.edges = kept
    return content


def content_of(text: str) -> GraphContent:
    """Parse ``text`` with the full grammar and read its content."""
    from synthgen.dot.parser import parse

    return read_content(parse(text))
