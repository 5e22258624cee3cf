"""The one interface every recipe implements, so the runtime knows nothing of any recipe.

A recipe turns its options into exact targets per cell, a seeded plan, one
``GenerationRequest`` per plan item (messages, grammar or JSON schema, max_tokens) and the
check steps that read each completion back: they fill the sample's ``fields`` and set its
measured ``cell`` and dedup ``keys``, which is all the generic steps (judge, dedup, quota)
and the run folder need. Its record hooks say which fields a record carries, and
``cell_of`` / ``keys_of`` read a record back (resume, export, report).

Optional hooks have defaults: ``judge_messages`` (no judge), ``repair_problems`` (no
repair of outputs that fail to parse), ``chat_turns`` (no chat example), ``preview_html``
(no picture), ``fake_answer`` (the fake engine can't answer it). A recipe's module imports
nothing heavy at module level: the CLI reads ``cli_flags`` and ``Options`` from it to build
``--help``.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from synthgen.config import ConfigBase, validate_data
from synthgen.records import Cell, DedupKeys, GenerationRequest, PlanItem, Sample
from synthgen.steps.base import Step


class Planner(Protocol):
    """Hands out plan items for the cells still short; its only state is its next index,
    so ``recipe.planner(seed, start_index=k)`` continues a stream after ``k`` items."""

    @property
    def next_index(self) -> int: ...

    def next_items(self, cells_needed: Mapping[Cell, int], n: int) -> list[Any]: ...


@dataclass(slots=True, frozen=True)
class RecipeFlag:
    """A command-line flag that sets one of a recipe's options (``--domains`` → ``domains``)."""

    option: str
    flag: str
    help: str
    envvar: str | None = None
    type: type = str


class NoOptions(ConfigBase):
    """A recipe that takes no options."""


class Recipe(ABC):
    name: ClassVar[str]
    Options: ClassVar[type[ConfigBase]] = NoOptions
    cli_flags: ClassVar[tuple[RecipeFlag, ...]] = ()
    cell_names: ClassVar[tuple[str, ...]] = ("cell",)  # what each part of a cell means, for tables

    def __init__(self, options: ConfigBase) -> None:
        self.options = options

    @classmethod
    def from_options(cls, data: Mapping[str, Any], *, source: str = "recipe options") -> Recipe:
        """Validate ``data`` with ``Options`` (extra="forbid": a typo names its field)."""
        return cls(validate_data(dict(data), cls.Options, source=source))

    # -- what to generate ------------------------------------------------------------------

    @classmethod
    def default_count(cls, options: dict[str, Any]) -> int | None:
        """The count when ``--count`` is not given (a recipe's preset); None: the CLI's 100."""
        return None

    def seed_count(self) -> int | None:
        """How many seeds the plan draws from (a job's ``multiplier`` is tasks per seed); None: none."""
        return None

    def describe(self, count: int) -> list[str]:
        """Lines about the plan beyond its cells (seeds read, multiplier), for --dry-run and the log."""
        return []

    @property
    @abstractmethod
    def version(self) -> str:
        """The recipe's content version (templates, prompts), saved in each record."""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What of the recipe decides which records a run produces; resume must match it."""

    @abstractmethod
    def targets(self, count: int) -> dict[Cell, int]:
        """Exact accepted records per cell, summing to ``count`` (zero cells may be listed)."""

    @abstractmethod
    def planner(self, seed: int, *, start_index: int = 0) -> Planner: ...

    @abstractmethod
    def request_for(self, item: PlanItem, *, temperature: float, seeded: bool) -> GenerationRequest:
        """The engine request for one plan item (``seeded``: send the item's seed)."""

    # -- reading completions back -----------------------------------------------------------

    @abstractmethod
    def check_steps(self) -> list[Step]:
        """Steps run before the generic ones; together they must set ``sample.cell`` and
        ``sample.keys`` on every sample they forward. The first should be a ``ParseStep``."""

    # Hooks that read a record alone are classmethods: export, report and compare call them
    # on a run folder without the recipe's options (its seeds, its templates).

    @classmethod
    @abstractmethod
    def cell_of(cls, record: dict[str, Any]) -> Cell:
        """The cell an accepted record counts toward."""

    @classmethod
    @abstractmethod
    def keys_of(cls, record: dict[str, Any]) -> DedupKeys:
        """The dedup keys of an accepted record, as its checks set them."""

    # -- the record ---------------------------------------------------------------------------

    @abstractmethod
    def record_fields(self, sample: Sample) -> dict[str, Any]:
        """An accepted record's own fields (between ``id`` and ``provenance``)."""

    def validation_fields(self, sample: Sample) -> dict[str, Any]:
        """Check results kept under ``validation`` (beside the judge and the hashes)."""
        return {}

    @abstractmethod
    def failed_fields(self, item: Any) -> dict[str, Any]:
        """What a failed line says of the plan item (what was asked)."""

    def rejected_fields(self, sample: Sample) -> dict[str, Any]:
        """What a rejected line carries: the item, then what the checks read."""
        return {**self.failed_fields(sample.item), **self.record_fields(sample)}

    # -- optional hooks -------------------------------------------------------------------------

    def judge_messages(self, sample: Sample) -> list[dict[str, str]]:
        """The judge's question for a sample; its last user turn must end with "Answer yes or no."."""
        raise NotImplementedError(f"recipe {self.name!r} has no judge prompt")

    @classmethod
    def judge_messages_of(cls, record: dict[str, Any]) -> list[dict[str, str]] | None:
        """The same question for an accepted record read back from a run folder (``synthgen
        compare --judge`` re-judges runs with one model); ``None``: the record can't be asked."""
        return None

    def repair_problems(self, samples: Sequence[Sample]) -> list[str | None]:
        """For each sample, the validator's message when its output fails what a follow-up
        turn can fix (it does not parse, breaks the grammar or schema, Graphviz rejects it),
        else ``None``. The repair step (``synthgen.steps.repair``) sends the message back to
        the model. Quality checks are not repair problems: the model is asked to fix syntax."""
        raise NotImplementedError(f"recipe {self.name!r} has no repair check")

    @property
    def has_repair(self) -> bool:
        return type(self).repair_problems is not Recipe.repair_problems

    @property
    def has_judge(self) -> bool:
        return type(self).judge_messages is not Recipe.judge_messages

    @classmethod
    def judges_records(cls) -> bool:
        return cls.judge_messages_of.__func__ is not Recipe.judge_messages_of.__func__  # type: ignore[attr-defined]

    @classmethod
    def chat_turns(cls, record: dict[str, Any]) -> list[dict[str, str]] | None:
        """The chat example a record trains (export); ``None``: it is not a chat example."""
        return None

    @classmethod
    def preview_html(cls, record: dict[str, Any]) -> str | None:
        """A small, escaped HTML picture of a record for the report; ``None``: none."""
        return None

    def fake_answer(self, request: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
        """A well-formed answer for the fake engine (tests, benchmarks), drawn from ``rng``."""
        raise NotImplementedError(f"recipe {self.name!r} has no fake answers")

    def close(self) -> None:  # noqa: B027 - an optional hook: most recipes hold nothing
        """Release what the check steps hold (e.g. a Graphviz process)."""
