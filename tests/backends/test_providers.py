"""Provider presets and the pure request/response helpers of the OpenAI-compatible backend."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import httpx
import pytest

from synthgen.backends import openai as oa
from synthgen.backends.base import Backend, GenerationRequest, SamplingSettings
from synthgen.backends.providers import (
    NIM_GUIDED_GRAMMAR,
    NIM_NVEXT_GUIDED_GRAMMAR,
    PROVIDERS,
    VLLM_STRUCTURED_OUTPUTS,
    format_grammar,
    get_provider,
    read_key,
    resolve_endpoint,
)
from synthgen.errors import ConfigError, UnknownNameError
from synthgen.models import ModelSpec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("SYNTHGEN_BASE_URL", "SYNTHGEN_API_KEY", "OPENAI_API_KEY", "NVIDIA_API_KEY", "VLLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def test_presets_match_the_documented_endpoints():
    expected = {
        "nim": ("https://integrate.api.nvidia.com/v1", "NVIDIA_API_KEY", ("guided_grammar", "nvext.guided_grammar")),
        "openai": ("https://api.openai.com/v1", "OPENAI_API_KEY", ()),
        "gemini": ("https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", ()),
        "vllm-server": ("http://127.0.0.1:8000/v1", "VLLM_API_KEY", ("structured_outputs.grammar",)),
        "ollama": ("http://127.0.0.1:11434/v1", None, ()),
    }
    got = {p.name: (p.base_url, p.key_env, tuple(s.name for s in p.grammar_styles)) for p in PROVIDERS.values()}
    assert got == expected


def test_unknown_provider_lists_known_ones():
    with pytest.raises(UnknownNameError) as info:
        get_provider("nvidia")
    assert info.value.one_line() == (
        "unknown provider 'nvidia' (hint: known providers: gemini, nim, ollama, openai, vllm-server)"
    )


def test_url_precedence_env_then_spec_then_preset(monkeypatch):
    assert resolve_endpoint("vllm-server").chat_url == "http://127.0.0.1:8000/v1/chat/completions"
    assert resolve_endpoint("gemini").chat_url == "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
    assert resolve_endpoint("vllm-server", "http://gpu-box:9000/v1/").models_url == "http://gpu-box:9000/v1/models"
    monkeypatch.setenv("SYNTHGEN_BASE_URL", "http://proxy:1/v1")
    assert resolve_endpoint("nim", "http://gpu-box:9000/v1").base_url == "http://proxy:1/v1"


def test_bad_urls_are_config_errors():
    with pytest.raises(ConfigError, match="needs a base_url"):
        resolve_endpoint(None)
    with pytest.raises(ConfigError, match="not an http"):
        resolve_endpoint("openai", "api.openai.com/v1")


def test_key_comes_from_spec_variable_then_preset_then_generic(monkeypatch):
    nim = resolve_endpoint("nim")
    assert read_key(nim) is None
    monkeypatch.setenv("SYNTHGEN_API_KEY", "generic-key")
    assert read_key(nim) == "generic-key"
    monkeypatch.setenv("NVIDIA_API_KEY", "nvapi-xxxxxxxxxx\n")
    assert read_key(nim) == "nvapi-xxxxxxxxxx"
    monkeypatch.setenv("TEAM_KEY", "team")
    assert read_key(resolve_endpoint("nim", api_key_env="TEAM_KEY")) == "team"


def test_grammar_styles_place_the_grammar_where_each_server_reads_it():
    body: dict = {"model": "m", "nvext": {"other": 1}}
    VLLM_STRUCTURED_OUTPUTS.apply(body, "G1")
    NIM_GUIDED_GRAMMAR.apply(body, "G2")
    NIM_NVEXT_GUIDED_GRAMMAR.apply(body, "G3")
    assert body == {"model": "m", "structured_outputs": {"grammar": "G1"}, "guided_grammar": "G2",
                    "nvext": {"other": 1, "guided_grammar": "G3"}}


@pytest.mark.slow  # xgrammar imports torch: seconds on a small machine
def test_nim_gets_xgrammar_ebnf_vllm_gets_lark():
    lark = 'start: "digraph {" ID{1,3} "}"\nID: /[a-z]+/\n'
    assert format_grammar(VLLM_STRUCTURED_OUTPUTS, lark) == lark
    ebnf = format_grammar(NIM_GUIDED_GRAMMAR, lark)
    assert ebnf.startswith("root ::=") and "::=" in ebnf and '"digraph {"' in ebnf
    with pytest.raises(ConfigError, match="could not be converted"):
        format_grammar(NIM_GUIDED_GRAMMAR, "start: undefined_rule\n")


def _backend(provider: str = "vllm-server", **kw) -> oa.OpenAIBackend:
    return oa.OpenAIBackend(ModelSpec(alias="a", backend="openai", provider=provider, api_model="served"), **kw)


def test_backend_satisfies_protocol_and_is_cheap_to_construct():
    b = _backend()
    assert isinstance(b, Backend) and b.name == "openai" and b.accelerators == 0
    assert b.supports_grammar and not _backend("openai").supports_grammar
    assert repr(b) == "OpenAIBackend(provider='vllm-server', model='served', base_url='http://127.0.0.1:8000/v1')"


def test_overrides_are_validated():
    with pytest.raises(ConfigError, match="openai backend option concurency: Extra inputs"):
        _backend(concurency=4)
    with pytest.raises(ConfigError, match="option max_attempts"):
        _backend(max_attempts=0)


def test_request_body():
    b = _backend()
    req = GenerationRequest("r", [{"role": "user", "content": "hi"}], SamplingSettings(0.5, 0.9, 64, 2), 'start: "x"', 7)
    assert b._body(req, 2, 7) == {
        "model": "served", "messages": req.messages, "temperature": 0.5, "top_p": 0.9, "max_tokens": 64,
        "n": 2, "seed": 7, "structured_outputs": {"grammar": 'start: "x"'},
    }
    b.supports_grammar = False  # what a failed probe leaves: no grammar field at all
    assert "structured_outputs" not in b._body(req, 1, None) and "n" not in b._body(req, 1, None)
    unseeded = _backend(send_seed=False)  # a vLLM server on CPU
    assert not unseeded.supports_request_seed and "seed" not in unseeded._body(req, 1, 7)


def _reply(body: dict | str, status: int = 200) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body)
    return httpx.Response(status, json=body)


def test_parse_maps_finish_reasons_and_splits_usage():
    b, req = _backend(), GenerationRequest("r", [])
    choices = [{"message": {"content": t}, "finish_reason": f} for t, f in
               [("a", "stop"), ("b", "length"), ("c", "content_filter"), ("d", None)]]
    out = b._parse(_reply({"choices": choices, "usage": {"prompt_tokens": 10, "completion_tokens": 9}}), req, 5, 0, 1.5)
    assert [(c.index, c.finish_reason) for c in out] == [(0, "stop"), (1, "length"), (2, "error"), (3, "stop"), (4, "error")]
    assert out[2].error == "blocked by the provider's content filter"
    assert out[4].error == "server returned 4 of 5 choices"
    assert [c.prompt_tokens for c in out[:4]] == [10, 0, 0, 0] and [c.completion_tokens for c in out[:4]] == [3, 2, 2, 2]


def test_parse_reads_cached_prompt_tokens_where_the_server_reports_them():
    b, req = _backend(), GenerationRequest("r", [])
    choices = [{"message": {"content": t}, "finish_reason": "stop"} for t in "ab"]
    usage = {"prompt_tokens": 1200, "completion_tokens": 8, "prompt_tokens_details": {"cached_tokens": 1024}}
    out = b._parse(_reply({"choices": choices, "usage": usage}), req, 2, 0, 1.0)
    assert [c.cached_tokens for c in out] == [1024, None]
    plain = b._parse(_reply({"choices": choices, "usage": {"prompt_tokens": 10, "completion_tokens": 2}}), req, 2, 0, 1.0)
    assert [c.cached_tokens for c in plain] == [None, None]
    odd = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 99}}  # more than the prompt
    assert b._parse(_reply({"choices": choices[:1], "usage": odd}), req, 1, 0, 1.0)[0].cached_tokens == 10


def test_retry_after_header_in_seconds_or_http_date():
    assert oa._retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < oa._retry_after(httpx.Response(429, headers={"Retry-After": later})) <= 31
    assert oa._retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert oa._retry_after(httpx.Response(503)) is None


def test_backoff_grows_with_jitter_and_respects_caps():
    b = _backend(backoff_base_s=1, backoff_max_s=3, retry_after_max_s=10)
    assert [0.5 <= b._delay(1, None) <= 1, 1 <= b._delay(2, None) <= 2, 1.5 <= b._delay(5, None) <= 3] == [True] * 3
    assert 10 <= b._delay(1, 600) <= 10.1 and 2 <= b._delay(1, 2) <= 2.1


def test_env_example_documents_every_key_variable_without_values():
    text = (ROOT / ".env.example").read_text()
    variables = {p.key_env for p in PROVIDERS.values() if p.key_env} | {"SYNTHGEN_API_KEY", "SYNTHGEN_BASE_URL"}
    for var in variables:
        assert f"{var}=\n" in text or f"# {var}=\n" in text, f"{var} missing or given a value in .env.example"
