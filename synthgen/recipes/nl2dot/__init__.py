"""The nl2dot recipe: natural-language requests paired with the Graphviz DOT that answers them.

The runtime reaches it only through ``recipe.Nl2DotRecipe`` (the recipe interface, registered
in ``synthgen.recipes``). Its parts, for tests and tools::

    recipe = load_recipe(templates_dir)               # Templates: .name .version .domains .complexities
                                                      #   .default_weights .fingerprint()
    weights = parse_complexity_weights("30/50/20")    # or recipe.default_weights
    domains = parse_domains("all", recipe.domains)
    targets = compute_targets(count, domains, weights)  # {(domain, complexity): n}, sums to count
    planner = Planner(recipe, seed, start_index=0)
    items = planner.next_items({cell: still_needed}, n)  # list[PlanItem]
"""

from synthgen.recipes.nl2dot.plan import PlanItem, Planner, item_seed, plan_items
from synthgen.recipes.nl2dot.quotas import (
    COMPLEXITIES,
    compute_targets,
    normalize_weights,
    parse_complexity_weights,
    parse_domains,
)
from synthgen.recipes.nl2dot.templates import Domain, Templates, load_recipe

__all__ = [
    "COMPLEXITIES",
    "Domain",
    "PlanItem",
    "Planner",
    "Templates",
    "compute_targets",
    "item_seed",
    "load_recipe",
    "normalize_weights",
    "parse_complexity_weights",
    "parse_domains",
    "plan_items",
]
