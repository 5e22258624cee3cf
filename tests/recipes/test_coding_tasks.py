"""The coding-tasks recipe with the fake engine: seeds in, planned cells, every check's
defect dropped with its reason, the strategies, presets, and bad input as one line.

Seed traces are mini-SWE-agent files written here (three kinds of task on one repository);
the real traces of ../shared/data are read by the e2e and kill tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from synthgen.errors import ConfigError
from synthgen.recipes import create_recipe

ROOT = Path(__file__).resolve().parents[2]
TASKS = [
    ("Fix the crash in the widget parser when the config file is empty", ["src/widgets/parser.py"], "bugfix"),
    ("Fix wrong rounding of widget sizes in the layout engine", ["src/widgets/layout.py"], "bugfix"),
    ("Add a --dry-run option to the widgets CLI that prints the plan", ["src/widgets/cli.py"], "feature"),
    ("Implement a JSON exporter for widget trees", ["src/widgets/export.py"], "feature"),
    ("Document the layout engine's sizing rules in the docs", ["docs/layout.md"], "docs"),
]


def trace(task: str, files: list[str], n: int) -> dict:
    edits = [{"role": "assistant", "content": f"THOUGHT\n```bash\ncat {f}\n```"} for f in files]
    edits += [{"role": "user", "content": "<returncode>0</returncode>\n<output>x</output>"}]
    edits += [{"role": "assistant", "content": f"```bash\nsed -i 's/a/b/' {f} && python -m pytest\n```"} for f in files]
    return {"trajectory_format": "mini-swe-agent-1", "instance_id": f"acme__widgets-{n}",
            "info": {"exit_status": "Submitted", "config": {"model": {"model_name": "m"}}},
            "messages": [{"role": "system", "content": "ONE bash block"},
                         {"role": "user", "content": f"<pr_description>\nConsider the following PR description:\n{task}\n</pr_description>"},
                         *edits]}


@pytest.fixture()
def seeds_dir(tmp_path) -> Path:
    folder = tmp_path / "traces"
    folder.mkdir()
    for n, (task, files, _) in enumerate(TASKS):
        (folder / f"t{n}.traj.json").write_text(json.dumps(trace(task, files, n)))
    return folder


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_FAKE_")}
    return dict(base, PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models))


def synthgen(env: dict[str, str], *args: str, **knobs: str) -> subprocess.CompletedProcess:
    extra = {f"SYNTHGEN_FAKE_{k.upper()}": v for k, v in knobs.items()}
    return subprocess.run([sys.executable, "-m", "synthgen", *args], env={**env, **extra}, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_cells_come_in_the_seeds_proportions(seeds_dir):
    recipe = create_recipe("coding-tasks", {"traces": str(seeds_dir)})
    assert recipe.targets(10) == {("acme/widgets", "bugfix"): 4, ("acme/widgets", "docs"): 2, ("acme/widgets", "feature"): 4}
    assert "multiplier 2" in recipe.describe(10)[0] and "5 traces" in recipe.describe(10)[0]
    item = recipe.planner(3).item(0, "acme/widgets", "bugfix")
    assert item == recipe.planner(3).item(0, "acme/widgets", "bugfix")  # a pure function of (seed, index, cell)
    assert set(item.files) >= {"src/widgets/parser.py", "src/widgets/layout.py"} and item.tools == ("bash",)
    schema = recipe.request_for(item, temperature=0.8, seeded=True).json_schema
    assert schema["properties"]["task_kind"] == {"enum": ["bugfix"]}
    assert "Fix the crash in the widget parser" in item.messages[-1]["content"] or "wrong rounding" in item.messages[-1]["content"]


def test_every_defect_is_dropped_with_its_own_reason(tmp_path, seeds_dir, env):
    args = ["generate", "--recipe", "coding-tasks", "--traces", str(seeds_dir), "--model", "fake", "--count", "10",
            "--batch-size", "8", "--max-candidates", "200"]
    clean = synthgen(env, *args, "--output", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert read(tmp_path / "clean" / "rejected.jsonl") == [] and read(tmp_path / "clean" / "failed_prompts.jsonl") == []
    for knob, reason in (("bad_files_rate", "implausible_files"), ("copy_rate", "dup_seed"), ("kind_rate", "kind_mismatch"),
                         ("garbage_rate", "malformed_output"), ("duplicate_rate", "dup_exact")):
        out = tmp_path / knob
        proc = synthgen(env, *args, "--output", str(out), **{knob: "0.3"})
        assert proc.returncode == 0, (knob, proc.stderr[-2000:])
        found = Counter(r["reason"] for r in read(out / "rejected.jsonl") + read(out / "failed_prompts.jsonl"))
        assert found[reason] > 0 and set(found) <= {reason, "quota_full"}, (knob, found)
        records = read(out / "data.jsonl")
        assert len(records) == 10 and all(r["plan"] and r["language"] == "Python" or r["language"] == "Markdown" for r in records)


def test_records_carry_the_task_and_its_generated_plan_as_a_chat_example(tmp_path, seeds_dir, env):
    out = tmp_path / "run"
    proc = synthgen(env, "generate", "--recipe", "coding-tasks", "--traces", str(seeds_dir), "--model", "fake", "--count", "6",
                    "--strategy", "augmented", "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    recipe = create_recipe("coding-tasks", {"traces": str(seeds_dir), "strategy": "augmented"})
    for r in read(out / "data.jsonl"):
        assert r["task_type"] == "CODING_TASK" and r["strategy"] == "augmented" and len(r["seed_trace_ids"]) == 1
        assert r["repository"] == "acme/widgets" and set(r["expected_tools"]) <= {"bash"}
        turns = recipe.chat_turns(r)
        assert [t["role"] for t in turns] == ["system", "user", "assistant"] and turns[1]["content"] == r["prompt"]
        assert r["target_files"][0] in turns[2]["content"]  # the answer is the generated plan, not a placeholder
        assert recipe.chat_turns({**r, "plan": None}) is None  # no answer: no chat example at all


def test_schema_driven_plans_from_a_real_checkout(tmp_path, seeds_dir, env):
    out = tmp_path / "run"
    proc = synthgen(env, "generate", "--recipe", "coding-tasks", "--traces", str(seeds_dir), "--model", "fake", "--count", "6",
                    "--strategy", "schema_driven", "--repo-dir", str(ROOT), "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = read(out / "data.jsonl")
    assert len(records) == 6 and {r["repository"] for r in records} == {"synthgen"}
    for r in records:
        assert all((ROOT / f).is_file() or (ROOT / f).parent.is_dir() for f in r["target_files"]), r["target_files"]


def test_presets_set_the_count_and_count_overrides_them(seeds_dir, env):
    base = ["generate", "--recipe", "coding-tasks", "--traces", str(seeds_dir), "--model", "fake", "--dry-run"]
    assert "plan: 500 examples" in synthgen(env, *base, "--preset", "balanced").stdout
    assert "plan: 2000 examples" in synthgen(env, *base, "--preset", "production").stdout
    assert "plan: 100 examples" in synthgen(env, *base, "--preset", "quick_test").stdout
    assert "plan: 42 examples" in synthgen(env, *base, "--preset", "balanced", "--count", "42").stdout


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "empty folder"),
    (lambda p: (p / "notes.md").write_text("# just notes\n"), "not a trace"),
    (lambda p: (p / "t.traj.json").write_text(json.dumps({"trajectory_format": "mini-swe-agent-1", "messages": [
        {"role": "assistant", "content": "```bash\nls\n```"}]})), "no seed trace could be read"),
])
def test_no_usable_seed_is_one_line_not_zero_tasks(tmp_path, env, make, message):
    folder = tmp_path / "traces"
    folder.mkdir()
    make(folder)
    proc = synthgen(env, "generate", "--recipe", "coding-tasks", "--traces", str(folder), "--model", "fake", "--count", "5",
                    "--output", str(tmp_path / "out"))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_option_errors_are_one_line(seeds_dir):
    with pytest.raises(ConfigError, match="needs --repo-dir"):
        create_recipe("coding-tasks", {"traces": str(seeds_dir), "strategy": "schema_driven"})
    with pytest.raises(ConfigError, match="needs seed traces"):
        create_recipe("coding-tasks", {})
    with pytest.raises(ConfigError, match="strategy"):
        create_recipe("coding-tasks", {"traces": str(seeds_dir), "strategy": "magic"})
    with pytest.raises(ConfigError, match="not a folder"):
        create_recipe("coding-tasks", {"traces": str(seeds_dir), "strategy": "schema_driven", "repo_dir": "/no/such/dir"})


def test_the_plan_does_not_depend_on_the_processs_hash_seed(seeds_dir):
    """A resumed run (or a test replaying a plan) is another process with another hash seed:
    schema_driven items, built from a checkout's sets of files, must come out the same."""
    code = ("import json, sys; from synthgen.recipes import create_recipe; "
            f"r = create_recipe('coding-tasks', {{'traces': {str(seeds_dir)!r}, 'strategy': 'schema_driven', 'repo_dir': {str(ROOT)!r}}}); "
            "t = r.targets(6); items = r.planner(0).next_items({c: n for c, n in t.items() if n}, 6); "
            "print(json.dumps([[i.messages, i.files, i.folders, r.schema_for(i)] for i in items]))")
    outs = [subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT)),
                           capture_output=True, text=True, check=True, cwd=ROOT).stdout for seed in ("1", "2", "3")]
    assert outs[0] == outs[1] == outs[2]
