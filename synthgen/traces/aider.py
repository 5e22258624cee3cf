"""aider chat histories (``.aider.chat.history.md``) and the aider website's example transcripts.

aider writes markdown (aider/io.py): ``# aider chat started at <time>`` opens a session, user
input lines start ``#### ``, tool output lines start ``> ``, everything else is the model's
reply. Edits are SEARCH/REPLACE blocks (``<<<<<<< SEARCH`` / ``=======`` / ``>>>>>>> REPLACE``;
``ORIGINAL`` / ``UPDATED`` in old versions) under a file-name line, or whole files in the
"whole" edit format, confirmed by ``> Applied edit to FILE``. Slash commands (``/run``,
``/add``, ...) are the user driving tools, so they are tool calls and never the task;
``/ask``, ``/code`` and ``/architect`` carry a request. The website examples wrap the same
markup in Jekyll front matter and ``<div class="chat-transcript">``.

One file is one trace: its sessions are one project's history, in order.
"""

from __future__ import annotations

import re

from synthgen.traces import paths, tools
from synthgen.traces.builder import Limits, TraceBuilder
from synthgen.traces.model import ToolCall, Trace

FORMAT = "aider"
_SESSION = re.compile(r"^# aider chat started at (.+?)\s*$", re.M)
_DIV = re.compile(r'<div class="chat-transcript"[^>]*>(.*?)(?:</div>|\Z)', re.S)
_START = re.compile(r"^<{7} (SEARCH|ORIGINAL)\s*$")
_MID = re.compile(r"^={7}\s*$")
_END = re.compile(r"^>{7} (REPLACE|UPDATED)\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_APPLIED = re.compile(r"^Applied edit to (.+?)\s*$")
_RUNNING = re.compile(r"^Running (.+?)\s*$")
_FAILED = ("did not conform to the edit format", "failed to match", "SearchReplaceNoExactMatch",
           "Malformed response", "Unable to apply")
_REQUEST_COMMANDS = {"ask", "code", "architect", "context", "agent"}
_SHELL_COMMANDS = {"run", "test", "git", "lint", "!"}
_MODEL = re.compile(r"^(?:Main model|Model): (\S+)", re.M)


def matches(text: str) -> bool:
    if _SESSION.search(text):
        return True
    return '<div class="chat-transcript"' in text and bool(re.search(r"^#### \S", text, re.M))


def read(text: str, source_path: str, stem: str, limits: Limits) -> Trace:
    body = _transcript(text)
    b = TraceBuilder(FORMAT, source_path, limits)
    blocks: list[tuple[ToolCall, str]] = []
    model = None
    for kind, lines in _turns(body):
        chunk = "\n".join(lines).strip("\n")
        if kind == "user":
            _user(b, chunk)
        elif kind == "assistant":
            blocks = _edits(b, lines)
            b.message("assistant", chunk, calls=[c for c, _ in blocks])
        elif kind == "tool":
            blocks = _tool_output(b, lines, blocks)
            b.message("tool", chunk)
            found = _MODEL.search(chunk)
            model = model or (found.group(1) if found else None)
    sessions = _SESSION.findall(text)
    return b.finish(id=stem, model=model, started_at=sessions[0] if sessions else None,
                    ended_at=sessions[-1] if sessions else None,
                    variant="website-example" if "chat-transcript" in text else "chat-history",
                    source_meta={"sessions": len(sessions)})


def _transcript(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4:]
    divs = _DIV.findall(text)
    return "\n".join(divs) if divs else text


def _turns(body: str) -> list[tuple[str, list[str]]]:
    """Split the markdown into (user | assistant | tool, lines) turns."""
    turns: list[tuple[str, list[str]]] = []
    in_fence = False
    for raw in body.split("\n"):
        line = raw.rstrip()
        if _SESSION.match(line):
            in_fence = False
            kind = "session"
        elif line.startswith("#### ") and not in_fence:
            kind, line = "user", line[5:]
        elif line.startswith(">") and not in_fence and not _END.match(line):
            kind, line = "tool", line[1:].removeprefix(" ")
        else:
            kind = "assistant"
            if _FENCE.match(line):
                in_fence = not in_fence
        if turns and turns[-1][0] == kind:
            turns[-1][1].append(line)
        else:
            if kind == "assistant" and not line.strip() and (not turns or turns[-1][0] != "assistant"):
                continue  # blank separator lines do not open a reply
            turns.append((kind, [line]))
    return [(k, lines) for k, lines in turns if k != "session" and any(s.strip() for s in lines)]


def _user(b: TraceBuilder, text: str) -> None:
    """One user turn: slash commands are one line each; other lines form the request."""
    request: list[str] = []
    for line in text.split("\n"):
        if re.match(r"^/[a-z][a-z-]*(?:\s|$)", line.strip()):
            _flush(b, request)
            _command(b, line.strip())
        else:
            request.append(line)
    _flush(b, request)


def _flush(b: TraceBuilder, lines: list[str]) -> None:
    text = "\n".join(lines).strip()
    lines.clear()
    if text:
        b.prompt(text)
        b.message("user", text)


def _command(b: TraceBuilder, line: str) -> None:
    command, _, rest = line[1:].partition(" ")
    rest = rest.strip()
    b.message("user", line)
    if command in _REQUEST_COMMANDS:
        b.prompt(rest)
        return
    if command in _SHELL_COMMANDS:
        b.tool_call(command, {"command": rest}, effect=tools.shell_effect(rest))
    elif command in ("add", "read-only", "read"):
        files = rest.split()
        b.tool_call(command, {"files": files}, effect=tools.Effect(tools.READ, reads=files))
    else:
        b.tool_call(command, {"args": rest} if rest else {}, effect=tools.Effect(tools.OTHER))


def _edits(b: TraceBuilder, lines: list[str]) -> list[tuple[ToolCall, str]]:
    """One ``edit`` call per SEARCH/REPLACE block, named by the file line above it."""
    out: list[tuple[ToolCall, str]] = []
    i = 0
    while i < len(lines):
        if not _START.match(lines[i]):
            i += 1
            continue
        path = _filename(lines, i)
        echo = path is not None and path.startswith("## SearchReplace")  # aider quoting a failed block back
        search, replace, j, part = [], [], i + 1, "search"
        while j < len(lines) and not _END.match(lines[j]):
            if part == "search" and _MID.match(lines[j]):
                part = "replace"
            else:
                (search if part == "search" else replace).append(lines[j])
            j += 1
        if echo:
            i = j + 1
            continue
        args = {"path": path, "search": "\n".join(search), "replace": "\n".join(replace)}
        new_file = not "".join(search).strip()
        effect = tools.Effect(tools.WRITE if new_file else tools.EDIT, writes=[path] if new_file and path else [],
                              edits=[path] if path and not new_file else [])
        out.append((b.tool_call("edit", args, effect=effect), path or ""))
        i = j + 1
    return out


def _filename(lines: list[str], start: int) -> str | None:
    for k in range(start - 1, max(start - 4, -1), -1):
        candidate = lines[k].strip().strip("*`:").strip()
        if not candidate or _FENCE.match(lines[k].strip()):
            continue
        if candidate.startswith("## SearchReplace"):
            return candidate
        return candidate if " " not in candidate or "/" in candidate else None
    return None


def _tool_output(b: TraceBuilder, lines: list[str], blocks: list[tuple[ToolCall, str]]) -> list:
    applied = [paths.relativize(m.group(1), []) for m in (_APPLIED.match(line.strip()) for line in lines) if m]
    failed = any(marker in line for line in lines for marker in _FAILED)
    for call, path in blocks:
        if paths.relativize(path, []) in applied:
            call.failed = False
        elif failed:
            call.failed = True
    covered = {paths.relativize(path, []) for _, path in blocks}
    for path in applied:
        if path not in covered:  # whole-file (or udiff) edits have no SEARCH/REPLACE block
            b.tool_call("write", {"path": path}, failed=False, effect=tools.Effect(tools.WRITE, writes=[path]))
    for line in lines:
        running = _RUNNING.match(line.strip())
        if running:
            command = running.group(1)
            b.tool_call("bash", {"command": command}, effect=tools.shell_effect(command))
    return [] if applied or failed else blocks

