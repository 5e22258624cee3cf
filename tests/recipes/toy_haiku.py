"""A recipe defined entirely inside the test suite: a haiku about a topic, as JSON under a
JSON schema, in cells of (season, mood). It proves the recipe interface: the real runner,
dedup, quota, sink and resume run it through ``synthgen generate --recipe
toy_haiku:HaikuRecipe`` with nothing of it anywhere under ``synthgen/``.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from synthgen.apportion import apportion
from synthgen.config import ConfigBase
from synthgen.recipes.base import Recipe
from synthgen.records import DedupKeys, GenerationRequest, Sample, SamplingSettings
from synthgen.steps.base import ParseStep, Step

SEASONS = ("spring", "summer", "autumn", "winter")
WORDS = ("river stone moon pine frost ember lantern heron mist bell cedar tide ash wren dusk meadow thunder salt "
         "willow candle harbor fern snow cicada kite lotus").split()


class HaikuOptions(ConfigBase):
    topics: list[str] = Field(default_factory=lambda: ["the sea", "a city at night", "an old dog"], min_length=1)
    seasons: list[str] = Field(default_factory=lambda: list(SEASONS), min_length=1)
    moods: list[str] = Field(default_factory=lambda: ["calm", "wistful"], min_length=1)


def schema(seasons: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 60},
            "lines": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60}, "minItems": 3, "maxItems": 3},
            "season": {"enum": seasons},
        },
        "required": ["title", "lines", "season"],
        "additionalProperties": False,
    }


@dataclass(slots=True, frozen=True)
class HaikuItem:
    id: str
    index: int
    seed: int
    template_name: str
    template_version: str
    messages: list[dict[str, str]]
    topic: str
    season: str
    mood: str


class HaikuPlanner:
    def __init__(self, options: HaikuOptions, seed: int, start_index: int) -> None:
        self.options, self.seed, self._next = options, seed, start_index

    @property
    def next_index(self) -> int:
        return self._next

    def next_items(self, cells_needed: dict[tuple[str, ...], int], n: int) -> list[HaikuItem]:
        cells = sorted(c for c, k in cells_needed.items() if k > 0)
        if n <= 0 or not cells:
            return []
        counts = apportion(n, [cells_needed[c] for c in cells])
        items = []
        for cell, k in zip(cells, counts):
            for _ in range(k):
                items.append(self._item(self._next, *cell))
                self._next += 1
        return items

    def _item(self, index: int, season: str, mood: str) -> HaikuItem:
        rng = random.Random(f"haiku:{self.seed}:{index}")
        topic = rng.choice(self.options.topics)
        ask = f"Write a {mood} haiku about {topic}, set in {season}. Answer as JSON with title, lines (3) and season."
        messages = [{"role": "system", "content": "You write haiku."}, {"role": "user", "content": ask}]
        seed = int.from_bytes(hashlib.sha256(f"{self.seed}:{index}".encode()).digest()[:4], "big") & 0x7FFFFFFF
        return HaikuItem(f"{self.seed}-{index:06d}", index, seed, "haiku#0", "0.1", messages, topic, season, mood)


class HaikuParse(ParseStep):
    def __init__(self, seasons: list[str]) -> None:
        super().__init__()
        import jsonschema

        self._validator = jsonschema.Draft202012Validator(schema(seasons))

    def parse(self, sample: Sample) -> bool:
        try:
            data = json.loads(sample.completion.text)
        except ValueError as exc:
            self.drop(sample, "malformed_output", f"not JSON: {exc}", kind="failed")
            return False
        error = next(iter(self._validator.iter_errors(data)), None)
        if error is not None:
            self.drop(sample, "malformed_output", f"schema: {error.message}", kind="failed")
            return False
        sample.fields.update(title=data["title"], lines=data["lines"], season=data["season"])
        return True


class HaikuMeasure(Step):
    """The cell is the season the haiku itself names (measured), with the asked mood."""

    name = "measure"

    def process(self, batch: list[Sample]) -> list[Sample]:
        for sample in batch:
            sample.cell = (sample.fields["season"], sample.item.mood)
            sample.keys = keys(sample.fields["title"], sample.fields["lines"])
        return batch


def keys(title: str, lines: list[str]) -> DedupKeys:
    return DedupKeys(text=" ".join(lines), body=title)


class HaikuRecipe(Recipe):
    """A haiku about a topic, as JSON (a test of the recipe interface)."""

    name = "toy-haiku"
    Options = HaikuOptions
    cell_names = ("season", "mood")

    @property
    def version(self) -> str:
        return "0.1"

    def fingerprint(self) -> dict[str, Any]:
        return {"haiku_options": self.options.model_dump()}

    def targets(self, count: int) -> dict[tuple[str, ...], int]:
        cells = [(s, m) for s in self.options.seasons for m in self.options.moods]
        return dict(zip(cells, apportion(count, [1] * len(cells))))

    def planner(self, seed: int, *, start_index: int = 0) -> HaikuPlanner:
        return HaikuPlanner(self.options, seed, start_index)

    def request_for(self, item: HaikuItem, *, temperature: float, seeded: bool) -> GenerationRequest:
        return GenerationRequest(item.id, item.messages, SamplingSettings(temperature=temperature, max_tokens=160),
                                 seed=item.seed if seeded else None, json_schema=schema(self.options.seasons))

    def check_steps(self) -> list[Step]:
        return [HaikuParse(self.options.seasons), HaikuMeasure()]

    @classmethod
    def cell_of(cls, record: dict[str, Any]) -> tuple[str, ...]:
        return (record["season"], record["mood"])

    @classmethod
    def keys_of(cls, record: dict[str, Any]) -> DedupKeys:
        return keys(record["title"], record["lines"])

    def record_fields(self, sample: Sample) -> dict[str, Any]:
        f = sample.fields
        return {"task_type": "HAIKU", "topic": sample.item.topic, "mood": sample.item.mood, "season": f["season"],
                "title": f["title"], "lines": f["lines"]}

    def failed_fields(self, item: HaikuItem) -> dict[str, Any]:
        return {"topic": item.topic, "season_requested": item.season, "mood": item.mood}

    @classmethod
    def chat_turns(cls, record: dict[str, Any]) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"A {record['mood']} haiku about {record['topic']}"},
                {"role": "assistant", "content": "\n".join(record["lines"])}]

    def fake_answer(self, request: GenerationRequest, rng: random.Random, knobs: dict[str, Any]) -> str:
        ask = request.messages[-1]["content"]
        season = next(s for s in self.options.seasons if f"set in {s}." in ask)
        if rng.random() < float(knobs.get("wrong_season_rate") or 0):  # a haiku that lands in another cell
            season = rng.choice(self.options.seasons)
        lines = [" ".join(rng.sample(WORDS, k)) for k in (3, 4, 3)]
        return json.dumps({"title": rng.choice(WORDS).title(), "lines": lines, "season": season})
