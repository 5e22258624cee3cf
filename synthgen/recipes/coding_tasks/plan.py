"""The seeded plan: which task to ask for next, for the (repository, kind) cells still short.

Every item is a pure function of (plan seed, item index, cell), so a resumed run continues
with ``Planner(..., start_index=k)``. An item carries what its request and its checks need:
the seed traces it draws on, candidate files and folders, the tool vocabulary of the
seeds' format, and the languages its files are in.
"""

from __future__ import annotations

import hashlib
import posixpath
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from synthgen.apportion import spread
from synthgen.recipes.coding_tasks.seeds import Seed

MAX_CANDIDATE_FILES = 40
EXAMPLE_CHARS = {"trace_seeded": 300, "augmented": 700}


@dataclass(slots=True, frozen=True)
class TaskItem:
    id: str
    index: int
    seed: int
    template_name: str
    template_version: str
    messages: list[dict[str, str]]
    repository: str
    kind: str
    strategy: str
    seed_ids: tuple[str, ...]
    seed_format: str  # whose tool vocabulary the task uses
    tools: tuple[str, ...]
    languages: tuple[str, ...]
    files: tuple[str, ...]  # candidate target files (existing, or touched by the seeds)
    folders: tuple[str, ...]  # where new files may go
    extensions: tuple[str, ...]  # of new files
    source_pattern: str = ""
    params: dict[str, str] = field(default_factory=dict)


def item_seed(seed: int, index: int) -> int:
    digest = hashlib.sha256(f"synthgen-coding-tasks:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Planner:
    def __init__(self, context, seed: int, *, start_index: int = 0) -> None:
        self.context = context
        self.seed = int(seed)
        self._next = start_index

    @property
    def next_index(self) -> int:
        return self._next

    def next_items(self, cells_needed: Mapping[tuple[str, ...], int], n: int) -> list[TaskItem]:
        """``n`` items over the cells with a positive need, in proportion to it, interleaved."""
        cells = sorted(c for c, k in cells_needed.items() if k > 0)
        items: list[TaskItem] = []
        for cell in spread(cells, [cells_needed[c] for c in cells], n, self._next):
            items.append(self.item(self._next, cell[0], cell[1]))
            self._next += 1
        return items

    def item(self, index: int, repository: str, kind: str) -> TaskItem:
        ctx = self.context
        rng = random.Random(f"coding-tasks:{self.seed}:{index}:{repository}:{kind}")
        strategy = ctx.strategy
        if strategy == "schema_driven":
            picked: list[Seed] = []
            files, folders, languages = _from_repo(ctx.repo, rng)
            fmt = ctx.main_format
        else:
            pool = ctx.cell_seeds.get((repository, kind)) or ctx.kind_seeds.get(kind) or ctx.seeds
            picked = rng.sample(pool, min(3, len(pool))) if strategy == "trace_seeded" else [rng.choice(pool)]
            files, folders, languages = _from_seeds(picked, ctx.repo_files.get(repository, ()), rng)
            fmt = picked[0].format
        tools = ctx.vocabulary.get(fmt) or ctx.vocabulary[ctx.main_format]
        extensions = tuple(sorted({posixpath.splitext(f)[1] for f in files if posixpath.splitext(f)[1]}))[:6] or (".py",)
        values = {
            "repository": repository, "kind": kind, "kind_hint": ctx.prompts.kind_hints.get(kind, ""), "tools": ", ".join(tools[:8]),
            "examples": "\n".join(f"- {s.task[:EXAMPLE_CHARS.get(strategy, 300)]}" for s in picked) or "-",
            "files": ", ".join(files[:15]) or "-", "languages": ", ".join(languages),
            "frameworks": ", ".join(ctx.repo.frameworks) if ctx.repo else "-",
            "folders": ", ".join(folders[:10]) or "-",
        }
        user = ctx.prompts.strategies[strategy].format(**values).strip()
        messages = [{"role": "system", "content": ctx.prompts.system.strip()}, {"role": "user", "content": user}]
        return TaskItem(
            id=f"{self.seed}-{index:06d}", index=index, seed=item_seed(self.seed, index),
            template_name=f"coding-tasks/{strategy}", template_version=ctx.prompts.version, messages=messages,
            repository=repository, kind=kind, strategy=strategy, seed_ids=tuple(s.id for s in picked), seed_format=fmt,
            tools=tools, languages=languages, files=files, folders=folders, extensions=extensions,
            source_pattern=f"{repository}/{kind}",
        )


def _from_seeds(picked: list[Seed], repo_files: tuple[str, ...], rng: random.Random) -> tuple[tuple[str, ...], ...]:
    """Candidate files: the picked seeds' files first, then others the repository's seeds touched."""
    from synthgen.traces.paths import MARKUP, language_of

    files = list(dict.fromkeys(f for s in picked for f in s.files))
    rest = [f for f in repo_files if f not in files]
    rng.shuffle(rest)
    files = [f for f in files + rest if language_of(f)][:MAX_CANDIDATE_FILES]  # a task's files have a language
    folders = tuple(sorted({posixpath.dirname(f) for f in files}))[:12] or ("",)
    langs = {language_of(f) for f in files} - {None}
    code = sorted(lang for lang in langs if lang not in MARKUP)
    languages = tuple(code + sorted(langs - set(code))) or tuple(sorted({lang for s in picked for lang in s.languages})) or ("Python",)
    return tuple(files), folders, languages


def _from_repo(repo, rng: random.Random) -> tuple[tuple[str, ...], ...]:
    from synthgen.traces.paths import MARKUP, language_of

    main = repo.main_folders(10)
    code = sorted(f for f in repo.files if posixpath.dirname(f) in main and (lang := language_of(f)) and lang not in MARKUP)
    others = sorted(f for f in repo.files if f not in set(code) and language_of(f))
    rng.shuffle(code)
    rng.shuffle(others)
    files = tuple((code[: MAX_CANDIDATE_FILES - 8] + others[:8])[:MAX_CANDIDATE_FILES])
    langs = [lang for lang in repo.languages if any(language_of(f) == lang for f in files)]
    return files, tuple(main) or ("",), tuple(langs) or ("Python",)
