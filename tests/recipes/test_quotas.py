"""Quota targets: exact sums, fair spreading, and one-line errors for bad weights/domains."""

from __future__ import annotations

import pytest

from synthgen.errors import ConfigError, UnknownNameError
from synthgen.recipes.nl2dot.quotas import (
    COMPLEXITIES,
    compute_targets,
    normalize_weights,
    parse_complexity_weights,
    parse_domains,
)

EIGHT = [f"d{i}" for i in range(8)]
W = {"simple": 30, "medium": 50, "complex": 20}


def _by_level(targets: dict, level: str) -> int:
    return sum(n for (_, c), n in targets.items() if c == level)


def _by_domain(targets: dict, domain: str) -> int:
    return sum(n for (d, _), n in targets.items() if d == domain)


def test_even_split_is_exact_per_cell() -> None:
    targets = compute_targets(160, EIGHT, W)
    assert set(targets) == {(d, c) for d in EIGHT for c in COMPLEXITIES}
    assert all(targets[(d, "simple")] == 6 and targets[(d, "medium")] == 10 and targets[(d, "complex")] == 4 for d in EIGHT)


@pytest.mark.parametrize("count", [0, 1, 2, 5, 7, 10, 23, 24, 99, 1000, 2001])
@pytest.mark.parametrize("domains", [EIGHT, ["a"], ["a", "b", "c"]])
def test_sums_and_marginals_are_as_exact_as_integers_allow(count: int, domains: list[str]) -> None:
    targets = compute_targets(count, domains, W)
    assert sum(targets.values()) == count
    for level, share in (("simple", 0.3), ("medium", 0.5), ("complex", 0.2)):
        assert abs(_by_level(targets, level) - count * share) < 1
    per_domain = [_by_domain(targets, d) for d in domains]
    assert max(per_domain) - min(per_domain) <= 1  # remainders are spread, not piled on one domain


def test_count_smaller_than_cells() -> None:
    targets = compute_targets(5, EIGHT, W)
    assert sum(targets.values()) == 5 and max(targets.values()) == 1
    assert [_by_level(targets, c) for c in COMPLEXITIES] == [2, 2, 1]  # 1.5/2.5/1.0: tie goes to the earlier level
    assert sorted(_by_domain(targets, d) for d in EIGHT) == [0, 0, 0, 1, 1, 1, 1, 1]


def test_zero_weights_give_zero_cells() -> None:
    targets = compute_targets(17, ["a", "b"], {"simple": 0, "medium": 1.0, "complex": 0})
    assert targets[("a", "medium")] + targets[("b", "medium")] == 17
    assert all(n == 0 for (_, c), n in targets.items() if c != "medium")


def test_fractions_and_percentages_agree_and_order_is_deterministic() -> None:
    a = compute_targets(37, EIGHT, {"complex": 0.2, "medium": 0.5, "simple": 0.3})
    b = compute_targets(37, EIGHT, W)
    assert a == b and list(a) == list(b)


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ({"simple": 30, "medium": 50, "complex": 10}, "sum to 90"),
        ({"simple": 0.3, "medium": 0.3, "complex": 0.3}, "sum to 0.9"),
        ({"simple": -10, "medium": 90, "complex": 20}, "non-negative"),
        ({"simple": 0, "medium": 0, "complex": 0}, "sum to 0"),
    ],
)
def test_bad_weights_are_one_line_errors(weights: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        compute_targets(10, ["a"], weights)
    line = err.value.one_line()
    assert "\n" not in line and fragment in line


def test_unknown_level_and_bad_counts() -> None:
    with pytest.raises(UnknownNameError, match="huge"):
        normalize_weights({"simple": 50, "huge": 50})
    with pytest.raises(ConfigError, match="non-negative integer"):
        compute_targets(-1, ["a"], W)
    with pytest.raises(ConfigError, match="no domains"):
        compute_targets(3, [], W)
    with pytest.raises(ConfigError, match="listed twice"):
        compute_targets(3, ["a", "a"], W)


@pytest.mark.parametrize(
    "text", ["30/50/20", "0.3/0.5/0.2", "simple=30,medium=50,complex=20", " complex=20 , simple=30,medium=50 ", "30%/50%/20%"]
)
def test_parse_complexity_weights_forms(text: str) -> None:
    assert parse_complexity_weights(text) == pytest.approx({"simple": 0.3, "medium": 0.5, "complex": 0.2})


def test_parse_complexity_weights_missing_names_weigh_zero() -> None:
    assert parse_complexity_weights("medium=100") == {"simple": 0.0, "medium": 1.0, "complex": 0.0}


@pytest.mark.parametrize(
    ("text", "error", "fragment"),
    [
        ("30/50", ConfigError, "2 values, expected 3"),
        ("30/fifty/20", ConfigError, "'fifty' is not a number"),
        ("simple=30,medium=50,complex=30", ConfigError, "sum to 110"),
        ("simple=30,meduim=70", UnknownNameError, "unknown complexity 'meduim'"),
        ("simple=30,simple=70", ConfigError, "given twice"),
        ("", ConfigError, "empty"),
        ("simple30,medium=70", ConfigError, "cannot read"),
    ],
)
def test_parse_complexity_weights_errors(text: str, error: type, fragment: str) -> None:
    with pytest.raises(error) as err:
        parse_complexity_weights(text)
    assert fragment in err.value.one_line() and "\n" not in err.value.one_line()


def test_parse_domains() -> None:
    known = ["robotics", "game_ai", "ecommerce"]
    assert parse_domains("all", known) == ["ecommerce", "game_ai", "robotics"]
    assert parse_domains("robotics, game-ai,robotics", known) == ["robotics", "game_ai"]
    with pytest.raises(UnknownNameError) as err:
        parse_domains("robotics,space_opera", known)
    assert "space_opera" in err.value.one_line() and "game_ai" in err.value.one_line()
    with pytest.raises(ConfigError, match="no domains"):
        parse_domains(" , ", known)


def test_parse_domains_defaults_to_the_shipped_recipe() -> None:
    assert "game_ai" in parse_domains("all")
