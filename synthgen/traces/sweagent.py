"""SWE-agent trajectories (``.traj``) and the web-UI demo list (``web_trajs.json``).

Documented shape (SWE-agent docs, usage/trajectories.md): ``trajectory`` holds one step per
action (``action``, ``observation``, ``response``, ``thought``, ``state``); ``history`` holds
the messages shown to the model; ``info`` has ``exit_status`` and ``submission`` (the final
patch). Versions differ: 0.x has ``agent: primary``; 1.x adds ``replay_config``,
``execution_time``, function-calling ``tool_calls`` and ``role: tool`` messages; some demos
have ``history`` only. Steps are the tool calls; ``history`` gives the task and, with
function calling, structured arguments. Demonstration messages (``is_demo``) never count.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from typing import Any

from synthgen.traces import paths, tools
from synthgen.traces.builder import Limits, TraceBuilder
from synthgen.traces.model import Trace, parse_arguments
from synthgen.traces.tasks import strip_template

FORMAT = "sweagent"
_NAVIGATION = {"goto", "scroll_up", "scroll_down", "scroll", "exit_forfeit", "exit_cost", "exit_context",
               "exit_error", "exit_format", "skip", "submit", "forfeit"}
_EDITS = {"edit", "insert", "append", "edit_file", "replace"}
_SEARCHES = {"find_file", "search_file", "search_dir", "filemap", "find"}
_OWN_TOOLS = _NAVIGATION | _EDITS | _SEARCHES | {"open", "create"}
_FAILED = ("Your proposed edit has introduced new syntax error", "Traceback (most recent call last)",
           ": command not found", "No such file or directory", "Usage: ")


def matches(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    history = doc.get("history")
    if isinstance(doc.get("trajectory"), list) and ("info" in doc or "environment" in doc or history is not None):
        return True
    return isinstance(history, list) and bool(history) and isinstance(history[0], dict) and "role" in history[0]


def matches_webui(doc: Any) -> bool:
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], dict):
        return False
    history = doc[0].get("history")
    return isinstance(history, list) and any(isinstance(h, dict) and h.get("type") in ("thought", "action", "output")
                                             for h in history[:5])


def read(doc: dict[str, Any], source_path: str, stem: str, limits: Limits) -> Iterator[Trace]:
    b = TraceBuilder(FORMAT, source_path, limits)
    history = [m for m in doc.get("history") or [] if isinstance(m, dict) and not m.get("is_demo")]
    replay = _replay_config(doc)
    commands = _special_commands(history)
    task = _task(history) or strip_template(_dig(replay, "problem_statement", "text"))
    steps = [s for s in doc.get("trajectory") or [] if isinstance(s, dict) and str(s.get("action") or "").strip()]
    structured = _history_calls(history)
    variant = "function-calling" if structured else ("replay-config" if replay else "classic")
    calls = []
    opened: str | None = None  # the open file, where a step has no state to say it
    if not steps:  # history-only demos: actions come from the assistant messages
        steps = [{"action": m["action"], "observation": ""} for m in history
                 if m.get("role") == "assistant" and str(m.get("action") or "").strip()]
    for step in steps:
        state = _state(step.get("state"))
        if state.get("working_dir"):
            b.roots.append(state["working_dir"])
        opened = _opened(str(step["action"]), opened)
        state.setdefault("open_file", opened)
        calls.append(_step_call(b, step, state, structured, commands))
    _messages(b, history, steps, calls)
    info = doc.get("info") or {}
    # SWE-agent names the file after the instance (reruns differ by folder): the id is the stem.
    instance = _dig(replay, "problem_statement", "id") or stem
    yield b.finish(
        id=stem, task=task, final_diff=_text(info.get("submission")), outcome=info.get("exit_status"),
        model=_dig(replay, "agent", "model", "name"), repository=_repository(replay, b.roots, instance),
        variant=variant,
        cwd=next((r for r in reversed(b.roots) if r not in paths.DEFAULT_ROOTS), None),
        source_meta={"instance_id": instance, **({"model_stats": info["model_stats"]} if info.get("model_stats") else {})},
    )


def read_webui(doc: list[Any], source_path: str, limits: Limits) -> Iterator[Trace]:
    """The web-UI demo: a list of runs, each with typed ``history`` items and run metadata."""
    for index, run in enumerate(doc):
        if not isinstance(run, dict):
            continue
        b = TraceBuilder(FORMAT, source_path, limits)
        open_file = None
        for item in run.get("history") or []:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "thought" and item.get("thought"):
                b.message("assistant", str(item["thought"]))
            elif item.get("type") == "action" and str(item.get("action") or "").strip():
                call = _step_call(b, {"action": item["action"], "observation": ""}, {"open_file": open_file}, [], set())
                b.message("assistant", "", calls=[call])
            elif item.get("type") == "output":
                open_file = item.get("open_file") or open_file
                text = "\n".join(str(item.get(k) or "") for k in ("output_terminal", "output_editor")).strip()
                b.message("tool", text)
        instance = run.get("instance_id") or f"run{index}"
        b.prompt(str(run.get("issue_text") or ""))
        yield b.finish(
            id=str(instance), final_diff=_text(run.get("submission")),
            outcome="resolved" if run.get("resolved") else ("submitted" if run.get("submission") else None),
            model=run.get("model"), repository=paths.swebench_repo(str(instance)), variant="webui",
            source_meta={k: run.get(k) for k in ("issue_url", "pr_url", "resolved", "num_steps") if k in run},
        )


def _step_call(b: TraceBuilder, step: dict[str, Any], state: dict[str, Any], structured: list[tuple[str, Any]],
               commands: set[str]):
    action = str(step["action"]).strip()
    observation = str(step.get("observation") or "")
    failed = True if any(marker in observation[:2000] for marker in _FAILED) else None
    fc = _take(structured, action)
    name, args, effect = parse_action(action, state.get("open_file"), commands)
    if fc is not None:  # function calling: keep the structured arguments the model sent
        name, args = fc[0], fc[1]
        if name not in _OWN_TOOLS:
            parsed, _ = parse_arguments(args)
            effect = tools.classify(name, parsed)
    return b.tool_call(name, args, failed=failed, effect=effect)


def parse_action(action: str, open_file: str | None, commands: set[str] = frozenset()) -> tuple[str, dict, tools.Effect]:
    """A SWE-agent command line as (tool name, arguments, effect). Unknown commands are bash."""
    first = action.split("\n", 1)[0].strip()
    try:
        words = shlex.split(first)
    except ValueError:
        words = first.split()
    head = words[0] if words else ""
    current = open_file if open_file and open_file != "n/a" else None
    if head == "open" and len(words) > 1:
        return head, {"path": words[1], **({"line": words[2]} if len(words) > 2 else {})}, tools.Effect(
            tools.READ, reads=[words[1]])
    if head == "create" and len(words) > 1:
        return head, {"path": words[1]}, tools.Effect(tools.CREATE, creates=[words[1]])
    if head in _EDITS:
        return head, {"args": first[len(head):].strip(), "text": action[len(first):].strip("\n")}, tools.Effect(
            tools.EDIT, edits=[current] if current else [])
    if head == "str_replace_editor" and len(words) > 2:
        args = {"command": words[1], "path": words[2]}
        return head, args, tools.classify(head, args)
    if head in _SEARCHES:
        return head, {"args": words[1:]}, tools.Effect(tools.SEARCH)
    if head in _NAVIGATION or (head in commands and head not in ("python", "python3", "bash")):
        return head, {"args": action[len(head):].strip()}, tools.Effect(tools.OTHER)
    return "bash", {"command": action}, tools.shell_effect(action)


def _opened(action: str, current: str | None) -> str | None:
    words = action.strip().split()
    if len(words) > 1 and words[0] in ("open", "create"):
        return words[1].strip("'\"")
    return current


def _take(structured: list[tuple[str, Any]], action: str) -> tuple[str, Any] | None:
    """The function call recorded in ``history`` for this step, matched by action text."""
    for i, (recorded, call) in enumerate(structured[:4]):
        if recorded == action:
            del structured[: i + 1]
            return call
    return None


def _history_calls(history: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    out = []
    for message in history:
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {} if isinstance(call, dict) else {}
            if fn.get("name"):
                out.append((str(message.get("action") or "").strip(), (fn["name"], fn.get("arguments"))))
                break
    return out


def _special_commands(history: list[dict[str, Any]]) -> set[str]:
    """The agent's own commands, as the system prompt documents them (``name:\\n  docstring:``)."""
    for message in history:
        if message.get("role") == "system":
            return set(re.findall(r"^([a-z_][a-z0-9_]*):\s*\n\s+docstring:", _content(message), re.M))
    return set()


def _task(history: list[dict[str, Any]]) -> str | None:
    for message in history:
        if message.get("role") == "user":
            text = _content(message)
            if text.lstrip().startswith("Here is a demonstration"):
                continue
            return strip_template(text)
    return None


def _messages(b: TraceBuilder, history: list[dict[str, Any]], steps: list[Any], calls: list[Any]) -> None:
    pending = list(calls)
    for message in history:
        role = message.get("role")
        if role == "assistant":
            mine = [pending.pop(0)] if pending and (message.get("action") or message.get("tool_calls")) else None
            b.message("assistant", _content(message), calls=mine, reasoning=message.get("thought"))
        elif role in ("system", "user", "tool"):
            b.message(role, _content(message), tool_call_id=(message.get("tool_call_ids") or [None])[0])


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return str(content or "")


def _state(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _replay_config(doc: dict[str, Any]) -> dict[str, Any]:
    raw = doc.get("replay_config")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _repository(replay: dict[str, Any], roots: list[str], instance: str) -> str | None:
    url = _dig(replay, "env", "repo", "github_url")
    if isinstance(url, str) and "github.com/" in url:
        return url.split("github.com/", 1)[1].strip("/").removesuffix(".git")
    for root in reversed(roots):
        match = re.match(r"^/([A-Za-z0-9_.-]+)__([A-Za-z0-9_.-]+)$", root)
        if match and not root.startswith("/__"):
            return f"{match.group(1)}/{match.group(2)}"
    return paths.swebench_repo(instance)


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
