"""Shared test setup.

- SYNTHGEN_HOME points at .pytest_cache/synthgen-home so the embedded model is converted
  once and reused across runs, never in the user's real cache.
- ``shared_data`` is ../shared/data (read-only); tests that need it skip, saying why,
  where it is absent.
"""

from __future__ import annotations

import os
import shutil
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
