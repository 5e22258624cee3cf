"""Recipes by name, resolved lazily (a name → "module:Class" table, as backends have).

Adding a recipe: its own folder under ``synthgen/recipes/`` (and ``templates/``), and one
line in ``RECIPES``. A recipe that lives outside synthgen (a user's package, a test) is
named by its import path, ``--recipe package.module:Class``. Importing this module imports
no recipe.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from synthgen.errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    from synthgen.recipes.base import Recipe

DEFAULT_RECIPE = "nl2dot"
RECIPES: dict[str, str] = {
    "nl2dot": "synthgen.recipes.nl2dot.recipe:Nl2DotRecipe",
    "coding-tasks": "synthgen.recipes.coding_tasks.recipe:CodingTasksRecipe",
}


def recipe_names() -> list[str]:
    return sorted(RECIPES)


def recipe_class(name: str) -> type[Recipe]:
    """The class for a registered name, or for ``module:Class``; an unknown name lists the known ones."""
    from synthgen.recipes.base import Recipe

    target = RECIPES.get(name) or (name if ":" in name else None)
    if target is None:
        raise UnknownNameError("recipe", name, recipe_names())
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"recipe {name!r} cannot be loaded: {type(exc).__name__}: {exc}",
                          hint="name a registered recipe (synthgen recipes list) or package.module:Class") from None
    if not (isinstance(cls, type) and issubclass(cls, Recipe)):
        raise ConfigError(f"recipe {name!r}: {target} is not a synthgen.recipes.base.Recipe")
    return cls


def create_recipe(name: str, options: Mapping[str, Any] | None = None, *, source: str | None = None) -> Recipe:
    """A ready recipe: ``options`` validated by the recipe's own ``Options`` model."""
    cls = recipe_class(name)
    return cls.from_options(options or {}, source=source or f"options of recipe {name!r}")
