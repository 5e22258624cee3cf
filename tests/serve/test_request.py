"""A job request becomes the command line the CLI would run, checked by the recipe's own
options and the CLI's bounds; the seed plan's fields map onto them; a request names no
file of the server outside its data folder. (No process is started: ``max_jobs=0``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgen.errors import ConfigError
from synthgen.serve.jobs import JobError, JobManager, gpu_groups
from synthgen.serve.request import JobRequest, confine
from tests.recipes.test_coding_tasks import trace


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    traces = folder / "traces"
    traces.mkdir(parents=True)
    tasks = [("Fix the crash in the widget parser when the config file is empty", ["src/widgets/parser.py"]),
             ("Add a --dry-run option to the widgets CLI that prints the plan", ["src/widgets/cli.py"]),
             ("Document the layout engine's sizing rules in the docs", ["docs/layout.md"])]
    for n, (task, files) in enumerate(tasks):
        (traces / f"w{n}.traj.json").write_text(json.dumps(trace(task, files, n)))
        other = trace(task.replace("widget", "gadget"), [f.replace("widgets", "gadgets") for f in files], n)
        other["instance_id"] = f"acme__gadgets-{n}"
        (traces / f"g{n}.traj.json").write_text(json.dumps(other))
    return folder


@pytest.fixture()
def manager(tmp_path: Path, data_dir: Path, monkeypatch) -> JobManager:
    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: x\n")
    monkeypatch.setenv("SYNTHGEN_MODELS_DIR", str(models))
    m = JobManager(tmp_path / "jobs", max_jobs=0, data_dir=data_dir, max_count=5000)
    yield m
    m.store.close()


def submit(manager: JobManager, **fields) -> dict:
    return manager.submit(JobRequest(**{"model": "fake", **fields}))


def arg(job: dict, flag: str) -> str:
    return job["argv"][job["argv"].index(flag) + 1]


def test_a_request_is_the_cli_command(manager):
    job = submit(manager, count=40, seed=7, batch_size=8, max_cost=2.5, validate_semantics=True, name="run-a",
                 recipe_options={"domains": "game_ai,robotics", "complexity": "20/60/20"})
    assert job["status"] == "queued" and job["count"] == 40
    argv = job["argv"]
    assert argv[0] == "generate" and arg(job, "--model") == "fake" and arg(job, "--count") == "40" and arg(job, "--seed") == "7"
    assert arg(job, "--output") == str(manager.runs / "run-a") and "--validate-semantics" in argv
    assert arg(job, "--batch-size") == "8" and arg(job, "--max-cost") == "2.5"
    options = Path(arg(job, "--recipe-config")).read_text()
    assert "game_ai,robotics" in options and "20/60/20" in options


@pytest.mark.parametrize(("fields", "count"), [({"preset": "quick_test"}, 100), ({"preset": "balanced"}, 500),
                                               ({"preset": "production"}, 2000), ({"target_examples": 33}, 33),
                                               ({"count": 12, "target_examples": 12}, 12), ({}, 100)])
def test_counts_from_the_seed_plans_fields(manager, fields, count):
    assert submit(manager, **fields)["count"] == count


@pytest.mark.parametrize(("fields", "says"), [
    ({"count": 5, "target_examples": 6}, "count and target_examples differ"),
    ({"preset": "custom"}, "preset custom needs count"),
    ({"multiplier": 2}, "has no seeds to multiply"),
    ({"strategy": "augmented"}, "strategy: recipe 'nl2dot' has no such option"),
    ({"count": 6000}, "more than this server's limit of 5,000"),
    ({"recipe": "tests.recipes.toy_haiku:HaikuRecipe"}, "unknown recipe"),
    ({"model": "/etc"}, "unknown model '/etc'"),
    ({"judge_model": "../models/x", "validate_semantics": True}, "unknown judge model"),
    ({"provider": "nope"}, "unknown provider 'nope'"),
    ({"recipe_options": {"domains": "atlantis"}}, "atlantis"),
    ({"recipe_options": {"colour": 1}}, "colour"),
    ({"name": "../up"}, "name '../up'"),
    ({"name": "a/b"}, "name 'a/b'"),
    ({"recipe_options": {"templates": "/etc"}}, "must be a relative path"),
    ({"recipe_options": {"templates": "../../etc"}}, "must be a relative path"),
])
def test_bad_requests_are_one_line_422s(manager, fields, says):
    with pytest.raises(JobError) as err:
        submit(manager, **fields)
    assert err.value.status == 422 and says in str(err.value) and "\n" not in str(err.value)
    assert manager.store.list()[1] == 0  # nothing queued


def test_a_taken_name_is_409(manager):
    submit(manager, name="same")
    with pytest.raises(JobError) as err:
        submit(manager, name="same")
    assert err.value.status == 409


def test_coding_tasks_multiplier_strategy_and_selected_repos(manager):
    base = {"recipe": "coding-tasks", "recipe_options": {"traces": "traces"}}
    both = submit(manager, multiplier=3, strategy="augmented", **base)
    assert both["count"] == 18  # 3 tasks per seed x 6 seed traces
    one = submit(manager, multiplier=3, selected_repos=["acme/gadgets"], **base)
    assert one["count"] == 9
    options = Path(arg(one, "--recipe-config")).read_text()
    assert "acme/gadgets" in options and str(manager.data_dir / "traces") in options
    with pytest.raises(JobError) as err:
        submit(manager, multiplier=1, selected_repos=["acme/nothing"], **base)
    assert "'acme/nothing' is not among the seeds' repositories" in str(err.value) and "acme/widgets" in str(err.value)


def test_path_options_are_confined_to_the_data_folder(tmp_path, data_dir):
    assert confine("traces", data_dir, "traces") == str((data_dir / "traces").resolve())
    (data_dir / "escape").symlink_to("/etc")
    for bad in ("/etc/passwd", "../x", "traces/../../x", "escape/passwd", "a\\..\\b"):
        with pytest.raises(ConfigError):
            confine(bad, data_dir, "traces")
    with pytest.raises(ConfigError, match="this server takes none"):
        confine("traces", None, "traces")


@pytest.mark.parametrize(("gpus", "jobs", "visible", "groups"), [
    (0, 1, None, []),
    (1, 1, None, ["0"]),
    (8, 8, None, [str(i) for i in range(8)]),
    (8, 2, None, ["0,1,2,3", "4,5,6,7"]),
    (8, 3, None, ["0,1", "2,3", "4,5"]),
    (4, 8, None, ["0", "1", "2", "3"]),
    (2, 2, "5,7", ["5", "7"]),
    (2, 1, "GPU-aaaa,GPU-bbbb", ["GPU-aaaa,GPU-bbbb"]),
])
def test_each_job_slot_sees_its_own_gpus(gpus, jobs, visible, groups):
    assert gpu_groups(gpus, jobs, visible) == groups


def test_a_job_waits_for_a_free_gpu_group(tmp_path, monkeypatch):
    models = tmp_path / "models"
    models.mkdir()
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: x\n")
    monkeypatch.setenv("SYNTHGEN_MODELS_DIR", str(models))
    m = JobManager(tmp_path / "jobs", max_jobs=4, gpus=["0", "1"])
    try:
        assert m.max_jobs == 2  # no more jobs at once than GPU groups
        import psutil

        held = m.submit(JobRequest(model="fake", count=2))
        m._procs[held["id"]].wait(timeout=60)
        m.tick()
        m.store.update(held["id"], status="running", gpus="0")  # as if an adopted job held GPU 0
        m._procs[held["id"]] = psutil.Process()  # a live process: this one
        nxt = m.submit(JobRequest(model="fake", count=2))
        proc = m._procs[nxt["id"]]
        assert m.get(nxt["id"])["gpus"] == "1"
        assert psutil.Process(proc.pid).environ().get("CUDA_VISIBLE_DEVICES") == "1"
        proc.wait(timeout=60)
    finally:
        m._procs.pop(held["id"], None)
        m.store.close()
