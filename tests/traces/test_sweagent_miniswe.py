"""SWE-agent and mini-SWE-agent variants, on files written here."""

from __future__ import annotations

import json

from synthgen.traces.read import read_traces
from tests.traces.helpers import read_one, write_json

ISSUE = ("We're currently solving the following issue within our repository. Here's the issue text:\n"
         "ISSUE:\nCrash in parser when input is empty\n\nINSTRUCTIONS:\nNow, you're going to solve this issue.")
DIFF = "diff --git a/src/pkg/parser.py b/src/pkg/parser.py\n--- a/src/pkg/parser.py\n+++ b/src/pkg/parser.py\n@@ -1 +1 @@\n-a\n+b\n"


def test_classic_traj_skips_demonstrations_and_follows_the_open_file(tmp_path):
    doc = {
        "environment": "swe_main",
        "history": [
            {"role": "system", "content": "SETTING: ...\nopen:\n  docstring: opens a file\n", "agent": "primary"},
            {"role": "user", "content": "Here is a demonstration of how to correctly accomplish this task.",
             "is_demo": True},
            {"role": "user", "content": ISSUE, "agent": "primary"},
        ],
        "trajectory": [
            {"action": "create reproduce.py\n", "observation": "[File: /repo__x/reproduce.py]",
             "state": json.dumps({"open_file": "/repo__x/reproduce.py", "working_dir": "/repo__x"})},
            {"action": "python reproduce.py\n", "observation": "Traceback (most recent call last):\n...",
             "state": "{}"},
            {"action": "open src/pkg/parser.py\n", "observation": "[File]", "state": json.dumps(
                {"open_file": "/repo__x/src/pkg/parser.py", "working_dir": "/repo__x"})},
            {"action": "edit 1:1\nb\nend_of_edit\n", "observation": "File updated.", "state": json.dumps(
                {"open_file": "/repo__x/src/pkg/parser.py", "working_dir": "/repo__x"})},
            {"action": "submit\n", "observation": DIFF, "state": "{}"},
        ],
        "info": {"exit_status": "submitted", "submission": DIFF},
    }
    trace, _ = read_one(write_json(tmp_path / "x.traj", doc))
    assert trace.source_format == "sweagent" and trace.task == "Crash in parser when input is empty"
    assert [c.name for c in trace.tool_calls] == ["create", "bash", "open", "edit", "submit"]
    assert trace.tool_calls[1].failed is True
    assert trace.files_created == ["reproduce.py"] and trace.files_edited == ["src/pkg/parser.py"]
    assert trace.files_read == ["src/pkg/parser.py"] and trace.shell_commands == ["python reproduce.py"]
    assert trace.outcome == "submitted" and trace.final_diff == DIFF and trace.repository == "repo/x"


def test_function_calling_traj_keeps_structured_arguments(tmp_path):
    call = {"id": "c1", "type": "function", "function": {"name": "str_replace_editor", "arguments": json.dumps(
        {"command": "str_replace", "path": "/testbed/a.py", "old_str": "x", "new_str": "y"})}}
    doc = {
        "history": [
            {"role": "system", "content": "sys", "message_type": "system_prompt"},
            {"role": "user", "content": [{"type": "text", "text": "<pr_description>Rename x to y</pr_description>"}]},
            {"role": "assistant", "content": "edit", "action": "str_replace_editor str_replace /testbed/a.py",
             "tool_calls": [call]},
            {"role": "tool", "content": "ok", "tool_call_ids": ["c1"]},
        ],
        "trajectory": [{"action": "str_replace_editor str_replace /testbed/a.py", "observation": "ok",
                        "execution_time": 0.1, "state": {"working_dir": "/testbed"}}],
        "info": {"exit_status": "submitted"},
        "replay_config": json.dumps({"agent": {"model": {"name": "gpt-4o"}},
                                     "env": {"repo": {"github_url": "https://github.com/o/r"}}}),
    }
    trace, _ = read_one(write_json(tmp_path / "fc.traj", doc))
    assert trace.task == "Rename x to y" and trace.model == "gpt-4o" and trace.repository == "o/r"
    assert trace.tool_calls[0].arguments["new_str"] == "y" and trace.files_edited == ["a.py"]
    assert trace.variant == "function-calling"
    assert trace.messages[2]["tool_calls"][0]["function"]["name"] == "str_replace_editor"


def test_webui_list_yields_one_trace_per_run(tmp_path):
    run = {"instance_id": "own-er__repo-12", "issue_text": "Bug: it breaks", "model": "gpt4", "resolved": True,
           "submission": DIFF, "history": [{"type": "thought", "thought": "look"},
                                           {"type": "action", "action": "create r.py"},
                                           {"type": "output", "open_file": "r.py", "output_terminal": ""}]}
    reader = read_traces([write_json(tmp_path / "web.json", [run, {**run, "instance_id": "a__b-3"}])])
    traces = list(reader)
    assert [t.id for t in traces] == ["own-er__repo-12", "a__b-3"]
    assert traces[0].repository == "own-er/repo" and traces[0].outcome == "resolved"
    assert traces[0].files_created == ["r.py"] and traces[0].files_edited == ["src/pkg/parser.py"]


def test_mini_swe_agent_counts_one_block_replies_only(tmp_path):
    doc = {
        "trajectory_format": "mini-swe-agent-1", "instance_id": "django__django-1",
        "info": {"exit_status": "Submitted", "submission": DIFF, "mini_version": "1.15",
                 "config": {"model": {"model_name": "m1"}}},
        "messages": [
            {"role": "system", "content": "ONE bash block"},
            {"role": "user", "content": "<pr_description>\nConsider the following PR description:\nMake it fast\n"
                                        "</pr_description>\n<instructions>...</instructions>"},
            {"role": "assistant", "content": "THOUGHT\n```bash\ncat src/pkg/parser.py\n```"},
            {"role": "user", "content": "<returncode>0</returncode>\n<output>a</output>"},
            {"role": "assistant", "content": "two\n```bash\nls\n```\n```bash\npwd\n```"},
            {"role": "user", "content": "Please always provide EXACTLY ONE action"},
            {"role": "assistant", "content": "```bash\nsed -i 's/a/b/' src/pkg/parser.py && python -m pytest\n```"},
            {"role": "user", "content": "<returncode>1</returncode>\n<output>E</output>"},
        ],
    }
    trace, _ = read_one(write_json(tmp_path / "m.traj.json", doc))
    assert trace.task == "Make it fast" and trace.tool_call_count == 2
    assert [c.failed for c in trace.tool_calls] == [False, True]
    assert trace.files_read == ["src/pkg/parser.py"] and trace.files_edited == ["src/pkg/parser.py"]
    assert trace.repository == "django/django" and trace.model == "m1" and trace.outcome == "Submitted"


def test_mini_swe_agent_message_list_and_v2_actions(tmp_path):
    listed = [{"role": "system", "content": "s"}, {"role": "user", "content": "Please solve this issue: Fix it"},
              {"role": "assistant", "content": "```mswea_bash_command\necho hi > out.txt\n```"}]
    trace, _ = read_one(write_json(tmp_path / "old.json", listed))
    assert trace.source_format == "mini-swe-agent" and trace.task == "Fix it"
    assert trace.files_created == ["out.txt"]
    v2 = {"trajectory_format": "mini-swe-agent-1.1", "info": {"exit_status": "LimitsExceeded"}, "messages": [
        {"role": "user", "content": "Add a flag"},
        {"role": "assistant", "content": "", "extra": {"actions": [{"command": "ls"}, {"command": "pwd"}]}},
        {"role": "user", "content": "", "extra": {"returncode": 2}},
        {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "bash", "arguments": "{not json"}}]},
        {"role": "tool", "tool_call_id": "t", "content": "x"},
    ]}
    trace, _ = read_one(write_json(tmp_path / "v2.traj.json", v2))
    assert trace.tool_call_count == 3 and trace.tool_calls[1].failed is True
    assert trace.tool_calls[2].malformed_arguments and trace.tool_calls[2].arguments == {"_raw": "{not json"}
