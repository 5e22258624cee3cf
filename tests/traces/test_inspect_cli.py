"""`synthgen traces inspect`: tables or JSON, plus one line per unreadable input.

The command is registered here on a bare Typer app (cli.py registration is done elsewhere).
"""

from __future__ import annotations

import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from synthgen.commands.traces import register
from tests.traces.helpers import write_jsonl

SESSION = [{"type": "user", "sessionId": "s", "message": {"role": "user", "content": "Fix the bug in src/a.py"}},
           {"type": "assistant", "sessionId": "s", "message": {"id": "m", "role": "assistant", "content": [
               {"type": "tool_use", "id": "t", "name": "Edit", "input": {"file_path": "src/a.py"}}]}}]


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_inspect_json_and_tables(tmp_path):
    write_jsonl(tmp_path / "s.jsonl", SESSION)
    (tmp_path / "notes.md").write_text("# notes\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(_app(), ["traces", "inspect", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["traces"] == 1 and data["task_types"]["bugfix"] == 1 and data["tools"][0]["tool"] == "edit"
    assert data["unreadable"] == [{"path": str(tmp_path / "notes.md"),
                                   "reason": "not a trace (no JSON and no aider chat markers)"}]
    result = runner.invoke(_app(), ["traces", "inspect", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "1 traces" in result.output and "notes.md" in result.output
    assert "not a trace" in result.output


def test_inspect_with_nothing_readable_exits_1(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(_app(), ["traces", "inspect", str(tmp_path / "empty")], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "empty folder" in result.output


def test_traces_package_imports_nothing_heavy():
    code = ("import sys, synthgen.traces.read, synthgen.traces.patterns, synthgen.commands.traces;"
            "print(sorted(m for m in ('torch', 'vllm', 'transformers', 'rich', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
