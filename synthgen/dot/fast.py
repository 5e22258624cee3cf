"""Fast path: measure a graph written one statement per line without the lark parser.

The generation grammar (``grammars/dot_gen.lark``) makes the model write DOT in one layout:
a ``digraph name {`` line, then one statement per line (``key=value``, ``node [...]``,
``n1 [label="x"]``, ``n1 -> n2 [...]``, ``subgraph cluster_1 {`` ... ``}``), then ``}``.
``analyse`` reads that layout line by line (one regular-expression match per line) and
builds the features, the node/edge model and the normal form directly, in one pass, with
exactly the rules of ``synthgen.dot.features`` and ``synthgen.dot.normal``.

It accepts only a strict subset of ``grammars/dot.lark``: bare ASCII names, numbers and
quoted strings without backslashes or newlines; single node IDs (no ports, no ``a, b``
lists, no inline ``{...}``); at most one ``[...]`` list per statement; comments only as
``//`` or ``#`` to the end of a line (after its last quoted string); no HTML strings, no
``+``; only lower-case keywords; one graph. Anything else — including
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
_HEAD = re.compile(rf"(strict[ \t]+)?(digraph|graph)(?:[ \t]+({_ID}))?{_S}\{{")
_SUBGRAPH = re.compile(rf"subgraph(?:[ \t]+({_ID}))?{_S}\{{")
_ASSIGN = re.compile(rf"({_ID}){_S}={_S}({_ID})")
_OPS = ((True, "->"), (False, "--"))
# a node statement or a single edge (most lines), then chains of any length
_SHORT = {directed: re.compile(rf"({_ID})(?:{_S}{op}{_S}({_ID}))?(?:{_S}{_ALIST})?") for directed, op in _OPS}
_CHAIN = {directed: re.compile(rf"({_ID}(?:{_S}{op}{_S}{_ID})*)(?:{_S}{_ALIST})?") for directed, op in _OPS}
# the endpoints of a chain; each match eats the operator before it, so ``a --1`` is a, 1
_ENDS = {directed: re.compile(rf"{_S}(?:{op}{_S})?({_ID})") for directed, op in _OPS}
_ATTR_KINDS = frozenset({"graph", "node", "edge"})
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


@dataclass(slots=True, frozen=True)
class _AttrList:
    """One ``[...]`` list, read once: what the features and the normal form take from it."""

    keys: frozenset[str]
    text: str  # as the normal form prints it: merged, sorted by key
    shapes: tuple[str, ...]  # lower-cased values of its ``shape`` keys
    labelled: bool  # a label-like key is set
    rankdir: str | None  # the last ``rankdir`` value


# Small graphs repeat their names and attribute lists (n1, n2, [shape=box] ...): each is
# read once per process. Cleared when full, so memory stays bounded.
_CACHE_MAX = 20_000
_TOKENS: dict[str, tuple[str, str] | None] = {}
_ALISTS: dict[str, _AttrList] = {}


def _token(tok: str) -> tuple[str, str]:
    """(value, canonical form) of one ID token; a keyword spelled as a name falls back."""
    known = _TOKENS.get(tok, False)
    if known is False:
        known = _read_token(tok)
        if len(_TOKENS) >= _CACHE_MAX:
            _TOKENS.clear()
        _TOKENS[tok] = known
    if known is None:
        raise _Fallback
    return known


def _read_token(tok: str) -> tuple[str, str] | None:
    if tok[0] == '"':
        value = tok[1:-1]
        if _BARE.fullmatch(value) and value.lower() not in _KEYWORDS:
            return value, value
        return value, tok  # no backslash inside, so the quoted form is the token itself
    if tok.lower() in _KEYWORDS:
        return None  # lark reads it as the keyword, so the line is not what it looks like
    return tok, tok


def _alist(inner: str) -> _AttrList:
    known = _ALISTS.get(inner)
    if known is None:
        pairs = [(_token(key), _token(value)) for key, value in _PAIR.findall(inner)]
        merged = {ck: cv for (_, ck), (_, cv) in pairs}
        keys = frozenset(k for (k, _), _ in pairs)
        rankdir = None
        for (k, _), (v, _) in pairs:
            if k == "rankdir":
                rankdir = v
        known = _AttrList(
            keys,
            "[" + ", ".join(f"{k}={merged[k]}" for k in sorted(merged)) + "]",
            tuple(v.lower() for (k, _), (v, _) in pairs if k == "shape"),
            not keys.isdisjoint(LABEL_KEYS),
            rankdir,
        )
        if len(_ALISTS) >= _CACHE_MAX:
            _ALISTS.clear()
        _ALISTS[inner] = known
    return known


_WS = " \t\r\f\v"  # lark's WS, less the newline


def _content(line: str) -> str:
    """A line without surrounding whitespace and without a ``//`` or ``#`` comment after its
    last quoted string (lark ignores both to the end of the line). Anything murkier (an odd
    number of quotes, a comment mark before a quote, ``/*``) stays, and fails to match."""
    s = line.strip(_WS)
    if ("/" in s or "#" in s) and s.count('"') % 2 == 0:
        after = s.rfind('"') + 1
        cuts = [at for at in (s.find("//", after), s.find("#", after)) if at >= 0]
        if cuts:
            s = s[: min(cuts)].rstrip(_WS)
    return s


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
    while i < count and not _content(lines[i]):
        i += 1
    if i == count:
        raise _Fallback
    head = _HEAD.fullmatch(_content(lines[i]))
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
    short, chain, ends = _SHORT[directed], _CHAIN[directed], _ENDS[directed]
    nodes = model.nodes
    edges = model.edges
    clusters_of = model.clusters
    node_labels = st.node_labels
    token = _token
    alist = _alist
    statements = 0
    # the open bodies: [depth, edge_label, node_label, clusters, members, subgraph name]
    stack: list[list[Any]] = []
    depth, edge_label, node_label, clusters, members, sub = 0, False, False, (), set(), None
    pad = _PADS[1]
    closed = False

    def place(value: str) -> int:
        """The node's index, registered in the open scope (its clusters, its body's members).
        Reads the loop's current scope variables."""
        index = nodes.get(value)
        if index is None:
            index = nodes[value] = len(nodes)
        if node_label:
            node_labels.add(index)
        for name in clusters:
            clusters_of.setdefault(name, set()).add(index)
        members.add(index)
        return index

    for line in lines[i + 1 :]:
        s = line.strip(_WS)
        if "/" in s or "#" in s:
            s = _content(s)
        if not s:
            continue
        if closed:
            raise _Fallback  # text after the graph: another graph, or an error
        if s[-1] == ";":
            s = s[:-1].rstrip(" \t")
            if not s or s[-1] == "{" or (s == "}" and not stack):
                raise _Fallback  # a lone ';', '{;', or ';' after the graph
        m = short.fullmatch(s)
        if m is not None:  # one node or one edge, the common lines
            a, b, inner = m.groups()
            statements += 1
            if b is None and a in _ATTR_KINDS:
                if inner is None:
                    raise _Fallback  # a bare keyword
                attrs = alist(inner)
                if a == "graph":
                    f.graph_attrs |= attrs.keys
                    if attrs.rankdir is not None and depth == 0:
                        f.rankdir = attrs.rankdir
                elif a == "node":
                    f.node_attrs |= attrs.keys
                    node_label = node_label or attrs.labelled
                    f.shapes.update(attrs.shapes)
                else:
                    f.edge_attrs |= attrs.keys
                    edge_label = edge_label or attrs.labelled
                out.append(f"{pad}{a} {attrs.text};\n")
                continue
            va, ca = token(a)
            ia = place(va)
            attrs = alist(inner) if inner else None
            if b is None:
                if attrs is not None:
                    f.node_attrs |= attrs.keys
                    if attrs.labelled:
                        node_labels.add(ia)
                    f.shapes.update(attrs.shapes)
                    out.append(f"{pad}{ca} {attrs.text};\n")
                else:
                    out.append(f"{pad}{ca};\n")
                continue
            vb, cb = token(b)
            ib = place(vb)
            edges.append((ia, ib))
            if attrs is not None:
                f.edge_attrs |= attrs.keys
                if edge_label or attrs.labelled:
                    f.labelled_edges += 1
                f.shapes.update(attrs.shapes)
                out.append(f"{pad}{ca}{op}{cb} {attrs.text};\n")
            else:
                if edge_label:
                    f.labelled_edges += 1
                out.append(f"{pad}{ca}{op}{cb};\n")
            continue
        if s == "}":
            if not stack:
                closed = True
                continue
            if sub is not None and sub.startswith("cluster"):
                clusters_of.setdefault(sub, set()).update(members)
            inner_members = members
            depth, edge_label, node_label, clusters, members, sub = stack.pop()
            members |= inner_members
            pad = _PADS[min(depth + 1, MAX_INDENT)]
            out.append(pad + "};\n")
            continue
        statements += 1
        if s[-1] == "{":
            m = _SUBGRAPH.fullmatch(s)
            if m is None:
                raise _Fallback
            name = canon = None
            if m.group(1) is not None:
                name, canon = token(m.group(1))
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
            pad = _PADS[min(depth + 1, MAX_INDENT)]
            if depth > f.max_depth:
                f.max_depth = depth
            continue
        m = chain.fullmatch(s)
        if m is not None:  # a chain of three or more nodes
            chained, inner = m.groups()
            ids = []
            canons = []
            for tok in ends.findall(chained):
                value, c = token(tok)
                ids.append(place(value))
                canons.append(c)
            edges.extend(zip(ids, ids[1:]))
            attrs = alist(inner) if inner else None
            labelled = edge_label
            if attrs is not None:
                f.edge_attrs |= attrs.keys
                labelled = labelled or attrs.labelled
                f.shapes.update(attrs.shapes)
                out.append(pad + op.join(canons) + " " + attrs.text + ";\n")
            else:
                out.append(pad + op.join(canons) + ";\n")
            if labelled:
                f.labelled_edges += len(ids) - 1
            continue
        m = _ASSIGN.fullmatch(s)
        if m is None:
            raise _Fallback
        key, ck = token(m.group(1))
        value, cv = token(m.group(2))
        f.graph_attrs.add(key)
        if key == "rankdir" and depth == 0:
            f.rankdir = value
        out.append(f"{pad}{ck}={cv};\n")
    if not closed:
        raise _Fallback
    f.statement_count = statements
    out.append("}\n")
    return Analysis(_finish(st), model, "".join(out))  # type: ignore[arg-type]
