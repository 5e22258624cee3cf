"""The generation grammar: output format, bounds, engines, and proof by sampling.

The sampling proof draws seeded random outputs of every variant two ways — from the grammar
model (any repetition count, extremes included) and by walking llguidance's own matcher
(exactly what the engine lets a model write) — and checks each one: both engines accept it,
it is within the computed bound, its structure is within the variant's shape, Graphviz
accepts it, and (once ``synthgen.dot.features`` is there) it parses with the full grammar and
measures into the requested complexity bucket.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from synthgen.dot import gen_grammar as gg
from synthgen.dot.grammar_sampler import (
    LLGuidanceCheck,
    XGrammarCheck,
    engine_walk,
    llguidance_error,
    pattern_regex,
    sample,
    xgrammar_compile,
)
from synthgen.errors import SynthgenError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]
ENGINES = pytest.mark.usefixtures("engines")
VARIANTS = [(c, d) for c in (None, *gg.COMPLEXITIES) for d in (None, True, False)]
SAMPLES_PER_LEVEL = 200
WALKS_PER_LEVEL = 20


@pytest.fixture(scope="module")
def engines() -> None:
    """llguidance and xgrammar come with the engine extras (cpu / hf / vllm)."""
    pytest.importorskip("llguidance", reason="llguidance not installed (pip install 'synthgen[hf]')")
    pytest.importorskip("xgrammar", reason="xgrammar not installed (pip install 'synthgen[hf]')")


# ---------------------------------------------------------------- output format


def test_split_output_reads_the_canonical_format():
    dot = 'digraph g {\n  n1 [label="A"]\n  n2 [label="B"]\n  n1 -> n2\n}'
    text = gg.format_output("Model a two-step approval flow for expenses.", dot)
    assert gg.split_output(text) == ("Model a two-step approval flow for expenses.", dot)


@pytest.mark.parametrize("text", [
    "REQUEST: A ring of three routers.\r\nDOT:\r\ngraph ring {\r\n  n1 -- n2\r\n}\r\n",
    "  REQUEST:   A ring of three routers.  \nDOT:\n```dot\ngraph ring {\n  n1 -- n2\n}\n```\n",
])
def test_split_output_tolerates_what_api_models_add(text):
    request, dot = gg.split_output(text)
    assert request == "A ring of three routers."
    assert dot.replace("\r", "") == "graph ring {\n  n1 -- n2\n}"


@pytest.mark.parametrize("text", [
    "",
    "digraph g { a -> b }",
    "REQUEST: x\ndigraph g { a -> b }",
    "REQUEST:\nDOT:\ndigraph g { a -> b }",
    "REQUEST: fine\nDOT:\nthis is not a graph",
    "REQUEST: fine\nDOT:\ndigraph g { a -> b",
])
def test_split_output_rejects_other_text_with_one_line(text):
    with pytest.raises(gg.OutputFormatError) as info:
        gg.split_output(text)
    assert isinstance(info.value, SynthgenError)
    assert "\n" not in info.value.one_line()


def test_unknown_complexity_is_a_one_line_error_naming_the_levels():
    with pytest.raises(UnknownNameError) as info:
        gg.generation_grammar("hard")
    assert "simple" in info.value.one_line() and "complex" in info.value.one_line()


# ---------------------------------------------------------------- shape of the grammar


def test_graph_name_excludes_dot_keywords_without_lookahead():
    regex = re.compile(pattern_regex(gg._TERMINALS["GNAME"]))
    assert "(?" not in regex.pattern
    for word in gg.DOT_KEYWORDS:
        assert not regex.fullmatch(word)
        assert regex.fullmatch(word[:-1]) and regex.fullmatch(word + "s") and regex.fullmatch(word + "_1")
    assert regex.fullmatch("order_flow") and regex.fullmatch("n") and not regex.fullmatch("a" * 25)


@pytest.mark.parametrize("complexity,directed", VARIANTS)
def test_every_variant_is_bounded_and_fits_max_tokens(complexity, directed):
    source = gg.generation_grammar(complexity, directed)
    assert "%ignore" not in source and not re.search(r"~\s*\d+\s*\.\.", source)
    longest = sample(gg.grammar_model(complexity, directed), random.Random(0), longest=True)
    assert len(longest) == gg.max_output_chars(complexity, directed)
    assert longest.endswith("}")
    assert gg.max_tokens_for(complexity, directed, chars_per_token=2.5) <= gg.recommended_max_tokens(complexity)
    assert gg.max_tokens_for(complexity, directed) <= 1536  # at 3 chars/token
    assert gg.recommended_max_tokens(complexity) <= 1792 < gg.max_output_chars(complexity, directed) + 1


def test_directed_and_undirected_edges_never_mix():
    assert " -- " not in gg.generation_grammar(None, True)
    assert " -> " not in gg.generation_grammar(None, False)


def test_shipped_lark_file_is_the_rendered_any_variant():
    shipped = (ROOT / "grammars" / "dot_gen.lark").read_text()
    assert shipped == gg.generation_grammar(), "regenerate: python -m synthgen.dot.gen_grammar > grammars/dot_gen.lark"


# ---------------------------------------------------------------- engines


@pytest.mark.parametrize("complexity,directed", VARIANTS)
@ENGINES
def test_every_variant_compiles_in_llguidance_and_xgrammar(complexity, directed):
    source = gg.generation_grammar(complexity, directed)
    assert llguidance_error(source) == ""
    assert xgrammar_compile(source) is not None


@ENGINES
def test_the_any_grammar_reads_as_lark_in_vllm_and_outlines_autodetection():
    """vLLM's guidance backend and Outlines call ``grammar_from("grammar", ...)``, which
    guesses Lark vs GBNF; vLLM's xgrammar backend takes Lark when no line has ``::=``."""
    import llguidance

    from synthgen.dot.grammar_sampler import byte_tokenizer

    source = gg.generation_grammar()
    assert llguidance.grammar_from("grammar", source) == llguidance.grammar_from("lark", source)
    assert not llguidance.LLMatcher.validate_grammar_with_warnings(
        llguidance.grammar_from("grammar", source), byte_tokenizer())[0]
    assert not any("::=" in line for line in source.splitlines())


@ENGINES
def test_a_request_ends_at_a_sentence_boundary_within_its_bound():
    """The request may stop only after . ! or ?, at any length up to the bound: a model can
    end it at a whole sentence, and nothing ends mid-word before the bound."""
    dot = 'digraph g {\n  n1 [label="Cart"]\n  n2 [label="Paid"]\n  n1 -> n2\n}'
    source = gg.generation_grammar("simple")
    llg, xgr = LLGuidanceCheck(source), XGrammarCheck(source)
    lo, hi = gg.REQUEST_CHARS
    whole = "Draw the checkout: cart, then paid."
    for request in (whole, whole[:-1] + "!", whole[:-1] + "?", ("Go to paid now. " * 40)[: hi - 1] + "."):
        text = gg.format_output(request, dot)
        assert llg.accepts(text) and xgr.accepts(text), request
    for request in (whole[:-1], "Draw the checkout: cart, then pai", whole + " ", ("x" * hi) + "."):
        text = gg.format_output(request, dot)
        assert not llg.accepts(text) and not xgr.accepts(text), request
    assert len(("Go to paid now. " * 40)[: hi - 1] + ".") == hi and lo == 20


@pytest.mark.slow
@ENGINES
def test_variants_compile_with_the_embedded_models_tokenizer():
    tokenizer = _embedded_tokenizer()
    import llguidance.hf
    import xgrammar

    info = xgrammar.TokenizerInfo.from_huggingface(tokenizer)
    ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer)
    for complexity in (None, *gg.COMPLEXITIES):
        source = gg.generation_grammar(complexity)
        assert xgrammar_compile(source, info) is not None
        assert llguidance_error(source) == ""
        import llguidance

        matcher = llguidance.LLMatcher(ll_tokenizer, llguidance.grammar_from("lark", source), log_level=0)
        assert not matcher.is_error(), matcher.get_error()


def _embedded_tokenizer():
    try:
        from transformers import AutoTokenizer

        from synthgen.embedded import ensure_embedded_model

        return AutoTokenizer.from_pretrained(str(ensure_embedded_model()))
    except (ImportError, SynthgenError) as exc:
        pytest.skip(f"embedded model not available: {exc}")


# ---------------------------------------------------------------- proof by sampling


def structure(dot: str) -> tuple[int, int, int, int]:
    """(nodes, edges, clusters, depth) read off the canonical format the grammar forces."""
    ids = set(re.findall(r"\bn\d+\b", re.sub(r'"(?:[^"\\]|\\.)*"', '""', dot)))  # IDs, not label text such as "n9"
    edges = len(re.findall(r"^  n\d+ (?:->|--) n\d+", dot, re.M))
    heads = re.findall(r"^( *)subgraph cluster_", dot, re.M)
    return len(ids), edges, len(heads), max((len(h) // 2 for h in heads), default=0)


def within(shape: gg.Shape, counts: tuple[int, int, int, int]) -> bool:
    nodes, edges, clusters, depth = counts
    return (shape.nodes[0] <= nodes <= shape.nodes[1] and edges <= shape.edges[1]
            and shape.clusters[0] <= clusters <= shape.clusters[1] * (2 if shape.nested else 1)
            and depth <= (2 if shape.nested else 1 if shape.clusters[1] else 0))


def samples_for(complexity: str) -> list[str]:
    rng = random.Random(f"gen-grammar-{complexity}")
    out = []
    for directed in (True, False):
        model = gg.grammar_model(complexity, directed)
        out += [sample(model, rng) for _ in range(SAMPLES_PER_LEVEL // 2)]
        out.append(sample(model, rng, longest=True))
    source = gg.generation_grammar(complexity)
    out += [engine_walk(source, rng, close_weight=1.0 if i % 2 else 0.05) for i in range(WALKS_PER_LEVEL)]
    return out


@pytest.fixture(scope="module")
def sampled(engines) -> dict[str, list[str]]:
    return {c: samples_for(c) for c in gg.COMPLEXITIES}


@pytest.mark.slow
@pytest.mark.parametrize("complexity", gg.COMPLEXITIES)
@ENGINES
def test_samples_are_what_both_engines_allow_and_within_bounds(sampled, complexity):
    llg = LLGuidanceCheck(gg.generation_grammar(complexity))
    xgr = XGrammarCheck(gg.generation_grammar(complexity))
    bound = gg.max_output_chars(complexity)
    for text in sampled[complexity]:
        assert len(text) <= bound
        assert llg.accepts(text), text
        assert xgr.accepts(text), text
        request, dot = gg.split_output(text)
        assert 20 <= len(request) <= 300
        counts = structure(dot)
        assert any(within(s, counts) for s in gg.LEVEL_SHAPES[complexity]), (counts, dot)
    assert not llg.accepts(sampled[complexity][0] + "\n")
    assert not xgr.accepts(sampled[complexity][0][:-1])


@pytest.mark.slow
@pytest.mark.graphviz
@ENGINES
def test_samples_pass_graphviz(sampled, require_graphviz):
    from synthgen.dot.graphviz import GraphvizChecker

    dots = [gg.split_output(t)[1] for level in gg.COMPLEXITIES for t in sampled[level]]
    results = GraphvizChecker().check(dots)
    bad = [(r.message, d) for r, d in zip(results, dots) if not r.ok]
    assert not bad, bad[:3]
    assert len(dots) == len(gg.COMPLEXITIES) * (SAMPLES_PER_LEVEL + 2 + WALKS_PER_LEVEL)


@pytest.mark.slow
@pytest.mark.parametrize("complexity", gg.COMPLEXITIES)
@ENGINES
def test_samples_parse_with_the_full_grammar_and_measure_into_their_bucket(sampled, complexity):
    from synthgen.dot.complexity import complexity_of
    from synthgen.dot.features import measure
    from synthgen.dot.parser import parse

    for text in sampled[complexity]:
        dot = gg.split_output(text)[1]
        features = measure(parse(dot))
        nodes, edges, clusters, depth = structure(dot)
        assert (features.node_count, features.edge_count, features.max_depth) == (nodes, edges, depth), dot
        assert features.directed == dot.startswith("digraph")
        assert complexity_of(features) == complexity, (features.to_dict(), dot)


@pytest.mark.slow
@ENGINES
def test_recipe_thresholds_reshape_the_variants():
    """A recipe that moves the thresholds gets variants that land in ITS buckets."""
    from synthgen.dot.complexity import ComplexityThresholds, complexity_of
    from synthgen.dot.features import measure
    from synthgen.dot.parser import parse

    t = ComplexityThresholds(simple_max_nodes=5, simple_max_edges=6, complex_min_nodes=12,
                             complex_min_edges=16, complex_cluster_min_nodes=7)
    rng = random.Random("thresholds")
    for level in gg.COMPLEXITIES:
        source = gg.generation_grammar(level, thresholds=t)
        assert source != gg.generation_grammar(level) and llguidance_error(source) == ""
        check = LLGuidanceCheck(source)
        model = gg.grammar_model(level, None, t)
        for text in [sample(model, rng) for _ in range(40)] + [sample(model, rng, longest=True)]:
            assert check.accepts(text)
            assert complexity_of(measure(parse(gg.split_output(text)[1])), t) == level, text
