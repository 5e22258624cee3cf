"""Bad input is one line (OutputError), and nothing is written half: not a run, a run still
being written, an empty run, a torn last line, a folder that cannot be written."""

from __future__ import annotations

import fcntl
import json
import os
import shutil

import pytest

from synthgen.errors import ConfigError, OutputError
from synthgen.report import build
from synthgen.report.build import report

pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = exc.value.one_line()
    assert "\n" not in text and "Traceback" not in text
    return text


def test_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(OutputError) as exc:
        report(tmp_path / "missing")
    assert "is not a folder" in one_line(exc)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OutputError) as exc:
        report(tmp_path / "empty")
    assert "not a synthgen run folder" in one_line(exc)
    assert list((tmp_path / "empty").iterdir()) == []


def test_an_empty_run_is_one_line_and_writes_nothing(tmp_path, defect_run):
    folder = tmp_path / "empty-run"
    folder.mkdir()
    shutil.copy(defect_run / "run.json", folder / "run.json")
    with pytest.raises(OutputError) as exc:
        report(folder)
    assert "holds no records yet: nothing to report" in one_line(exc)
    assert sorted(p.name for p in folder.iterdir()) == ["run.json"]


def test_a_run_still_being_written_is_reported_so_far_and_says_so(tmp_path, run_copy, capsys):
    fd = os.open(run_copy / "run.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a writer holds for the life of its run
    try:
        import typer
        from typer.testing import CliRunner

        from synthgen.commands.report import register

        app = typer.Typer()
        register(app)
        app.command("noop")(lambda: None)
        result = CliRunner().invoke(app, ["report", str(run_copy), "--out", str(tmp_path / "out")])
    finally:
        os.close(fd)
    assert result.exit_code == 0, result.output
    assert "the run is still being written" in result.stderr
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data["run"]["live"] and any("still being written" in n for n in data["notes"])
    assert "still being written" in (tmp_path / "out" / "report.html").read_text()


def test_a_torn_last_line_is_skipped_and_counted(tmp_path, run_copy):
    with open(run_copy / "data.jsonl", "a") as fh:
        fh.write('{"id": "torn", "request": "half a rec')
    result = report(run_copy, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["run"]["accepted"] == 120 and data["run"]["torn"] == {"accepted": 1}
    assert "skipped 1 torn last line(s) of its accepted records" in " ".join(result["notes"])


def test_a_broken_line_inside_a_file_is_one_line(tmp_path, run_copy):
    text = (run_copy / "rejected.jsonl").read_text().splitlines()
    text[1] = "{not json"
    (run_copy / "rejected.jsonl").write_text("\n".join(text) + "\n")
    with pytest.raises(OutputError) as exc:
        report(run_copy, tmp_path / "out")
    assert "rejected.jsonl:2: not a JSON record" in one_line(exc)
    assert not (tmp_path / "out").exists()


def test_an_unknown_recipe_is_one_line(tmp_path, run_copy):
    state = json.loads((run_copy / "run.json").read_text())
    state["recipe_ref"] = "no-such-recipe"
    (run_copy / "run.json").write_text(json.dumps(state))
    with pytest.raises(ConfigError) as exc:
        report(run_copy, tmp_path / "out")
    assert "unknown recipe 'no-such-recipe'" in one_line(exc)


def test_an_unwritable_target_is_one_line_and_leaves_no_temp_file(tmp_path, run_copy):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError) as exc:
        report(run_copy, blocker / "sub")
    assert "cannot write the report" in one_line(exc)


def test_a_failure_mid_write_keeps_the_previous_report_whole(tmp_path, run_copy, monkeypatch):
    out = tmp_path / "out"
    report(run_copy, out, sample=1)
    before = {name: (out / name).read_bytes() for name in ("report.json", "report.html")}
    real_replace = os.replace

    def fail(src, dst):
        if str(dst).endswith("report.json"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(build.os, "replace", fail)
    with pytest.raises(OutputError) as exc:
        report(run_copy, out, sample=3)
    assert "No space left on device" in one_line(exc)
    assert {name: (out / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json"]  # no temp file left behind


def test_a_negative_sample_is_refused(run_copy):
    with pytest.raises(OutputError, match="--sample must be 0 or more"):
        report(run_copy, sample=-1)
