"""Parse DOT with the full grammar (``grammars/dot.lark``): the fast, in-process first check.

Why lark LALR + the ``lark-cython`` plugin + the basic lexer: DOT's scanner has no lexical
context (flex's INITIAL state), so one global lexer reproduces it, and LALR keeps parsing
iterative (a 10,000-deep nest of subgraphs is a parser-stack depth, not a Python recursion).
Two speed facts measured on Graphviz's corpus: the garbage collector's passes over the
growing tree make big files quadratic (off while parsing, restored after), and lark's
start-up collision check between terminals (``interegular``) takes 30+ s on the
Unicode-wide NAME class (skipped while building; it only logs warnings).
Measured on the Graphviz corpus (884 files, 12.2 MB) on a shared, overloaded 2-core box:
1.0-1.2 MB/s of CPU time with lark-cython (pure-Python lark: about 0.7 MB/s with the same
settings, 0.45 MB/s without the gc and table fixes); bench/ owns the timed figures.

The grammar accepts ``->`` and ``--`` in any graph; like Graphviz's scanner, the parser
rejects an edge operator that doesn't match its graph's kind, naming that operator's line.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from synthgen.errors import SynthgenError
from synthgen.paths import resource_dir

GRAMMAR_FILE = "dot.lark"
_BUILD_LOCK = threading.Lock()


class DotSyntaxError(SynthgenError):
    """Text that is not DOT. ``line``/``column`` are 1-based; ``near`` is the offending text."""

    def __init__(self, message: str, *, line: int = 0, column: int = 0, near: str = "") -> None:
        super().__init__(message, hint="check the DOT syntax near the position given")
        self.line = line
        self.column = column
        self.near = near


@dataclass(slots=True, frozen=True)
class DotTree:
    """A parsed DOT file: the lark tree (``start`` → ``graph``*) and the text it came from.

    Tokens in the tree may be lark-cython tokens, which are not ``str``: read ``.value``.
    """

    tree: Any
    text: str

    @property
    def graphs(self) -> list[Any]:
        return self.tree.children

    @property
    def graph(self) -> Any:
        """The first graph (a generated sample holds exactly one)."""
        return self.tree.children[0]


def grammar_text() -> str:
    """The one DOT grammar source, as shipped; llguidance and xgrammar read it unchanged."""
    return (resource_dir("grammars") / GRAMMAR_FILE).read_text(encoding="utf-8")


_EDGE_OPS = threading.local()


def _record_edgeop(tok: Any) -> Any:
    """Lexer callback: note each edge operator; checked against its graph's kind after parsing.

    (lark-cython has no postlexer, and a per-token Python hook would cost more than this.)
    """
    seen = getattr(_EDGE_OPS, "seen", None)
    if seen is not None:  # None when lark is driven directly (e.g. .lex()), not via parse()
        seen.append(tok)
    return tok


def _check_edge_ops(tree: Any, ops: list[Any]) -> None:
    """``->`` only in a digraph, ``--`` only in a graph: Graphviz's scanner rule."""
    graphs = tree.children
    index = -1
    for op in ops:
        while index + 1 < len(graphs) and graphs[index + 1].children[0].start_pos <= op.start_pos:
            index += 1
        directed = _is_directed(graphs[index])
        if (op.value == "->") != directed:
            raise DotSyntaxError(
                f"syntax error in line {op.line} near '{op.value}': "
                f"'{op.value}' in {'a digraph' if directed else 'an undirected graph'}",
                line=op.line,
                column=op.column,
                near=op.value,
            )


def _is_directed(graph: Any) -> bool:
    head = graph.children[0]
    if head.type == "STRICT":
        head = graph.children[1]
    return head.type == "DIGRAPH"


@lru_cache(maxsize=1)
def _parser() -> Any:
    """Build the LALR parser once per process (≈0.1 s), never at import time."""
    import lark
    import lark.lexer

    try:
        import lark_cython

        plugins: dict[str, Any] = {"_plugins": lark_cython.plugins}
    except ImportError:  # pure-Python lark: same language, about half the speed
        plugins = {}
    with _BUILD_LOCK:
        saved = lark.lexer.has_interegular
        lark.lexer.has_interegular = False
        try:
            parser = lark.Lark(
                grammar_text(),
                parser="lalr",
                lexer="basic",
                lexer_callbacks={"EDGEOP": _record_edgeop},
                **plugins,
            )
        finally:
            lark.lexer.has_interegular = saved
    _intern_table(parser)
    return parser


def _intern_table(parser: Any) -> None:
    """Make parse-table keys and rule names the same plain ``str`` objects.

    lark keeps grammar names as its ``Token`` (a str subclass with a Python ``__eq__``), so
    every reduce's table lookup paid a Python-level comparison; interning makes the lookups
    identity hits (about 8% of parse time on the corpus). Same values, same hashes.
    """
    import sys

    try:
        inner = parser.parser.parser
        table = getattr(inner, "_parse_table", None) or inner.parser.parse_table
        rules = inner.parser_conf.rules
    except AttributeError:  # another lark layout: skip the optimisation, nothing breaks
        return
    for rule in rules:
        for symbol in (rule.origin, *rule.expansion):
            symbol.name = sys.intern(str(symbol.name))
    for state, actions in list(table.states.items()):
        table.states[state] = {sys.intern(str(k)): v for k, v in actions.items()}
    _plain_tree_names(inner.parser_conf.callbacks)


def _plain_tree_names(callbacks: dict[Any, Any]) -> None:
    """Build trees whose ``data`` is a plain interned ``str``, not lark's ``Token``.

    The tree builder bound each rule's name as a ``Token`` (a str subclass whose ``__eq__``
    is Python code), so every ``tree.data == "compound"`` in the walkers was a Python call
    (about 15% of measuring a parsed graph). Same values, same hashes, so nothing else changes.
    """
    import functools
    import sys

    def plain(builder: Any) -> Any:
        if isinstance(builder, functools.partial) and len(builder.args) == 1 and isinstance(builder.args[0], str):
            return functools.partial(builder.func, sys.intern(str(builder.args[0])), **builder.keywords)
        return builder

    for rule, callback in list(callbacks.items()):
        if hasattr(callback, "node_builder"):
            callback.node_builder = plain(callback.node_builder)
        else:
            callbacks[rule] = plain(callback)


def parse(text: str, *, multiple: bool = False) -> DotTree:
    """Parse DOT text. One graph by default; ``multiple=True`` accepts zero or more, like Graphviz.

    Raises DotSyntaxError (with line and column) on anything Graphviz's parser would reject.
    """
    tree = _parse_tree(text)
    count = len(tree.children)
    if not multiple and count != 1:
        line = text.count("\n") + 1 if count == 0 else tree.children[1].children[0].line
        raise DotSyntaxError(f"expected exactly one graph, found {count}", line=line, column=1)
    return DotTree(tree, text)


def parse_bytes(data: bytes, *, multiple: bool = False) -> DotTree:
    """Parse DOT bytes decoded as Graphviz reads them: UTF-8, else Latin-1 (``charset=latin1``)."""
    return parse(decode_dot(data), multiple=multiple)


def decode_dot(data: bytes) -> str:
    """UTF-8 when the bytes are UTF-8, else Latin-1 (which decodes any byte string)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _parse_tree(text: str) -> Any:
    import lark

    parser = _parser()
    _EDGE_OPS.seen = ops = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        tree = parser.parse(text)
        _check_edge_ops(tree, ops)
        return tree
    except lark.exceptions.UnexpectedCharacters as err:
        cut = _open_to_end(text, err.pos_in_stream)
        if cut is None:
            raise _syntax_error(err, text) from None
    except lark.exceptions.UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    except RecursionError:
        raise DotSyntaxError("graph nested too deeply to parse") from None
    finally:
        if enabled:
            gc.enable()
    return _parse_tree(text[:cut])


def _open_to_end(text: str, pos: int) -> int | None:
    """Where the input ends for Graphviz, if the lexer failed at pos because of that.

    A quoted string, HTML string or /* comment that opens and never closes: Graphviz's
    scanner meets the end of input inside it and stops there without an error (``digraph
    { a } "oops`` is accepted); and a bare ``@`` is Graphviz's end-of-input token. The
    parse is retried on the text before that point.
    """
    rest = text[pos : pos + 2]
    if rest.startswith("@"):
        return pos  # scan.l's GRAPH_EOF_TOKEN: '@' outside a string ends the input
    if rest.startswith('"'):
        return pos  # the QSTRING regex failed here, so no unescaped closing quote follows
    if rest == "/*":
        return pos if text.find("*/", pos + 2) < 0 else None
    if rest.startswith("<"):
        depth = 0
        for char in text[pos:]:
            depth += (char == "<") - (char == ">")
            if depth == 0:
                return None  # it closes: HTML nested past the grammar's bound, a real error
        return pos
    return None


def _syntax_error(err: Any, text: str) -> DotSyntaxError:
    """Graphviz's wording: 'syntax error in line N near 'x''."""
    line, column = getattr(err, "line", 0) or 0, getattr(err, "column", 0) or 0
    token = getattr(err, "token", None)
    if token is not None:
        near = str(token.value)
        if token.type == "$END":
            line, column, near = text.count("\n") + 1, len(text) - text.rfind("\n"), "end of input"
    else:
        pos = getattr(err, "pos_in_stream", None)
        near = text[pos : pos + 1] if isinstance(pos, int) else ""
    shown = near if len(near) <= 40 else near[:37] + "..."
    return DotSyntaxError(f"syntax error in line {line} near {shown!r}", line=line, column=column, near=near)
