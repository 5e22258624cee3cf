"""Fake-engine run folders for the report tests, and a real browser (Debian's chromium
driven by Playwright) for the page tests; those skip, saying why, where either is absent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFECTS = {"SYNTHGEN_FAKE_GARBAGE_RATE": "0.05", "SYNTHGEN_FAKE_ERROR_RATE": "0.03", "SYNTHGEN_FAKE_DUPLICATE_RATE": "0.1",
           "SYNTHGEN_FAKE_JUDGE_NO_RATE": "0.1", "SYNTHGEN_FAKE_INVALID_RATE": "0.05"}


@pytest.fixture(scope="session")
def env(tmp_path_factory) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\nlicense: Apache-2.0\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_FAKE_")}
    return dict(base, PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models))


def generate(env: dict[str, str], out: Path, *args: str, knobs: dict[str, str] | None = None) -> Path:
    cmd = [sys.executable, "-m", "synthgen", "generate", "--model", "fake", "--output", str(out), *args]
    proc = subprocess.run(cmd, env={**env, **(knobs or {})}, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(scope="session")
def defect_run(tmp_path_factory, env) -> Path:
    """120 accepted records of a run with every kind of drop: failed, rejected by validate,
    judge, dedup and quota."""
    return generate(env, tmp_path_factory.mktemp("runs") / "defects", "--count", "120", "--seed", "3", "--batch-size", "32",
                    "--validate-semantics", knobs=DEFECTS)


@pytest.fixture()
def run_copy(tmp_path, defect_run) -> Path:
    """A copy of the defect run this test may change."""
    copy = tmp_path / "run"
    shutil.copytree(defect_run, copy, ignore=shutil.ignore_patterns("report.*"))
    return copy


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def write_lines(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def chromium_path() -> str | None:
    found = os.environ.get("SYNTHGEN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and os.access(found, os.X_OK) else None


