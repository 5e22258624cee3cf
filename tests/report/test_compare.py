"""`synthgen compare` on fake-engine runs: its figures are the run folders' own numbers, plan
differences are warned about, the common judge counts its verdicts and its cost per run, the
page stays inert in a real browser, and bad input is one line with nothing written."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.compare.build import compare, rows
from synthgen.errors import ConfigError, OutputError
from synthgen.models import ModelSpec
from tests.report.conftest import ROOT, generate, lines, write_lines

FAKE_JUDGE = ModelSpec(alias="fake-judge", backend="fake", description="test judge")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, env) -> Path:
    """The defect run's plan (seed 3, 120, judged), from a model that makes no defects."""
    return generate(env, tmp_path_factory.mktemp("runs") / "clean", "--count", "120", "--seed", "3", "--batch-size", "32",
                    "--validate-semantics")


def state(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def test_figures_are_the_run_folders_own_numbers(tmp_path, defect_run, clean_run):
    result = compare([defect_run, clean_run], tmp_path / "cmp")
    a, b = result["data"]["runs"]
    for run, fig in ((defect_run, a), (clean_run, b)):
        s = state(run)
        assert fig["accepted"] == len(lines(run / "data.jsonl")) == 120
        assert fig["candidates"] == s["candidates"]
        assert fig["acceptance"] == round(120 / s["candidates"], 4)
        drops = {**s["summary"]["rejected"], **s["summary"]["failed"]}
        assert fig["drops"] == drops
        checks = [step for step in s["counters"] if step not in ("judge", "dedup", "quota")]
        assert fig["valid_before_dedup"] == s["counters"][checks[-1]]["forwarded"]
        assert fig["cost"]["total"]["prompt_tokens"] == s["ledger"]["prompt_tokens"]
        assert fig["judge"]["pass_rate"] == round(s["counters"]["judge"]["forwarded"] / s["counters"]["judge"]["total"], 4)
        assert fig["wall_s"] is not None and fig["wall_s"] >= 0
    assert a["validity_before_dedup"] < 1.0 == b["validity_before_dedup"]  # garbage, invalid and engine errors fail checks
    assert set(a["drops"]) > {"quota_full"} and "malformed_output" not in b["drops"]
    assert result["data"]["warnings"] == []  # one plan, two models' worth of defects: nothing to warn about
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert saved == json.loads(json.dumps(result["data"]))


def test_different_plans_are_warned_about_and_still_compared(tmp_path, env, defect_run):
    other = generate(env, tmp_path / "other", "--count", "40", "--seed", "5")
    warnings = compare([defect_run, other], tmp_path / "cmp")["data"]["warnings"]
    text = "\n".join(warnings)
    for difference in ("seed (A: 3, B: 5)", "count (A: 120, B: 40)", "validate semantics (A: true, B: false)"):
        assert f"the plans differ in {difference}" in text, text


def test_a_common_judge_rejudges_every_run_and_counts_its_cost(tmp_path, defect_run, clean_run, monkeypatch):
    monkeypatch.setenv("SYNTHGEN_FAKE_JUDGE_NO_RATE", "0.25")
    data = compare([defect_run, clean_run], tmp_path / "cmp", judge=FAKE_JUDGE)["data"]
    for fig in data["runs"]:
        j = fig["common_judge"]
        assert j["model"] == "fake-judge" and j["judged"] == 120 and not j["sampled"]
        assert sum(j["verdicts"].values()) == 120 and j["pass_rate"] == round(j["verdicts"]["yes"] / 120, 4)
        assert 0.5 < j["pass_rate"] < 0.95  # the fake judge says "no" to about a quarter
        assert len(j["no_ids"]) == j["verdicts"]["no"]
        assert set(j["no_ids"]) <= {r["id"] for r in lines(Path(fig["path"]) / "data.jsonl")}
        assert j["cost"]["calls"] == 120 and j["cost"]["prompt_tokens"] > 0 and j["cost"]["completion_tokens"] == 120
    assert data["judge"] == {"model": "fake-judge", "sample": None}
    labels = [label for label, _ in rows(data)]
    assert "common judge pass rate (fake-judge)" in labels and "  common judge tokens" in labels
    for run in (defect_run, clean_run):  # nothing is written into the runs
        assert not (run / "compare.json").exists()
    sampled = compare([defect_run, clean_run], tmp_path / "cmp2", judge=FAKE_JUDGE, judge_sample=10)["data"]
    assert [r["common_judge"]["judged"] for r in sampled["runs"]] == [10, 10]
    assert all(r["common_judge"]["sampled"] for r in sampled["runs"])


def test_the_cli_prints_the_table_and_writes_both_files(tmp_path, env, defect_run, clean_run):
    cmd = [sys.executable, "-m", "synthgen", "compare", str(defect_run), str(clean_run), "--out", str(tmp_path / "cmp"),
           "--judge", "fake"]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for label in ("acceptance", "valid before dedup", "dropped: malformed_output", "common judge pass rate (fake)",
                  "USD per accepted", "GPU-seconds per accepted", "wall time", "distinct graph shapes"):
        assert label in proc.stdout, label
    assert "also generated one of the runs" in proc.stderr  # the judge is the generating model here
    assert (tmp_path / "cmp" / "compare.html").stat().st_size > 5000 and (tmp_path / "cmp" / "compare.json").exists()


def test_the_page_is_inert_and_draws_its_chart_in_a_real_browser(tmp_path, run_copy, clean_run, browser):
    from tests.report.test_browser import ATTR, IMG, SCRIPT, parsed, watch

    s = state(run_copy)
    s["counters"]["validate"][f"dropped_{SCRIPT}"] = 2  # a hostile reason code and model name
    s["fingerprint"]["model"] = IMG + ATTR
    (run_copy / "run.json").write_text(json.dumps(s))
    out = tmp_path / "cmp"
    compare([run_copy, clean_run], out, judge=FAKE_JUDGE)
    html = (out / "compare.html").read_text()
    tags, attrs = parsed(html)
    assert "script" not in tags and not [v for v in attrs if "alert(" in v]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = watch(page)
    url = (out / "compare.html").as_uri()
    page.goto(url)
    page.wait_for_load_state("load")
    for selector in ("#compare-table", "#rates-chart"):
        box = page.locator(selector).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 40, selector
    text = page.inner_text("body")
    assert SCRIPT in text and IMG in text
    assert seen["errors"] == [] and seen["dialogs"] == []
    assert all(u == url or u.startswith("data:") for u in seen["requests"]), seen["requests"]
    page.close()


# ----- bad input: one line, nothing written -------------------------------------------------------
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, defect_run, run_copy):
    out = tmp_path / "cmp"
    with pytest.raises(OutputError, match="two or more run folders"):
        compare([defect_run], out)
    with pytest.raises(OutputError, match="is given twice"):
        compare([defect_run, Path(str(defect_run) + "/")], out)
    (tmp_path / "not-a-run").mkdir()
    with pytest.raises(OutputError, match="not a run folder|no run.json"):
        compare([defect_run, tmp_path / "not-a-run"], out)
    s = state(run_copy)
    s["fingerprint"]["recipe"] = "coding-tasks"
    (run_copy / "run.json").write_text(json.dumps(s))
    with pytest.raises(OutputError, match=r"different recipes \(coding-tasks, nl2dot\)"):
        compare([defect_run, run_copy], out)
    with pytest.raises(OutputError, match="--judge-sample must be at least 1"):
        compare([defect_run, run_copy], out, judge=FAKE_JUDGE, judge_sample=0)
    assert not out.exists()


def test_a_recipe_without_a_record_judge_refuses_judge(tmp_path, defect_run, run_copy, monkeypatch):
    from synthgen.recipes.base import Recipe
    from synthgen.recipes.nl2dot.recipe import Nl2DotRecipe

    monkeypatch.setattr(Nl2DotRecipe, "judge_messages_of", classmethod(Recipe.judge_messages_of.__func__))
    with pytest.raises(ConfigError, match="has no judge question"):
        compare([defect_run, run_copy], tmp_path / "cmp", judge=FAKE_JUDGE)
    assert not (tmp_path / "cmp").exists()


def test_a_live_run_a_torn_line_and_an_empty_run_are_said(tmp_path, env, defect_run, run_copy):
    with open(run_copy / "data.jsonl", "ab") as fh:
        fh.write(b'{"id": "torn')
    lock = open(run_copy / "run.lock", "a+")  # another process's lock, as a writer holds it
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        child = subprocess.run([sys.executable, "-c", (
            "import sys; from synthgen.compare.build import compare; "
            "d = compare(sys.argv[1:3], sys.argv[3])['data']; import json; print(json.dumps(d['warnings'] + d['notes']))"),
            str(defect_run), str(run_copy), str(tmp_path / "cmp")], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        lock.close()
    assert child.returncode == 0, child.stderr
    said = "\n".join(json.loads(child.stdout))
    assert "B (" in said and "is still being written" in said
    assert "skipped 1 torn last line(s) of its accepted records" in said
    empty = tmp_path / "empty"
    empty.mkdir()
    s = state(defect_run)
    s.update(status="completed", candidates=0, counters={}, ledger={})
    (empty / "run.json").write_text(json.dumps(s))
    write_lines(empty / "data.jsonl", [])
    data = compare([defect_run, empty], tmp_path / "cmp2")["data"]
    assert any("holds no accepted records" in w for w in data["warnings"])
    assert data["runs"][1]["accepted"] == 0 and data["runs"][1]["acceptance"] is None

