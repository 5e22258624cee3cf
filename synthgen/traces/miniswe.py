"""mini-SWE-agent trajectories (``.traj.json``).

Documented shape (mini-swe-agent docs, usage/output_files.md): ``{info, messages,
trajectory_format}``; ``info.exit_status`` / ``info.submission`` (the patch); messages in
OpenAI chat form. The action is the one fenced block in an assistant message
(```` ```bash ```` in 1.x, ```` ```mswea_bash_command ```` in later ones); 1.1 also records
``extra.actions``; tool-calling models use ``tool_calls`` and ``role: tool`` results. A reply
with zero or several blocks is a format error mini-SWE-agent does not execute, so it is not
a tool call. The oldest files are a bare list of messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from synthgen.traces import paths
from synthgen.traces.builder import Limits, TraceBuilder
from synthgen.traces.model import Trace, message_text, parse_arguments
from synthgen.traces.tasks import strip_template

FORMAT = "mini-swe-agent"
_BLOCK = re.compile(r"```(?:bash|mswea_bash_command|sh|shell)[ \t]*\n(.*?)\n?```", re.S)
_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")


def matches(doc: Any) -> bool:
    if isinstance(doc, dict):
        if str(doc.get("trajectory_format", "")).startswith("mini-swe-agent"):
            return True
        info = doc.get("info")
        return isinstance(doc.get("messages"), list) and isinstance(info, dict) and "mini_version" in info
    return _is_message_list(doc) and any(_BLOCK.search(_text(m)) for m in doc if m.get("role") == "assistant")


def _is_message_list(doc: Any) -> bool:
    return isinstance(doc, list) and bool(doc) and all(isinstance(m, dict) and "role" in m for m in doc[:5])


def read(doc: Any, source_path: str, stem: str, limits: Limits) -> Iterator[Trace]:
    messages = doc if isinstance(doc, list) else doc.get("messages") or []
    info = {} if isinstance(doc, list) else doc.get("info") or {}
    b = TraceBuilder(FORMAT, source_path, limits)
    last = None
    for message in messages:
        if not isinstance(message, dict):
            continue
        role, text = message.get("role"), _text(message)
        if role == "assistant":
            calls = _actions(b, message, text)
            last = calls[-1] if calls else None
            b.message("assistant", text, calls=calls)
        elif role == "tool":
            b.result(message.get("tool_call_id"), _failed(message, text))
            b.message("tool", text, tool_call_id=message.get("tool_call_id"))
        elif role in ("user", "system"):
            if role == "user" and not b.prompts:
                b.prompt(strip_template(text))
            elif role == "user" and last is not None:
                failed = _failed(message, text)
                if failed is not None:
                    last.failed = failed
                last = None
            b.message(role, text)
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    model = (config.get("model") or {}).get("model_name") if isinstance(config.get("model"), dict) else None
    instance = (None if isinstance(doc, list) else doc.get("instance_id")) or stem
    yield b.finish(
        id=str(instance), final_diff=_diff(info.get("submission")), outcome=info.get("exit_status"), model=model,
        repository=paths.swebench_repo(str(instance)), variant=str(doc.get("trajectory_format") if isinstance(
            doc, dict) else "message-list"),
        source_meta={"mini_version": info.get("mini_version")} if info.get("mini_version") else {},
    )


def _actions(b: TraceBuilder, message: dict[str, Any], text: str) -> list:
    if message.get("tool_calls"):
        calls = []
        for call in message["tool_calls"]:
            fn = call.get("function") or {}
            calls.append(b.tool_call(fn.get("name") or "bash", fn.get("arguments"), id=call.get("id")))
        return calls
    extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
    if isinstance(extra.get("actions"), list):
        commands = [a.get("command") for a in extra["actions"] if isinstance(a, dict) and a.get("command")]
    else:
        blocks = _BLOCK.findall(text)
        commands = blocks if len(blocks) == 1 else []
    return [b.tool_call("bash", {"command": command.strip()}) for command in commands]


def _failed(message: dict[str, Any], text: str) -> bool | None:
    extra = message.get("extra") if isinstance(message.get("extra"), dict) else {}
    if isinstance(extra.get("returncode"), int):
        return extra["returncode"] != 0
    match = _RETURNCODE.search(text[:200])
    if match:
        return int(match.group(1)) != 0
    if message.get("role") == "tool":
        args, _ = parse_arguments(text) if text.startswith("{") else ({}, False)
        return bool(args.get("is_error")) if "is_error" in args else None
    return None


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return message_text(message)
    return str(content or "")


def _diff(value: Any) -> str | None:
    return value if isinstance(value, str) and "\n" in value and ("diff" in value or "---" in value) else None
