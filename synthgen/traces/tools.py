"""What a tool call did to the workspace: read, edit, create (whole-file write), shell, search.

Agents name the same operations differently (Claude Code ``Edit``, OpenHands
``str_replace_editor`` with ``command=str_replace``, SWE-agent ``edit`` on the open file,
a ``sed -i`` inside a bash call). This module maps all of them onto one small vocabulary so
file lists and tool n-grams mean the same thing across formats. It is a pure function of the
name and arguments, so each rule is unit-tested without a trace.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

READ, EDIT, CREATE, WRITE, SHELL, SEARCH, OTHER = "read", "edit", "create", "write", "shell", "search", "other"


@dataclass(slots=True)
class Effect:
    """``write`` means "whole file written": the builder decides create vs edit from history."""

    kind: str
    reads: list[str] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)
    creates: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    command: str | None = None


_SHELL_TOOLS = {"bash", "execute_bash", "terminal", "shell", "run", "cmd_run", "run_shell_command", "powershell",
                "execute_command", "exec_command", "local_shell", "run_command"}
_EDITOR_TOOLS = {"str_replace_editor", "file_editor", "edit_file", "str_replace_based_edit_tool", "text_editor",
                 "edit"}
_SEARCH_TOOLS = {"grep", "glob", "ls", "find_file", "search_file", "search_dir", "find", "list_files", "search",
                 "codebase_search", "file_search"}
_READ_TOOLS = {"read", "read_file", "view", "open", "cat", "notebookread", "view_file", "open_file"}
_EDITOR_COMMANDS = {"view": READ, "create": CREATE, "str_replace": EDIT, "insert": EDIT, "undo_edit": EDIT,
                    "write": WRITE, "append": EDIT, "delete": EDIT}


def _path(args: dict[str, Any]) -> str | None:
    for key in ("file_path", "path", "notebook_path", "filename", "file", "target_file"):
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def looks_like_file(path: str) -> bool:
    """A viewed path is a file read only when it looks like a file (``view`` also lists dirs)."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return bool(re.search(r"\.[A-Za-z][A-Za-z0-9_-]{0,9}$", name)) or name in _BARE_FILES


_BARE_FILES = {"Makefile", "Dockerfile", "LICENSE", "README", "Gemfile", "Rakefile", "Procfile", "Justfile",
               "CMakeLists.txt", "go.mod", "go.sum", "Cargo.toml"}


def classify(name: str, args: dict[str, Any]) -> Effect:
    """The effect of one call, from its (lower-cased) name and its arguments."""
    low = name.lower()
    path = _path(args)
    if low in ("write", "create_file", "write_file", "write_to_file"):
        return Effect(CREATE if low == "create_file" else WRITE, writes=[path] if path else [])
    if low in ("multiedit", "notebookedit", "replace", "apply_diff", "search_replace", "replace_in_file",
               "edit_file_by_replace", "insert_content_at_line", "append_file"):
        return Effect(EDIT, edits=[path] if path else [])
    if low in _EDITOR_TOOLS:
        command = str(args.get("command") or ("edit" if low == "edit" else "")).lower()
        kind = _EDITOR_COMMANDS.get(command, EDIT if command in ("edit", "") and low == "edit" else OTHER)
        if not path:
            return Effect(kind)
        if kind == READ:
            return Effect(READ, reads=[path] if looks_like_file(path) else [])
        return Effect(kind, edits=[path] if kind == EDIT else [], creates=[path] if kind == CREATE else [],
                      writes=[path] if kind == WRITE else [])
    if low in _SHELL_TOOLS or "command" in args and low.endswith("bash"):
        command = args.get("command")
        if isinstance(command, list):
            command = " ".join(str(c) for c in command)
        return shell_effect(command if isinstance(command, str) else "")
    if low in _READ_TOOLS:
        return Effect(READ, reads=[path] if path else [])
    if low in _SEARCH_TOOLS:
        return Effect(SEARCH)
    return Effect(OTHER)


# ---- shell commands ----------------------------------------------------------------------

_READERS = {"cat", "head", "tail", "less", "more", "nl", "bat"}
_SEPARATOR_CHARS = set(";&|\n()")
_NOT_FILES = {"/dev/null", "/dev/stdout", "/dev/stderr"}


def shell_effect(command: str) -> Effect:
    """Files a shell command reads (``cat f``), edits (``sed -i``) or writes (``> f``, ``tee f``).

    Deliberately conservative: anything it cannot tell stays a plain shell call. Scripts
    (``python - <<EOF``) are opaque; the final diff, where a trace has one, covers them.
    """
    effect = Effect(SHELL, command=command.strip())
    for segment in _segments(_strip_heredocs(command)):
        _segment_effect(segment, effect)
    return effect


def _segments(command: str) -> list[list[str]]:
    """Quote-aware words of each simple command (split at ``&&``, ``;``, ``|``, newlines)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.commenters = ""
    out: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and set(token) <= _SEPARATOR_CHARS:
                out.append([])
            else:
                out[-1].append(token)
    except ValueError:  # unbalanced quotes: give up on this command rather than guess
        return []
    return [words for words in out if words]


def _strip_heredocs(command: str) -> str:
    """Drop here-document bodies, so their text is not mistaken for commands."""
    lines, out, end = command.split("\n"), [], None
    for line in lines:
        if end is not None:
            if line.strip() == end:
                end = None
            continue
        match = re.search(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?", line)
        if match:
            end = match.group(1)
            line = line[: match.start()] + line[match.end():]
        out.append(line)
    return "\n".join(out)


def _segment_effect(words: list[str], effect: Effect) -> None:
    plain: list[str] = []
    i = 0
    while i < len(words):  # pull out redirections: > f, >> f, 2> f, &> f
        word = words[i]
        if word in (">", ">>", ">|", "&>", "&>>") or (word.endswith(">") and word.rstrip(">").isdigit()):
            target = words[i + 1] if i + 1 < len(words) else ""
            if word.rstrip(">").isdigit() and target.startswith("&"):
                pass
            elif target and target not in _NOT_FILES and not target.startswith(("&", "$")):
                effect.writes.append(target)
            i += 2
            continue
        if word in ("<", "<<", "<<<", ">&"):
            i += 2
            continue
        plain.append(word)
        i += 1
    if not plain:
        return
    head = plain[0].rsplit("/", 1)[-1]
    if head in ("sudo", "command", "time", "env") and len(plain) > 1:
        plain, head = plain[1:], plain[1].rsplit("/", 1)[-1]
    if head in _READERS:
        effect.reads.extend(w for w in plain[1:] if not w.startswith("-") and not w.isdigit() and not w.startswith("+"))
    elif head == "sed" and any(w.startswith("-i") or (w.startswith("-") and "i" in w[1:] and not w.startswith("--"))
                               for w in plain[1:]):
        effect.edits.extend(_sed_files(plain[1:]))
    elif head == "tee":
        effect.writes.extend(w for w in plain[1:] if not w.startswith("-"))


def _sed_files(words: list[str]) -> list[str]:
    """The file operands of ``sed``: after the options and the script (unless ``-e`` gave it)."""
    files, script_seen, skip = [], False, False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("-e", "-f", "--expression", "--file"):
            script_seen, skip = True, True
        elif word.startswith("-"):
            continue
        elif not script_seen:
            script_seen = True
        else:
            files.append(word)
    return files
