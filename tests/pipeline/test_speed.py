"""GPU-hours before a run: the bandwidth estimate, figures stored by `models bench`, and
`synthgen local --dry-run` with and without a GPU kind (the real CLI, no GPU here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.backends.fit import fit, needs_of
from synthgen.backends.gpus import kind_named, parse_gpu_kind
from synthgen.models import resolve_model
from synthgen.pipeline.speed import from_bandwidth, plan_speed, store_figure, stored_figure

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SYNTHGEN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _speed(alias: str, kind: str, batch: int = 32, prompt: float = 1000, completion: float = 300):
    needs = needs_of(resolve_model(alias))
    gpus = parse_gpu_kind(kind)
    placement = fit(needs, gpus)
    return from_bandwidth(needs, placement, kind_named(gpus[0].name), batch_size=batch, prompt_tokens=prompt,
                          completion_tokens=completion)


def test_one_sequence_decodes_at_bandwidth_over_weight_bytes():
    # 32B on an H200: 4.8 TB/s x 0.7 / 65.6 GB of weights (+ one sequence's KV cache) = ~50 tokens/s
    speed = _speed("qwen2.5-coder-32b", "H200", batch=1, completion=300)
    assert "51 tokens/s for one sequence" in speed.basis and speed.accelerators == 1


def test_batching_multiplies_decode_and_the_basis_says_by_how_much():
    one = _speed("qwen2.5-coder-32b", "H200", batch=1)
    many = _speed("qwen2.5-coder-32b", "H200", batch=64)
    assert 10 < many.tokens_per_s / one.tokens_per_s < 64  # KV reads and prefill keep it under 64x
    assert "64 in flight (batch factor" in many.basis and "assumed 70%" in many.basis
    assert "--batch-size 64" in many.basis and "prefix caching not counted" in many.basis


def test_the_kv_cache_caps_the_batch():
    # 7B on an L4 holds 75,860 tokens: 58 sequences of 1,300 tokens, not 256
    speed = _speed("qwen2.5-coder-7b", "L4", batch=256)
    assert "58 in flight" in speed.basis and "(the KV cache holds 58)" in speed.basis


def test_faster_gpus_and_smaller_models_are_faster():
    h200, a100 = _speed("qwen2.5-coder-7b", "H200"), _speed("qwen2.5-coder-7b", "A100-40GB")
    assert h200.tokens_per_s > 2 * a100.tokens_per_s
    assert _speed("qwen2.5-coder-1.5b", "H200").tokens_per_s > 3 * h200.tokens_per_s


def test_a_stored_figure_wins_over_the_estimate(home):
    spec = resolve_model("qwen2.5-coder-32b")
    planned = plan_speed(spec, "H200", batch_size=32, prompt_tokens=1000, completion_tokens=300)
    assert "estimate from memory bandwidth" in planned.speed.basis
    path = store_figure("qwen2.5-coder-32b", "H200", {"tokens_per_s": 2100.0, "note": "64 prompts"})
    assert path == home / "bench.json" and stored_figure("qwen2.5-coder-32b", "H200")["tokens_per_s"] == 2100.0
    planned = plan_speed(spec, "H200", batch_size=32, prompt_tokens=1000, completion_tokens=300)
    assert planned.speed.tokens_per_s == 2100.0 and "measured by `synthgen models bench`" in planned.speed.basis
    assert "tensor parallel 1" in planned.placement
    other = plan_speed(spec, "2xH100", batch_size=32, prompt_tokens=1000, completion_tokens=300)
    assert "estimate from memory bandwidth" in other.speed.basis and other.speed.accelerators == 2


def test_a_damaged_store_counts_as_none(home):
    home.mkdir(parents=True)
    (home / "bench.json").write_text("{not json")
    assert stored_figure("qwen2.5-coder-32b", "H200") is None


def test_without_a_gpu_it_says_how_to_get_a_figure(home, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # no nvidia-smi
    planned = plan_speed(resolve_model("qwen2.5-coder-7b"), None, batch_size=32, prompt_tokens=1000, completion_tokens=300)
    assert planned.speed is None and planned.unknown.startswith("no GPU visible; pass --gpu-kind H200")
    cpu = plan_speed(resolve_model("qwen2.5-coder-7b"), "cpu", batch_size=32, prompt_tokens=1000, completion_tokens=300)
    assert "synthgen models bench qwen2.5-coder-7b" in cpu.unknown
    store_figure("qwen2.5-coder-7b", "cpu", {"tokens_per_s": 3.5})
    cpu = plan_speed(resolve_model("qwen2.5-coder-7b"), "cpu", batch_size=32, prompt_tokens=1000, completion_tokens=300)
    assert cpu.speed.tokens_per_s == 3.5


def _dry_run(*args: str, home: Path, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SYNTHGEN_HOME": str(home), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "synthgen", "local", "--model", "qwen2.5-coder-32b", "--count", "2000",
                           "--dry-run", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_dry_run_prints_gpu_hours_with_its_basis(home):
    proc = _dry_run("--gpu-kind", "H200", home=home)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "model: qwen2.5-coder-32b (1 accelerator(s))" in out
    gpu_hours = next(line for line in out.splitlines() if "GPU-hours:" in line)
    assert "unknown" not in gpu_hours and "expected, at most" in gpu_hours
    assert "GPU-hours basis: estimate from memory bandwidth: H200 4.8 TB/s" in out
    assert "placement: tensor parallel 1 on 1 x NVIDIA H200" in out
    four = _dry_run("--gpu-kind", "8xA100-40GB", home=home)
    assert "(4 accelerator(s))" in four.stdout and "2 replicas possible, running 1" in four.stdout


def test_dry_run_without_a_gpu_or_one_too_small(home, tmp_path):
    proc = _dry_run(home=home, path=f"{tmp_path / 'no-tools'}{os.pathsep}{Path(sys.executable).parent}")
    assert proc.returncode == 0, proc.stderr
    assert "GPU-hours: unknown (no GPU visible; pass --gpu-kind H200" in proc.stdout
    small = _dry_run("--gpu-kind", "L4", home=home)
    assert "GPU-hours: unknown (it does not fit: model 'qwen2.5-coder-32b' does not fit 1 x NVIDIA L4" in small.stdout
    explicit = _dry_run("--gpu-kind", "2xH100", "--tensor-parallel", "1", home=home)
    assert "placement: tensor parallel 1" in explicit.stdout and "under the 8 sequences wanted" in explicit.stdout


def test_bad_flags_are_one_line_errors(home):
    proc = _dry_run("--gpu-kind", "H900", home=home)
    assert proc.returncode == 2 and "not a GPU kind synthgen knows" in proc.stderr and "Traceback" not in proc.stderr
    proc = _dry_run("--tensor-parallel", "0", home=home)
    assert proc.returncode == 2 and "--tensor-parallel must be from 1 to 64" in proc.stderr
