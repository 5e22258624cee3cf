"""The normalized trace: what every reader produces, whatever agent wrote the file.

A trace is one agent run on one task. Readers differ wildly in what they see (SWE-agent
steps, Claude Code records, aider markdown); downstream code (patterns, the coding-tasks
recipe) only ever sees this shape.

``to_row`` maps a trace onto NeMo Data Designer's agent-rollout seed schema
(``AgentRolloutSeedSource``: ``trace_id``, ``source_kind``, ``source_path``, ``messages``,
``message_count``, ``tool_call_count``, ``final_assistant_message``, ...), so the rows can be
handed to Data Designer as a seed dataset unchanged. The ``messages`` list uses its chat
shape: ``content`` is a list of ``{"type": "text", "text": ...}`` blocks, assistant tool calls
are OpenAI ``{"id", "type": "function", "function": {"name", "arguments": <json str>}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from synthgen.errors import TraceError

__all__ = ["ToolCall", "Trace", "TraceError"]

# Bump when a field of Trace or the row changes meaning.
TRACE_VERSION = 1


@dataclass(slots=True)
class ToolCall:
    """One tool invocation. ``arguments`` is always a dict; arguments that were not valid
    JSON are kept verbatim under ``{"_raw": ...}`` with ``malformed_arguments`` set."""

    name: str
    arguments: dict[str, Any]
    failed: bool | None = None  # None: the trace does not say
    id: str | None = None
    malformed_arguments: bool = False
    kind: str = "other"  # read / edit / create / shell / search / other (see tools.py)


@dataclass(slots=True)
class Trace:
    id: str
    source_format: str  # sweagent, mini-swe-agent, openhands, claude-code, aider
    source_path: str
    task: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    files_edited: list[str] = field(default_factory=list)
    files_created: list[str] = field(default_factory=list)
    shell_commands: list[str] = field(default_factory=list)
    final_diff: str | None = None
    outcome: str | None = None  # exit status as the agent reported it (submitted, finish, ...)
    model: str | None = None
    repository: str | None = None
    languages: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    variant: str | None = None  # format variant, e.g. "function-calling", "v1-events"
    cwd: str | None = None
    git_branch: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    agent_id: str | None = None
    is_sidechain: bool = False
    tool_call_count: int = 0  # counts every call, also beyond the kept-list cap
    truncated: bool = False  # messages or tool calls were capped (huge trace)
    skipped_lines: int = 0  # unreadable JSONL lines / records skipped, counted
    prompts: list[str] = field(default_factory=list)  # every real user request, in order
    source_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def final_assistant_message(self) -> str | None:
        for message in reversed(self.messages):
            if message.get("role") == "assistant":
                text = message_text(message)
                if text.strip():
                    return text
        return None

    def to_row(self) -> dict[str, Any]:
        """The Data Designer agent-rollout row, plus synthgen's own fields."""
        return {
            "trace_id": self.id,
            "source_kind": self.source_format.replace("-", "_"),
            "source_path": self.source_path,
            "root_session_id": self.id.split(":")[0],
            "agent_id": self.agent_id,
            "is_sidechain": self.is_sidechain,
            "cwd": self.cwd,
            "project_path": self.cwd,
            "git_branch": self.git_branch,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "messages": self.messages,
            "source_meta": {**self.source_meta, "variant": self.variant, "trace_version": TRACE_VERSION},
            "message_count": len(self.messages),
            "tool_call_count": self.tool_call_count,
            "final_assistant_message": self.final_assistant_message,
            "task": self.task,
            "tool_calls": [
                {"name": c.name, "arguments": c.arguments, "failed": c.failed, "kind": c.kind,
                 "malformed_arguments": c.malformed_arguments}
                for c in self.tool_calls
            ],
            "files_read": self.files_read,
            "files_edited": self.files_edited,
            "files_created": self.files_created,
            "shell_commands": self.shell_commands,
            "final_diff": self.final_diff,
            "outcome": self.outcome,
            "model": self.model,
            "repository": self.repository,
            "languages": self.languages,
        }


def text_blocks(text: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": text}]


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def parse_arguments(raw: Any) -> tuple[dict[str, Any], bool]:
    """Tool arguments as a dict, and whether they were malformed. Never raises."""
    if isinstance(raw, dict):
        return raw, False
    if raw is None or raw == "":
        return {}, False
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            return {"_raw": raw}, True
        if isinstance(value, dict):
            return value, False
        return {"_value": value}, False
    return {"_value": raw}, False
