"""Pattern extraction, the classifier, templates and tool semantics, with hand-worked answers."""

from __future__ import annotations

import json

import pytest

from synthgen.traces import tools
from synthgen.traces.classify import classify_task
from synthgen.traces.model import ToolCall, Trace
from synthgen.traces.paths import diff_files, relativize
from synthgen.traces.patterns import BoundedCounter, TracePatterns, glob_of
from synthgen.traces.prompts import keywords, template


@pytest.mark.parametrize("text, kind", [
    ("Fix the login bug", "bugfix"),
    ("hist() no longer respects range=... when density=True", "bugfix"),
    ("add a test for cmd_add that passes in 'foo.txt'", "test"),
    ("Add a toggle for dark mode", "feature"),
    ("Build a simple Pomodoro timer web app", "feature"),
    ("update the readme to describe the args", "docs"),
    ("Please analyze this codebase and create a CLAUDE.md file", "docs"),
    ("refactor the parser into modules", "refactor"),
    ("write a design doc for the plugin api", "spec"),
    ("hi", "other"),
    (None, "other"),
])
def test_classifier(text, kind):
    assert classify_task(text) == kind


def test_template_and_keywords():
    assert template("Fix the crash in src/app.py line 42 for `parse()`\nmore") == \
        "Fix the crash in <PATH> line <NUM> for <CODE>"
    assert template("TimeDelta serialization precision") == "<IDENT> serialization precision"
    assert template("see https://x.io/a and call foo_bar() on MyClass") == "see <URL> and call <IDENT> on <IDENT>"
    assert keywords("Please fix the TimeDelta rounding in the serializer") == ["fix", "timedelta", "rounding",
                                                                             "serializer"]


@pytest.mark.parametrize("name, args, kind, reads, edits, creates, writes", [
    ("Read", {"file_path": "/p/a.py"}, "read", ["/p/a.py"], [], [], []),
    ("Edit", {"file_path": "a.py"}, "edit", [], ["a.py"], [], []),
    ("MultiEdit", {"file_path": "a.py"}, "edit", [], ["a.py"], [], []),
    ("Write", {"file_path": "a.py"}, "write", [], [], [], ["a.py"]),
    ("str_replace_editor", {"command": "create", "path": "b.py"}, "create", [], [], ["b.py"], []),
    ("file_editor", {"command": "view", "path": "/w/django__django__3.0"}, "read", [], [], [], []),
    ("Grep", {"pattern": "x"}, "search", [], [], [], []),
    ("bash", {"command": "sed -i 's/a -> b/c/' x.py && cat y.py > z.txt"}, "shell", ["y.py"], ["x.py"], [],
     ["z.txt"]),
    ("execute_bash", {"command": "cat <<'EOF' > n.py\nimport os > x\nEOF"}, "shell", [], [], [], ["n.py"]),
    ("terminal", {"command": "python t.py 2>&1 | tee log.txt; ls 2>/dev/null"}, "shell", [], [], [], ["log.txt"]),
])
def test_tool_semantics(name, args, kind, reads, edits, creates, writes):
    effect = tools.classify(name, args)
    assert (effect.kind, effect.reads, effect.edits, effect.creates, effect.writes) == (kind, reads, edits, creates,
                                                                                       writes)


def test_paths():
    assert relativize("/testbed/src/a.py", ["/testbed"]) == "src/a.py"
    assert relativize("/w/repo/src/a.py", ["/w", "/w/repo"]) == "src/a.py"
    assert relativize("pkg\\mod\\a.ts", []) == "pkg/mod/a.ts"
    diff = ("diff --git a/src/a.py b/src/a.py\n--- a/src/a.py\n+++ b/src/a.py\n"
            "diff --git a/n.md b/n.md\nnew file mode 100644\n--- /dev/null\n+++ b/n.md\n")
    assert diff_files(diff) == (["src/a.py"], ["n.md"])
    assert glob_of("src/marshmallow/fields.py") == "src/marshmallow/*.py" and glob_of("Makefile") == "Makefile"


def _trace(task, calls, edited=(), created=(), read=(), **kw):
    return Trace(id=task[:5], source_format=kw.pop("fmt", "claude-code"), source_path="x", task=task,
                 tool_calls=[ToolCall(n, {}, failed=n == "bad", kind=k) for n, k in calls],
                 tool_call_count=len(calls), files_edited=list(edited), files_created=list(created),
                 files_read=list(read), **kw)


def test_patterns_by_hand():
    p = TracePatterns()
    p.add(_trace("Fix the crash in src/app/a.py", [("Read", "read"), ("Edit", "edit"), ("Bash", "shell")],
                 edited=["src/app/a.py", "src/app/b.py"], created=["tests/test_a.py"], repository="o/r",
                 final_diff="+import django\n"))
    p.add(_trace("Add a --json flag", [("Read", "read"), ("Edit", "edit"), ("bad", "shell"), ("Read", "read")],
                 edited=["src/app/c.py", "package.json"], read=["README.md"], repository="o/r", outcome="done"))
    p.add(_trace("hi", [], fmt="aider"))
    s = p.summary()
    assert s["traces"] == 3 and s["tool_calls"] == 7 and s["average_tool_calls"] == 2.33 and s["failed_tool_calls"] == 1
    assert s["task_types"] == {"feature": 1, "bugfix": 1, "refactor": 0, "test": 0, "docs": 0, "spec": 0, "other": 1}
    assert s["formats"] == {"claude-code": 2, "aider": 1}
    assert {r["ngram"][0] + ">" + r["ngram"][1]: r["count"] for r in s["tool_bigrams"]} == {
        "read>edit": 2, "edit>bash": 1, "edit>bad": 1, "bad>read": 1}
    assert s["tool_trigrams"][0] == {"ngram": ["read", "edit", "bash"], "count": 1} and len(s["tool_trigrams"]) == 3
    assert {tuple(r["globs"]): r["count"] for r in s["file_clusters"]} == {
        ("src/app/*.py", "tests/*.py"): 1, ("package.json", "src/app/*.py"): 1}
    assert s["common_dirs"][0] == {"dir": "src/app", "count": 3}
    assert {r["language"]: r["count"] for r in s["languages"]} == {"Python": 2, "JSON": 1, "Markdown": 1}
    assert s["repositories"] == [{"repository": "o/r", "count": 2}]
    assert {r["framework"] for r in s["frameworks"]} == {"django", "node"}
    assert s["prompt_templates"][0]["template"] in ("Fix the crash in <PATH>", "Add a --json flag", "hi")
    assert s["outcomes"] == {"unknown": 2, "done": 1}


def test_bounded_counter_stays_small():
    c = BoundedCounter(max_keys=100)
    for i in range(10_000):
        c.bump("common")
        c.bump(f"rare{i}")
    assert len(c) <= 100 and c.most_common(1)[0][0] == "common"


def test_patterns_are_json_ready():
    p = TracePatterns()
    p.add(_trace("Add x", [("a", "other"), ("b", "other")]))
    json.dumps(p.summary())
