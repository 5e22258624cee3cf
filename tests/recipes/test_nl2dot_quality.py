"""nl2dot's quality checks: one passing and one failing example per check, written by hand;
the fake engine's defects each fail exactly their own check; a fake-engine run seeded with
every defect drops exactly the seeded records, each with its defect's reason (confusion
counts); the options' errors and switches."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from synthgen.dot.content import content_of
from synthgen.errors import ConfigError
from synthgen.recipes import create_recipe
from synthgen.recipes.nl2dot import quality as Q
from synthgen.recipes.nl2dot.fake import fake_graph
from synthgen.recipes.nl2dot.fake_defects import DEFECTS, add_defect, seeded_defect

DEFAULT = Q.Nl2DotQuality()
TCP = "Draw the TCP handshake as a state machine: closed, syn sent, established, with a timeout back to closed."
TCP_DOT = """digraph tcp {
  n1 [label="Closed"]
  n2 [label="SYN sent"]
  n3 [label="Established"]
  n1 -> n2 [label="connect"]
  n2 -> n3 [label="syn ack"]
  n2 -> n1 [label="timeout"]
}"""


def facts(request: str, dot: str, style: str = "") -> Q.Facts:
    return Q.Facts(request, content_of(dot), 0, style)


def graph_check(name: str, request: str, dot: str, style: str = "") -> str | None:
    return Q.GRAPH_FUNCS[name](facts(request, dot, style), DEFAULT)


def test_the_clean_example_passes_every_check():
    assert Q.failures(TCP, TCP_DOT) == {}


# ---------------------------------------------------------------- the request


def test_request_cut():
    assert Q.request_cut(TCP, DEFAULT) is None
    at_bound = ("Draw the order flow: cart, payment, shipping, delivery, returns and refunds. " * 4)[:299] + "."
    assert len(at_bound) == 300
    assert "300-character bound" in Q.request_cut(at_bound, DEFAULT)
    assert "mid-sentence" in Q.request_cut("Create a graph of 10 nodes with 10 edges and create the following edge case:", DEFAULT)


def test_repeated_ngrams():
    assert Q.repeated_ngrams(TCP, DEFAULT) is None
    looping = "Create a state machine for a sniper bot: he was attacked, he was attacked again, he was attacked again, he was attacked."
    assert "he was attacked" in Q.repeated_ngrams(looping, DEFAULT)


def test_request_too_short():
    assert Q.request_too_short(TCP, DEFAULT) is None
    why = Q.request_too_short("Create a graph of 10 nodes with 10 edges and create the following edge case.", DEFAULT)
    assert why.startswith("1 content word(s) (case)")


# ---------------------------------------------------------------- the graph


def test_repeated_edges():
    assert graph_check("repeated_edges", TCP, TCP_DOT) is None
    twice = TCP_DOT.replace("}", '  n1 -> n2 [label="connect"]\n}')
    assert graph_check("repeated_edges", TCP, twice) == "1 of 4 edges repeat an earlier one (n1 -> n2 [connect] 2 times)"
    other_label = TCP_DOT.replace("}", '  n1 -> n2 [label="open"]\n}')  # a second transition, not a repeat
    assert graph_check("repeated_edges", TCP, other_label) is None


def test_self_loops():
    one_loop = TCP_DOT.replace("}", '  n3 -> n3 [label="keepalive"]\n}')  # 1 of 4: at the 25 % limit
    assert graph_check("self_loops", TCP, one_loop) is None
    loops = TCP_DOT.replace("}", '  n3 -> n3 [label="keepalive"]\n  n1 -> n1 [label="listen"]\n}')
    assert graph_check("self_loops", TCP, loops) == "2 of 5 edges are self-loops; at most 25%"


def test_duplicate_labels():
    assert graph_check("duplicate_labels", TCP, TCP_DOT) is None
    alike = TCP_DOT.replace('"SYN sent"', '"Closed"')
    assert graph_check("duplicate_labels", TCP, alike) == "1 of 3 nodes repeat a label ('closed' on 2)"


def test_isolated_nodes():
    assert graph_check("isolated_nodes", TCP, TCP_DOT) is None
    alone = TCP_DOT.replace('  n1 -> n2', '  n4 [label="Time wait"]\n  n1 -> n2')
    assert graph_check("isolated_nodes", TCP, alone) == "1 node(s) on no edge: n4"


def test_unreachable_states():
    assert graph_check("unreachable_states", TCP, TCP_DOT) is None
    stray = TCP_DOT.replace('  n1 -> n2', '  n4 [label="Listen"]\n  n4 -> n3 [label="accept"]\n  n1 -> n2')
    assert graph_check("unreachable_states", TCP, stray) == "1 state(s) unreachable from the start n1 ('Closed'): n4"
    flowchart = "Draw the deploy flowchart: build, test, then deploy, with a rollback when the tests fail."
    assert graph_check("unreachable_states", flowchart, stray) is None  # not a state machine
    assert graph_check("unreachable_states", flowchart, stray, style="state machine") is not None


def test_the_start_is_a_start_label_no_edge_enters_else_the_first_node():
    begins = 'digraph g {\n  a [label="Run"]\n  b [label="Start"]\n  b -> a\n  a -> a\n}'
    assert Q.start_state(content_of(begins)) == "b"
    entered = 'digraph g {\n  a [label="Run"]\n  b [label="Restart"]\n  a -> b\n  b -> a\n}'
    assert Q.start_state(content_of(entered)) == "a"


def test_labels_off_request():
    assert graph_check("labels_off_request", TCP, TCP_DOT) is None  # "Closed" meets "closed", "syn", "established"
    dog = 'digraph g {\n  n1 [label="Mixed Dog"]\n  n2 [label="Coach"]\n  n1 -> n2 [label="fetch"]\n}'
    why = graph_check("labels_off_request", TCP, dog)
    assert why.startswith("its labels share 0 content word(s) with the request")
    assert graph_check("labels_off_request", "Show how a dog fetches for its coach in training.", dog) is None


def test_size_not_met():
    assert graph_check("size_not_met", TCP, TCP_DOT) is None
    assert graph_check("size_not_met", "Draw the TCP handshake with 3 states: closed, syn sent, established.", TCP_DOT) is None
    why = graph_check("size_not_met", "Create a TCP handshake graph of 10 nodes with 10 edges.", TCP_DOT)
    assert why == "the request asks for '10 nodes'; the graph has 3 nodes"
    assert graph_check("size_not_met", "A TCP handshake of 9 to 14 states, please.", TCP_DOT).startswith("the request asks for '9 to 14 states'")


@pytest.mark.parametrize("text,sizes", [
    ("with about 8 states and at most 10 transitions", [("nodes", 6, 10), ("edges", 0, 10)]),
    ("between 3 and 5 screens, at least two clusters", [("nodes", 3, 5), ("clusters", 2, float("inf"))]),
    ("a 5-step process in a two-phase commit", [("nodes", 5, 5)]),
    ("retry 3 times within 30 days", []),
])
def test_stated_sizes(text, sizes):
    assert [s[:3] for s in Q.stated_sizes(text, 0.25)] == sizes


# ---------------------------------------------------------------- the fake engine's defects


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_fake_defect_fails_exactly_its_own_check(defect):
    for i in range(30):
        for level in ("simple", "medium", "complex"):
            graph = fake_graph(random.Random(i), level)
            assert Q.failures(graph.request, graph.dot()) == {}, graph.request
            add_defect(graph, defect, random.Random(i))
            assert set(Q.failures(graph.request, graph.dot())) == {defect}, (graph.request, graph.dot())


def test_the_defect_knob_reads_text_or_a_mapping_and_refuses_unknown_names():
    assert seeded_defect({"defect_rates": "self_loops=1"}, "0-000001") == "self_loops"
    assert seeded_defect({"defect_rates": {"self_loops": 0.0}}, "0-000001") is None
    with pytest.raises(ConfigError, match="defect_rates"):
        seeded_defect({"defect_rates": "self_loop=0.1"}, "x")


# ---------------------------------------------------------------- a run seeded with every defect


@pytest.mark.graphviz
def test_a_fake_run_seeded_with_every_defect_drops_exactly_them(tmp_path, require_graphviz):
    from synthgen.models import ModelSpec
    from synthgen.pipeline.progress import Progress
    from synthgen.pipeline.runner import RunConfig, Runner

    rates = {name: 0.05 for name in Q.CHECKS}  # half the answers carry one defect
    out = tmp_path / "run"
    cfg = RunConfig(output=out, spec=ModelSpec(alias="fake", backend="fake"), model="fake", count=60, seed=4, batch_size=16,
                    backend_overrides={"defect_rates": rates})
    import io

    summary = Runner(cfg, progress=Progress(io.StringIO(), every_s=0)).run()
    assert summary["status"] == "completed"

    accepted = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    knobs = {"defect_rates": rates, "seed": 0}
    confusion = Counter((seeded_defect(knobs, r["id"]), r["reason"]) for r in rejected)
    seeded = Counter(seeded_defect(knobs, r["id"]) for r in accepted + rejected)
    for defect in Q.CHECKS:
        assert seeded[defect] > 0, f"no record seeded with {defect}"
        assert confusion[(defect, defect)] == seeded[defect], (defect, confusion)  # every seeded one dropped, for its defect
    quality = set(Q.CHECKS)
    assert {pair for pair in confusion if pair[1] in quality} == {(d, d) for d in Q.CHECKS}  # and nothing else
    assert all(seeded_defect(knobs, r["id"]) is None for r in accepted)
    counters = json.loads((out / "run.json").read_text())["counters"]
    for name in Q.CHECKS:
        step = "request" if name in Q.REQUEST_CHECKS else "graph"
        assert counters[step][f"dropped_{name}"] == seeded[name]


# ---------------------------------------------------------------- options


def test_checks_off_and_thresholds_are_options():
    with pytest.raises(ConfigError, match="checks_off': unknown check 'self_loop'") as error:
        create_recipe("nl2dot", {"checks_off": "self_loop"})
    assert "known checks: request_cut" in error.value.hint
    with pytest.raises(ConfigError, match="quality.max_self_loops"):
        create_recipe("nl2dot", {"quality": {"max_self_loops": 0.5}})
    recipe = create_recipe("nl2dot", {"checks_off": "self_loops,size_not_met", "quality": {"max_isolated_nodes": 2}})
    names = {s.name: s for s in recipe.check_steps()}
    assert [n for n, _ in names["graph"]._checks] == [c for c in Q.GRAPH_CHECKS if c not in ("self_loops", "size_not_met")]
    assert recipe.fingerprint()["quality"] == {"max_isolated_nodes": 2}
    assert recipe.fingerprint()["checks_off"] == ["self_loops", "size_not_met"]
    assert create_recipe("nl2dot", {}).fingerprint()["quality"] is None  # defaults: the fingerprint runs had before


def test_readme_documents_every_check_and_its_default():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in Q.CHECKS:
        assert f"`{name}`" in readme, name
    for field, info in Q.Nl2DotQuality.model_fields.items():
        assert f"`{field}` ({info.default}" in readme, field
