"""The fast path (synthgen.dot.fast) against the full parser: same verdict, same results.

Whatever ``analyse`` accepts, the full grammar must accept, with identical features,
complexity, normal hash and shape hash; whatever it does not recognise it must hand back
(None), never guess. Checked on generation-grammar samples, the few-shot answers, the fake
engine's DOT, Graphviz's corpus, and seeded mutations of all of them.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from synthgen.dot import gen_grammar as gg
from synthgen.dot.complexity import complexity_of
from synthgen.dot.fast import analyse
from synthgen.dot.features import build
from synthgen.dot.grammar_sampler import sample
from synthgen.dot.normal import _refine, _wl_graph, _wl_labels, normal_form, normal_hash, normal_hash_of, shape_hash, shape_hash_of
from synthgen.dot.parser import DotSyntaxError, decode_dot, parse
from synthgen.dot.validate import validate_texts
from synthgen.recipes.nl2dot.fake import fake_dot

ROOT = Path(__file__).resolve().parents[2]
FEWSHOT = ROOT / "templates" / "nl2dot" / "fewshot.yaml"


def full(text: str) -> dict | None:
    """The full path's results (None: the grammar rejects the text)."""
    try:
        tree = parse(text)
    except (DotSyntaxError, RecursionError):
        return None
    features, _ = build(tree)
    return {
        "features": features.to_dict(),
        "complexity": complexity_of(features),
        "normal_form": normal_form(tree),
        "normal_hash": normal_hash(tree),
        "shape_hash": shape_hash(tree),
    }


def fast(text: str) -> dict | None:
    a = analyse(text)
    if a is None:
        return None
    return {
        "features": a.features.to_dict(),
        "complexity": complexity_of(a.features),
        "normal_form": a.normal_form,
        "normal_hash": normal_hash_of(a.normal_form),
        "shape_hash": shape_hash_of(a.model),
    }


def agree(text: str) -> bool:
    """Assert the two paths agree; True when the fast path took the text."""
    got = fast(text)
    if got is None:
        return False
    want = full(text)
    assert want is not None, f"fast path accepts what the grammar rejects: {text!r}"
    assert got == want, text
    return True


def generated(count_per_variant: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for level in gg.COMPLEXITIES:
        for directed in (True, False):
            model = gg.grammar_model(level, directed)
            out += [gg.split_output(sample(model, rng))[1] for _ in range(count_per_variant)]
            out.append(gg.split_output(sample(model, rng, longest=True))[1])
    return out


def fewshot() -> list[str]:
    return [ex["dot"] for ex in yaml.safe_load(FEWSHOT.read_text(encoding="utf-8"))["examples"]]


def fake(count: int) -> list[str]:
    rng = random.Random(7)
    return [fake_dot(rng, level)[1] for _ in range(count) for level in ("simple", "medium", "complex")]


def test_generated_samples_all_take_the_fast_path_with_identical_results():
    texts = generated(40)
    assert len(texts) > 200
    for text in texts:
        assert agree(text), f"canonical layout fell back: {text!r}"


def test_every_fewshot_answer_takes_the_fast_path_with_identical_results():
    texts = fewshot()
    assert texts
    for text in texts:
        assert agree(text), f"few-shot answer fell back: {text!r}"


def test_fake_engine_dot_takes_the_fast_path_with_identical_results():
    for text in fake(60):
        assert agree(text), text


@pytest.mark.parametrize(
    "text",
    [
        "strict digraph { a -> b; b -> a; a -> b }",
        "graph {\n  a -- b -- c [label=x]\n  c -- a\n}",
        'digraph "my graph" {\n  "a b" -> "node"\n  "x" [label="y"]\n}',
        "digraph {\n  a --1\n}",  # wrong operator: the grammar rejects it
        "graph {\n  a --1\n}",
        "graph {\n  a -- -1.5\n  .5 -- 2.\n}",
        "digraph {\n  node []\n  a []\n  a -> b []\n}",
        "digraph {\n  subgraph {\n    a\n  };\n  subgraph s {\n  }\n}",
        "digraph {\n  subgraph cluster_a {\n    subgraph cluster_b {\n      subgraph {\n        x -> y\n      }\n    }\n  }\n}",
        "digraph {\n  node [label=x]\n  subgraph cluster_a {\n    edge [label=y]\n    a -> b\n  }\n  a -> c\n}",
        "digraph {\n  graph [rankdir=LR; rankdir=TB,]\n  rankdir=BT\n  subgraph { rankdir=LR }\n}",
        "digraph {\n  a [shape=Box, shape=circle]\n  a -> a [shape=X]\n}",
        "digraph {\n\ta\t->\tb\t;\n}\n\n",
        "digraph {\n  a;;\n}",
        "digraph {\n  ;\n}",
        "digraph {\n  subgraph x {;\n  }\n}",
        "digraph {\n  a\n};",
        "digraph {\n  a\n}\ndigraph {\n  b\n}",
        "digraph {\n  a=bc=d\n}",
        "digraph {\n  a [b=cd=e]\n}",
        "digraph {\n  a -> b\n  -> c\n}",
        "digraph {\n  n1\n  [label=x]\n}",
        "digraph {\n  Node [shape=box]\n  a -> Edge\n}",
        "digraph {\n  subgraphX {\n  }\n}",
        "digraph {\n  1a -> b\n  1.2.3\n}",
        'digraph {\n  a [label="x\\"y"]\n}',
        'digraph {\n  a [label="multi\nline"]\n}',
        "digraph {\n  a -> b\r\n}",
        "digraph {\n  a:p -> b\n  a, b\n  {a b} -> c\n}",
        "/* c */ digraph {\n  a\n}",
        "digraph {\n  a # note\n}",
        "digraph {\n  a@b\n}",
        'digraph {\n  a [label="open\n}',
        "digraph {",
        "digraph {\n  a\n",
        "",
        '// header\ndigraph G {  // open\n  a -> b; // edge\n  # hash\n  c [label="x // y"]  # tail\n}\n// end',
        "digraph {\r\n  a -> b\r\n}\r\n",
        'digraph {\n  a # "q"\n}',
        "digraph {\n  a /* x */ -> b\n}",
        'digraph {\n  a [label="x"] // c "d"\n}',
        "digraph {\n  a -> b // c */\n}",
        "digraph {\n  /* open\n  a -> b\n  */\n}",
        'digraph {\n  a [label="x" # ]"\n}',
        "digraph {\n  a -> b\n} // done\n# more",
        "digraph { // x\n  a\n}; // y",
    ],
)
def test_edge_cases_agree_or_fall_back(text):
    agree(text)


def test_the_fast_path_really_is_taken_for_the_subset_it_claims():
    assert agree("strict digraph { a -> b; b -> a; a -> b }") is False  # one line: not the layout
    assert agree("graph {\n  a -- -1.5\n  .5 -- 2.\n}")
    assert agree("digraph {\n  subgraph cluster_a {\n    subgraph cluster_b {\n      subgraph {\n        x -> y\n      }\n    }\n  }\n}")
    assert agree('digraph "my graph" {\n  "a b" -> "node"\n  "x" [label="y"]\n}')
    assert not agree("digraph {\n  a --1\n}")
    assert agree('// header\ndigraph G {  // open\n  a -> b; // edge\n  # hash\n  c [label="x // y"]  # tail\n}\n// end')
    assert agree("digraph {\r\n  a -> b\r\n}\r\n")
    assert agree("strict graph {\n  a -- b\n  b -- a\n  a -- b [label=x]\n  a -- a\n}")
    assert agree("strict digraph g {\n  edge [label=l]\n  a -> b -> a -> b\n  b -> a\n}")
    assert agree('graph {\n  node [label=""]\n  subgraph cluster_a {\n    node [xlabel=q]\n    a -- b\n  }\n  c -- d -- e\n}')


def _mutate(text: str, rng: random.Random) -> str:
    kind = rng.randrange(6)
    pos = rng.randrange(len(text) + 1)
    if kind == 0 and text:  # delete a character
        return text[:pos] + text[pos + 1 :]
    if kind == 1 and text:  # duplicate a character
        return text[:pos] + text[pos : pos + 1] + text[pos:]
    if kind == 2:  # swap two lines
        lines = text.split("\n")
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    if kind == 3:  # insert a character that matters to DOT
        return text[:pos] + rng.choice(';{}[]"=,-><:+#/@\\\n\t .1aé') + text[pos:]
    if kind == 4:  # duplicate a line
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        return "\n".join(lines[: i + 1] + lines[i:])
    return text.replace(rng.choice(["node", "edge", "graph", "subgraph", "->", "--", "label"]), rng.choice(["Node", "EDGE", "-- ", "->", "lab el", '"x"']), 1)


def test_mutated_texts_get_the_same_verdict_and_results():
    rng = random.Random(11)
    bases = generated(6, seed=3) + fewshot() + fake(5)
    bases += [_commented(text, rng) for text in bases[::3]]
    taken = fell_back = 0
    for _ in range(6):
        for base in bases:
            text = base
            for _ in range(rng.randint(1, 3)):
                text = _mutate(text, rng)
            if agree(text):
                taken += 1
            else:
                fell_back += 1
    assert taken > 100 and fell_back > 100  # both sides of the fence were exercised


def _commented(text: str, rng: random.Random, block: bool = True) -> str:
    """The same graph with end-of-line comments and comment lines sprinkled in (with
    ``block``, also the kinds the fast path leaves to the full parser)."""
    lines = text.split("\n")
    out = []
    for line in lines:
        roll = rng.random()
        out.append(line + rng.choice([" // note", "  # n"] + ['// "q"', " /* c */"] * block) if roll < 0.3 else line)
        if roll > 0.85:
            out.append(rng.choice(["  // comment", "# hash"] + ["  /* block */", "/*", "*/"] * block))
    return "\n".join(out)


def test_commented_texts_take_the_fast_path_with_identical_results():
    rng = random.Random(2)
    taken = 0
    for text in generated(3, seed=4) + fewshot():
        taken += agree(_commented(text, rng, block=False))
    assert taken >= 5


def test_graphviz_corpus_agrees_or_falls_back(graphviz_corpus):
    taken = 0
    files = sorted(p for p in graphviz_corpus.iterdir() if p.name != "MANIFEST.tsv")
    rng = random.Random(5)
    for path in files:
        data = path.read_bytes()
        if len(data) > 200_000:
            continue
        text = decode_dot(data)
        taken += agree(text)
        if len(data) <= 20_000:
            for _ in range(2):
                agree(_mutate(text, rng))
    assert taken >= 1  # some of Graphviz's own files are in the one-statement-per-line layout


def test_wl_labels_equal_the_reference_refinement():
    texts = generated(3, seed=9) + fake(3)
    for text in texts:
        model = build(parse(text))[1]
        assert _wl_labels(model) == _reference_wl(model)


def _reference_wl(model) -> list[str]:
    """The shape hash's WL labels, one ``_refine`` call per vertex per round (the original loop)."""
    labels, out_adj, in_adj, member = _wl_graph(model)
    seen = list(labels)
    for _ in range(3):
        labels = [_refine(labels, v, out_adj, in_adj, member) for v in range(len(labels))]
        seen.extend(labels)
    return sorted(seen)


def test_validate_gives_the_same_verdicts_with_and_without_the_fast_path(monkeypatch):
    texts = generated(4, seed=1) + fewshot()[:3] + fake(3) + ["digraph {\n  a -> -> b\n}", "digraph {\n  a --1\n}"]
    with_fast = [v.to_dict() for v in validate_texts(texts, graphviz=False)]
    monkeypatch.setattr("synthgen.dot.fast.analyse", lambda text: None)
    without = [v.to_dict() for v in validate_texts(texts, graphviz=False)]
    assert with_fast == without
    assert sum(v["ok"] for v in with_fast) == len(texts) - 2
