"""Normal form and hashes of a DOT graph, for exact and structural deduplication.

- ``normal_form``: the graph re-written canonically: comments and layout gone, keywords in
  lower case, IDs quoted only when they must be (``"a"`` and ``a`` are one ID to Graphviz, so
  they print the same), the attribute lists of a statement merged into one list sorted by
  key (a repeated key keeps its last value, as Graphviz does), one statement per line, the
  order of statements kept (order matters to Graphviz: defaults apply to what follows).
- ``normal_hash``: ``dotn1:`` + sha256 of the normal form.
- ``shape_hash``: ``shape1:`` + sha256 of a Weisfeiler-Lehman refinement over nodes, edges
  (direction kept) and cluster membership, ignoring names, labels and attribute values:
  two graphs with the same shape and different words collide on purpose. WL can also make
  rare non-isomorphic graphs collide (e.g. some regular graphs); for dedup that's accepted.

Prefixes are versioned: a change to either form gets a new prefix, so old and new hashes
never mix. Only hashlib is used (never ``hash()``), so values are stable across runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Generator
from typing import Any

from synthgen.dot.features import GraphModel, build, drive, first_graph, id_value
from synthgen.dot.parser import DotTree

NORMAL_PREFIX = "dotn1:"
SHAPE_PREFIX = "shape1:"
WL_ROUNDS = 3
MAX_INDENT = 10  # deeper nests print at this indent, so a 10,000-deep nest stays linear in size
_BARE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})


def canonical_id(node: Any) -> str:
    """An ID as the normal form prints it: bare if it can be, else quoted; HTML stays HTML."""
    value, html = id_value(node)
    if html:
        return f"<{value}>"
    if _BARE.fullmatch(value) and value.lower() not in _KEYWORDS:
        return value
    return '"' + value.replace('"', '\\"') + '"'


def normal_form(tree: DotTree | Any) -> str:
    """The canonical text of the first graph (see the module docstring for the rules)."""
    graph = first_graph(tree)
    head = [c for c in graph.children[:-1]]
    words = [c.type.lower() for c in head if getattr(c, "type", None) in ("STRICT", "GRAPH", "DIGRAPH")]
    names = [canonical_id(c) for c in head if getattr(c, "type", None) not in ("STRICT", "GRAPH", "DIGRAPH")]
    out = [" ".join(words + names) + " {\n"]
    op = " -> " if words[-1] == "digraph" else " -- "
    drive(_body(graph.children[-1], 1, op, out))
    out.append("}\n")
    return "".join(out)


def normal_hash(tree: DotTree | Any) -> str:
    """``dotn1:<sha256 hex>`` of the normal form: equal for texts that differ only in layout."""
    return normal_hash_of(normal_form(tree))


def _indent(depth: int) -> str:
    return "  " * min(depth, MAX_INDENT)


def _body(body: Any, depth: int, op: str, out: list[str]) -> Generator[Any, Any, None]:
    pad = _indent(depth)
    for stmt in body.children:
        out.append(pad)
        kind = stmt.data
        if kind == "assign":
            out.append(f"{canonical_id(stmt.children[0])}={canonical_id(stmt.children[1])}")
        elif kind == "attr_stmt":
            out.append(stmt.children[0].type.lower())
            if len(stmt.children) == 3:
                out.append(f" {canonical_id(stmt.children[1])} =")
            out.append(" " + _attrs(stmt.children[-1].children))
        else:
            yield _compound(stmt, depth, op, out)
        out.append(";\n")


def _compound(stmt: Any, depth: int, op: str, out: list[str]) -> Generator[Any, Any, None]:
    first = True
    for part in stmt.children:
        kind = getattr(part, "data", None)
        if kind is None:  # the edge operator token
            continue
        if kind == "attr_list":
            if part.children:
                out.append(" " + _attrs(part.children))
            continue
        if not first:
            out.append(op)
        first = False
        if kind == "subgraph":
            yield _subgraph(part, depth, op, out)
        elif kind == "node_list":
            out.append(", ".join(_node_id(n) for n in part.children))
        else:
            out.append(_node_id(part))


def _subgraph(sub: Any, depth: int, op: str, out: list[str]) -> Generator[Any, Any, None]:
    names = [canonical_id(c) for c in sub.children[:-1] if getattr(c, "type", None) != "SUBGRAPH"]
    out.append(" ".join(["subgraph"] + names) + " {\n")
    yield _body(sub.children[-1], depth + 1, op, out)
    out.append(_indent(depth) + "}")


def _node_id(node: Any) -> str:
    return ":".join(canonical_id(part) for part in node.children)


def _attrs(assigns: list[Any]) -> str:
    merged = {canonical_id(a.children[0]): canonical_id(a.children[1]) for a in assigns}
    return "[" + ", ".join(f"{k}={merged[k]}" for k in sorted(merged)) + "]"


def shape_hash(tree: DotTree | Any) -> str:
    """``shape1:<sha256 hex>``: the graph's structure without names, labels or values."""
    return shape_hash_of(build(tree)[1])


def shape_hash_of(model: GraphModel) -> str:
    """``shape_hash`` from an already built node/edge model (``features.build``)."""
    labels = _wl_labels(model)
    head = f"{int(model.directed)}|{int(model.strict)}|{len(model.nodes)}|{len(model.edges)}|{len(model.clusters)}"
    return SHAPE_PREFIX + hashlib.sha256((head + "\n" + "\n".join(labels)).encode("ascii")).hexdigest()


def normal_hash_of(form: str) -> str:
    """``normal_hash`` from an already printed normal form."""
    return NORMAL_PREFIX + hashlib.sha256(form.encode("utf-8")).hexdigest()


# WL label of a vertex's neighbourhood text -> its 16 hex digits. Small graphs repeat the
# same neighbourhoods across samples (and round 1 depends only on degrees), so most
# refinements are look-ups; cleared when full, so memory stays bounded.
_REFINED: dict[str, str] = {}
_REFINED_MAX = 20_000


def _wl_graph(model: GraphModel) -> tuple[list[str], list[list[int]], list[list[int]], list[list[int]]]:
    """The WL graph: nodes, then clusters (sorted by name) as vertices. Returns the initial
    labels and, per vertex, its out-, in- (directed only) and membership neighbours."""
    n = len(model.nodes)
    cluster_index = {name: n + i for i, name in enumerate(sorted(model.clusters))}
    size = n + len(cluster_index)
    out_adj: list[list[int]] = [[] for _ in range(size)]
    in_adj: list[list[int]] = [[] for _ in range(size)]
    member: list[list[int]] = [[] for _ in range(size)]
    for tail, head in model.edges:
        out_adj[tail].append(head)
        (in_adj if model.directed else out_adj)[head].append(tail)
    for name, index in cluster_index.items():
        for node in model.clusters[name]:
            member[node].append(index)
            member[index].append(node)
        parent = model.cluster_parent.get(name)
        if parent in cluster_index:
            member[index].append(cluster_index[parent])
            member[cluster_index[parent]].append(index)
    return ["n"] * n + ["c"] * len(cluster_index), out_adj, in_adj, member


def _wl_labels(model: GraphModel) -> list[str]:
    """Sorted labels of every vertex after every WL round (nodes and clusters as vertices)."""
    n = len(model.nodes)
    labels, out_adj, in_adj, member = _wl_graph(model)
    seen = list(labels)
    cache = _REFINED
    sha256 = hashlib.sha256
    adjacency = list(zip(out_adj, in_adj, member))
    # Round 1: every label is "n" or "c", so a vertex's text depends only on its kind, its
    # degrees and how many clusters / nodes it is tied to: printed once per such key.
    first: dict[tuple[str, int, int, int], str] = {}
    refined = []
    for v, (outs, ins, members) in enumerate(adjacency):
        clusters = sum(1 for u in members if u >= n)
        key = (labels[v], len(outs), len(ins), len(members), clusters)
        label = first.get(key)
        if label is None:
            # edges join nodes ("n"); members sort clusters ("c") before nodes ("n")
            text = (
                f"{labels[v]}|o:{','.join('n' * len(outs))}|i:{','.join('n' * len(ins))}"
                f"|m:{','.join('c' * clusters + 'n' * (len(members) - clusters))}"
            )
            label = first[key] = _hashed(text, cache, sha256)
        refined.append(label)
    labels = refined
    seen += labels
    for _ in range(WL_ROUNDS - 1):
        get = labels.__getitem__
        refined = []
        for v, (outs, ins, members) in enumerate(adjacency):
            # the text _refine hashes, built inline (most neighbour lists are empty or short)
            text = (
                labels[v]
                + "|o:"
                + (",".join(sorted(map(get, outs))) if outs else "")
                + "|i:"
                + (",".join(sorted(map(get, ins))) if ins else "")
                + "|m:"
                + (",".join(sorted(map(get, members))) if members else "")
            )
            label = cache.get(text)
            if label is None:
                label = _hashed(text, cache, sha256)
            refined.append(label)
        labels = refined
        seen += labels
    seen.sort()
    return seen


def _hashed(text: str, cache: dict[str, str], sha256: Any) -> str:
    label = cache.get(text)
    if label is None:
        if len(cache) >= _REFINED_MAX:
            cache.clear()
        label = cache[text] = sha256(text.encode("ascii")).hexdigest()[:16]
    return label


def _refine(labels: list[str], v: int, out_adj: list[list[int]], in_adj: list[list[int]], member: list[list[int]]) -> str:
    """One vertex's next WL label (the reference form of the loop in ``_wl_labels``)."""

    def around(adj: list[list[int]]) -> str:
        return ",".join(sorted(labels[u] for u in adj[v]))

    text = f"{labels[v]}|o:{around(out_adj)}|i:{around(in_adj)}|m:{around(member)}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]
