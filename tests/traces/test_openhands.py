"""OpenHands variants: event lists, output.jsonl, OpenDevin pairs, V1 and V0 folders, llm_completions."""

from __future__ import annotations

import json

from synthgen.traces.read import read_traces
from tests.traces.helpers import read_one, write_json, write_jsonl

USER = {"id": 0, "source": "user", "action": "message", "args": {"content": "Add a --verbose flag to cli.py"}}
RUN = {"id": 1, "source": "agent", "action": "run", "args": {"command": "cat cli.py", "thought": "look"}}
RUN_OBS = {"id": 2, "source": "agent", "observation": "run", "cause": 1, "content": "boom",
           "extras": {"metadata": {"exit_code": 1}}}
EDIT = {"id": 3, "source": "agent", "action": "edit", "tool_call_metadata": {"function_name": "str_replace_editor",
                                                                            "tool_call_id": "t3"},
        "args": {"path": "/workspace/cli.py", "command": "str_replace", "old_str": "a", "new_str": "b"}}
FINISH = {"id": 5, "source": "agent", "action": "finish", "args": {"outputs": {}}}


def test_event_list(tmp_path):
    trace, _ = read_one(write_json(tmp_path / "traj.json", [USER, RUN, RUN_OBS, EDIT, FINISH]))
    assert trace.task == "Add a --verbose flag to cli.py" and trace.tool_call_count == 3
    assert [c.name for c in trace.tool_calls] == ["run", "str_replace_editor", "finish"]
    assert trace.tool_calls[0].failed is True and trace.files_read == ["cli.py"]
    assert trace.files_edited == ["cli.py"] and trace.outcome == "finish"


def test_output_jsonl_with_history_and_pairs(tmp_path):
    flat = {"instance_id": "a__b-1", "instruction": "x", "git_patch": "diff --git a/n.py b/n.py\nnew file mode 1\n",
            "metadata": {"model_name": "gpt-4o"}, "history": [USER, RUN, RUN_OBS]}
    pairs = {"id": "Q_2", "history": [[USER, {"observation": "null", "content": ""}], [RUN, RUN_OBS]]}
    resolver = {"issue": {"owner": "o", "repo": "r", "number": 7}, "success": True, "history": [
        {"content": "Please fix.\n\n# Problem Statement\nDark mode please\n\nIMPORTANT: stay", "action": "message"},
        {"command": "ls", "thought": "t", "action": "run"}, {"content": "a", "exit_code": 0, "observation": "run"}]}
    reader = read_traces([write_jsonl(tmp_path / "output.jsonl", [flat, pairs, resolver])])
    traces = list(reader)
    assert [t.id for t in traces] == ["a__b-1", "Q_2", "o/r#7"]
    assert traces[0].files_created == ["n.py"] and traces[0].model == "gpt-4o" and traces[0].repository == "a/b"
    assert traces[1].variant == "pairs" and traces[1].tool_call_count == 1
    assert traces[2].task == "Dark mode please" and traces[2].outcome == "success" and traces[2].repository == "o/r"


def _v1(kind, **kw):
    return {"id": kw.pop("id"), "timestamp": "2026-01-01T00:00:00", "kind": kind, **kw}


def test_v1_event_folder_with_malformed_arguments(tmp_path):
    folder = tmp_path / "conv"
    events = [
        _v1("SystemPromptEvent", id="s", source="agent", system_prompt={"type": "text", "text": "sys"}),
        _v1("MessageEvent", id="u", source="user", llm_message={"role": "user", "content": [
            {"type": "text", "text": "run the tests"}]}),
        _v1("ActionEvent", id="a1", source="agent", tool_name="terminal", tool_call_id="t1",
            tool_call={"id": "t1", "name": "terminal", "arguments": "{\"command\": \"pytest"},
            action={"command": "pytest", "kind": "TerminalAction"}),
        _v1("ObservationEvent", id="o1", source="environment", action_id="a1", tool_call_id="t1",
            observation={"content": [{"type": "text", "text": "1 failed"}], "is_error": False, "exit_code": 1}),
        _v1("ActionEvent", id="a2", source="agent", tool_name="file_editor", tool_call_id="t2",
            tool_call={"id": "t2", "name": "file_editor", "arguments": json.dumps(
                {"command": "create", "path": "/w/new.py", "file_text": "x"})}, action={"kind": "FileEditorAction"}),
        _v1("AgentErrorEvent", id="e", source="agent", tool_call_id="t2", error="denied"),
    ]
    for i, event in enumerate(events):
        write_json(folder / f"event-{i:05d}-{event['id']}.json", event)
    write_json(folder / "base_state.json", {"agent": {"llm": {"model": "claude-x"}}})
    trace, _ = read_one(folder)
    assert trace.task == "run the tests" and trace.model == "claude-x" and trace.variant == "v1-events"
    first, second = trace.tool_calls
    assert first.malformed_arguments and first.arguments["_raw"].startswith("{") and first.failed is True
    assert trace.shell_commands == ["pytest"]
    assert second.failed is True and trace.files_created == []  # the create failed


def test_v0_session_folder(tmp_path):
    folder = tmp_path / "sess"
    for i, event in enumerate([{"id": 0, "source": "environment", "observation": "agent_state_changed"},
                               USER, RUN, RUN_OBS, FINISH]):
        write_json(folder / "events" / f"{i}.json", event)
    write_json(folder / "metadata.json", {"conversation_id": "abc", "llm_model": "m"})
    trace, _ = read_one(folder)
    assert trace.id == "abc" and trace.model == "m" and trace.tool_call_count == 2


def test_llm_completions_include_the_final_response(tmp_path):
    call = lambda i, name, args: {"id": i, "type": "function", "function": {"name": name,  # noqa: E731
                                                                            "arguments": json.dumps(args)}}
    doc = {
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "<uploaded_files>\n/workspace/o__r__1.0\n"
                                          "</uploaded_files>\n<pr_description>\nSlow import\n</pr_description>"}]},
            {"role": "assistant", "content": "", "tool_calls": [call("1", "execute_bash", {"command": "ls"})]},
            {"role": "tool", "tool_call_id": "1", "content": "x\n[Command finished with exit code 2]"},
        ],
        "response": {"model": "claude", "choices": [{"message": {"content": "", "tool_calls": [
            call("2", "str_replace_editor", {"command": "str_replace", "path": "/workspace/o__r__1.0/pkg/m.py"})]}}]},
        "kwargs": {"tools": []},
    }
    trace, _ = read_one(write_json(tmp_path / "o__r-12" / "model-1.json", doc))
    assert trace.id == "o__r-12" and trace.repository == "o/r" and trace.task == "Slow import"
    assert trace.tool_call_count == 2 and trace.tool_calls[0].failed is True
    assert trace.files_edited == ["pkg/m.py"] and trace.model == "claude"
