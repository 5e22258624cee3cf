"""report.json's numbers against the run folder they describe (a fake-engine run with every
kind of drop), and report.html's promises that need no browser: one file, no script, no
network reference, the charts as data: images."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from synthgen.report.build import report
from synthgen.steps.dedup import normalize_request
from tests.report.conftest import lines, write_lines

pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]
DATA_URI = re.compile(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"')
NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd",
              "http://www.w3.org/XML/1998/namespace")


@pytest.fixture(scope="module")
def made(tmp_path_factory, defect_run) -> tuple[Path, dict, str]:
    out = tmp_path_factory.mktemp("report")
    result = report(defect_run, out, sample=6)
    assert result["html"] == str(out / "report.html")
    return defect_run, json.loads((out / "report.json").read_text()), (out / "report.html").read_text()


def test_the_funnel_is_run_json_counters(made):
    run, data, _ = made
    state = json.loads((run / "run.json").read_text())
    funnel = data["quality"]["funnel"]
    assert [s["step"] for s in funnel["steps"]] == list(state["counters"])
    for step in funnel["steps"]:
        counts = state["counters"][step["step"]]
        assert step["total"] == counts["total"] and step["forwarded"] == counts["forwarded"]
        assert step["dropped"] == {k.removeprefix("dropped_"): v for k, v in counts.items() if k.startswith("dropped_")}
    assert funnel["candidates"] == state["candidates"] and funnel["accepted"] == 120
    reasons = {r for s in funnel["steps"] for r in s["dropped"]}
    assert {"engine_error", "malformed_output", "grammar", "judge_no", "dup_exact"} <= reasons  # the run has every kind of drop


def test_cells_features_sizes_and_text_measures_match_the_records(made):
    run, data, _ = made
    records = lines(run / "data.jsonl")
    d = data["diversity"]
    assert {tuple(c["cell"]): c["accepted"] for c in d["cells"]} == Counter((r["domain"], r["complexity_measured"]) for r in records)
    assert d["cell_names"] == ["domain", "complexity"]
    assert d["features"]["uses"]["directed"] == sum(r["features"]["directed"] for r in records)
    assert d["features"]["rankdir"] == dict(Counter(r["features"]["rankdir"] for r in records).most_common())
    nodes = d["sizes"]["nodes"]
    assert nodes["count"] == 120 and nodes["max"] == max(r["features"]["node_count"] for r in records)
    assert sum(d["sizes"]["completion tokens"]["histogram"].values()) == 120
    for n in (1, 2, 3):
        grams = [tuple(w[i:i + n]) for w in (normalize_request(r["request"]).split() for r in records) for i in range(len(w) - n + 1)]
        assert d["ngrams"][str(n)] == {"distinct": len(set(grams)), "total": len(grams), "ratio": round(len(set(grams)) / len(grams), 4),
                                       "exact": True}
    assert d["shapes"]["distinct"] == len({r["validation"]["hashes"]["shape_hash"] for r in records})
    assert d["compression"]["text"]["ratio"] > 1 and d["compression"]["body"]["bytes"] > d["compression"]["body"]["zlib_bytes"]
    nn = d["nearest_neighbour"]
    assert nn["sampled"] == nn["of"] == 120 and sum(nn["counts"]) + nn["below_threshold"] == 120
    assert nn["at_least_0.8"] == 0  # dedup kept no near-duplicate


def test_judge_templates_errors_and_cost(made):
    run, data, _ = made
    state = json.loads((run / "run.json").read_text())
    judge = data["quality"]["judge"]
    counts = state["counters"]["judge"]
    assert judge["enabled"] and judge["judged"] == counts["total"] and judge["pass_rate"] == round(counts["forwarded"] / counts["total"], 4)
    assert judge["verdicts_of_accepted"] == {"yes": 120}
    rejected, failed, accepted = lines(run / "rejected.jsonl"), lines(run / "failed_prompts.jsonl"), lines(run / "data.jsonl")
    rows = {t["template"]: t for t in data["quality"]["templates"]}
    assert "(unknown)" not in rows  # rejected records now carry their template
    assert sum(t["candidates"] for t in rows.values()) == len(accepted) + len(rejected) + len(failed)
    assert {k: t["accepted"] for k, t in rows.items() if t["accepted"]} == Counter(r["provenance"]["template"] for r in accepted)
    drops = Counter()
    for t in rows.values():
        drops.update(t["dropped"])
    assert drops == Counter(r["reason"] for r in rejected + failed)
    errors = {g["reason"]: g for g in data["errors"]["failed"]}
    assert {k: g["count"] for k, g in errors.items()} == Counter(r["reason"] for r in failed)
    assert all(1 <= len(g["examples"]) <= 3 for g in errors.values())
    cost = data["cost"]
    ledger = state["ledger"]
    assert cost["total"]["prompt_tokens"] == ledger["prompt_tokens"] and cost["total"]["completions"] == ledger["calls"]
    assert sum(m["prompt_tokens"] for m in cost["models"]) == ledger["prompt_tokens"]  # the models' rows add up to the ledger
    assert sum(m["completion_tokens"] for m in cost["models"]) == ledger["completion_tokens"]
    fake = next(m for m in cost["models"] if m["model"] == "fake")
    logged = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if '"engine_call"' in x]
    assert fake["calls"] == len(logged) and fake["prompt_tokens"] == sum(e["prompt_tokens"] for e in logged)
    assert cost["per_accepted"]["tokens"] == round((ledger["prompt_tokens"] + ledger["completion_tokens"]) / 120, 2)
    assert len(data["gallery"]["accepted"]) == 6 and len(data["gallery"]["rejected"]) == 6


def test_the_page_is_one_file_without_script_or_network(made):
    _, _, html = made
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:;' in html
    assert "<script" not in html.lower() and "http:" not in html and "https:" not in html and "<link" not in html
    images = DATA_URI.findall(html)
    assert len(images) >= 6 + 5  # the gallery's graphs, the heat map, funnel, features, sizes, similarity
    for b64 in images:
        svg = base64.b64decode(b64).decode("utf-8")
        for ns in NAMESPACES:
            svg = svg.replace(ns, "")
        assert "http" not in svg and "<script" not in svg and "@import" not in svg and "url(" not in svg.replace("url(#", "")
    assert 'class="graph"' in html and "id=\"heatmap\"" in html and "id=\"cost-table\"" in html


def test_the_same_run_gives_the_same_report(tmp_path, defect_run):
    report(defect_run, tmp_path / "a", sample=4)
    report(defect_run, tmp_path / "b", sample=4)
    for name in ("report.json", "report.html"):
        a, b = (tmp_path / "a" / name).read_text(), (tmp_path / "b" / name).read_text()
        assert a.replace(str(tmp_path / "a"), "") == b.replace(str(tmp_path / "b"), ""), name


def test_old_rejected_records_without_a_template_count_as_unknown(tmp_path, run_copy):
    rows = lines(run_copy / "rejected.jsonl")
    for row in rows:
        row.pop("template", None)
    write_lines(run_copy / "rejected.jsonl", rows)
    report(run_copy, tmp_path, sample=0)
    templates = {t["template"]: t for t in json.loads((tmp_path / "report.json").read_text())["quality"]["templates"]}
    assert templates["(unknown)"]["candidates"] == len(rows) and templates["(unknown)"]["accepted"] == 0


def test_the_command_writes_into_the_run_folder(run_copy):
    import typer
    from typer.testing import CliRunner

    from synthgen.commands.report import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # two commands: typer keeps "report" as a subcommand
    result = CliRunner().invoke(app, ["report", str(run_copy), "--sample", "2"])
    assert result.exit_code == 0, result.output
    assert "report of 120 accepted" in result.stdout and (run_copy / "report.html").is_file() and (run_copy / "report.json").is_file()


def test_importing_the_command_imports_nothing_heavy():
    code = ("import sys, synthgen.commands.report, synthgen.report.build\n"
            "print(','.join(m for m in ('matplotlib', 'numpy', 'datasketch', 'synthgen.pipeline') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_graph_preview_is_an_inert_image_and_reads_no_local_file():
    import base64

    from synthgen.recipes import recipe_class

    cls = recipe_class("nl2dot")
    dot = 'digraph G {\n  a [label="</svg><script>alert(1)</script>", URL="javascript:alert(1)"];\n  a -> b;\n}'
    preview = cls.preview_html({"dot": dot})
    assert preview.startswith('<img class="graph" alt="the graph, drawn by Graphviz" src="data:image/svg+xml;base64,')
    assert "<script" not in preview and "javascript" not in preview  # all of the SVG is inside the base64
    svg = base64.b64decode(DATA_URI.search(preview).group(1)).decode()
    assert "&lt;/svg&gt;&lt;script&gt;" in svg  # Graphviz escapes the label inside its own SVG too
    local = cls.preview_html({"dot": 'digraph G {\n  a [image="/etc/hostname"];\n}'})
    assert "<image" not in base64.b64decode(DATA_URI.search(local).group(1)).decode()  # file loading is off
    broken = cls.preview_html({"dot": "digraph { a -> <script>alert(1)</script> ( }"})
    assert broken.startswith('<p class="muted">no drawing: Graphviz: ') and "<script" not in broken
    assert cls.preview_html({"dot": ""}) is None
