"""Every trace in ../shared/data/traces read exactly as the hand-checked table says."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgen.traces.read import read_traces
from tests.traces.shared_table import NOT_TRACES, ROWS


@pytest.fixture(scope="module")
def traces_dir(shared_data: Path) -> Path:
    folder = shared_data / "traces"
    if not folder.is_dir():
        pytest.skip(f"trace corpus not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def read_all(traces_dir: Path):
    reader = read_traces([traces_dir])
    return {(str(Path(t.source_path).relative_to(traces_dir)), t.id): t for t in reader}, reader


def test_every_entry_is_in_the_table(read_all) -> None:
    found, _ = read_all
    assert sorted(found) == sorted((path, trace_id) for path, trace_id, *_ in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[0]}#{r[1]}" for r in ROWS])
def test_trace_matches_hand_count(read_all, row) -> None:
    path, trace_id, words, calls, edited, created = row
    trace = read_all[0][(path, trace_id)]
    assert " ".join(trace.task.split()).startswith(words)
    assert trace.tool_call_count == calls == len(trace.tool_calls)
    assert sorted(trace.files_edited) == edited
    assert sorted(trace.files_created) == created


def test_docs_and_schema_are_reported_not_read(read_all, traces_dir: Path) -> None:
    _, reader = read_all
    reasons = {str(Path(p.path).relative_to(traces_dir)): p.reason for p in reader.problems}
    assert sorted(reasons) == NOT_TRACES
    assert all(r.startswith("not a trace") for r in reasons.values())


def test_rows_match_data_designer_shape(read_all) -> None:
    trace = read_all[0][("claude-code/simonw_sample_session.jsonl", "test-session-id")]
    row = trace.to_row()
    assert row["trace_id"] == "test-session-id" and row["source_kind"] == "claude_code"
    assert row["tool_call_count"] == 2 and row["message_count"] == len(row["messages"])
    assert row["final_assistant_message"] == "Done! The hello function is ready."
    assert row["git_branch"] == "main" and row["cwd"] == "/project"
    call = next(m for m in row["messages"] if m.get("tool_calls"))["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "Write"
