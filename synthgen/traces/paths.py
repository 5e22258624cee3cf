"""File paths in traces: make them repository-relative, name their language, read diffs.

Agents see the repository under a container path (``/testbed``, ``/workspace/repo``,
``/marshmallow-code__marshmallow``, a user's home); patterns such as "files changed together"
only mean something once those prefixes are gone.
"""

from __future__ import annotations

import posixpath
import re

LANGUAGES = {
    ".py": "Python", ".pyi": "Python", ".ipynb": "Python", ".js": "JavaScript", ".mjs": "JavaScript",
    ".cjs": "JavaScript", ".jsx": "JavaScript", ".ts": "TypeScript", ".tsx": "TypeScript", ".go": "Go",
    ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin", ".scala": "Scala", ".rb": "Ruby",
    ".php": "PHP", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++",
    ".hh": "C++", ".cs": "C#", ".swift": "Swift", ".m": "Objective-C", ".mm": "Objective-C", ".ex": "Elixir",
    ".exs": "Elixir", ".heex": "Elixir", ".erl": "Erlang", ".hs": "Haskell", ".ml": "OCaml", ".clj": "Clojure",
    ".lua": "Lua", ".r": "R", ".jl": "Julia", ".dart": "Dart", ".sh": "Shell", ".bash": "Shell", ".zsh": "Shell",
    ".ps1": "PowerShell", ".sql": "SQL", ".html": "HTML", ".htm": "HTML", ".css": "CSS", ".scss": "CSS",
    ".sass": "CSS", ".less": "CSS", ".vue": "Vue", ".svelte": "Svelte", ".md": "Markdown", ".rst": "reST",
    ".tex": "TeX", ".yaml": "YAML", ".yml": "YAML", ".toml": "TOML", ".json": "JSON", ".xml": "XML",
    ".proto": "Protobuf", ".tf": "Terraform", ".sol": "Solidity", ".zig": "Zig", ".nim": "Nim",
    ".groovy": "Groovy", ".pl": "Perl", ".f90": "Fortran", ".cu": "CUDA",
}
# Data and config formats are languages of a file, but not what a coding task is "in".
MARKUP = frozenset({"Markdown", "reST", "TeX", "YAML", "TOML", "JSON", "XML"})
_SPECIAL = {"Dockerfile": "Dockerfile", "Makefile": "Makefile", "CMakeLists.txt": "CMake"}

DEFAULT_ROOTS = ("/testbed", "/workspace", "/repo", "/app", "/code", "/src/app")


def language_of(path: str) -> str | None:
    name = posixpath.basename(path)
    if name in _SPECIAL:
        return _SPECIAL[name]
    ext = posixpath.splitext(name)[1].lower()
    return LANGUAGES.get(ext)


def relativize(path: str, roots: list[str] | tuple[str, ...]) -> str:
    """``path`` relative to the longest root it lies under; unchanged (but tidied) otherwise."""
    path = path.strip().strip("'\"`")
    if path.startswith("file://"):
        path = path[7:]
    if not path:
        return path
    if "\\" in path and "/" not in path:  # a Windows path
        path = path.replace("\\", "/")
    clean = posixpath.normpath(path) if path not in (".", "") else path
    for root in sorted({r.rstrip("/") for r in roots if r and r != "/"}, key=len, reverse=True):
        if clean == root:
            return "."
        if clean.startswith(root + "/"):
            return clean[len(root) + 1:]
    return clean[2:] if clean.startswith("./") else clean


_INSTANCE = re.compile(r"(?:^|[_/])([A-Za-z0-9][A-Za-z0-9-]*)__([A-Za-z0-9_.-]+?)-(\d+)(?=$|[_/.])")


def swebench_instance(text: str | None) -> str | None:
    """The SWE-bench instance id (``owner__repo-123``) inside a name, if there is one.

    GitHub owners never contain ``_``, so the owner is the run of ``[A-Za-z0-9-]`` before ``__``.
    """
    match = _INSTANCE.search(text or "")
    return f"{match.group(1)}__{match.group(2)}-{match.group(3)}" if match else None


def swebench_repo(instance_id: str | None) -> str | None:
    """``django__django-11099`` -> ``django/django`` (the SWE-bench instance-id convention)."""
    match = _INSTANCE.search(instance_id or "")
    return f"{match.group(1)}/{match.group(2)}" if match else None


_DIFF_GIT = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)
_PAIR = re.compile(r"^--- (\S+)[^\n]*\n\+\+\+ (?:b/)?(\S+)", re.M)


def diff_files(diff: str | None) -> tuple[list[str], list[str]]:
    """(modified, created) files of a unified diff, in order."""
    if not diff:
        return [], []
    modified: list[str] = []
    created: list[str] = []
    blocks = re.split(r"(?=^diff --git )", diff, flags=re.M)
    for block in blocks:
        match = _DIFF_GIT.match(block)
        if match:
            name = match.group(2)
            new = "\nnew file mode" in block[:400] or "\n--- /dev/null" in block[:600]
            deleted = "\ndeleted file mode" in block[:400]
            target = created if new else modified
            if name not in target and not deleted:
                target.append(name)
            elif deleted and name not in modified:
                modified.append(name)
            continue
        for pair in _PAIR.finditer(block):  # a diff without git headers
            old, name = pair.group(1), pair.group(2)
            if name != "/dev/null" and name not in modified and name not in created:
                (created if old == "/dev/null" else modified).append(name)
    return modified, created
