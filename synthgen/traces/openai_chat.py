"""OpenAI-style chat logs with ``tool_calls``: OpenHands ``llm_completions`` and plain lists.

An OpenHands ``llm_completions/<instance>/*.json`` file is one LLM call: ``messages`` (the
whole conversation so far, OpenAI form), ``response`` (the model's reply, which may call more
tools), ``kwargs.tools``. The last call of a run therefore holds the run. It is not an event
stream: results are ``role: tool`` messages matched by ``tool_call_id``. Any other JSON that is
a list of such messages (or ``{"messages": [...]}``) with tool calls is read the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from synthgen.traces import paths
from synthgen.traces.builder import Limits, TraceBuilder
from synthgen.traces.model import Trace, message_text
from synthgen.traces.tasks import strip_template

FORMAT = "openhands"
GENERIC = "openai-chat"
_EXIT = re.compile(r"\[Command finished with exit code (-?\d+)\]")
_UPLOADED = re.compile(r"<uploaded_files>\s*(\S+)\s*</uploaded_files>")


def _has_calls(messages: Any) -> bool:
    return isinstance(messages, list) and any(isinstance(m, dict) and m.get("tool_calls") for m in messages)


def matches(doc: Any) -> bool:
    if isinstance(doc, dict):
        return isinstance(doc.get("messages"), list) and (
            "response" in doc or "kwargs" in doc or _has_calls(doc["messages"]))
    return isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict) and "role" in doc[0] and _has_calls(doc)


def read(doc: Any, source_path: str, stem: str, limits: Limits) -> Iterator[Trace]:
    is_completion = isinstance(doc, dict) and ("response" in doc or "kwargs" in doc)
    messages = list(doc.get("messages") if isinstance(doc, dict) else doc)
    response = doc.get("response") if isinstance(doc, dict) and isinstance(doc.get("response"), dict) else {}
    reply = _dig_choice(response)
    if reply:
        messages.append(reply)
    b = TraceBuilder(FORMAT if is_completion else GENERIC, source_path, limits)
    for message in messages:
        if not isinstance(message, dict):
            continue
        role, text = message.get("role"), _text(message)
        if role == "assistant":
            calls = [_call(b, c) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
            b.message("assistant", text, calls=calls, reasoning=message.get("reasoning_content"))
        elif role == "tool":
            b.result(message.get("tool_call_id"), _failed(text))
            b.message("tool", text, tool_call_id=message.get("tool_call_id"))
        elif role in ("user", "system"):
            if role == "user" and not b.prompts:
                upload = _UPLOADED.search(text)
                if upload:
                    b.roots.append(upload.group(1))
                b.prompt(strip_template(text))
            b.message(role, text)
    instance = paths.swebench_instance(stem) or stem
    model = response.get("model") if isinstance(response.get("model"), str) else None
    yield b.finish(id=instance, model=model, repository=paths.swebench_repo(instance),
                   variant="llm-completions" if is_completion else "messages",
                   source_meta={"cost": doc.get("cost")} if isinstance(doc, dict) and "cost" in doc else {})


def _dig_choice(response: dict[str, Any]) -> dict[str, Any] | None:
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict) and (message.get("tool_calls") or message.get("content")):
            return {"role": "assistant", **message}
    return None


def _call(b: TraceBuilder, call: dict[str, Any]):
    fn = call.get("function") if isinstance(call.get("function"), dict) else {}
    return b.tool_call(str(fn.get("name") or "?"), fn.get("arguments"), id=call.get("id"))


def _failed(text: str) -> bool | None:
    match = _EXIT.search(text[-400:])
    if match:
        return int(match.group(1)) not in (0, -1)
    if text.lstrip().startswith(("ERROR:", "Error:")):
        return True
    return None


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else message_text(message)
