"""Checks shared by the real-engine tests (vllm, transformers): the same 16 prompts, and
what every output must satisfy."""

from __future__ import annotations

from synthgen.backends.base import GenerationRequest, SamplingSettings
from synthgen.commands.try_ import SYSTEM_PROMPT

TOPICS = [
    "a TCP handshake state machine", "an enemy guard's patrol and chase AI", "a CI/CD pipeline with approvals",
    "a login and settings screen flow", "a robot arm pick-and-place controller", "a two-phase commit transaction",
    "an online shop checkout", "a document review and publishing lifecycle", "a DHCP lease negotiation",
    "a boss fight with three phases", "an expense approval workflow", "a mobile onboarding wizard",
    "a vacuum robot cleaning cycle", "a database deadlock detector", "an order refund process", "a contract signing flow",
]


def no_cutoff_max_tokens(complexity: str | None) -> int:
    """Every token of this ASCII-only grammar is at least one character, so the longest
    output the grammar allows, in characters, plus EOS, can never be cut off."""
    from synthgen.dot.gen_grammar import max_output_chars

    return max_output_chars(complexity) + 1


def engine_requests(grammar: str, max_tokens: int, count: int = 16) -> list[GenerationRequest]:
    sampling = SamplingSettings(temperature=0.7, top_p=0.95, max_tokens=max_tokens)
    return [
        GenerationRequest(f"r{i}", [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": topic}],
                          sampling, grammar=grammar, seed=i)
        for i, topic in enumerate(TOPICS[:count])
    ]


def assert_valid_outputs(completions, requests) -> None:
    """Stopped on EOS (not cut off), splits into request + DOT, parses, and Graphviz agrees."""
    from synthgen.dot.gen_grammar import split_output
    from synthgen.dot.graphviz import GraphvizChecker

    assert [c.request_id for c in completions] == [r.id for r in requests]
    cut = [(c.request_id, c.finish_reason, c.completion_tokens, c.error, c.text[-200:])
           for c in completions if c.finish_reason != "stop"]
    assert not cut, f"not stopped by the grammar: {cut}"
    dots = [split_output(c.text)[1] for c in completions]
    try:
        from synthgen.dot.parser import parse
    except ImportError:
        parse = None
    if parse is not None:
        for dot in dots:
            parse(dot)
    verdicts = GraphvizChecker().check(dots)
    bad = [(d, v.message) for d, v in zip(dots, verdicts) if not v.ok]
    assert not bad, f"Graphviz rejected: {bad[:2]}"
    for c in completions:
        # n > 1: the prompt is counted once, on index 0
        assert (c.prompt_tokens > 20) if c.index == 0 else (c.prompt_tokens == 0)
        assert 10 < c.completion_tokens <= requests[0].sampling.max_tokens
        assert c.latency_s > 0 and c.error is None
