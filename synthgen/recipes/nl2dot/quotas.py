"""Exact integer quotas per (domain, complexity), and the CLI string parsers that feed them.

Apportionment is two-stage largest-remainder, so both marginals are as exact as integers
allow: first ``count`` is split across complexities by weight, then each complexity's total
is split evenly across domains. The extra units of the second stage go round-robin with an
offset carried from one complexity to the next, so no domain collects every remainder (10
samples over 8 domains gives 2,2,1,1,1,1,1,1, not 3,1,1,...). Ties are broken by the fixed
order of complexities and the caller's order of domains — never by dict or hash order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from synthgen.apportion import largest_remainder
from synthgen.errors import ConfigError, UnknownNameError

COMPLEXITIES: tuple[str, ...] = ("simple", "medium", "complex")
_TOL_FRACTION = 1e-6
_TOL_PERCENT = 1e-4


def normalize_weights(weights: Mapping[str, float], *, source: str = "complexity weights") -> dict[str, float]:
    """Fractions summing to 1, from weights that sum to 1 or to 100; missing levels weigh 0."""
    for name, value in weights.items():
        if name not in COMPLEXITIES:
            raise UnknownNameError("complexity", name, COMPLEXITIES)
        if not isinstance(value, int | float) or math.isnan(value) or value < 0:
            raise ConfigError(f"{source}: weight of {name!r} is {value!r}", hint="weights must be non-negative numbers")
    total = float(sum(weights.values()))
    if abs(total - 1.0) <= _TOL_FRACTION:
        scale = 1.0
    elif abs(total - 100.0) <= _TOL_PERCENT:
        scale = 100.0
    else:
        raise ConfigError(
            f"{source}: weights sum to {total:g}, not 1 or 100",
            hint="e.g. 30/50/20 or simple=0.3,medium=0.5,complex=0.2",
        )
    return {c: float(weights.get(c, 0.0)) / scale for c in COMPLEXITIES}


def compute_targets(count: int, domains: list[str], complexity_weights: Mapping[str, float]) -> dict[tuple[str, str], int]:
    """Quota per (domain, complexity), summing exactly to ``count``.

    Every cell is present, zero-quota cells included, in domain-major order."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ConfigError(f"count must be a non-negative integer, got {count!r}")
    if not domains:
        raise ConfigError("no domains selected", hint="pass --domains all or a comma-separated list")
    if len(set(domains)) != len(domains):
        dup = next(d for d in domains if domains.count(d) > 1)
        raise ConfigError(f"domain {dup!r} listed twice")
    weights = normalize_weights(complexity_weights)
    per_level = largest_remainder(count, [weights[c] for c in COMPLEXITIES])
    targets = {(d, c): 0 for d in domains for c in COMPLEXITIES}
    offset = 0
    n = len(domains)
    for c, level_total in zip(COMPLEXITIES, per_level, strict=True):
        base, extra = divmod(level_total, n)
        for d in domains:
            targets[(d, c)] = base
        for k in range(extra):
            targets[(domains[(offset + k) % n], c)] += 1
        offset = (offset + extra) % n
    return targets


def parse_complexity_weights(text: str) -> dict[str, float]:
    """``"30/50/20"`` (simple/medium/complex) or ``"simple=30,medium=50,complex=20"`` -> fractions."""
    raw = (text or "").strip()
    if not raw:
        raise ConfigError("empty complexity weights", hint="e.g. 30/50/20 or simple=30,medium=50,complex=20")
    if "=" in raw:
        weights: dict[str, float] = {}
        for part in raw.split(","):
            name, sep, value = part.partition("=")
            name = name.strip().lower()
            if not sep or not name:
                raise ConfigError(f"complexity weights {text!r}: cannot read {part.strip()!r}", hint="write name=weight pairs")
            if name not in COMPLEXITIES:
                raise UnknownNameError("complexity", name, COMPLEXITIES)
            if name in weights:
                raise ConfigError(f"complexity weights {text!r}: {name!r} given twice")
            weights[name] = _number(value, text)
    else:
        values = [_number(v, text) for v in raw.split("/")]
        if len(values) != len(COMPLEXITIES):
            raise ConfigError(
                f"complexity weights {text!r}: {len(values)} values, expected {len(COMPLEXITIES)} (simple/medium/complex)"
            )
        weights = dict(zip(COMPLEXITIES, values, strict=True))
    return normalize_weights(weights, source=f"complexity weights {text!r}")


def _number(value: str, text: str) -> float:
    try:
        number = float(value.strip().rstrip("%"))
    except ValueError:
        raise ConfigError(f"complexity weights {text!r}: {value.strip()!r} is not a number") from None
    if math.isnan(number) or math.isinf(number):
        raise ConfigError(f"complexity weights {text!r}: {value.strip()!r} is not a finite number")
    return number


def parse_domains(text: str, known: Iterable[str] | None = None) -> list[str]:
    """``"all"`` or a comma-separated list -> domain names in a stable order.

    ``known`` is the recipe's domain names (``recipe.domains`` works); ``None`` loads the
    shipped recipe (plus ``$SYNTHGEN_TEMPLATES_DIR``)."""
    if known is None:
        from synthgen.recipes.nl2dot.templates import load_recipe

        known = load_recipe().domains
    names = list(known)
    raw = (text or "").strip()
    if raw.lower() == "all":
        return sorted(names)
    picked: list[str] = []
    for part in raw.split(","):
        name = part.strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in names:
            raise UnknownNameError("domain", name, names)
        if name not in picked:
            picked.append(name)
    if not picked:
        raise ConfigError("no domains selected", hint=f"pass 'all' or some of: {', '.join(sorted(names))}")
    return picked
