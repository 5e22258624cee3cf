"""nl2dot templates: the shipped files load, every few-shot example is valid by every measure we
have, users can add a domain with one file, and every kind of typo is a one-line error naming
the file and the field."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest
import yaml

from synthgen.errors import ConfigError
from synthgen.recipes.nl2dot import load_recipe, parse_domains
from synthgen.recipes.nl2dot.prompts import format_output
from synthgen.recipes.nl2dot.templates import shipped_dir

DOMAINS = {
    "game_ai", "network_protocols", "workflows", "ui_navigation", "robotics",
    "database_transactions", "ecommerce", "document_lifecycle",
}
GOOD_DOMAIN = {
    "title": "space logistics",
    "description": "Cargo flows between orbital stations.",
    "subtopics": [{"name": "docking", "focus": "approach, capture, hard dock and undocking"}],
    "params": {"vessel": ["cargo tug", "crew shuttle"]},
    "user_templates": ["Write a request for a {style} of {subtopic} for a {vessel} with {n_states} states."],
}


@pytest.fixture(scope="module")
def recipe():
    return load_recipe()


def _write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _shipped(name: str) -> dict:
    return yaml.safe_load((shipped_dir() / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- the shipped templates


def test_shipped_recipe_loads(recipe) -> None:
    assert recipe.name == "nl2dot" and isinstance(recipe.version, str) and recipe.version
    assert set(recipe.domains) == DOMAINS
    assert recipe.complexities == ("simple", "medium", "complex")
    assert sum(recipe.default_weights.values()) == pytest.approx(100)
    assert 8 <= len(recipe.fewshot) <= 12
    assert {d for e in recipe.fewshot for d in e.domains} == DOMAINS  # every domain has an example
    assert all(sum(e.complexity == c for e in recipe.fewshot) >= 3 for c in recipe.complexities)
    assert len({e.request for e in recipe.fewshot}) == len(recipe.fewshot)


def test_domains_offer_variety(recipe) -> None:
    for domain in recipe.domains.values():
        assert len(domain.subtopics) >= 4, domain.name
        assert len(set(domain.user_templates)) >= 5, domain.name
        assert domain.params or all(s.params for s in domain.subtopics), domain.name


def test_fingerprint_is_stable_and_follows_content(recipe, tmp_path: Path) -> None:
    assert recipe.fingerprint() == load_recipe().fingerprint()
    assert recipe.fingerprint().startswith("sha256:")
    # Reformatting a file (same content) keeps the fingerprint; changing a word does not.
    _write(tmp_path, "recipe.yaml", yaml.safe_dump(_shipped("recipe.yaml"), default_flow_style=True, width=10_000))
    assert load_recipe(tmp_path).fingerprint() == recipe.fingerprint()
    bumped = _shipped("recipe.yaml") | {"version": "9.9.9"}
    _write(tmp_path, "recipe.yaml", bumped)
    changed = load_recipe(tmp_path)
    assert changed.version == "9.9.9" and changed.fingerprint() != recipe.fingerprint()


def test_user_folder_adds_a_domain_with_one_file(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, "domains/space_logistics.yaml", GOOD_DOMAIN)
    recipe = load_recipe(tmp_path)
    assert set(recipe.domains) == DOMAINS | {"space_logistics"}
    assert parse_domains("space_logistics", recipe.domains) == ["space_logistics"]
    # The same folder through the environment, and as DIR/nl2dot.
    monkeypatch.setenv("SYNTHGEN_TEMPLATES_DIR", str(tmp_path))
    assert "space_logistics" in load_recipe().domains
    nested = tmp_path / "outer"
    shutil.copytree(tmp_path / "domains", nested / "nl2dot" / "domains")
    monkeypatch.delenv("SYNTHGEN_TEMPLATES_DIR")
    assert "space_logistics" in load_recipe(nested).domains


def test_user_domain_file_replaces_the_shipped_one_by_name(tmp_path: Path) -> None:
    _write(tmp_path, "domains/robotics.yaml", GOOD_DOMAIN)
    assert load_recipe(tmp_path).domains["robotics"].title == "space logistics"


# ---------------------------------------------------------------- bad input: one line, file and field


def _recipe_with(**changes) -> dict:
    return _shipped("recipe.yaml") | changes


BAD_CASES = [
    ("recipe.yaml", "name: nl2dot\nversion: [unclosed\n", ["recipe.yaml", "line", "malformed YAML"]),
    ("recipe.yaml", _recipe_with(sytem_prompt="typo"), ["recipe.yaml", "sytem_prompt", "Extra inputs"]),
    ("recipe.yaml", _recipe_with(default_weights={"simple": 30, "medium": 50, "complex": 10}), ["recipe.yaml", "default_weights", "sum to 90"]),
    ("recipe.yaml", _recipe_with(request_suffix="Size: {sise}"), ["recipe.yaml", "request_suffix", "{sise}"]),
    ("recipe.yaml", _recipe_with(complexities={k: v for k, v in _shipped("recipe.yaml")["complexities"].items() if k != "complex"}),
     ["recipe.yaml", "complexities", "'complex'"]),
    ("fewshot.yaml", "", ["fewshot.yaml", "file is empty"]),
    ("fewshot.yaml", {"examples": []}, ["fewshot.yaml", "examples", "at least 1"]),
    ("fewshot.yaml", {"examples": [_shipped("fewshot.yaml")["examples"][0] | {"tags": ["x"]}]}, ["fewshot.yaml", "examples.0.tags"]),
    ("fewshot.yaml", {"examples": [_shipped("fewshot.yaml")["examples"][0] | {"domains": ["netwrok"]}]},
     ["fewshot.yaml", "examples.0.domains.0", "unknown domain 'netwrok'"]),
    ("fewshot.yaml", {"examples": [_shipped("fewshot.yaml")["examples"][0] | {"complexity": "huge"}]}, ["fewshot.yaml", "examples.0.complexity"]),
    ("fewshot.yaml", {"examples": [_shipped("fewshot.yaml")["examples"][0] | {"request": "two\nlines of request text here"}]},
     ["fewshot.yaml", "examples.0.request"]),
    ("domains/space.yaml", GOOD_DOMAIN | {"subtopics": []}, ["space.yaml", "subtopics", "at least 1"]),
    ("domains/space.yaml", {k: v for k, v in GOOD_DOMAIN.items() if k != "subtopics"}, ["space.yaml", "subtopics", "required"]),
    ("domains/space.yaml", GOOD_DOMAIN | {"subtopic": []}, ["space.yaml", "subtopic", "Extra inputs"]),
    ("domains/space.yaml", GOOD_DOMAIN | {"user_templates": ["A {style} for a {vesel}"]}, ["space.yaml", "user_templates.0", "{vesel}"]),
    ("domains/space.yaml", GOOD_DOMAIN | {"params": {"vessel": []}}, ["space.yaml", "params.vessel", "empty"]),
    ("domains/Space-Ops.yaml", GOOD_DOMAIN, ["Space-Ops.yaml", "bad domain file name"]),
]


@pytest.mark.parametrize(("name", "content", "fragments"), BAD_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CASES)])
def test_bad_templates_are_one_line_errors(tmp_path: Path, name: str, content: object, fragments: list[str]) -> None:
    _write(tmp_path, name, content)
    with pytest.raises(ConfigError) as err:
        load_recipe(tmp_path)
    line = err.value.one_line()
    assert "\n" not in line
    for fragment in fragments:
        assert fragment in line, line


def test_bad_templates_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="holds no nl2dot templates"):
        load_recipe(tmp_path)


# ---------------------------------------------------------------- the prompt matches the generation grammar


def test_complexity_ranges_sit_inside_the_grammar_shapes(recipe) -> None:
    from synthgen.dot.gen_grammar import LEVEL_SHAPES

    for level, spec in recipe.complexity_levels.items():
        def inside(shape, spec=spec) -> bool:
            return (shape.nodes[0] <= spec.nodes.min and spec.nodes.max <= shape.nodes[1]
                    and spec.edges.max <= shape.edges[1]
                    and shape.clusters[0] <= spec.clusters.min and spec.clusters.max <= shape.clusters[1])

        assert any(inside(s) for s in LEVEL_SHAPES[level]), level
        words = recipe.structure(level)
        assert str(spec.nodes.min) in words and str(spec.nodes.max) in words


def test_output_format_states_the_grammar_limits(recipe) -> None:
    from synthgen.dot import gen_grammar as g

    text = " ".join(recipe.output_format.split())
    assert f"label of at most {g._TERMINALS['NLABEL'].hi} characters" in text
    assert f"edge labels at most {g._TERMINALS['ELABEL'].hi} characters" in text
    pairs = (("shape is", g.SHAPES), ("node style", g.NODE_STYLES), ("edge style", g.EDGE_STYLES),
             ("fillcolor \\(with style=filled\\)", g.FILLS), ("; color", g.COLORS))
    for word, allowed in pairs:
        listed = re.search(rf"{word} one of ([a-z, ]+?)(?:;|\.|$)", text)
        assert listed, word
        values = {v.strip() for v in listed.group(1).replace(" and ", ",").split(",") if v.strip()}
        assert values and values <= set(allowed), (word, values - set(allowed))


class _Bytes:
    """A byte-level vocabulary (+ EOS as id 256), so the matcher judges text byte by byte."""

    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [256]

    def __call__(self, text: str | bytes) -> list[int]:
        return list(text.encode("utf-8") if isinstance(text, str) else text)


def _llguidance_stop_point(lark_source: str, text: str) -> int | None:
    """None when llguidance lets a model write exactly ``text`` and stop; else where it refuses."""
    import llguidance

    tokenizer = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_Bytes()))
    matcher = llguidance.LLMatcher(tokenizer, llguidance.grammar_from("lark", lark_source), log_level=0)
    data = list(text.encode("utf-8"))
    taken = matcher.try_consume_tokens(data)
    if taken != len(data):
        return taken
    return None if matcher.is_accepting() and matcher.consume_token(_Bytes.eos_token_id) else len(data)


def test_fewshot_answers_are_accepted_by_xgrammar(recipe) -> None:
    """vLLM's default structured-output backend agrees with llguidance on every example."""
    xgrammar = pytest.importorskip("xgrammar")
    from synthgen.dot.gen_grammar import generation_grammar

    info = xgrammar.TokenizerInfo(_Bytes.tokens, vocab_type=xgrammar.VocabType.RAW, stop_token_ids=[_Bytes.eos_token_id])
    compiler = xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    for level in recipe.complexities:
        matcher = xgrammar.GrammarMatcher(compiler.compile_grammar(xgrammar.Grammar.from_lark(generation_grammar(level))))
        for example in (e for e in recipe.fewshot if e.complexity == level):
            matcher.reset()
            text = format_output(example.request, example.dot).encode("utf-8")
            accepted = all(matcher.accept_token(b) for b in text)
            assert accepted and matcher.accept_token(_Bytes.eos_token_id) and matcher.is_terminated(), example.id


def test_fewshot_answers_are_accepted_by_the_generation_grammar(recipe) -> None:
    """What the model is shown is exactly what its grammar variant lets it write."""
    pytest.importorskip("llguidance")
    from synthgen.dot.gen_grammar import generation_grammar, split_output

    for example in recipe.fewshot:
        text = format_output(example.request, example.dot)
        stop = _llguidance_stop_point(generation_grammar(example.complexity), text)
        assert stop is None, (example.id, text[max(0, (stop or 0) - 40) : (stop or 0) + 20])
        assert split_output(text) == (example.request, example.dot.strip())


@pytest.mark.graphviz
def test_fewshot_graphs_pass_graphviz(recipe, require_graphviz) -> None:
    from synthgen.dot.graphviz import GraphvizChecker

    results = GraphvizChecker().check([e.dot for e in recipe.fewshot])
    for example, result in zip(recipe.fewshot, results, strict=True):
        assert result.ok and not result.warnings, (example.id, result.message, result.warnings)


# ---------------------------------------------------------------- the prompt's sizes are the measured buckets


def _graph(nodes: int, edges: int, clusters: int) -> str:
    """A digraph with exactly these counts: a chain first, then extra pairs (repeated, as
    multi-edges, once every pair is used: a non-strict digraph counts each edge statement)."""
    pairs = [(i, i + 1) for i in range(1, nodes)][:edges]
    extra = itertools.cycle([(i, j) for i in range(1, nodes + 1) for j in range(1, nodes + 1) if i != j])
    pairs += [next(extra) for _ in range(edges - len(pairs))]
    lines = ["digraph corner {"] + [f'  n{i} [label="N{i}"]' for i in range(1, nodes + 1)]
    for c in range(clusters):
        members = range(1 + c, nodes + 1, clusters)
        lines += [f"  subgraph cluster_{c + 1} {{", f'    label="C{c + 1}"'] + [f"    n{m}" for m in members] + ["  }"]
    lines += [f"  n{a} -> n{b}" for a, b in pairs] + ["}"]
    return "\n".join(lines)


def test_range_corners_measure_into_their_level(recipe) -> None:
    """Any graph the prompt's words allow for a level is measured as that level."""
    parser = pytest.importorskip("synthgen.dot.parser", reason="full DOT parser not landed yet")
    features = pytest.importorskip("synthgen.dot.features", reason="graph measurement not landed yet")
    for level, spec in recipe.complexity_levels.items():
        for nodes in {spec.nodes.min, spec.nodes.max}:
            for edges in {max(spec.edges.min, nodes - 1), spec.edges.max}:
                for clusters in {spec.clusters.min, spec.clusters.max}:
                    measured = features.complexity_of(features.measure(parser.parse(_graph(nodes, edges, clusters))))
                    assert measured == level, (level, nodes, edges, clusters)


def test_fewshot_graphs_parse_and_measure_into_their_complexity(recipe) -> None:
    parser = pytest.importorskip("synthgen.dot.parser", reason="full DOT parser not landed yet")
    features = pytest.importorskip("synthgen.dot.features", reason="graph measurement not landed yet")
    for example in recipe.fewshot:
        measured = features.measure(parser.parse(example.dot))
        assert features.complexity_of(measured) == example.complexity, (example.id, measured)


def test_the_documented_domain_example_loads(tmp_path: Path) -> None:
    """templates/nl2dot/README.md shows how to add a domain; that very file must work."""
    readme = (shipped_dir() / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    _write(tmp_path, "domains/space_logistics.yaml", example)
    assert load_recipe(tmp_path).domains["space_logistics"].subtopics[0].params["vessel"] == ("cargo tug", "crew shuttle")
