"""Seed traces as the recipe uses them: small summaries, the cells they fill, their tools.

A ``Seed`` keeps what planning and checking need from one trace (task text, kind,
repository, changed and read files, tool names in order, format) and drops the rest, so a
few thousand traces cost a few MB. Cells are (repository, task kind); traces with no
repository share the ``UNKNOWN_REPO`` cell row, and kind ``other`` (no keyword matched) is
planned as the kind the seed's files suggest, else ``feature``.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthgen.errors import ConfigError

UNKNOWN_REPO = "unknown-repo"
KINDS = ("feature", "bugfix", "refactor", "test", "docs", "spec")
MAX_TOOLS = 12  # the tool vocabulary offered per format: its most used tools
MAX_TASK_CHARS = 1200  # a seed's task text kept for prompts and the copy check


@dataclass(slots=True, frozen=True)
class Seed:
    id: str
    format: str
    task: str
    kind: str  # one of KINDS
    repository: str
    files_changed: tuple[str, ...]
    files_read: tuple[str, ...]
    tools: tuple[str, ...]  # tool names in call order (lower case)
    languages: tuple[str, ...]

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.files_changed, *self.files_read)))


def seed_of(trace) -> Seed | None:
    """A seed from a normalized trace, or None when it has no task to learn from."""
    from synthgen.traces.classify import classify_task
    from synthgen.traces.paths import language_of

    task = " ".join((trace.task or "").split())
    if not task:
        return None
    changed = tuple(dict.fromkeys(p for p in (*trace.files_edited, *trace.files_created) if _usable(p)))
    read = tuple(dict.fromkeys(p for p in trace.files_read if _usable(p) and p not in changed))
    kind = classify_task(trace.task)
    if kind not in KINDS:
        kind = _kind_from_files(changed)
    languages = tuple(sorted({lang for p in changed + read if (lang := language_of(p))}))
    return Seed(
        id=trace.id, format=trace.source_format, task=task[:MAX_TASK_CHARS], kind=kind,
        repository=trace.repository or UNKNOWN_REPO, files_changed=changed[:40], files_read=read[:40],
        tools=tuple(c.name.lower() for c in trace.tool_calls[:400]), languages=languages,
    )


def _usable(path: str) -> bool:
    """A repository-relative file path a task can name (not /tmp, not a URL, not a flag, not
    a top-level reproduce/debug script an agent writes for itself and deletes)."""
    from synthgen.traces.patterns import _scratch

    return bool(path) and not _scratch(path) and not path.startswith(("/", "-", "~")) and "://" not in path and ".." not in path.split("/") \
        and len(path) <= 120 and all(c.isprintable() and not c.isspace() for c in path)


def _kind_from_files(changed: tuple[str, ...]) -> str:
    names = [posixpath.basename(p).lower() for p in changed]
    if names and all(n.startswith("test") or "_test." in n or ".test." in n for n in names):
        return "test"
    if names and all(n.endswith((".md", ".rst", ".txt")) for n in names):
        return "docs"
    return "feature"


def load_seeds(paths: Iterable[str | Path]) -> tuple[list[Seed], list[str]]:
    """Seeds from trace files or folders, and one line per input that gave none."""
    from synthgen.traces.read import read_traces

    reader = read_traces(list(paths))
    seeds, problems = [], []
    for trace in reader:
        seed = seed_of(trace)
        if seed is None:
            problems.append(f"{trace.source_path}: no task text")
        else:
            seeds.append(seed)
    problems += [p.line() for p in reader.problems]
    return seeds, problems


def require_seeds(paths: list[Path]) -> list[Seed]:
    if not paths:
        raise ConfigError("the coding-tasks recipe needs seed traces", hint="pass --traces DIR (agent trace files or folders)")
    seeds, problems = load_seeds(paths)
    if not seeds:
        shown = "; ".join(problems[:3]) + (f"; +{len(problems) - 3} more" if len(problems) > 3 else "")
        where = ", ".join(str(p) for p in paths)
        raise ConfigError(f"no seed trace could be read from {where}" + (f" ({shown})" if shown else ""),
                          hint="run `synthgen traces inspect PATH` to see why each file was not read")
    return seeds


def tool_vocabulary(seeds: Iterable[Seed]) -> dict[str, tuple[str, ...]]:
    """Per trace format: its most used tool names, most used first."""
    counts: dict[str, Counter[str]] = {}
    for seed in seeds:
        counts.setdefault(seed.format, Counter()).update(seed.tools)
    return {fmt: tuple(name for name, _ in c.most_common(MAX_TOOLS)) for fmt, c in counts.items() if c}


def seed_weights(seeds: Iterable[Seed]) -> Counter[tuple[str, str]]:
    """How many seeds each (repository, kind) cell has: the default proportions."""
    return Counter((s.repository, s.kind) for s in seeds)


def seeds_digest(seeds: Iterable[Seed]) -> str:
    """A hash of what the seeds contribute, so a resume with other traces is refused."""
    h = hashlib.sha256()
    for s in sorted(seeds, key=lambda s: s.id):
        h.update(repr((s.id, s.format, s.task, s.kind, s.repository, s.files_changed, s.files_read, s.tools)).encode())
    return "sha256:" + h.hexdigest()
