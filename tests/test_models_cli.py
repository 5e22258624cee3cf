"""`synthgen models` and `synthgen try` through the real CLI: outputs, and every error as
one line with a hint, a non-zero exit and no traceback (unless --debug)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def synthgen(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("SYNTHGEN_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, cwd=ROOT,
                          env=full_env, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("synthgen: error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "(hint:" in lines[0]
    for needle in needles:
        assert needle in lines[0]


def test_models_list_shows_every_alias_with_details():
    proc = synthgen("models", "list")
    assert proc.returncode == 0, proc.stderr
    for alias in ("smollm2-135m", "qwen2.5-coder-7b", "qwen2.5-coder-32b", "nim-qwen2.5-coder-32b", "gpt-4o-mini",
                  "gemini-2.0-flash"):
        assert alias in proc.stdout
    assert "0.15 / 0.6" in proc.stdout and "Apache-2.0" in proc.stdout and "135M" in proc.stdout


def test_try_unknown_alias():
    assert_one_line_error(synthgen("try", "--model", "qwen-nope", "x"), 2, "unknown model 'qwen-nope'", "smollm2-135m")


def test_try_unknown_alias_with_debug_shows_traceback():
    proc = synthgen("--debug", "try", "--model", "qwen-nope", "x")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_try_missing_local_path(tmp_path):
    assert_one_line_error(synthgen("try", "--model", str(tmp_path / "absent"), "x"), 2, "does not exist")


def test_try_unknown_backend():
    assert_one_line_error(synthgen("try", "--backend", "tgi", "x"), 2, "unknown backend 'tgi'", "vllm")


@pytest.mark.slow
def test_try_model_too_big_for_memory(tmp_path):
    from synthgen.backends.embedded import ensure_embedded_model

    folder = ensure_embedded_model()
    (tmp_path / "huge.yaml").write_text(
        f"alias: huge\nbackend: transformers\nsource:\n  path: {folder}\nmin_memory_gb: 100000\n"
    )
    proc = synthgen("try", "--model", "huge", "x", env={"SYNTHGEN_MODELS_DIR": str(tmp_path)})
    assert_one_line_error(proc, 3, "needs about 100000.0 GB")


@pytest.mark.slow
@pytest.mark.engine
def test_try_engine_that_fails_to_start(tmp_path):
    """A folder vLLM cannot run (unknown architecture): vLLM's exception becomes one line."""
    pytest.importorskip("vllm")
    bad = tmp_path / "bad-model"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"architectures": ["NoSuchForCausalLM"], "model_type": "no_such"}))
    proc = synthgen("try", "--model", str(bad), "x", env={"VLLM_CPU_KVCACHE_SPACE": "1"})
    assert_one_line_error(proc, 3, "vLLM could not start")


def test_pull_api_model_has_nothing_to_pull(tmp_path):
    assert_one_line_error(synthgen("models", "pull", "gpt-4o-mini", "--to", str(tmp_path / "m")), 2, "nothing to pull")


def test_pull_hub_model_offline_is_a_clear_error(tmp_path):
    proc = synthgen("models", "pull", "qwen2.5-coder-1.5b", "--to", str(tmp_path / "m"), env={"HF_HUB_OFFLINE": "1"})
    assert_one_line_error(proc, 3, "HF_HUB_OFFLINE")


@pytest.mark.slow
def test_pull_embedded_model_makes_a_runnable_folder(tmp_path):
    target = tmp_path / "smol"
    proc = synthgen("models", "pull", "smollm2-135m", "--to", str(target))
    assert proc.returncode == 0, proc.stderr
    assert (target / "config.json").is_file() and (target / "model.safetensors").is_file()
    assert (target / "tokenizer.json").is_file()
    from synthgen.models import resolve_model

    spec = resolve_model(str(target))  # an air-gapped box runs it by path
    assert spec.source.path == str(target.resolve())
    again = synthgen("models", "pull", "smollm2-135m", "--to", str(target))
    assert_one_line_error(again, 2, "not empty")


@pytest.mark.slow
@pytest.mark.engine
@pytest.mark.graphviz
def test_try_prints_request_dot_and_counts(require_graphviz):
    proc = synthgen("try", "--backend", "transformers", "--complexity", "simple", "a TCP handshake state machine")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Request:" in proc.stdout and "graph " in proc.stdout
    assert "finish=stop" in proc.stdout and "completion_tokens=" in proc.stdout and "graphviz=ok" in proc.stdout
