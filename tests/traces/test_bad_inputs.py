"""Every bad input is one problem line, never an exception; memory stays bounded."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest

from synthgen.traces.builder import Limits
from synthgen.traces.read import read_traces
from tests.traces.helpers import problems_of, read_one, write_json, write_jsonl

SESSION = [{"type": "user", "sessionId": "s", "message": {"role": "user", "content": "Fix the bug"}},
           {"type": "assistant", "sessionId": "s", "message": {"id": "m", "role": "assistant", "content": [
               {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "ls"}}]}}]


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    assert problems_of(tmp_path / "empty") == ["empty folder: no files to read"]
    assert problems_of(tmp_path / "nope") == ["no such file or folder"]


@pytest.mark.parametrize("name, content, reason", [
    ("notes.md", "# Notes\n\nJust prose.\n", "not a trace (no JSON and no aider chat markers)"),
    ("schema.json", json.dumps({"$schema": "x", "type": "object", "properties": {}}), "not a trace: a JSON Schema"),
    ("config.json", json.dumps({"name": "x"}), "not a trace: JSON with no known agent shape"),
    ("rows.jsonl", '{"a": 1}\n{"b": 2}\n', "not a trace: JSONL records have no known agent shape"),
    ("empty.json", "", "empty file"),
    ("broken.json", '{"history": [', "invalid JSON"),
])
def test_non_traces_get_one_line_reasons(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    reasons = problems_of(path)
    assert len(reasons) == 1 and reasons[0].startswith(reason)


def test_invalid_utf8(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"type": "user", "message": {"content": "caf\xe9"}}\n')
    assert problems_of(path)[0].startswith("not UTF-8 text")


def test_truncated_jsonl_reads_up_to_the_torn_line(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", SESSION)
    path.write_text(path.read_text() + '{"type": "assistant", "message": {"con', encoding="utf-8")
    trace, problems = read_one(path)
    assert trace.tool_call_count == 1 and trace.skipped_lines == 1
    assert [p.reason for p in problems] == ["last line is torn (truncated file); read up to it"]


def test_huge_single_json_is_refused_not_loaded(tmp_path):
    path = write_json(tmp_path / "big.traj", {"trajectory": [{"action": "ls"}] * 2000, "info": {}})
    reasons = problems_of(path, limits=Limits(max_json_bytes=10_000))
    assert len(reasons) == 1 and "over the" in reasons[0] and "limit" in reasons[0]


def test_trace_without_task_is_reported(tmp_path):
    records = [{"type": "user", "sessionId": "s", "message": {"content": "<local-command-stdout>x</local-command-stdout>"}},
               SESSION[1]]
    reasons = problems_of(write_jsonl(tmp_path / "s.jsonl", records))
    assert reasons == ["trace s has no task (no real user request)"]


def test_malformed_arguments_are_kept_raw(tmp_path):
    doc = [{"role": "user", "content": "Do it"},
           {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "function": {"name": "bash",
                                                                                         "arguments": "ls -la"}}]}]
    trace, _ = read_one(write_json(tmp_path / "chat.json", doc))
    call = trace.tool_calls[0]
    assert call.malformed_arguments and call.arguments == {"_raw": "ls -la"}
    assert trace.messages[1]["tool_calls"][0]["function"]["arguments"] == "ls -la"


def test_one_bad_file_does_not_stop_the_rest(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", SESSION)
    (tmp_path / "b.bin").write_bytes(b"\x00\x01\x02")
    write_jsonl(tmp_path / "c.jsonl", SESSION)
    reader = read_traces([tmp_path])
    assert len(list(reader)) == 2 and len(reader.problems) == 1


@pytest.mark.slow
def test_200_mb_session_streams_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.jsonl"
    output = "x" * 20_000
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(SESSION[0]) + "\n")
        i = 0
        while handle.tell() < 200 * 1024 * 1024:
            handle.write(json.dumps({"type": "assistant", "sessionId": "s", "message": {"id": f"m{i}", "content": [
                {"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": f"cat f{i % 50}.py"}}]}}) + "\n")
            handle.write(json.dumps({"type": "user", "sessionId": "s", "message": {"content": [
                {"type": "tool_result", "tool_use_id": f"t{i}", "content": output}]}}) + "\n")
            i += 1
    tracemalloc.start()
    start = time.perf_counter()
    trace, _ = read_one(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert trace.tool_call_count == i and trace.truncated
    assert peak < 80 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert time.perf_counter() - start < 120
