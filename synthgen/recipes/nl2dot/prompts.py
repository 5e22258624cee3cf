"""Chat messages for one generation request: system prompt, few-shot turns, the user's ask.

Everything random here takes an explicit ``random.Random`` so the planner decides the seed;
the same rng state gives the same messages, byte for byte.

The few-shot assistant turns are written in exactly the format the generation grammar
enforces (``format_output``), so a model sees the shape it will be held to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from synthgen.recipes.nl2dot.templates import Domain, FewShotExample, Templates

# Filled into templates but not worth repeating in every record: they follow from domain,
# subtopic and complexity, which the plan item carries anyway.
_DERIVED = frozenset({"domain", "domain_description", "focus", "complexity", "structure", "subtopic"})


@dataclass(slots=True, frozen=True)
class RenderedPrompt:
    subtopic: str
    params: dict[str, str]
    template_index: int
    messages: list[dict[str, str]]


def format_output(request: str, dot: str) -> str:
    """The text a model must write: the generation grammar's ``REQUEST:``/``DOT:`` layout,
    taken from the grammar's own module so the two can never drift apart."""
    from synthgen.dot.gen_grammar import format_output as grammar_format

    return grammar_format(request, dot)


def system_message(recipe: Templates) -> str:
    return f"{recipe.system_prompt}\n\n{recipe.output_format}"


def sample_params(recipe: Templates, domain: Domain, complexity: str, rng: random.Random) -> tuple[str, dict[str, str], int]:
    """Pick a subtopic, one value per parameter, and a phrasing: (subtopic, params, template index)."""
    sub = rng.choice(domain.subtopics)
    level = recipe.complexity_levels[complexity]
    params: dict[str, str] = {
        "domain": domain.title,
        "domain_description": domain.description,
        "subtopic": sub.name,
        "focus": sub.focus,
        "complexity": complexity,
        "structure": recipe.structure(complexity),
        "n_states": str(rng.randint(level.nodes.min, level.nodes.max)),
        "style": rng.choice(domain.styles or recipe.style_hints),
        "tone": rng.choice(recipe.request_tones),
    }
    merged = {**domain.params, **sub.params}
    for key in sorted(merged):
        params[key] = rng.choice(merged[key])
    index = rng.randrange(len(domain.user_templates))
    return sub.name, params, index


def user_message(recipe: Templates, domain: Domain, template_index: int, params: dict[str, str]) -> str:
    ask = domain.user_templates[template_index].format(**params)
    suffix = recipe.request_suffix.format(complexity=params["complexity"], structure=params["structure"], tone=params["tone"])
    return f"{ask}\n\n{suffix}"


def fewshot_user(recipe: Templates, example: FewShotExample) -> str:
    """The user turn paired with a few-shot answer: the same kind of ask a real item gets."""
    domain = recipe.domains[example.domains[0]]
    ask = recipe.fewshot_user.format(
        domain=domain.title, topic=example.topic, complexity=example.complexity, structure=recipe.structure(example.complexity)
    )
    level = example.complexity
    suffix = recipe.request_suffix.format(complexity=level, structure=recipe.structure(level), tone=recipe.request_tones[0])
    return f"{ask}\n\n{suffix}"


def pick_fewshot(recipe: Templates, domain: str, complexity: str, k: int, rng: random.Random) -> list[FewShotExample]:
    """k examples, preferring the same complexity, then the same domain; ties drawn by rng.

    The best match goes last, nearest the real ask, where small models copy from most."""
    if k <= 0:
        return []
    keyed = [
        ((e.complexity == complexity) * 2 + (domain in e.domains), rng.random(), e)
        for e in recipe.fewshot
    ]
    keyed.sort(key=lambda t: (-t[0], t[1]))
    return [e for _, _, e in keyed[:k]][::-1]


def build_messages(recipe: Templates, user_text: str, fewshot: list[FewShotExample]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_message(recipe)}]
    for example in fewshot:
        messages.append({"role": "user", "content": fewshot_user(recipe, example)})
        messages.append({"role": "assistant", "content": format_output(example.request, example.dot)})
    messages.append({"role": "user", "content": user_text})
    return messages


def render(recipe: Templates, domain_name: str, complexity: str, rng: random.Random, *, k: int | None = None) -> RenderedPrompt:
    """Everything one plan item needs, drawn from ``rng`` in a fixed order."""
    domain = recipe.domains[domain_name]
    subtopic, params, index = sample_params(recipe, domain, complexity, rng)
    text = user_message(recipe, domain, index, params)
    shots = pick_fewshot(recipe, domain_name, complexity, recipe.fewshot_k if k is None else k, rng)
    kept = {k: v for k, v in params.items() if k not in _DERIVED}
    kept["fewshot"] = ",".join(e.id for e in shots)
    kept["phrasing"] = str(index)
    return RenderedPrompt(subtopic=subtopic, params=kept, template_index=index, messages=build_messages(recipe, text, shots))
