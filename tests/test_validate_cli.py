"""`synthgen validate` end to end: exit status, human and JSON output, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MIXED = ROOT / "tests" / "dot" / "fixtures" / "validate" / "mixed_pairs.jsonl"

pytestmark = [pytest.mark.timeout(120)]


def run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate", *argv])
    out, err = capsys.readouterr()
    return info.value.code, out, err


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_examples_exit_zero_with_a_summary(capsys):
    code, out, _ = run([str(EXAMPLES)], capsys)
    assert code == 0
    assert "0 invalid" in out
    assert "ok" in out.splitlines()[-1]


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_invalid_items_exit_one_with_a_line_each(capsys):
    code, out, _ = run([str(MIXED), str(EXAMPLES / "tcp_handshake.dot")], capsys)
    assert code == 1
    lines = out.splitlines()
    bad = [line for line in lines if line.startswith(str(MIXED))]
    assert len(bad) == 2
    assert bad[0].startswith(f"{MIXED}:2: grammar: ")
    assert "4 checked: 2 valid, 2 invalid" in out


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_json_lines_then_a_summary(capsys):
    code, out, _ = run(["--json", str(MIXED)], capsys)
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    items, summary = records[:-1], records[-1]["summary"]
    assert [r["ok"] for r in items] == [True, False, False]
    assert items[0]["features"] and items[0]["complexity"] and items[0]["normal_hash"] and items[0]["shape_hash"]
    assert items[0]["graphviz_ok"] is True
    assert summary["total"] == 3 and summary["valid"] == 1 and summary["invalid"] == 2
    assert sum(summary["by_reason"].values()) == 3


def test_no_graphviz_stops_at_the_grammar(capsys):
    code, out, _ = run(["--json", "--no-graphviz", str(EXAMPLES / "game_ai_guard.dot")], capsys)
    assert code == 0
    record = json.loads(out.splitlines()[0])
    assert record["ok"] and record["grammar_ok"] is True and record["graphviz_ok"] is None


def test_max_bytes_caps_each_graph(capsys):
    code, out, _ = run(["--no-graphviz", "--max-bytes", "100", str(EXAMPLES / "game_ai_guard.dot")], capsys)
    assert code == 1
    assert ": too_large: " in out


def test_missing_path_is_a_one_line_usage_error(capsys):
    code, out, err = run(["no/such/file.dot"], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0
    assert err.startswith("synthgen: error: no such file or folder: no/such/file.dot")
    assert "Traceback" not in err + out


def test_folder_without_graphs_is_a_usage_error(tmp_path, capsys):
    code, _, err = run([str(tmp_path)], capsys)
    assert code == 2
    assert "no .dot, .gv or .jsonl files" in err


def test_stdin_and_help_in_a_real_process():
    proc = subprocess.run(
        [sys.executable, "-m", "synthgen", "validate", "--no-graphviz", "-"],
        input=b"digraph { a -> b }",
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    helped = subprocess.run([sys.executable, "-m", "synthgen", "validate", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    assert '"summary"' in helped.stdout and "Exit status" in helped.stdout


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_a_fifo_and_device_symlinks_in_a_folder_are_skipped_not_read(tmp_path):
    """A FIFO named *.dot blocked the open for ever, and *.jsonl symlinks to /dev/zero or
    /dev/urandom never ended; now each is one counted read_error and the rest is checked."""
    import os
    import shutil

    os.mkfifo(tmp_path / "pipe.dot")
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    (tmp_path / "random.jsonl").symlink_to("/dev/urandom")
    shutil.copy(EXAMPLES / "tcp_handshake.dot", tmp_path / "ok.dot")
    proc = subprocess.run([sys.executable, "-m", "synthgen", "validate", str(tmp_path), "--json"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    reasons = {Path(r["id"]).name: r.get("reason") for r in rows if "id" in r}
    assert reasons == {"ok.dot": "ok", "pipe.dot": "read_error", "random.jsonl": "read_error", "zero.jsonl": "read_error"}, rows


@pytest.mark.graphviz
@pytest.mark.usefixtures("require_graphviz")
def test_validate_under_an_address_space_limit(tmp_path):
    """Under `ulimit -v 3000000` the Graphviz check tried to raise the hard limit and died
    with a traceback; now it stays under the limit in force."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3_000_000 * 1024, 3_000_000 * 1024))

    proc = subprocess.run([sys.executable, "-m", "synthgen", "validate", str(EXAMPLES)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, preexec_fn=limit)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "0 invalid" in proc.stdout
