"""TracePatterns: what a corpus of traces looks like, aggregated one trace at a time.

Memory is flat in the number of traces: ``add`` folds a trace into counters and forgets it,
and every open-ended counter (keywords, templates, clusters, paths) is pruned to its most
common entries when it grows past ``max_keys``. A million traces cost what ten thousand do.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from typing import Any

from synthgen.traces import frameworks, paths, prompts
from synthgen.traces.classify import TYPES, classify_task
from synthgen.traces.model import Trace

_TEXT_ARGS = ("content", "file_text", "new_string", "new_str", "replace", "code", "command", "replacement_text")


class BoundedCounter(Counter):
    """A Counter that keeps its ``max_keys // 2`` most common keys whenever it outgrows ``max_keys``.

    Counts of rare keys are approximate after a prune; the top of the table, which is what
    reports show, is what survives.
    """

    def __init__(self, max_keys: int = 20_000) -> None:
        super().__init__()
        self.max_keys = max_keys

    def bump(self, key: Any, n: int = 1) -> None:
        self[key] += n
        if len(self) > self.max_keys:
            keep = self.most_common(self.max_keys // 2)
            self.clear()
            self.update(dict(keep))


class TracePatterns:
    def __init__(self, max_keys: int = 20_000) -> None:
        self.traces = 0
        self.tool_calls = 0
        self.failed_calls = 0
        self.malformed_calls = 0
        self.formats: Counter[str] = Counter()
        self.task_types: Counter[str] = Counter({t: 0 for t in TYPES})
        self.outcomes: Counter[str] = Counter()
        self.models: Counter[str] = Counter()
        self.languages: Counter[str] = Counter()  # traces touching each language
        self.extensions: Counter[str] = Counter()  # files per extension
        self.tools = BoundedCounter(max_keys)
        self.kinds: Counter[str] = Counter()
        self.bigrams = BoundedCounter(max_keys)
        self.trigrams = BoundedCounter(max_keys)
        self.clusters = BoundedCounter(max_keys)
        self.paths = BoundedCounter(max_keys)
        self.dirs = BoundedCounter(max_keys)
        self.keywords = BoundedCounter(max_keys)
        self.templates = BoundedCounter(max_keys)
        self.repositories = BoundedCounter(max_keys)
        self.frameworks: Counter[str] = Counter()

    def add(self, trace: Trace) -> None:
        self.traces += 1
        self.formats[trace.source_format] += 1
        self.task_types[classify_task(trace.task)] += 1
        self.outcomes[str(trace.outcome or "unknown")] += 1
        if trace.model:
            self.models[trace.model] += 1
        if trace.repository:
            self.repositories.bump(trace.repository)
        self._tools(trace)
        changed = [*trace.files_edited, *trace.files_created]
        self._files(trace, changed)
        self._prompt(trace.task)
        self.frameworks.update(_frameworks(trace))

    def _tools(self, trace: Trace) -> None:
        self.tool_calls += trace.tool_call_count
        names = [c.name.lower() for c in trace.tool_calls]
        for call in trace.tool_calls:
            self.tools.bump(call.name.lower())
            self.kinds[call.kind] += 1
            self.failed_calls += call.failed is True
            self.malformed_calls += call.malformed_arguments
        for i in range(len(names) - 1):
            self.bigrams.bump((names[i], names[i + 1]))
            if i + 2 < len(names):
                self.trigrams.bump((names[i], names[i + 1], names[i + 2]))

    def _files(self, trace: Trace, changed: list[str]) -> None:
        touched = [*changed, *trace.files_read]
        for lang in {paths.language_of(p) for p in touched} - {None}:
            self.languages[lang] += 1
        for path in set(touched):
            self.extensions[posixpath.splitext(path)[1].lower() or posixpath.basename(path)] += 1
        for path in set(changed):
            self.paths.bump(path)
            self.dirs.bump(posixpath.dirname(path) or ".")
        globs = sorted({glob_of(p) for p in changed if not _scratch(p)})
        if len(globs) >= 1 and len(set(changed)) >= 2:
            self.clusters.bump(tuple(globs))

    def _prompt(self, task: str | None) -> None:
        for word in prompts.keywords(task):
            self.keywords.bump(word)
        shape = prompts.template(task)
        if shape:
            self.templates.bump(shape)

    @property
    def average_tool_calls(self) -> float:
        return self.tool_calls / self.traces if self.traces else 0.0

    def summary(self, top: int = 15) -> dict[str, Any]:
        """Plain JSON-ready tables, most common first."""
        def table(counter: Counter, key: str = "name") -> list[dict[str, Any]]:
            return [{key: list(k) if isinstance(k, tuple) else k, "count": v} for k, v in counter.most_common(top) if v]

        return {
            "traces": self.traces,
            "tool_calls": self.tool_calls,
            "average_tool_calls": round(self.average_tool_calls, 2),
            "failed_tool_calls": self.failed_calls,
            "malformed_tool_calls": self.malformed_calls,
            "formats": dict(self.formats.most_common()),
            "task_types": {t: self.task_types[t] for t in TYPES},
            "languages": table(self.languages, "language"),
            "extensions": table(self.extensions, "extension"),
            "tools": table(self.tools, "tool"),
            "tool_kinds": dict(self.kinds.most_common()),
            "tool_bigrams": table(self.bigrams, "ngram"),
            "tool_trigrams": table(self.trigrams, "ngram"),
            "file_clusters": table(self.clusters, "globs"),
            "common_paths": table(self.paths, "path"),
            "common_dirs": table(self.dirs, "dir"),
            "prompt_keywords": table(self.keywords, "keyword"),
            "prompt_templates": table(self.templates, "template"),
            "repositories": table(self.repositories, "repository"),
            "frameworks": table(self.frameworks, "framework"),
            "models": table(self.models, "model"),
            "outcomes": dict(self.outcomes.most_common()),
        }


def glob_of(path: str) -> str:
    """``src/marshmallow/fields.py`` -> ``src/marshmallow/*.py``; config files and names without an
    extension stay as they are."""
    folder, name = posixpath.split(path)
    if name in frameworks.CONFIG_FILES:  # package.json says more than *.json
        return path
    ext = posixpath.splitext(name)[1]
    pattern = f"*{ext}" if ext else name
    return f"{folder}/{pattern}" if folder else pattern


def _scratch(path: str) -> bool:
    """Top-level reproduce/test scripts agents write and delete are not part of the change."""
    name = posixpath.basename(path)
    return "/" not in path and name.startswith(("reproduce", "repro_", "test_", "verify", "check_", "debug_"))


def _frameworks(trace: Trace) -> set[str]:
    hints = frameworks.from_paths([*trace.files_read, *trace.files_edited, *trace.files_created])
    budget, parts = 200_000, []
    if trace.final_diff:
        parts.append(trace.final_diff[:budget])
    for call in trace.tool_calls:
        for key in _TEXT_ARGS:
            value = call.arguments.get(key)
            if isinstance(value, str):
                parts.append(value[:20_000])
        if sum(map(len, parts)) > budget:
            break
    return hints | frameworks.from_text("\n".join(parts))
