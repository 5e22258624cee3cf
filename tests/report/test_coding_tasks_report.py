"""The report of a coding-tasks run (fake engine, mini-SWE-agent seed traces written here):
cells of (repository, kind), languages, tools and file extensions, and the task preview."""

from __future__ import annotations

import json

import pytest

from synthgen.recipes import recipe_class
from synthgen.report.build import report
from tests.recipes.test_coding_tasks import TASKS, trace
from tests.report.conftest import generate, lines

HOSTILE = '<script>alert(1)</script>" onmouseover="alert(2)'


@pytest.fixture(scope="module")
def tasks_run(tmp_path_factory, env):
    seeds = tmp_path_factory.mktemp("traces")
    for n, (task, files, _) in enumerate(TASKS):
        (seeds / f"t{n}.traj.json").write_text(json.dumps(trace(task, files, n)))
    return generate(env, tmp_path_factory.mktemp("runs") / "tasks", "--recipe", "coding-tasks", "--traces", str(seeds),
                    "--count", "12", "--batch-size", "8", "--max-candidates", "200",
                    knobs={"SYNTHGEN_FAKE_BAD_FILES_RATE": "0.2", "SYNTHGEN_FAKE_GARBAGE_RATE": "0.1"})


def test_a_coding_tasks_run_reports_its_cells_languages_tools_and_extensions(tmp_path, tasks_run):
    report(tasks_run, tmp_path, sample=4)
    data = json.loads((tmp_path / "report.json").read_text())
    records = lines(tasks_run / "data.jsonl")
    d = data["diversity"]
    assert d["cell_names"] == ["repository", "kind"]
    assert sum(c["accepted"] for c in d["cells"]) == len(records) == 12
    assert sum(d["features"]["language"].values()) == 12 and set(d["features"]["tool"]) == {"bash"}
    assert set(d["features"]["file extension"]) <= {".py", ".md"}
    assert d["sizes"]["target files"]["count"] == 12
    assert data["quality"]["funnel"]["steps"][0]["step"] == "parse" and data["errors"]["failed"]
    html = (tmp_path / "report.html").read_text()
    assert html.count('class="task"') == 4 and "<script" not in html


def test_the_task_preview_escapes_every_field():
    cls = recipe_class("coding-tasks")
    record = {"prompt": HOSTILE, "task_kind": HOSTILE, "language": HOSTILE, "target_files": [HOSTILE], "expected_tools": [HOSTILE],
              "plan": [{"tool": HOSTILE, "target": HOSTILE, "purpose": HOSTILE}]}
    preview = cls.preview_html(record)
    assert "<script" not in preview and '" onmouseover' not in preview and preview.count("&lt;script&gt;") == 8
    assert "no plan" in cls.preview_html({**record, "plan": None})
