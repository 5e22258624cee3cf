"""Fitting a model to the GPUs at hand: the shipped aliases on four real inventories (memory as
nvidia-smi reports it), explicit sizes, refusals, and reading nvidia-smi with CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

import os
import stat

import pytest

from synthgen.backends.fit import MIN_SEQUENCES, fit, needs_of
from synthgen.backends.gpus import Gpu, parse_gpu_kind, parse_nvidia_smi, visible_gpus
from synthgen.errors import BackendError, ConfigError
from synthgen.models import ModelShape, ModelSpec, Source, resolve_model, shape_from_config

H200, H100x2, A100_40x8, L4 = "H200", "2xH100", "8xA100-40GB", "L4"


def _fit(alias: str, inventory: str, tensor: int | None = None):
    return fit(needs_of(resolve_model(alias)), parse_gpu_kind(inventory), tensor)


# (alias, inventory) -> (tensor, replicas). The 32B's bf16 weights are 61.1 GiB and its KV cache
# 256 KiB a token (64 layers x 8 KV heads x 128 x 2 x 2 bytes); a useful cache holds 8 x 8192 tokens (16 GiB).
EXPECTED = {
    ("qwen2.5-coder-32b", H200): (1, 1),  # 126.4 GiB usable: 61.1 weights + 2 runtime leave 63.3 GiB of cache
    ("qwen2.5-coder-32b", H100x2): (2, 1),  # alone on one 80 GB: 8.6 GiB of cache, 4.3 sequences
    # tp2 leaves 2 x 3.4 GiB (3.5 sequences); tp4 leaves 74.9 GiB per engine and two engines fit 8 GPUs
    ("qwen2.5-coder-32b", A100_40x8): (4, 2),
    ("qwen2.5-coder-7b", H200): (1, 1),
    ("qwen2.5-coder-7b", H100x2): (1, 2),
    ("qwen2.5-coder-7b", A100_40x8): (1, 8),
    ("qwen2.5-coder-7b", L4): (1, 1),  # 14.2 GiB weights on 20.2 usable: 4.1 GiB, 75,860 tokens, 9.3 sequences
    ("qwen2.5-coder-1.5b", H200): (1, 1),
    ("qwen2.5-coder-1.5b", H100x2): (1, 2),
    ("qwen2.5-coder-1.5b", A100_40x8): (1, 8),
    ("qwen2.5-coder-1.5b", L4): (1, 1),
}


@pytest.mark.parametrize("alias,inventory", list(EXPECTED))
def test_shipped_aliases_on_real_inventories(alias, inventory):
    placement = _fit(alias, inventory)
    assert (placement.tensor, placement.replicas) == EXPECTED[(alias, inventory)]
    assert placement.kv_tokens >= MIN_SEQUENCES * 8192 and not placement.explicit
    assert len(placement.gpus) == placement.tensor
    line = placement.line()
    assert f"tensor parallel {placement.tensor}" in line and "smallest size" in line
    assert ("replicas possible, running 1" in line) == (placement.replicas > 1)


def test_7b_on_an_l4_fits_with_a_small_cache():
    placement = _fit("qwen2.5-coder-7b", L4)
    assert placement.kv_cache_gib == pytest.approx(4.05, abs=0.05) and placement.kv_tokens == 75_860


def test_32b_on_an_l4_is_refused_naming_need_usable_and_a_way_out():
    with pytest.raises(BackendError) as info:
        _fit("qwen2.5-coder-32b", L4)
    line = info.value.one_line()
    assert "does not fit 1 x NVIDIA L4 (22.5 GiB)" in line
    assert "needs 79.1 GiB (61.1 weights + 2 runtime + KV cache for 8 x 8192 tokens)" in line
    assert "has 20.2 GiB usable (gpu_memory_utilization 0.9)" in line
    assert "8 x NVIDIA L4 would fit it" in line and "\n" not in line


def test_explicit_size_wins_and_is_checked_against_one_sequence():
    alone = _fit("qwen2.5-coder-32b", H100x2, tensor=1)  # runs, with a small cache, and says so
    assert (alone.tensor, alone.replicas, alone.explicit) == (1, 2, True)
    assert "under the 8 sequences wanted" in alone.reason
    assert _fit("qwen2.5-coder-32b", A100_40x8, tensor=2).replicas == 4
    with pytest.raises(BackendError, match="needs 4 GPUs, 2 visible"):
        _fit("qwen2.5-coder-32b", H100x2, tensor=4)
    with pytest.raises(BackendError, match="at tensor parallel 1 each GPU needs .* KV cache for 1 x 8192"):
        _fit("qwen2.5-coder-32b", "A100-40GB", tensor=1)


def test_tensor_size_divides_the_attention_heads():
    # 28 heads: 8 GPUs can't split them; a model too big for 4 of them is refused, not run at tp8
    spec = resolve_model("qwen2.5-coder-7b").model_copy(update={"params_b": 70.0})
    needs = needs_of(spec)
    with pytest.raises(BackendError, match="at tensor parallel 4"):
        fit(needs, parse_gpu_kind("8xL4"))


def test_no_gpu_is_a_clear_refusal():
    with pytest.raises(BackendError, match="needs a GPU and none is visible"):
        fit(needs_of(resolve_model("qwen2.5-coder-7b")), [])


def test_mixed_gpus_are_sized_by_the_smallest():
    gpus = parse_gpu_kind("H200") + parse_gpu_kind("H100")
    placement = fit(needs_of(resolve_model("qwen2.5-coder-32b")), gpus)
    assert placement.tensor == 2  # the H100 alone can't hold a useful cache


def test_shape_from_a_real_config_gives_the_kv_cache_size():
    from backends.test_memory_estimate import LLAMA_405B, QWEN_32B

    assert shape_from_config(QWEN_32B) == resolve_model("qwen2.5-coder-32b").shape
    assert shape_from_config(QWEN_32B).kv_bytes_per_token(2) == 256 * 1024
    assert shape_from_config(LLAMA_405B) == ModelShape(layers=126, attention_heads=128, kv_heads=8, head_dim=128)
    assert shape_from_config({"model_type": "x"}) is None


def test_needs_from_a_local_config_without_yaml_figures(tmp_path):
    import json

    from backends.test_memory_estimate import QWEN_32B

    (tmp_path / "config.json").write_text(json.dumps(QWEN_32B))
    spec = ModelSpec(alias="local32", backend="vllm", source=Source(path=str(tmp_path)), max_model_len=8192,
                     gpu_memory_utilization=0.9)
    from synthgen.models import read_model_config

    needs = needs_of(spec, read_model_config(spec, str(tmp_path)))
    assert needs.basis.endswith("from config.json") and needs.kv_bytes_per_token == 256 * 1024
    assert fit(needs, parse_gpu_kind(H200)).tensor == 1


def test_auto_in_yaml_and_bad_values():
    assert resolve_model("qwen2.5-coder-32b").parallelism.tensor == "auto"
    assert resolve_model("qwen2.5-coder-32b").parallelism.tensor_size == 1
    from synthgen.models import Parallelism

    with pytest.raises(ValueError):
        Parallelism(tensor="many")
    with pytest.raises(ValueError):
        Parallelism(tensor=0)


@pytest.mark.parametrize("value,count,name", [("H200", 1, "NVIDIA H200"), ("2xH100", 2, "NVIDIA H100 80GB HBM3"),
                                              ("8 x a100-40", 8, "NVIDIA A100-SXM4-40GB"), ("NVIDIA L4", 1, "NVIDIA L4")])
def test_gpu_kind_flag(value, count, name):
    gpus = parse_gpu_kind(value)
    assert len(gpus) == count and {g.name for g in gpus} == {name}


@pytest.mark.parametrize("value", ["H900", "0xH100", "", "2x"])
def test_gpu_kind_flag_refuses_what_it_does_not_know(value):
    with pytest.raises(ConfigError, match="not a GPU kind synthgen knows"):
        parse_gpu_kind(value)


# nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits on a 2 x H100 box
SMI = ("0, GPU-4c3a0d7e-8f1b-2c3d-9e4f-5a6b7c8d9e0f, NVIDIA H100 80GB HBM3, 81559\n"
       "1, GPU-9a8b7c6d-5e4f-3a2b-1c0d-ef0123456789, NVIDIA H100 80GB HBM3, 81559\n")


@pytest.mark.parametrize("visible,indices", [(None, [0, 1]), ("1", [1]), ("GPU-9a8b", [1]), ("1,0", [1, 0]),
                                             ("", []), ("-1", []), ("0,7,1", [0])])
def test_cuda_visible_devices_is_read_the_way_cuda_reads_it(visible, indices):
    gpus = parse_nvidia_smi(SMI, visible)
    assert len(gpus) == len(indices)
    assert all(g == Gpu("NVIDIA H100 80GB HBM3", 81559 * 2**20) for g in gpus)


def test_visible_gpus_runs_nvidia_smi_and_honours_cuda_visible_devices(tmp_path, monkeypatch):
    """No GPU here: an executable named nvidia-smi on PATH prints a real 2 x H100 answer."""
    tool = tmp_path / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\n[ \"$1\" = --query-gpu=index,uuid,name,memory.total ] || exit 9\ncat <<'EOF'\n{SMI}EOF\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert len(visible_gpus()) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert len(visible_gpus()) == 1
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert visible_gpus() == []


def test_the_vllm_backend_passes_the_fitted_size_to_the_engine():
    """What VllmBackend._place does on GPUs, up to the engine's arguments (no GPU here)."""
    from synthgen.backends.vllm import engine_kwargs, gpu_placement

    spec = resolve_model("qwen2.5-coder-32b")
    placement = gpu_placement(spec, "Qwen/Qwen2.5-Coder-32B-Instruct", parse_gpu_kind(H100x2))
    assert placement.tensor == 2
    run = spec.model_copy(update={"parallelism": spec.parallelism.model_copy(update={"tensor": placement.tensor})})
    kwargs = engine_kwargs(run, "Qwen/Qwen2.5-Coder-32B-Instruct", "main", on_cpu=False)
    assert kwargs["tensor_parallel_size"] == 2 and kwargs["enable_prefix_caching"] is True
    with pytest.raises(ConfigError, match="must be resolved by a fit"):
        engine_kwargs(spec, "Qwen/Qwen2.5-Coder-32B-Instruct", "main", on_cpu=False)
    # a spec without a parameter count keeps its size, checked against the rough estimate
    bare = ModelSpec(alias="bare", backend="vllm", source=Source(hf_id="org/m"), min_memory_gb=100)
    with pytest.raises(BackendError, match="needs about 100.0 GB"):
        gpu_placement(bare, "org/m", parse_gpu_kind("H100"))
    with pytest.raises(BackendError, match="needs about 100.0 GB"):
        gpu_placement(bare, "org/m", parse_gpu_kind("2xH100"))  # tensor 1: one GPU's memory
    from synthgen.models import Parallelism

    split = bare.model_copy(update={"parallelism": Parallelism(tensor=2)})
    placement = gpu_placement(split, "org/m", parse_gpu_kind("2xH100"))
    assert (placement.tensor, placement.replicas) == (2, 1) and "parameter count is unknown" in placement.reason
