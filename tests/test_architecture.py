"""The shape of the code, checked by import-linter (contracts in .importlinter) and ruff.

The runtime imports no recipe and no DOT code, the model registry no backend, export and
report never the runner, compare only the engine-call path, and lower layers never higher ones. ``make test`` runs both tools
before pytest; these tests run them too and show a broken contract is caught.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed (pip install 'synthgen[dev]')")
    return str(path)


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root), COLUMNS="250")
    return subprocess.run([tool("lint-imports"), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "broken" not in proc.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize("module,line,contract", [
    ("steps/quota.py", "import synthgen.dot.features", "Runtime imports no recipe and no DOT code"),
    ("pipeline/runner.py", "from synthgen.recipes.nl2dot import recipe", "Runtime imports no recipe and no DOT code"),
    ("models.py", "import synthgen.backends.vllm", "imports no backend"),
    ("steps/base.py", "import synthgen.pipeline.runner", "Lower layers never import higher ones"),
    ("compare/judge.py", "import synthgen.pipeline.runner", "Compare reads run folders"),
])
def test_a_broken_contract_fails_the_check(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "synthgen", tmp_path / "synthgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    with open(tmp_path / "synthgen" / module, "a") as fh:
        fh.write(f"\n{line}  # noqa: E402,F401\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0
    broken = [ln for ln in proc.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(contract in ln for ln in broken) or contract in proc.stdout.split("Broken contracts")[-1], proc.stdout[-2000:]


def test_ruff_is_clean():
    proc = subprocess.run([tool("ruff"), "check", "synthgen", "tests", "bench"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
