"""The transformers + Outlines backend against the real embedded model on CPU."""

from __future__ import annotations

import pytest

pytest.importorskip("outlines", reason="Outlines is not installed (pip install 'synthgen[hf]')")
pytest.importorskip("transformers")

from synthgen.backends.base import GenerationRequest, SamplingSettings  # noqa: E402
from synthgen.backends.registry import create_backend  # noqa: E402
from synthgen.backends.transformers import batch_key, batch_seed  # noqa: E402
from synthgen.models import resolve_model  # noqa: E402

from . import assert_valid_outputs, engine_requests, no_cutoff_max_tokens  # noqa: E402


def _req(i: int, grammar: str | None = None, seed: int | None = None, temperature: float = 0.8) -> GenerationRequest:
    return GenerationRequest(f"r{i}", [{"role": "user", "content": "hi"}], SamplingSettings(temperature=temperature),
                             grammar=grammar, seed=seed)


def test_batches_group_by_grammar_and_sampling():
    assert batch_key(_req(0, "g")) == batch_key(_req(1, "g"))
    assert batch_key(_req(0, "g")) != batch_key(_req(1, "h"))
    assert batch_key(_req(0, "g")) != batch_key(_req(1, "g", temperature=0.2))


def test_batch_seed_is_deterministic_and_depends_on_seeds():
    a = [_req(0, seed=1), _req(1, seed=2)]
    assert batch_seed(a, 0) == batch_seed(a, 0) != batch_seed([_req(0, seed=2), _req(1, seed=1)], 0)
    assert batch_seed([_req(0)], 7) == 7


@pytest.fixture(scope="module")
def engine(require_graphviz):
    backend = create_backend(resolve_model("smollm2-135m"), backend="transformers", batch_size=16)
    backend.load()
    yield backend
    backend.close()


@pytest.mark.slow
@pytest.mark.engine
@pytest.mark.graphviz
@pytest.mark.timeout(1800)  # one padded batch runs until its longest output ends (<= 2096 steps)
def test_sixteen_prompts_sixteen_valid_graphs(engine):
    from synthgen.dot.gen_grammar import generation_grammar

    requests = engine_requests(generation_grammar("simple"), no_cutoff_max_tokens("simple"))
    completions = engine.generate(requests)
    assert len(completions) == 16
    assert_valid_outputs(completions, requests)


@pytest.mark.slow
@pytest.mark.engine
def test_mixed_grammars_keep_request_order_and_seeds_repeat(engine):
    tiny = 'start: "digraph g {\\n" ("  a -> b\\n"){1,3} "}"'
    other = 'start: "graph h {\\n}"'
    requests = [_req(0, tiny, seed=1), _req(1, other, seed=2), _req(2, tiny, seed=3)]
    for r in requests:
        r.sampling = SamplingSettings(temperature=0.9, max_tokens=40)
    first = engine.generate(requests)
    assert [c.request_id for c in first] == ["r0", "r1", "r2"]
    assert first[1].text == "graph h {\n}" and all(c.finish_reason == "stop" for c in first)
    assert all(c.text.startswith("digraph g {\n") and c.text.endswith("}") for c in (first[0], first[2]))
    assert [c.text for c in engine.generate(requests)] == [c.text for c in first]
