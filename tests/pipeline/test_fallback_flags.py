"""--fallback's flags: a wrong one is a one-line error before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("args", "says"), [
    (["--fallback-provider", "nim"], "--fallback-provider and --fallback-base-url need --fallback MODEL"),
    (["--fallback", "qwen2.5-coder-7b"], "runs on the vllm backend, not an endpoint"),
    (["--fallback", "nope-model"], "unknown model"),
    (["--fallback", "x", "--fallback-provider", "nope"], "unknown provider 'nope'"),
])
def test_bad_fallback_flags(tmp_path, args, says):
    proc = subprocess.run([sys.executable, "-m", "synthgen", "generate", "--output", str(tmp_path / "r"), "--count", "2", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2 and says in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "r").exists()


def test_the_fallback_is_part_of_the_fingerprint():
    from synthgen.models import list_models
    from synthgen.pipeline.config import RunConfig, fingerprint
    from synthgen.recipes import create_recipe

    recipe = create_recipe("nl2dot", {})
    spec = list_models()["smollm2-135m"]
    plain = fingerprint(RunConfig(output=Path("x")), recipe, spec)
    with_fallback = fingerprint(RunConfig(output=Path("x"), fallback_spec=list_models()["nim-qwen2.5-coder-32b"]), recipe, spec)
    assert "fallback" not in plain and with_fallback["fallback"] == "nim-qwen2.5-coder-32b"
