"""Grammar -> engine arguments, one pure function per engine (Outlines' type-adapter pattern).

Kept free of engine imports so the translation is unit-tested without vLLM, torch or a
server: the backends turn these plain values into ``StructuredOutputsParams``,
``outlines.types.CFG`` or an HTTP body. One Lark source feeds every engine
(see GRAMMAR-NOTES.md); the checks here catch what we know an engine would reject later,
deep inside its worker process, with a far worse message.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from synthgen.errors import ConfigError

VllmGrammarEngine = Literal["xgrammar", "guidance"]
VLLM_GRAMMAR_ENGINES: tuple[str, ...] = ("xgrammar", "guidance")
DEFAULT_VLLM_GRAMMAR_ENGINE: VllmGrammarEngine = "guidance"

# vLLM's xgrammar backend treats a grammar with a `::=` rule as GBNF/EBNF, anything else as Lark.
_EBNF_RULE = re.compile(r"^\s*[\w-]+\s*::=", re.MULTILINE)
# Lark features that neither llguidance nor xgrammar compiles (GRAMMAR-NOTES.md).
_ENGINE_REJECTS = (
    (re.compile(r"\(\?[!=<]"), "regex lookaround (?!...) / (?=...)"),
    (re.compile(r"^\s*%declare\b", re.MULTILINE), "%declare"),
    (re.compile(r"^\s*[?!]?\w+\.\d+\s*:", re.MULTILINE), "rule/terminal priorities (NAME.2)"),
)


def check_lark_grammar(grammar: str) -> str:
    """The grammar, stripped, after refusing what no structured-output engine accepts."""
    text = grammar.strip()
    if not text:
        raise ConfigError("empty grammar", hint="give Lark source with a 'start:' rule")
    if _EBNF_RULE.search(text):
        raise ConfigError("grammar is GBNF/EBNF ('::='), not Lark", hint="synthgen grammars are Lark (grammars/*.lark)")
    if not re.search(r"^\s*\??start\s*:", text, re.MULTILINE):
        raise ConfigError("grammar has no 'start:' rule", hint="every engine starts from the rule named start")
    for pattern, what in _ENGINE_REJECTS:
        if pattern.search(text):
            raise ConfigError(f"grammar uses {what}, which llguidance/xgrammar reject", hint="see GRAMMAR-NOTES.md")
    return text


def vllm_engine_config(engine: str = DEFAULT_VLLM_GRAMMAR_ENGINE) -> dict[str, Any]:
    """``LLM(structured_outputs_config=...)``. Only xgrammar and guidance take Lark grammars:
    vLLM's ``outlines`` and ``lm-format-enforcer`` backends refuse grammars, and ``auto``
    may pick either, so we always name one."""
    if engine not in VLLM_GRAMMAR_ENGINES:
        raise ConfigError(
            f"structured-output engine {engine!r} cannot take a Lark grammar",
            hint=f"use one of: {', '.join(VLLM_GRAMMAR_ENGINES)}",
        )
    # JSON schema outputs without free whitespace between tokens: with it, a small model can
    # loop on newlines until max_tokens (seen here: 1,152 tokens of "\n" in one SmolLM2 answer).
    # Lark grammars are unaffected (they bound their own whitespace).
    return {"backend": engine, "disable_any_whitespace": True}


def vllm_structured_outputs(grammar: str | None, json_schema: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Keyword arguments of ``vllm.sampling_params.StructuredOutputsParams`` (None: unconstrained).
    A grammar and a JSON schema are exclusive: vLLM takes one structured-output kind per request."""
    if grammar is not None and json_schema is not None:
        raise ConfigError("a request has both a grammar and a JSON schema", hint="give one of them")
    if json_schema is not None:
        return {"json": json_schema}
    if grammar is None:
        return None
    return {"grammar": check_lark_grammar(grammar)}


def vllm_sampling_kwargs(
    *, temperature: float, top_p: float, max_tokens: int, n: int, seed: int | None, grammar: str | None,
    json_schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` except ``structured_outputs`` (built by
    the backend from :func:`vllm_structured_outputs`, since it needs vLLM's class)."""
    kwargs: dict[str, Any] = {
        "temperature": temperature,
        "top_p": top_p,
        "max_tokens": max_tokens,
        "n": n,
        "seed": seed,
    }
    if grammar is not None or json_schema is not None:
        # Grammar tokens such as "\n" or "}" must reach the matcher: no stop strings, and
        # EOS stays the only way to end, so a finished grammar ends the output.
        kwargs["skip_special_tokens"] = True
    return kwargs


def outlines_cfg_source(grammar: str | None) -> str | None:
    """The Lark text for ``outlines.types.CFG`` (Outlines' default CFG engine is llguidance)."""
    return None if grammar is None else check_lark_grammar(grammar)


def openai_extra_body(grammar: str | None, flavour: Literal["vllm-server", "nim", "none"]) -> dict[str, Any]:
    """The request-body fields that carry a grammar to an OpenAI-compatible server.

    ``vllm-server``: vLLM ≥ 0.12's ``structured_outputs.grammar``; ``nim``: the older
    ``nvext.guided_grammar`` (unverified: probe it); ``none``: the server can't constrain.
    """
    if grammar is None or flavour == "none":
        return {}
    text = check_lark_grammar(grammar)
    if flavour == "vllm-server":
        return {"structured_outputs": {"grammar": text}}
    if flavour == "nim":
        return {"nvext": {"guided_grammar": text}}
    raise ConfigError(f"unknown grammar flavour {flavour!r}", hint="vllm-server, nim or none")


def openai_json_fields(schema: dict[str, Any] | None, style: Literal["structured_outputs", "response_format", "none"]) -> dict[str, Any]:
    """The request-body fields that carry a JSON schema to an OpenAI-compatible server."""
    if schema is None or style == "none":
        return {}
    if style == "structured_outputs":
        return {"structured_outputs": {"json": schema}}
    if style == "response_format":
        return {"response_format": {"type": "json_schema", "json_schema": {"name": "synthgen_output", "schema": schema, "strict": False}}}
    raise ConfigError(f"unknown JSON schema style {style!r}", hint="structured_outputs, response_format or none")
