"""A real checkout as the schema_driven strategy sees it: folders, files, languages, frameworks.

``--repo-dir PATH`` is walked once (hidden folders, VCS, virtualenvs, caches and build
output skipped; at most ``MAX_FILES`` files), so tasks can name files that exist or new
files in folders that exist, and the plausibility check can tell.
"""

from __future__ import annotations

import os
import posixpath
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from synthgen.errors import ConfigError

MAX_FILES = 20_000
SKIP = frozenset({".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache",
                  ".ruff_cache", "dist", "build", "target", ".tox", ".idea", ".vscode", "site-packages", "runs"})


@dataclass(slots=True, frozen=True)
class RepoSnapshot:
    name: str
    files: frozenset[str]  # repository-relative, "/"-separated
    folders: frozenset[str]  # every folder holding a file ("" for the root)
    languages: tuple[str, ...]  # by file count, most first (code languages before markup)
    frameworks: tuple[str, ...]

    def main_folders(self, n: int = 12) -> list[str]:
        """The folders holding most code files, for prompts."""
        from synthgen.traces.paths import MARKUP, language_of

        counts = Counter(posixpath.dirname(f) for f in sorted(self.files) if (lang := language_of(f)) and lang not in MARKUP)
        # Ties by name: a set's order changes with the process's hash seed, and the plan must not.
        return [d for d, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def snapshot(path: Path) -> RepoSnapshot:
    from synthgen.traces.frameworks import from_paths
    from synthgen.traces.paths import MARKUP, language_of

    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"--repo-dir {root}: not a folder", hint="give the path of a repository checkout")
    files: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
        rel = os.path.relpath(folder, root)
        for name in sorted(names):
            if name.startswith(".") and name not in (".gitignore",):
                continue
            files.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
            if len(files) >= MAX_FILES:
                break
        if len(files) >= MAX_FILES:
            break
    if not files:
        raise ConfigError(f"--repo-dir {root}: no files found", hint="give the path of a repository checkout")
    frameworks = from_paths(files) | _declared(root)
    langs = Counter(lang for f in files if (lang := language_of(f)))
    ordered = sorted(langs, key=lambda lang: (lang in MARKUP, -langs[lang], lang))
    return RepoSnapshot(
        name=_project_name(root) or root.resolve().name, files=frozenset(files), folders=frozenset(posixpath.dirname(f) for f in files),
        languages=tuple(ordered), frameworks=tuple(sorted(frameworks)),
    )


def _declared(root: Path) -> set[str]:
    """Known frameworks among the dependencies a root manifest declares (pyproject.toml,
    package.json, go.mod, Cargo.toml); an unreadable manifest is simply skipped."""
    import json
    import re
    import tomllib

    from synthgen.traces.frameworks import MODULES

    names: set[str] = set()
    try:
        if (root / "pyproject.toml").is_file():
            data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
            project = data.get("project", {})
            deps = list(project.get("dependencies", []))
            for extra in project.get("optional-dependencies", {}).values():
                deps += list(extra)
            names |= {re.split(r"[\s\[<>=!~;]", d, maxsplit=1)[0].lower() for d in deps}
        if (root / "package.json").is_file():
            data = json.loads((root / "package.json").read_text(encoding="utf-8"))
            for key in ("dependencies", "devDependencies"):
                names |= {n.lstrip("@").split("/")[0] for n in data.get(key, {})}
        if (root / "go.mod").is_file():
            names |= {m.rsplit("/", 1)[-1] for m in re.findall(r"^\s*(?:require\s+)?([\w.-]+/[\w./-]+)\s+v", (root / "go.mod").read_text(), re.M)}
        if (root / "Cargo.toml").is_file():
            names |= set(tomllib.loads((root / "Cargo.toml").read_text(encoding="utf-8")).get("dependencies", {}))
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    return {MODULES.get(n, n) for n in names if n in MODULES or n in MODULES.values()}


def _project_name(root: Path) -> str | None:
    """The name the project gives itself (pyproject.toml, package.json), not its folder's."""
    import json
    import tomllib

    try:
        if (root / "pyproject.toml").is_file():
            name = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {}).get("name")
            if isinstance(name, str) and name:
                return name
        if (root / "package.json").is_file():
            name = json.loads((root / "package.json").read_text(encoding="utf-8")).get("name")
            if isinstance(name, str) and name:
                return name
    except (OSError, ValueError, AttributeError):
        pass
    return None
