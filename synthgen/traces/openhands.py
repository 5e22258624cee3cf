"""OpenHands V0 event streams: trajectory lists, eval/resolver ``output.jsonl``, session dirs.

A V0 event is an action (``action``: run, run_ipython, read, write, edit, browse, finish,
message, ...) or an observation (``observation``, with ``cause`` = the action's id), with
``source`` user/agent/environment and ``args`` / ``extras``. Variants seen in the wild:
runtime trajectories (a JSON list of events), eval output (``history`` list per JSONL line),
the resolver's flattened events (action fields at top level, no ``args``/``source``), the
old OpenDevin ``[action, observation]`` pairs, and on-disk sessions (``events/<n>.json`` +
``metadata.json``). A tool call is an agent action that is not a message or bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from synthgen.traces import paths, tools
from synthgen.traces.builder import Limits, TraceBuilder
from synthgen.traces.model import Trace
from synthgen.traces.tasks import strip_template

FORMAT = "openhands"
_NOT_TOOLS = {"message", "system", "recall", "change_agent_state", "null", "", "condensation", "agent_state_changed",
              "condensation_request", "reject"}
_META_KEYS = {"id", "timestamp", "source", "message", "action", "observation", "cause", "tool_call_metadata",
              "llm_metrics", "args", "extras", "timeout", "action_risk", "is_confirmed", "security_risk"}
_SKILL_READ = re.compile(r"\b(?:open_file|goto_line|scroll_down|scroll_up)\(\s*['\"]([^'\"]+)['\"]")
_SKILL_EDIT = re.compile(r"\b(?:edit_file_by_replace|insert_content_at_line|append_file|edit_file)\(\s*"
                         r"(?:file_name\s*=\s*)?['\"]([^'\"]+)['\"]")
_SKILL_CREATE = re.compile(r"\bcreate_file\(\s*['\"]([^'\"]+)['\"]")
_EXIT = re.compile(r"\[Command finished with exit code (-?\d+)\]|exit code (-?\d+)")


def is_event(value: Any) -> bool:
    return isinstance(value, dict) and ("action" in value or "observation" in value) and "kind" not in value


def matches_events(doc: Any) -> bool:
    if not isinstance(doc, list) or not doc:
        return False
    head = doc[0]
    if isinstance(head, list):
        return bool(head) and is_event(head[0])
    return is_event(head)


def matches_record(record: Any) -> bool:
    """One eval/resolver output record: a ``history`` of V0 events (or event pairs)."""
    return isinstance(record, dict) and isinstance(record.get("history"), list) and matches_events(
        record["history"] or [{"action": "message"}])


def read_events(events: Iterable[Any], source_path: str, trace_id: str, limits: Limits,
                record: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Trace:
    record, meta = record or {}, meta or {}
    b = TraceBuilder(FORMAT, source_path, limits)
    by_event: dict[str, Any] = {}
    last_call = None
    finished = False
    model = None
    for index, event in enumerate(_flatten(events)):
        if "observation" in event and "action" not in event:
            call = by_event.get(str(event.get("cause"))) if event.get("cause") is not None else last_call
            _observe(b, call, event)
            last_call = None
            continue
        action = str(event.get("action") or "")
        args = _args(event)
        source = event.get("source") or ("user" if index == 0 and action == "message" else "agent")
        model = model or _model(event)
        if action == "message":
            text = str(args.get("content") or event.get("message") or "")
            if source == "user":
                b.prompt(strip_template(text))
                b.message("user", text)
            else:
                b.message("assistant", text)
        elif action == "system":
            b.message("system", str(args.get("content") or event.get("message") or ""))
        elif action not in _NOT_TOOLS and source != "user" and source != "environment":
            call = _call(b, action, args, event)
            finished = finished or action == "finish"
            by_event[str(event.get("id"))] = call
            last_call = call
            b.message("assistant", str(args.get("thought") or ""), calls=[call])
    issue = record.get("issue") if isinstance(record.get("issue"), dict) else {}
    instance = record.get("instance") if isinstance(record.get("instance"), dict) else {}
    if not b.prompts:
        b.prompt(strip_template(str(record.get("instruction") or instance.get("problem_statement") or "")))
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    model = meta.get("llm_model") or metadata.get("model_name") or _dig(metadata, "llm_config", "model") or model
    repo = (f"{issue['owner']}/{issue['repo']}" if issue.get("owner") and issue.get("repo") else None) or \
        instance.get("repo") or meta.get("selected_repository") or paths.swebench_repo(str(record.get("instance_id")))
    diff = record.get("git_patch") or _dig(record, "test_result", "git_patch")
    return b.finish(
        id=trace_id, final_diff=diff if isinstance(diff, str) else None, outcome=_outcome(record, finished),
        model=model if isinstance(model, str) else None, repository=repo if isinstance(repo, str) else None,
        variant="pairs" if _is_pairs(events) else ("resolver" if issue else "events"),
        source_meta={k: record[k] for k in ("test_result", "error") if record.get(k) is not None},
    )


def read_output_jsonl(records: Iterable[dict[str, Any]], source_path: str, stem: str, limits: Limits) -> Iterator[Trace]:
    for index, record in enumerate(records):
        if not matches_record(record):
            continue
        issue = record.get("issue") if isinstance(record.get("issue"), dict) else {}
        trace_id = record.get("instance_id") or record.get("id") or (
            f"{issue.get('owner')}/{issue.get('repo')}#{issue.get('number')}" if issue else f"{stem}:{index}")
        yield read_events(record["history"], source_path, str(trace_id), limits, record=record)


def _flatten(events: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for event in events:
        if isinstance(event, list):  # OpenDevin [action, observation]
            for part in event:
                if isinstance(part, dict) and (part.get("action") or part.get("observation") not in (None, "null")):
                    yield part
        elif isinstance(event, dict):
            yield event


def _is_pairs(events: Any) -> bool:
    return isinstance(events, list) and bool(events) and isinstance(events[0], list)


def _args(event: dict[str, Any]) -> dict[str, Any]:
    args = event.get("args")
    if isinstance(args, dict):
        return args
    return {k: v for k, v in event.items() if k not in _META_KEYS}  # the resolver's flattened events


def _call(b: TraceBuilder, action: str, args: dict[str, Any], event: dict[str, Any]):
    meta = event.get("tool_call_metadata") if isinstance(event.get("tool_call_metadata"), dict) else {}
    name = meta.get("function_name") or action
    clean = {k: v for k, v in args.items() if k not in ("thought", "keep_prompt", "is_confirmed", "kernel_init_code",
                                                         "blocking", "hidden", "confirmation_state")}
    return b.tool_call(name, clean, id=meta.get("tool_call_id"), effect=_effect(action, args))


def _effect(action: str, args: dict[str, Any]) -> tools.Effect:
    path = args.get("path") if isinstance(args.get("path"), str) else None
    if action == "run":
        return tools.shell_effect(str(args.get("command") or ""))
    if action == "run_ipython":
        code = str(args.get("code") or "")
        return tools.Effect(tools.OTHER, reads=_SKILL_READ.findall(code), edits=_SKILL_EDIT.findall(code),
                            creates=_SKILL_CREATE.findall(code))
    if action == "read" and path:
        return tools.classify("str_replace_editor", {"command": "view", "path": path})
    if action == "write" and path:
        return tools.Effect(tools.WRITE, writes=[path])
    if action == "edit" and path:
        if args.get("command"):
            return tools.classify("str_replace_editor", args)
        whole = args.get("start") in (1, None) and args.get("end") in (-1, None)
        return tools.Effect(tools.WRITE if whole else tools.EDIT, writes=[path] if whole else [],
                            edits=[] if whole else [path])
    if action in ("browse", "browse_interactive"):
        return tools.Effect(tools.OTHER)
    return tools.Effect(tools.OTHER)


def _observe(b: TraceBuilder, call: Any, event: dict[str, Any]) -> None:
    kind = str(event.get("observation") or "")
    if kind in ("null", "agent_state_changed", "recall", "") or call is None:
        return
    content = str(event.get("content") or "")
    extras = event.get("extras") if isinstance(event.get("extras"), dict) else {}
    failed = kind == "error" or content.lstrip().startswith("ERROR:") or \
        "[Your proposed edit has introduced new syntax error" in content[:300]
    code = extras.get("exit_code", _dig(extras, "metadata", "exit_code"))
    if code is None and kind == "run":
        code = event.get("exit_code")
    if code is None:
        match = _EXIT.search(content[-300:])
        code = next((g for g in match.groups() if g is not None), None) if match else None
    if code is not None and str(code).lstrip("-").isdigit():
        failed = failed or int(code) not in (0, -1)
    if str(event.get("success")).lower() == "false":
        failed = True
    call.failed = failed
    b.message("tool", content, tool_call_id=call.id)


def _outcome(record: dict[str, Any], finished: bool) -> str | None:
    if "success" in record:
        return "success" if record.get("success") in (True, "True", "true") else "failure"
    if record.get("error") not in (None, "None", ""):
        return "error"
    return "finish" if finished else None


def _model(event: dict[str, Any]) -> str | None:
    return _dig(event, "tool_call_metadata", "model_response", "model")


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
