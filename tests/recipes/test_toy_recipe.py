"""The recipe interface, proven by a recipe the runtime has never heard of.

``toy_haiku.HaikuRecipe`` lives only in this folder. ``synthgen generate --recipe
toy_haiku:HaikuRecipe`` runs it through the real CLI, runner, dedup, quota, sink and resume;
the fake engine answers through the recipe's own ``fake_answer`` hook. Nothing under
``synthgen/`` names it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = "toy_haiku:HaikuRecipe"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_FAKE_")}
    return dict(base, PYTHONPATH=f"{ROOT}{os.pathsep}{Path(__file__).parent}", SYNTHGEN_MODELS_DIR=str(models),
                SYNTHGEN_FAKE_DUPLICATE_RATE="0.25", SYNTHGEN_FAKE_GARBAGE_RATE="0.1", SYNTHGEN_FAKE_WRONG_SEASON_RATE="0.2")


def synthgen(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "synthgen", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_recipe_from_outside_synthgen_runs_stops_and_resumes(tmp_path, env):
    config = tmp_path / "haiku.yaml"
    config.write_text("topics: [the sea, a city at night, an old dog, rain on a tin roof]\nseasons: [winter, summer]\n")
    out = tmp_path / "run"
    args = ["generate", "--recipe", RECIPE, "--recipe-config", str(config), "--model", "fake", "--count", "12",
            "--batch-size", "4", "--seed", "2", "--output", str(out)]
    first = synthgen(env, *args, "--max-candidates", "8")
    assert first.returncode == 6, first.stderr[-2000:]  # stopped:cap, resumable
    assert "--resume" in first.stderr
    kept = read(out / "data.jsonl")
    assert 0 < len(kept) < 12

    second = synthgen(env, *args, "--resume")
    assert second.returncode == 0, second.stderr[-2000:]
    records = read(out / "data.jsonl")
    assert records[: len(kept)] == kept and len(records) == 12
    assert len({r["id"] for r in records}) == 12 and len({r["provenance"]["run_id"] for r in records}) == 1
    assert all(r["task_type"] == "HAIKU" and len(r["lines"]) == 3 for r in records)
    assert all(r["provenance"]["source"] == "synthetic-fake" and r["validation"]["hashes"]["exact"].startswith("x1:")
               for r in records)
    # quotas: 12 over (winter, summer) x (calm, wistful), by the season each haiku names
    assert Counter((r["season"], r["mood"]) for r in records) == {(s, m): 3 for s in ("winter", "summer")
                                                                   for m in ("calm", "wistful")}
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "completed" and state["fingerprint"]["recipe"] == "toy-haiku"
    assert state["quota"] == {f"{s}/{m}": [3, 3] for s in ("summer", "winter") for m in ("calm", "wistful")}
    # the generic steps did their work on this recipe's keys and cells, and counted it
    rejected, failed = read(out / "rejected.jsonl"), read(out / "failed_prompts.jsonl")
    reasons = Counter(r["reason"] for r in rejected)
    assert reasons["dup_exact"] > 0 and set(reasons) <= {"dup_exact", "dup_near", "quota_full"}
    assert failed and {f["reason"] for f in failed} == {"malformed_output"}
    counters = state["counters"]
    assert set(counters) == {"parse", "measure", "dedup", "quota"}
    assert counters["quota"]["forwarded"] == 12
    assert counters["dedup"].get("dropped_dup_exact", 0) == reasons["dup_exact"]
    assert state["candidates"] == 12 + len(rejected) + len(failed)
    assert "12 of 12" in second.stdout


def test_its_options_are_checked_and_its_plan_is_shown(tmp_path, env):
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics: [x]\nseason: [winter]\n")  # a typo: 'season'
    proc = synthgen(env, "generate", "--recipe", RECIPE, "--recipe-config", str(bad), "--model", "fake", "--dry-run")
    assert proc.returncode == 2 and "season" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    proc = synthgen(env, "generate", "--recipe", RECIPE, "--model", "fake", "--count", "8", "--domains", "robotics", "--dry-run")
    assert proc.returncode == 2 and "--domains is an option of recipe nl2dot" in proc.stderr
    proc = synthgen(env, "generate", "--recipe", RECIPE, "--model", "fake", "--count", "8", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "recipe toy-haiku 0.1" in proc.stdout and "season" in proc.stdout and "wistful" in proc.stdout
    proc = synthgen(env, "generate", "--recipe", "no-such-recipe", "--model", "fake", "--dry-run")
    assert proc.returncode == 2 and "unknown recipe 'no-such-recipe'" in proc.stderr and "nl2dot" in proc.stderr


def test_nothing_under_synthgen_names_the_toy_recipe():
    hits = [p for p in (ROOT / "synthgen").rglob("*.py") if "haiku" in p.read_text().lower()]
    assert hits == []
