"""The seeded plan: which prompt to send next, for the (domain, complexity) cells still short.

The runtime knows what is still needed (quotas minus accepted); the planner turns "these
cells need this many, give me n" into concrete requests. Every item is a pure function of
(plan seed, item index, domain, complexity), and the planner's only state is its next
index, so the same seed and the same sequence of calls give the same items, and a resumed
run continues with ``Planner(recipe, seed, start_index=<items planned so far>)``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from synthgen.apportion import spread
from synthgen.errors import ConfigError, UnknownNameError
from synthgen.recipes.nl2dot.prompts import render
from synthgen.recipes.nl2dot.templates import Templates

Cell = tuple[str, str]  # (domain, complexity)


@dataclass(slots=True, frozen=True)
class PlanItem:
    id: str
    index: int
    domain: str
    subtopic: str
    complexity: str  # requested; the measured one may differ
    params: dict[str, str]
    messages: list[dict[str, str]]
    template_name: str
    template_version: str
    seed: int  # per-item sampling seed for the engine


def item_seed(seed: int, index: int) -> int:
    """A per-item sampling seed that does not depend on Python's hash randomisation."""
    digest = hashlib.sha256(f"synthgen-nl2dot:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Planner:
    """Hands out plan items for the cells the runtime says are still short."""

    def __init__(self, recipe: Templates, seed: int, *, start_index: int = 0) -> None:
        if start_index < 0:
            raise ConfigError(f"plan start index must be >= 0, got {start_index}")
        self.recipe = recipe
        self.seed = int(seed)
        self._next = start_index

    @property
    def next_index(self) -> int:
        """Index the next item will get; save it to resume the same stream later."""
        return self._next

    def item(self, index: int, domain: str, complexity: str) -> PlanItem:
        """The item at ``index`` for a cell: the same arguments always give the same item."""
        if domain not in self.recipe.domains:
            raise UnknownNameError("domain", domain, list(self.recipe.domains))
        if complexity not in self.recipe.complexity_levels:
            raise UnknownNameError("complexity", complexity, self.recipe.complexities)
        rng = random.Random(f"nl2dot:{self.seed}:{index}:{domain}:{complexity}")
        rendered = render(self.recipe, domain, complexity, rng)
        return PlanItem(
            id=f"{self.seed}-{index:06d}",
            index=index,
            domain=domain,
            subtopic=rendered.subtopic,
            complexity=complexity,
            params=rendered.params,
            messages=rendered.messages,
            template_name=f"{self.recipe.name}/{domain}#{rendered.template_index}",
            template_version=self.recipe.version,
            seed=item_seed(self.seed, index),
        )

    def next_items(self, cells_needed: Mapping[Cell, int], n: int) -> list[PlanItem]:
        """``n`` items spread over the cells with a positive need, in proportion to it.

        Cells are interleaved round-robin so a batch cut short still covers every cell;
        ties rotate with the planner's index so repeated small calls don't favour one cell."""
        cells = sorted((c for c, k in cells_needed.items() if k > 0), key=self._cell_key)
        items: list[PlanItem] = []
        for cell in spread(cells, [cells_needed[c] for c in cells], n, self._next):
            items.append(self.item(self._next, *cell))
            self._next += 1
        return items

    def _cell_key(self, cell: Cell) -> tuple[str, int]:
        domain, complexity = cell
        order = self.recipe.complexities
        return domain, order.index(complexity) if complexity in order else len(order)


def plan_items(recipe: Templates, targets: Mapping[Cell, int], *, seed: int, start_index: int = 0) -> Iterator[PlanItem]:
    """An endless stream cycling over the cells with a positive target, in proportion to it.

    For callers that don't track needs; the runtime's loop uses ``Planner.next_items``."""
    planner = Planner(recipe, seed, start_index=start_index)
    total = sum(k for k in targets.values() if k > 0)
    if total == 0:
        return
    while True:
        yield from planner.next_items(targets, total)
