"""Claude Code session transcripts (``~/.claude/projects/<project>/<session>.jsonl``).

One JSON record per line (schema: agent-schemas session.schema.json): ``type`` user /
assistant / system / summary / attachment / progress / file-history-snapshot / ...; chat
records carry ``message`` in Anthropic form (``text``, ``thinking``, ``tool_use``,
``tool_result`` blocks, ``is_error`` on results). Newer CLIs split one API response over
several records sharing ``message.id``; they are merged into one message and a ``tool_use``
id is counted once. Subagent transcripts set ``isSidechain``. Older or foreign exports may
put ``tool_use`` / ``tool_result`` records at the top level. Lines that are not JSON objects
are skipped and counted, never fatal.

The task is the first thing a person asked: slash-command wrappers give their arguments (or,
with none, the command's expanded prompt), while caveats, local-command output, ``!`` shell
input, interruptions, hook/notification records (``origin.kind`` other than ``human``) and
tool results are not requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from synthgen.traces.builder import Limits, TraceBuilder, openai_call
from synthgen.traces.model import ToolCall, Trace

FORMAT = "claude-code"
CHAT_TYPES = {"user", "assistant"}
KNOWN_TYPES = CHAT_TYPES | {"summary", "system", "attachment", "progress", "file-history-snapshot", "queue-operation",
                            "tool_use", "tool_result", "session_start", "permission-mode", "custom-title", "ai-title",
                            "last-prompt", "agent-name", "pr-link", "worktree-state", "mode"}
_TAG = re.compile(r"<(command-name|command-args|command-contents|command-message)>(.*?)</\1>", re.S)
_NOT_REQUESTS = ("<local-command-stdout>", "<local-command-stderr>", "<local-command-caveat>", "Caveat: The messages below",
                 "<bash-input>", "<bash-stdout>", "<bash-stderr>", "[Request interrupted", "<user-prompt-submit-hook>",
                 "<task-notification>", "<command-message>", "This session is being continued from a previous")
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)


def matches_record(record: dict[str, Any]) -> bool:
    kind = record.get("type")
    if kind in CHAT_TYPES:
        return isinstance(record.get("message"), dict) or "sessionId" in record or "uuid" in record
    return kind in KNOWN_TYPES and ("sessionId" in record or "uuid" in record or "leafUuid" in record)


class _Session:
    def __init__(self, b: TraceBuilder) -> None:
        self.b = b
        self.meta: dict[str, Any] = {"summaries": []}
        self.current_id: str | None = None
        self.seen_calls: set[str] = set()
        self.pending: list[ToolCall] = []
        self.pending_command = False
        self.requests: list[tuple[str, bool]] = []
        self.sidechain_only = True
        self.model: str | None = None

    def record(self, r: dict[str, Any]) -> None:
        kind = r.get("type")
        for key in ("cwd", "gitBranch", "sessionId", "agentId", "version"):
            if r.get(key) and key not in self.meta:
                self.meta[key] = r[key]
        stamp = r.get("timestamp")
        if isinstance(stamp, str):
            self.meta.setdefault("started_at", stamp)
            self.meta["ended_at"] = stamp
        if r.get("cwd"):
            self.b.roots.append(str(r["cwd"]))
        if kind in CHAT_TYPES and not r.get("isSidechain"):
            self.sidechain_only = False
        if kind == "assistant":
            self.assistant(r)
        elif kind == "user":
            self.current_id = None
            self.user(r)
        elif kind == "tool_use":
            self.calls([{"type": "tool_use", "name": r.get("name"), "input": r.get("input"), "id": r.get("uuid")}])
        elif kind == "tool_result":
            self.result(None, bool(r.get("is_error")) if "is_error" in r else None, str(r.get("output") or ""))
        elif kind == "summary" and len(self.meta["summaries"]) < 20:
            self.meta["summaries"].append(r.get("summary"))

    def assistant(self, r: dict[str, Any]) -> None:
        message = r.get("message") if isinstance(r.get("message"), dict) else {}
        model = message.get("model")
        if isinstance(model, str) and not model.startswith("<"):
            self.model = self.model or model
        blocks = _blocks(message.get("content"))
        merged = message.get("id") is not None and message.get("id") == self.current_id
        self.current_id = message.get("id")
        text = "\n".join(str(b.get("text") or "") for b in blocks if b.get("type") == "text")
        thinking = "\n".join(str(b.get("thinking") or "") for b in blocks if b.get("type") == "thinking")
        calls = self.calls(blocks)
        last = self.b.messages[-1] if self.b.messages else None
        if merged and last is not None and last.get("role") == "assistant":
            _extend(self.b, last, text, calls, thinking)
        elif text or calls or thinking:
            self.b.message("assistant", text, calls=calls, reasoning=thinking or None)

    def calls(self, blocks: list[dict[str, Any]]) -> list[ToolCall]:
        out = []
        for block in blocks:
            if block.get("type") not in ("tool_use", "server_tool_use"):
                continue
            call_id = block.get("id")
            if call_id and call_id in self.seen_calls:
                continue
            if call_id:
                self.seen_calls.add(call_id)
            call = self.b.tool_call(str(block.get("name") or "?"), block.get("input"), id=call_id)
            self.pending.append(call)
            out.append(call)
        return out

    def user(self, r: dict[str, Any]) -> None:
        message = r.get("message") if isinstance(r.get("message"), dict) else {}
        content = message.get("content")
        blocks = _blocks(content)
        for block in blocks:
            if block.get("type") == "tool_result":
                failed = block.get("is_error") is True  # a result without is_error is a success
                self.result(block.get("tool_use_id"), failed, _result_text(block.get("content")))
        text = content if isinstance(content, str) else "\n".join(
            str(b.get("text") or "") for b in blocks if b.get("type") == "text")
        if not text.strip():
            return
        self.b.message("user", text)
        request = self.request(r, text)
        if request:
            self.requests.append((request, bool(r.get("isSidechain"))))

    def request(self, r: dict[str, Any], text: str) -> str | None:
        """The user's own words in this record, or None when it is not a request."""
        origin = r.get("origin")
        if isinstance(origin, dict) and origin.get("kind") not in (None, "human"):
            return None
        clean = _REMINDER.sub("", text).strip()
        if "<command-name>" in clean:
            tags = {name: value.strip() for name, value in _TAG.findall(clean)}
            if tags.get("command-args"):
                return tags["command-args"]
            expanded = _command_contents(tags.get("command-contents"))
            self.pending_command = not expanded
            return expanded
        if r.get("isMeta"):
            if self.pending_command and not clean.startswith(_NOT_REQUESTS):
                self.pending_command = False
                return clean or None
            return None
        self.pending_command = False
        if not clean or clean.startswith(_NOT_REQUESTS):
            return None
        return clean

    def result(self, call_id: str | None, failed: bool | None, text: str) -> None:
        call = self.b.by_id.get(call_id) if call_id else None
        if call is None and call_id is None:
            call = self.pending[0] if self.pending else (self.b.calls[-1] if self.b.calls else None)
        if call is not None:
            if failed is not None:
                call.failed = failed
            if call in self.pending:
                self.pending.remove(call)
        self.b.message("tool", text, tool_call_id=call_id or (call.id if call else None))


def read(records: Iterable[dict[str, Any]], source_path: str, stem: str, limits: Limits) -> Trace:
    b = TraceBuilder(FORMAT, source_path, limits)
    session = _Session(b)
    for record in records:
        session.record(record)
    meta = session.meta
    main = [text for text, side in session.requests if not side]
    for text in (main or [text for text, _ in session.requests]):
        b.prompt(text)
    session_id, agent_id = meta.get("sessionId"), meta.get("agentId")
    trace_id = f"{session_id}:{agent_id}" if session_id and agent_id else str(session_id or stem)
    cwd = meta.get("cwd")
    return b.finish(
        id=trace_id, task=session.requests[0][0] if session.requests else None, model=session.model,
        repository=_project(cwd), cwd=cwd,
        git_branch=meta.get("gitBranch") or None, started_at=meta.get("started_at"), ended_at=meta.get("ended_at"),
        agent_id=agent_id, is_sidechain=session.sidechain_only and bool(session.requests or b.messages),
        variant=f"cli-{meta['version']}" if meta.get("version") else None,
        source_meta={k: v for k, v in (("summaries", meta["summaries"]), ("version", meta.get("version"))) if v},
    )


def _project(cwd: Any) -> str | None:
    """The project folder's name, where the cwd is a project (not /tmp, not a bare home)."""
    if not isinstance(cwd, str):
        return None
    parts = [p for p in cwd.replace("\\", "/").split("/") if p]
    if not parts or parts[0] in ("tmp", "var") or (parts[0] in ("Users", "home") and len(parts) <= 2):
        return None
    return parts[-1]


def _extend(b: TraceBuilder, message: dict[str, Any], text: str, calls: list[ToolCall], thinking: str) -> None:
    """Fold a continuation record of the same API response into the message it continues."""
    if text:
        message["content"].append({"type": "text", "text": text})
    if thinking:
        message["reasoning_content"] = "\n".join(filter(None, [message.get("reasoning_content"), thinking]))
    if calls:
        existing = message.setdefault("tool_calls", [])
        existing.extend(openai_call(c, len(existing) + i) for i, c in enumerate(calls))


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return []


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(c.get("text") or "") for c in content if isinstance(c, dict))
    return ""


def _command_contents(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return raw.strip() or None
    if isinstance(value, dict):
        return str(value.get("text") or "").strip() or None
    return str(value).strip() or None
