"""Fast path: measure a graph written one statement per line without the lark parser.

The generation grammar (``grammars/dot_gen.lark``) makes the model write DOT in one layout:
a ``digraph name {`` line, then one statement per line (``key=value``, ``node [...]``,
``n1 [label="x"]``, ``n1 -> n2 [...]``, ``subgraph cluster_1 {`` ... ``}``), then ``}``.
``analyse`` reads that layout line by line (one regular-expression match per line) and
builds the features, the node/edge model and the normal form directly, in one pass, with
exactly the rules of ``synthgen.dot.features`` and ``synthgen.dot.normal``.

It accepts only a strict subset of ``grammars/dot.lark``: bare ASCII names, numbers and
quoted strings without backslashes or newlines; single node IDs (no ports, no ``a, b``
lists, no inline ``{...}``); at most one ``[...]`` list per statement; no comments, no
HTML strings, no ``+``; only lower-case keywords; one graph. Anything else — including
every syntax error — returns None, and the caller takes the full parser, which gives the
verdict and the message. ``tests/dot/test_fast.py`` checks both paths agree (same verdict,
same features, complexity, normal and shape hashes) on generated samples, the few-shot
answers, the Graphviz corpus and mutated variants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from synthgen.dot.features import LABEL_KEYS, GraphFeatures, GraphModel, _finish

# One ID token as lark's basic lexer reads it (maximal munch): the look-ahead refuses a
# token that the lexer would have continued (``1a``, ``1.2.3``), so such lines fall back.
_ID = r'(?:[A-Za-z_][A-Za-z_0-9]*|-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)|"[^"\\\n]*")(?![A-Za-z_0-9.])'
_S = r"[ \t]*"
_ALIST = rf"\[{_S}((?:{_ID}{_S}={_S}{_ID}{_S}(?:[,;]{_S})?)*)\]"
_PAIR = re.compile(rf"({_ID}){_S}={_S}({_ID})")
_HEAD = re.compile(rf"{_S}(strict[ \t]+)?(digraph|graph)(?:[ \t]+({_ID}))?{_S}\{{{_S}")
_SUBGRAPH = re.compile(rf"subgraph(?:[ \t]+({_ID}))?{_S}\{{")
_ASSIGN = re.compile(rf"({_ID}){_S}={_S}({_ID})")
_CHAIN = {
    op: re.compile(rf"({_ID}(?:{_S}{op}{_S}{_ID})*)(?:{_S}{_ALIST})?")
    for op in ("->", "--")
}
# the endpoints of a chain; each match eats the operator before it, so ``a --1`` is a, 1
_ENDS = {directed: re.compile(rf"{_S}(?:{op}{_S})?({_ID})") for directed, op in ((True, "->"), (False, "--"))}
_BARE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_KEYWORDS = frozenset({"node", "edge", "graph", "digraph", "subgraph", "strict"})
MAX_INDENT = 10  # as synthgen.dot.normal
_PADS = ["  " * min(depth, MAX_INDENT) for depth in range(MAX_INDENT + 2)]


@dataclass(slots=True)
class Analysis:
    """What the full path computes from a parse tree, computed without one."""

    features: GraphFeatures
    model: GraphModel
    normal_form: str


class _Fallback(Exception):
    """The text is outside the fast path's subset: use the full parser."""


def _token(tok: str) -> tuple[str, str]:
    """(value, canonical form) of one ID token; a keyword spelled as a name falls back."""
    if tok[0] == '"':
        value = tok[1:-1]
        if _BARE.fullmatch(value) and value.lower() not in _KEYWORDS:
            return value, value
        return value, tok  # no backslash inside, so the quoted form is the token itself
    if tok.lower() in _KEYWORDS:
        raise _Fallback
    return tok, tok


def _pairs(inner: str) -> list[tuple[str, str, str, str]]:
    """(key, value, canonical key, canonical value) of each ``k=v`` in an attribute list."""
    out = []
    for key, value in _PAIR.findall(inner):
        k, ck = _token(key)
        v, cv = _token(value)
        out.append((k, v, ck, cv))
    return out


def _attrs(pairs: list[tuple[str, str, str, str]]) -> str:
    merged = {ck: cv for _, _, ck, cv in pairs}
    return "[" + ", ".join(f"{k}={merged[k]}" for k in sorted(merged)) + "]"


class _State:
    """What ``features._finish`` reads from a walker."""

    __slots__ = ("features", "model", "node_labels", "subgraph_names", "anonymous")

    def __init__(self, features: GraphFeatures, model: GraphModel) -> None:
        self.features, self.model = features, model
        self.node_labels: set[int] = set()
        self.subgraph_names: set[str] = set()
        self.anonymous = 0


def analyse(text: str) -> Analysis | None:
    """Features, model and normal form of ``text``, or None if it is outside the subset."""
    try:
        return _analyse(text)
    except _Fallback:
        return None


def _analyse(text: str) -> Analysis:
    lines = text.split("\n")
    count = len(lines)
    i = 0
    while i < count and not lines[i].strip(" \t"):
        i += 1
    if i == count:
        raise _Fallback
    head = _HEAD.fullmatch(lines[i])
    if head is None:
        raise _Fallback
    strict, kind, gid = head.groups()
    directed = kind == "digraph"
    f = GraphFeatures(directed=directed, strict=strict is not None)
    model = GraphModel(directed, f.strict)
    st = _State(f, model)
    words = ["strict", kind] if strict else [kind]
    if gid is not None:
        value, canon = _token(gid)
        f.graph_id = value
        words.append(canon)
    out = [" ".join(words) + " {\n"]
    op = " -> " if directed else " -- "
    chain = _CHAIN["->" if directed else "--"]
    node = model.node
    clusters_of = model.clusters
    node_labels = st.node_labels
    # the open bodies: [depth, edge_label, node_label, clusters, members, subgraph name]
    stack: list[list[Any]] = []
    depth, edge_label, node_label, clusters, members, sub = 0, False, False, (), set(), None
    closed = False
    for line in lines[i + 1 :]:
        s = line.strip(" \t")
        if not s:
            continue
        if closed:
            raise _Fallback  # text after the graph: another graph, or an error
        if s[-1] == ";":
            s = s[:-1].rstrip(" \t")
            if not s or s[-1] == "{" or (s == "}" and not stack):
                raise _Fallback  # a lone ';', '{;', or ';' after the graph
        pad = _PADS[min(depth + 1, MAX_INDENT)]
        if s == "}":
            if not stack:
                if line.strip(" \t") != "}":
                    raise _Fallback
                closed = True
                continue
            if sub is not None and sub.startswith("cluster"):
                clusters_of.setdefault(sub, set()).update(members)
            inner = members
            depth, edge_label, node_label, clusters, members, sub = stack.pop()
            members |= inner
            out.append(_PADS[min(depth + 1, MAX_INDENT)] + "};\n")
            continue
        f.statement_count += 1
        if s[-1] == "{":
            m = _SUBGRAPH.fullmatch(s)
            if m is None:
                raise _Fallback
            name = canon = None
            if m.group(1) is not None:
                name, canon = _token(m.group(1))
            inner_clusters = clusters
            if name is None:
                st.anonymous += 1
            else:
                st.subgraph_names.add(name)
                if name.startswith("cluster"):
                    model.cluster_parent.setdefault(name, clusters[-1] if clusters else None)
                    inner_clusters = clusters + (name,)
            out.append(pad + ("subgraph " + canon if canon is not None else "subgraph") + " {\n")
            stack.append([depth, edge_label, node_label, clusters, members, sub])
            depth, clusters, members, sub = depth + 1, inner_clusters, set(), name
            if depth > f.max_depth:
                f.max_depth = depth
            continue
        m = chain.fullmatch(s)
        if m is not None:
            ends, inner = m.groups()
            tokens = _ENDS[directed].findall(ends)
            first = tokens[0]
            if len(tokens) == 1 and first in ("graph", "node", "edge"):
                if inner is None:
                    raise _Fallback  # a bare keyword
                pairs = _pairs(inner)
                keys = {k for k, _, _, _ in pairs}
                if first == "graph":
                    f.graph_attrs |= keys
                    for k, v, _, _ in pairs:
                        if k == "rankdir" and depth == 0:
                            f.rankdir = v
                elif first == "node":
                    f.node_attrs |= keys
                    node_label = node_label or bool(keys & LABEL_KEYS)
                    for k, v, _, _ in pairs:
                        if k == "shape":
                            f.shapes.add(v.lower())
                else:
                    f.edge_attrs |= keys
                    edge_label = edge_label or bool(keys & LABEL_KEYS)
                out.append(pad + first + " " + _attrs(pairs) + ";\n")
                continue
            pairs = _pairs(inner) if inner else []
            keys = {k for k, _, _, _ in pairs}
            ids = []
            canon = []
            for tok in tokens:
                value, c = _token(tok)
                index = node(value)
                if node_label:
                    node_labels.add(index)
                for name in clusters:
                    clusters_of.setdefault(name, set()).add(index)
                ids.append(index)
                canon.append(c)
            members.update(ids)
            if len(ids) == 1:
                f.node_attrs |= keys
                if keys & LABEL_KEYS:
                    node_labels.add(ids[0])
            else:
                f.edge_attrs |= keys
                labelled = edge_label or bool(keys & LABEL_KEYS)
                edges = model.edges
                for tail, head_ in zip(ids, ids[1:]):
                    edges.append((tail, head_))
                if labelled:
                    f.labelled_edges += len(ids) - 1
            if "shape" in keys:
                f.shapes.update(v.lower() for k, v, _, _ in pairs if k == "shape")
            if inner is not None and pairs:
                out.append(pad + op.join(canon) + " " + _attrs(pairs) + ";\n")
            else:
                out.append(pad + op.join(canon) + ";\n")
            continue
        m = _ASSIGN.fullmatch(s)
        if m is None:
            raise _Fallback
        key, ck = _token(m.group(1))
        value, cv = _token(m.group(2))
        f.graph_attrs.add(key)
        if key == "rankdir" and depth == 0:
            f.rankdir = value
        out.append(f"{pad}{ck}={cv};\n")
    if not closed:
        raise _Fallback
    out.append("}\n")
    return Analysis(_finish(st), model, "".join(out))  # type: ignore[arg-type]
