"""nl2dot behind the recipe interface writes what it wrote before (fixtures made by the code
before the change: tests/pipeline/fixtures/nl2dot_v1/README.md), and a run folder from
before still resumes.

Real parse, Graphviz, measure, judge, dedup, quota and sink; the fake engine answers
through nl2dot's fake-answer hook, as it answered before from its own copy of that code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.golden import differences

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "nl2dot_v1"
KNOBS_A = {"SYNTHGEN_FAKE_INVALID_RATE": "0.1", "SYNTHGEN_FAKE_GARBAGE_RATE": "0.05", "SYNTHGEN_FAKE_ERROR_RATE": "0.05",
           "SYNTHGEN_FAKE_DUPLICATE_RATE": "0.2", "SYNTHGEN_FAKE_JUDGE_NO_RATE": "0.1"}
ARGS_A = ["--count", "24", "--seed", "5", "--batch-size", "8", "--validate-semantics"]
KNOBS_B = {"SYNTHGEN_FAKE_INVALID_RATE": "0.1", "SYNTHGEN_FAKE_GARBAGE_RATE": "0.05"}
ARGS_B = ["--count", "20", "--seed", "9", "--batch-size", "6", "--complexity", "40/40/20"]

pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    (folder / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n"
                                      "throughput_tokens_per_s: 500\nthroughput_source: made up for tests\n")
    return folder


def generate(out: Path, models: Path, knobs: dict[str, str], args: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_FAKE_")}
    env.update(knobs, PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models))
    cmd = [sys.executable, "-m", "synthgen", "generate", "--model", "fake", *args, "--output", str(out)]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


# Steps added since the fixtures were written (nl2dot's quality checks): the fake engine's
# clean answers pass them, so they must forward every sample and leave the rest unchanged.
ADDED_STEPS = ("request", "graph")


def counters_and_quota(folder: Path) -> tuple:
    state = json.loads((folder / "run.json").read_text())
    counters = dict(state["counters"])
    for step in ADDED_STEPS:
        added = counters.pop(step, None)
        assert added is None or added["total"] == added["forwarded"], (step, added)
    return counters, state["quota"], state["candidates"], state["status"], state["fingerprint"]


@pytest.mark.parametrize("fixture,knobs,args", [("full_judge_dups", KNOBS_A, ARGS_A), ("full", KNOBS_B, ARGS_B)])
def test_same_seed_same_records_as_before(tmp_path, models, fixture, knobs, args):
    proc = generate(tmp_path / "run", models, knobs, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert differences(FIXTURES / fixture, tmp_path / "run") == []
    assert counters_and_quota(tmp_path / "run") == counters_and_quota(FIXTURES / fixture)


def test_a_run_folder_from_before_resumes(tmp_path, models):
    folder = tmp_path / "run"
    shutil.copytree(FIXTURES / "partial_budget", folder)
    assert json.loads((folder / "run.json").read_text())["status"] == "stopped:budget"
    proc = generate(folder, models, KNOBS_B, [*ARGS_B, "--resume"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert differences(FIXTURES / "full", folder) == []
    counters, quota, candidates, status, fp = counters_and_quota(folder)
    assert (counters, quota, candidates, status) == counters_and_quota(FIXTURES / "full")[:4]
    assert fp == counters_and_quota(FIXTURES / "partial_budget")[4]  # the old fingerprint is accepted as is
