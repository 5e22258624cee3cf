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


@pytest.fixture(scope="module")
def huge_folder(tmp_path_factory) -> Path:
    """A local model folder holding the real config.json of Llama-3.1-405B (about 1 TB in
    bf16) and no weights: only the up-front estimate can refuse it, from the config."""
    from backends.test_memory_estimate import LLAMA_405B

    folder = tmp_path_factory.mktemp("models") / "llama-405b"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA_405B))
    return folder


@pytest.fixture(scope="module")
def truncated_folder(tmp_path_factory) -> Path:
    """The embedded model with its safetensors file cut to 100 MB of its 538 MB, as a copy
    interrupted halfway leaves it."""
    from synthgen.embedded import ensure_embedded_model

    source = ensure_embedded_model()
    folder = tmp_path_factory.mktemp("models") / "smollm2-truncated"
    folder.mkdir()
    for path in source.iterdir():
        if path.name == "model.safetensors":
            with path.open("rb") as whole:
                (folder / path.name).write_bytes(whole.read(100_000_000))
        elif path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    return folder


@pytest.mark.slow
def test_try_model_too_big_for_memory(tmp_path):
    from synthgen.embedded import ensure_embedded_model

    folder = ensure_embedded_model()
    (tmp_path / "huge.yaml").write_text(
        f"alias: huge\nbackend: transformers\nsource:\n  path: {folder}\nmin_memory_gb: 100000\n"
    )
    proc = synthgen("try", "--model", "huge", "x", env={"SYNTHGEN_MODELS_DIR": str(tmp_path)})
    assert_one_line_error(proc, 3, "needs about 100000.0 GB")


TOO_BIG = "needs about 1055.2 GB (405.85B parameters x 2 bytes, from config.json)"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["vllm", "transformers"])
def test_try_folder_whose_config_cannot_fit(huge_folder, backend):
    pytest.importorskip(backend)
    proc = synthgen("try", "--backend", backend, "--model", str(huge_folder), "x")
    assert_one_line_error(proc, 3, TOO_BIG, "of RAM is available" if backend == "vllm" else "is available")


@pytest.mark.slow
def test_try_too_big_with_debug_shows_traceback(huge_folder):
    proc = synthgen("--debug", "try", "--backend", "transformers", "--model", str(huge_folder), "x")
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "BackendError" in proc.stderr


@pytest.mark.slow
def test_generate_folder_whose_config_cannot_fit(huge_folder, tmp_path):
    pytest.importorskip("vllm")
    proc = synthgen("generate", "--model", str(huge_folder), "--count", "2", "--output", str(tmp_path / "run"))
    assert_one_line_error(proc, 3, TOO_BIG)
    assert "--resume" not in proc.stderr  # the model must change: resuming the same run can't help


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
    if "synthgen-vllm-" in proc.stderr:  # the engine wrote something before failing
        _engine_log(proc.stderr).unlink()


@pytest.mark.slow
@pytest.mark.engine
def test_try_truncated_weights_on_transformers(truncated_folder):
    proc = synthgen("try", "--backend", "transformers", "--model", str(truncated_folder), "x")
    assert_one_line_error(proc, 3, "transformers could not load", "SafetensorError")
    debug = synthgen("--debug", "try", "--backend", "transformers", "--model", str(truncated_folder), "x")
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "SafetensorError" in debug.stderr


def _engine_log(line: str) -> Path:
    [path] = [word.rstrip(";") for word in line.split() if "synthgen-vllm-" in word]
    return Path(path)


@pytest.mark.slow
@pytest.mark.engine
def test_try_truncated_weights_on_vllm(truncated_folder):
    """The engine core's worker fails loading the weights: vLLM prints three chained
    tracebacks from three processes. synthgen shows one line with the root cause and the
    log that holds the engine's output."""
    pytest.importorskip("vllm")
    proc = synthgen("try", "--backend", "vllm", "--model", str(truncated_folder), "x",
                    env={"VLLM_CPU_KVCACHE_SPACE": "1"})
    assert_one_line_error(proc, 3, "vLLM could not start", "SafetensorError: Error while deserializing header",
                          "weights look damaged")
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [proc.stderr.strip()]
    log = _engine_log(proc.stderr)
    assert "Traceback" in log.read_text() and "SafetensorError" in log.read_text()
    log.unlink()


@pytest.mark.slow
@pytest.mark.engine
def test_generate_truncated_weights_on_vllm(truncated_folder, tmp_path):
    pytest.importorskip("vllm")
    proc = synthgen("generate", "--model", str(truncated_folder), "--count", "2", "--output", str(tmp_path / "run"),
                    env={"VLLM_CPU_KVCACHE_SPACE": "1"})
    assert_one_line_error(proc, 3, "vLLM could not start", "SafetensorError")
    _engine_log(proc.stderr).unlink()


@pytest.mark.parametrize("model", ["qwen-nope", "./no/such/folder"])
def test_generate_bad_model_is_one_line_and_debug_shows_traceback(model, tmp_path):
    args = ["generate", "--model", model, "--count", "2", "--output", str(tmp_path / "run")]
    words = ["unknown model 'qwen-nope'", "smollm2-135m"] if model == "qwen-nope" else ["does not exist"]
    assert_one_line_error(synthgen(*args), 2, *words)
    assert not (tmp_path / "run").exists()
    debug = synthgen("--debug", *args)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "synthgen.errors." in debug.stderr


def test_try_missing_local_path_with_debug_shows_traceback(tmp_path):
    proc = synthgen("--debug", "try", "--model", str(tmp_path / "absent"), "x")
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "does not exist" in proc.stderr


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
