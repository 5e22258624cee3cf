"""A tiny bounded-grammar model: render it to Lark, measure its longest string, sample it.

Why this exists: the generation grammar (``gen_grammar``) must be *bounded* (its longest
output has to fit ``max_tokens``) and its outputs must land in a requested complexity bucket.
Both are easier to prove on a small, acyclic grammar model than on Lark text: the longest
string is a recursive max, and a random expander gives samples with any repetition count
(including the extremes) that tests then check against the real engines (``llguidance``,
``xgrammar``), the full DOT parser and Graphviz. Python ``lark`` cannot load the rendered
grammar at all (it rejects ``x{m,n}``), so it is not used here.

The model has five node kinds: ``Lit`` (a literal), ``Pat`` (a bounded string over a
character class, optionally quoted, optionally excluding some words), ``Seq``, ``Alt``,
``Rep`` (bounded repetition of a named rule) and ``Ref`` (a rule by name). Rules must not
recurse: every string is finite and bounded by construction.

``engine_walk`` drives llguidance's own matcher over a byte-level vocabulary, choosing a
random allowed byte at each step: a sample of exactly what the engine lets a model write.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Union


@dataclass(frozen=True, slots=True)
class Lit:
    text: str


@dataclass(frozen=True, slots=True)
class Pat:
    """``lo..hi`` characters, the first from ``first``, the rest from ``rest`` (the last,
    when there are two or more, from ``last`` if given: e.g. no trailing blank).

    ``quoted`` wraps it in double quotes (inside the same terminal); ``exclude`` lists
    whole words the string must not be (rendered as a finite complement, no lookahead).
    """

    first: str
    rest: str
    lo: int
    hi: int
    quoted: bool = False
    exclude: tuple[str, ...] = ()
    last: str = ""


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    options: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Rep:
    rule: str
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class Ref:
    rule: str


Node = Union[Lit, Pat, Seq, Alt, Rep, Ref]


@dataclass(frozen=True, slots=True)
class Grammar:
    """Rules by name; ``start`` is the entry rule. Terminals are named in ``terminals``."""

    rules: dict[str, Node]
    terminals: dict[str, Pat]
    start: str = "start"

    def lookup(self, name: str) -> Node:
        if name in self.rules:
            return self.rules[name]
        return self.terminals[name]


# ---------------------------------------------------------------- rendering to Lark


def _lark_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _escape(c: str) -> str:
    return "\\" + c if c in "-]\\^/[" else c


def _class(chars: str) -> str:
    """A regex character class, runs of 3+ consecutive characters written as ranges."""
    codes = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{_escape(chr(codes[i]))}-{_escape(chr(codes[j]))}")
        else:
            parts.extend(_escape(chr(c)) for c in codes[i:j + 1])
        i = j + 1
    return "[" + "".join(parts) + "]"


def _span(chars: str, lo: int, hi: int) -> str:
    """``lo..hi`` characters of a class. Long spans are written as fixed-size chunks:
    xgrammar compiles ``[c]{19,299}`` in ~9 s with a 49k vocabulary but the chunked
    equivalent ``[c]{19}(([c]{8}){0,34}[c]{0,7}|([c]{8}){35})`` in ~0.7 s (measured here)."""
    cls = _class(chars)
    if hi <= 0:
        return ""
    if lo == hi:
        return f"{cls}{{{lo}}}"
    size = 4 if hi - lo <= 32 else 8
    if hi - lo < 2 * size:
        return f"{cls}{{{lo},{hi}}}"
    full, rest = divmod(hi - lo, size)
    head = f"{cls}{{{lo}}}" if lo else ""
    tail = f"{cls}{{0,{rest}}}" if rest else ""
    return f"{head}(({cls}{{{size}}}){{0,{full - 1}}}{cls}{{0,{size - 1}}}|({cls}{{{size}}}){{{full}}}{tail})"


def _bounded(pat: Pat) -> str:
    """First character, middle, optional distinct last character (no trailing blanks)."""
    first = _class(pat.first)
    if not pat.last:
        return first + _span(pat.rest, max(pat.lo - 1, 0), pat.hi - 1)
    if pat.lo <= 1:
        return f"{first}({_span(pat.rest, 0, pat.hi - 2)}{_class(pat.last)})?"
    return first + _span(pat.rest, pat.lo - 2, pat.hi - 2) + _class(pat.last)


def _complement(pat: Pat, prefix: str = "") -> str:
    """Regex for the strings of ``pat`` that start with ``prefix`` (already consumed) and are
    none of ``pat.exclude``. Walks the trie of excluded words: a character that leaves the
    trie frees the rest of the string; one that stays recurses. No lookahead needed."""
    pos = len(prefix)
    chars = pat.first if pos == 0 else pat.rest
    children = sorted({w[pos] for w in pat.exclude if w.startswith(prefix) and len(w) > pos})
    free = "".join(c for c in chars if c not in children)
    parts = []
    if free and pos < pat.hi:
        parts.append(_class(free) + _span(pat.rest, max(pat.lo - pos - 1, 0), pat.hi - pos - 1))
    for c in children:
        if c in chars and pos < pat.hi:
            parts.append(re.escape(c) + _complement(pat, prefix + c))
    body = "|".join(parts)
    can_end = pos >= pat.lo and prefix not in pat.exclude
    if not body:
        return ""
    return f"({body})?" if can_end else f"({body})"


def pattern_regex(pat: Pat) -> str:
    """The regex (no slashes) of a ``Pat``; used in Lark and checked with ``re.fullmatch``."""
    if pat.exclude:
        core = _complement(pat)
    else:
        core = _bounded(pat)
    return f'"{core}"' if pat.quoted else core


def _render(node: Node) -> str:
    if isinstance(node, Lit):
        return _lark_string(node.text)
    if isinstance(node, Ref):
        return node.rule
    if isinstance(node, Rep):
        return f"{node.rule}?" if (node.lo, node.hi) == (0, 1) else f"{node.rule}{{{node.lo},{node.hi}}}"
    if isinstance(node, Seq):
        return " ".join(_render(i) for i in node.items)
    if isinstance(node, Alt):
        return "(" + " | ".join(_render(o) for o in node.options) + ")"
    raise TypeError(f"a Pat must be a named terminal, not inline: {node!r}")


def to_lark(grammar: Grammar, header: str = "") -> str:
    """Lark source: ``start`` first, then rules and terminals in insertion order."""
    lines = [header.rstrip("\n")] if header else []
    for name, node in grammar.rules.items():
        if isinstance(node, Alt):
            lines.append(f"{name}: " + "\n    | ".join(_render(o) for o in node.options))
        else:
            lines.append(f"{name}: {_render(node)}")
    for name, pat in grammar.terminals.items():
        lines.append(f"{name}: /{pattern_regex(pat)}/")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- size bounds


def max_length(grammar: Grammar, node: Node | None = None) -> int:
    """Length in characters of the longest string the grammar can produce."""
    memo: dict[str, int] = {}

    def walk(n: Node) -> int:
        if isinstance(n, Lit):
            return len(n.text)
        if isinstance(n, Pat):
            return n.hi + (2 if n.quoted else 0)
        if isinstance(n, Seq):
            return sum(walk(i) for i in n.items)
        if isinstance(n, Alt):
            return max(walk(o) for o in n.options)
        name = n.rule
        if name not in memo:
            memo[name] = walk(grammar.lookup(name))
        return memo[name] * (n.hi if isinstance(n, Rep) else 1)

    return walk(node if node is not None else Ref(grammar.start))


# ---------------------------------------------------------------- sampling the model


def _sample_pat(pat: Pat, rng: random.Random, longest: bool) -> str:
    while True:
        size = pat.hi if longest else rng.randint(pat.lo, pat.hi)
        text = "".join(rng.choice(pat.first if i == 0 else pat.last if pat.last and i == size - 1
                                  else pat.rest) for i in range(size))
        if text not in pat.exclude:
            return f'"{text}"' if pat.quoted else text


def sample(grammar: Grammar, rng: random.Random, *, longest: bool = False) -> str:
    """One random string. ``longest`` takes every repetition and pattern at its maximum and
    the longest alternative, giving a string of exactly ``max_length``."""
    out: list[str] = []
    lengths: dict[str, int] = {}

    def size_of(n: Node) -> int:
        key = repr(n)
        if key not in lengths:
            lengths[key] = max_length(grammar, n)
        return lengths[key]

    def walk(n: Node) -> None:
        if isinstance(n, Lit):
            out.append(n.text)
        elif isinstance(n, Pat):
            out.append(_sample_pat(n, rng, longest))
        elif isinstance(n, Seq):
            for item in n.items:
                walk(item)
        elif isinstance(n, Alt):
            walk(max(n.options, key=size_of) if longest else rng.choice(n.options))
        elif isinstance(n, Rep):
            for _ in range(n.hi if longest else rng.randint(n.lo, n.hi)):
                walk(grammar.lookup(n.rule))
        else:
            walk(grammar.lookup(n.rule))

    walk(Ref(grammar.start))
    return "".join(out)


# ---------------------------------------------------------------- the engines' own view


class _ByteVocab:
    """A 256-byte vocabulary plus EOS (id 256), in the shape llguidance's wrapper wants."""

    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [256]

    def __call__(self, text: str | bytes) -> list[int]:
        return list(text.encode("utf-8") if isinstance(text, str) else text)


@lru_cache(maxsize=1)
def byte_tokenizer():
    """llguidance tokenizer over single bytes: masks then say exactly which bytes may follow."""
    import llguidance

    return llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteVocab()))


def llguidance_error(lark_source: str) -> str:
    """Empty when llguidance accepts the grammar, else its error message."""
    import llguidance

    grammar = llguidance.grammar_from("lark", lark_source)
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar, byte_tokenizer())
    return "; ".join(messages) if is_error else ""


class LLGuidanceCheck:
    """llguidance's verdict on whole texts: may a model write exactly this, then stop?"""

    def __init__(self, lark_source: str) -> None:
        import llguidance

        self.matcher = llguidance.LLMatcher(byte_tokenizer(), llguidance.grammar_from("lark", lark_source),
                                            log_level=0)
        if self.matcher.is_error():
            raise ValueError(f"llguidance refused the grammar: {self.matcher.get_error()}")

    def accepts(self, text: str) -> bool:
        self.matcher.reset()
        data = list(text.encode("utf-8"))
        if self.matcher.try_consume_tokens(data) != len(data):
            return False
        return self.matcher.is_accepting() and self.matcher.consume_token(_ByteVocab.eos_token_id)


def xgrammar_compile(lark_source: str, tokenizer_info=None):
    """xgrammar's compiled grammar (over a byte vocabulary unless ``tokenizer_info`` is given)."""
    import xgrammar

    if tokenizer_info is None:
        tokenizer_info = xgrammar.TokenizerInfo(_ByteVocab.tokens, vocab_type=xgrammar.VocabType.RAW,
                                                stop_token_ids=[_ByteVocab.eos_token_id])
    compiler = xgrammar.GrammarCompiler(tokenizer_info, max_threads=1, cache_enabled=False)
    return compiler.compile_grammar(xgrammar.Grammar.from_lark(lark_source))


class XGrammarCheck:
    """xgrammar's verdict on whole texts, byte by byte, ending with EOS."""

    def __init__(self, lark_source: str) -> None:
        import xgrammar

        self.matcher = xgrammar.GrammarMatcher(xgrammar_compile(lark_source))

    def accepts(self, text: str) -> bool:
        self.matcher.reset()
        for byte in text.encode("utf-8"):
            if not self.matcher.accept_token(byte):
                return False
        return self.matcher.accept_token(_ByteVocab.eos_token_id) and self.matcher.is_terminated()


def engine_walk(lark_source: str, rng: random.Random, max_steps: int = 20_000, close_weight: float = 1.0) -> str:
    """A random string llguidance allows: at each step a random allowed byte, until EOS is
    the only choice. Uniform random bytes favour small graphs (ending is always one byte
    away); ``close_weight`` < 1 makes ``}`` that much less likely than any other byte, so
    walks also reach the long end. Raises RuntimeError if the matcher errors or never ends."""
    import llguidance

    matcher = llguidance.LLMatcher(byte_tokenizer(), llguidance.grammar_from("lark", lark_source), log_level=0)
    out = bytearray()
    for _ in range(max_steps):
        mask = matcher.compute_bitmask()
        allowed = _set_bits(int.from_bytes(mask, "little"))
        if matcher.is_error() or not allowed:
            raise RuntimeError(f"llguidance matcher stuck after {out[-80:]!r}: {matcher.get_error()}")
        if allowed == [_ByteVocab.eos_token_id]:
            return out.decode("utf-8")
        options = [a for a in allowed if a != _ByteVocab.eos_token_id]
        weights = [close_weight if a == ord("}") else 1.0 for a in options]
        choice = rng.choices(options, weights)[0]
        matcher.consume_token(choice)
        out.append(choice)
    raise RuntimeError(f"no end after {max_steps} bytes: the grammar is not bounded")


def _set_bits(bits: int) -> list[int]:
    """Indices of the set bits of a token mask (a little-endian bitset), lowest first."""
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out
