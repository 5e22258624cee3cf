"""TraceBuilder: the one place where readers' events become a Trace.

Readers only say what they saw (a message, a tool call, a result that failed, a root the
agent worked in); the builder classifies calls, collects files and commands, caps what it
keeps so a 200 MB session cannot exhaust memory, and settles the file lists at the end
(paths made repo-relative, the final diff folded in, created files not also "edited").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from synthgen.traces import paths, tools
from synthgen.traces.model import ToolCall, Trace, parse_arguments, text_blocks


@dataclass(slots=True, frozen=True)
class Limits:
    """What one trace may hold. Counts (``tool_call_count``) keep going past the caps."""

    max_messages: int = 2_000
    max_tool_calls: int = 5_000
    max_message_chars: int = 8_000
    max_tool_output_chars: int = 2_000
    max_files: int = 2_000
    max_json_bytes: int = 64 * 1024 * 1024  # a single JSON document larger than this is refused


class TraceBuilder:
    def __init__(self, source_format: str, source_path: str, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.source_format = source_format
        self.source_path = source_path
        self.messages: list[dict[str, Any]] = []
        self.calls: list[ToolCall] = []
        self.by_id: dict[str, ToolCall] = {}
        self.call_count = 0
        self.truncated = False
        self.roots: list[str] = list(paths.DEFAULT_ROOTS)
        self.prompts: list[str] = []
        self._reads: dict[str, None] = {}
        self._edits: dict[str, None] = {}
        self._creates: dict[str, None] = {}
        self._seen: set[str] = set()
        self._effects: list[tuple[ToolCall, tools.Effect]] = []
        self.commands: list[str] = []

    # ---- events ---------------------------------------------------------------------------

    def message(self, role: str, text: str, *, calls: list[ToolCall] | None = None,
                tool_call_id: str | None = None, reasoning: str | None = None) -> None:
        if len(self.messages) >= self.limits.max_messages:
            self.truncated = True
            return
        cap = self.limits.max_tool_output_chars if role == "tool" else self.limits.max_message_chars
        if len(text) > cap:
            text = text[:cap] + f"\n[... {len(text) - cap} characters cut by synthgen]"
        msg: dict[str, Any] = {"role": role, "content": text_blocks(text)}
        if role == "assistant":
            msg["reasoning_content"] = reasoning or None
            if calls:
                msg["tool_calls"] = [openai_call(c, i) for i, c in enumerate(calls)]
        if role == "tool":
            msg["tool_call_id"] = tool_call_id
        self.messages.append(msg)

    def prompt(self, text: str | None) -> None:
        """A real user request (wrappers already stripped by the reader); the first is the task."""
        if text and text.strip() and len(self.prompts) < 200:
            self.prompts.append(text.strip())

    def tool_call(self, name: str, arguments: Any, *, id: str | None = None, failed: bool | None = None,
                  kind: str | None = None, effect: tools.Effect | None = None) -> ToolCall:
        args, malformed = parse_arguments(arguments)
        effect = effect or tools.classify(name, args)
        call = ToolCall(name=name or "?", arguments=args, failed=failed, id=id, malformed_arguments=malformed,
                        kind=kind or effect.kind)
        self.call_count += 1
        if len(self.calls) < self.limits.max_tool_calls:
            self.calls.append(call)
        else:
            self.truncated = True
        if id:
            self.by_id[id] = call
        if effect.command and len(self.commands) < self.limits.max_tool_calls:
            self.commands.append(effect.command)
        if len(self._effects) < self.limits.max_tool_calls:
            self._effects.append((call, effect))  # settled at finish, once failures are known
        else:
            self.apply(effect)
        return call

    def apply(self, effect: tools.Effect, *, failed: bool = False) -> None:
        """Record the files of one call. A call that failed read its files but changed none."""
        norm = lambda items: [paths.relativize(p, self.roots) for p in items if p]  # noqa: E731
        for p in norm(effect.reads):
            self._add(self._reads, p)
        if failed:
            return
        for p in norm(effect.edits):
            self._add(self._edits, p)
        for p in norm(effect.creates):
            self._add(self._creates if p not in self._seen else self._edits, p)
        for p in norm(effect.writes):  # a whole-file write creates a file it has not met before
            self._add(self._edits if p in self._seen else self._creates, p)

    def result(self, call_id: str | None, failed: bool | None) -> None:
        call = self.by_id.get(call_id or "")
        if call is not None and failed is not None:
            call.failed = failed

    def _add(self, bucket: dict[str, None], path: str) -> None:
        if path and len(bucket) < self.limits.max_files:
            bucket[path] = None
            self._seen.add(path)

    # ---- the end --------------------------------------------------------------------------

    def finish(self, *, id: str, task: str | None = None, final_diff: str | None = None, **fields: Any) -> Trace:
        for call, effect in self._effects:
            self.apply(effect, failed=call.failed is True)
        self._effects.clear()
        rel = lambda items: _unique(paths.relativize(p, self.roots) for p in items)  # noqa: E731
        created, edited, read = rel(self._creates), rel(self._edits), rel(self._reads)
        diff_modified, diff_created = paths.diff_files(final_diff)
        created = _unique([*created, *diff_created])
        edited = [p for p in _unique([*edited, *diff_modified]) if p not in created]
        languages = _languages([*edited, *created]) or _languages(read)
        return Trace(
            id=id, source_format=self.source_format, source_path=self.source_path,
            task=task if task is not None else (self.prompts[0] if self.prompts else None),
            tool_calls=self.calls, files_read=[p for p in read if p not in (".", "")], files_edited=edited,
            files_created=created, shell_commands=self.commands, final_diff=final_diff or None,
            languages=fields.pop("languages", None) or languages, messages=self.messages,
            tool_call_count=self.call_count, truncated=self.truncated, prompts=self.prompts, **fields,
        )


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(p for p in items if p and p != "."))


def _languages(files: list[str]) -> list[str]:
    found = (paths.language_of(p) for p in files)
    return _unique(lang for lang in found if lang)


def openai_call(call: ToolCall, index: int) -> dict[str, Any]:
    args = call.arguments.get("_raw") if call.malformed_arguments else json.dumps(call.arguments, ensure_ascii=False)
    return {"id": call.id or f"call_{index}", "type": "function", "function": {"name": call.name, "arguments": args}}
