"""The up-front memory estimate: parameters counted from a real config.json, bytes per
weight from the dtype, and the one-line refusal before any engine is imported."""

from __future__ import annotations

import json

import pytest

from synthgen.errors import BackendError
from synthgen.models import ModelSpec, Source, check_memory, config_parameters, dtype_bytes, estimate_memory

# config.json of meta-llama/Llama-3.1-405B-Instruct (published: 405.8B parameters, bf16).
LLAMA_405B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu", "hidden_size": 16384,
    "initializer_range": 0.02, "intermediate_size": 53248, "max_position_embeddings": 131072, "mlp_bias": False,
    "model_type": "llama", "num_attention_heads": 128, "num_hidden_layers": 126, "num_key_value_heads": 8,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "use_cache": True,
    "vocab_size": 128256,
}
# config.json of HuggingFaceTB/SmolLM2-135M-Instruct (published: 135M parameters, tied embeddings).
SMOLLM2_135M = {
    "architectures": ["LlamaForCausalLM"], "hidden_act": "silu", "hidden_size": 576, "intermediate_size": 1536,
    "max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
    "num_key_value_heads": 3, "rms_norm_eps": 1e-05, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "vocab_size": 49152,
}
# config.json of Qwen/Qwen2.5-Coder-32B-Instruct (published: 32.8B; q/k/v biases not counted).
QWEN_32B = {
    "architectures": ["Qwen2ForCausalLM"], "hidden_size": 5120, "intermediate_size": 27648, "model_type": "qwen2",
    "num_attention_heads": 40, "num_hidden_layers": 64, "num_key_value_heads": 8, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "vocab_size": 152064,
}


@pytest.mark.parametrize("config,published", [(LLAMA_405B, 405.8e9), (SMOLLM2_135M, 134.5e6), (QWEN_32B, 32.8e9)])
def test_parameters_from_config_match_published_counts(config, published):
    assert config_parameters(config) == pytest.approx(published, rel=0.01)


def test_config_without_shape_keys_gives_no_count():
    assert config_parameters({"model_type": "no_such"}) is None


def test_dtype_bytes_from_spec_then_config():
    assert dtype_bytes(ModelSpec(alias="a", backend="vllm", source=Source(path="/x"), dtype="float32")) == 4
    auto = ModelSpec(alias="a", backend="vllm", source=Source(path="/x"))
    assert dtype_bytes(auto, {"torch_dtype": "float16"}) == 2
    assert dtype_bytes(auto, {"torch_dtype": "float32"}) == 4
    assert dtype_bytes(auto, None) == 2


def _folder(tmp_path, config: dict, weights_bytes: int = 0):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if weights_bytes:
        (folder / "model.safetensors").write_bytes(b"\0" * weights_bytes)
    return ModelSpec(alias="m", backend="vllm", source=Source(path=str(folder))), str(folder)


def test_folder_with_only_a_config_is_estimated_from_its_parameters(tmp_path):
    spec, folder = _folder(tmp_path, LLAMA_405B)
    need, basis = estimate_memory(spec, folder)
    assert need == pytest.approx(1.3 * 405.85 * 2, rel=0.01)
    assert basis == "405.85B parameters x 2 bytes, from config.json"
    float32, _ = estimate_memory(spec, folder, bytes_per_weight=4)
    assert float32 == pytest.approx(2 * need, rel=0.01)


def test_larger_of_disk_size_and_parameter_count_wins(tmp_path):
    spec, folder = _folder(tmp_path, SMOLLM2_135M, weights_bytes=600_000_000)  # float32 weights on disk
    need, basis = estimate_memory(spec, folder)
    assert need == pytest.approx(1.3 * 0.6, rel=0.01) and "on disk" in basis


def test_min_memory_gb_in_the_yaml_wins(tmp_path):
    spec, folder = _folder(tmp_path, LLAMA_405B)
    spec = spec.model_copy(update={"min_memory_gb": 3.0})
    assert estimate_memory(spec, folder) == (3.0, "min_memory_gb in the model YAML")


def test_refusal_is_one_line_with_the_basis_and_a_hint(tmp_path):
    spec, folder = _folder(tmp_path, LLAMA_405B)
    with pytest.raises(BackendError) as info:
        check_memory(spec, estimate_memory(spec, folder), 24.0, "RAM")
    line = info.value.one_line()
    assert "needs about 1055.2 GB (405.85B parameters x 2 bytes, from config.json)" in line
    assert "only 24.0 GB of RAM" in line and "(hint: pick a smaller model" in line and "\n" not in line
    check_memory(spec, estimate_memory(spec, folder), 2000.0, "RAM")  # fits: no error
    check_memory(spec, None, 1.0, "RAM")  # unknown need: no refusal
