"""Exact integer splits: largest remainder, equal parts, half-up division, percentages."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airex.royalties._split import half_up_div, largest_remainder, percent_ratio, split_equal


def test_largest_remainder_worked_examples() -> None:
    """Leftover units go to the largest remainders, ties to the earlier part."""
    assert largest_remainder(100, [1, 1, 1]) == [34, 33, 33]
    assert largest_remainder(200, [3334, 3333, 3333]) == [67, 67, 66]
    assert largest_remainder(100000, [1, 2, 3]) == [16667, 33333, 50000]
    assert largest_remainder(999, [250000, 250000, 500000]) == [250, 250, 499]
    assert largest_remainder(0, [0, 0]) == [0, 0]
    assert largest_remainder(7, [0, 5, 0]) == [0, 7, 0]


def test_largest_remainder_refuses_what_cannot_be_split() -> None:
    """A positive amount over zero weights, a negative amount or weight is an error."""
    with pytest.raises(ValueError, match="sum to 0"):
        largest_remainder(5, [0, 0])
    with pytest.raises(ValueError, match="negative amount"):
        largest_remainder(-1, [1])
    with pytest.raises(ValueError, match="negative"):
        largest_remainder(5, [3, -1])


def test_split_equal_gives_the_first_parts_one_more() -> None:
    """split_equal(10, 4) is 3, 3, 2, 2; nothing over no parts is fine, something is not."""
    assert split_equal(10, 4) == [3, 3, 2, 2]
    assert split_equal(8, 4) == [2, 2, 2, 2]
    assert split_equal(0, 0) == []
    with pytest.raises(ValueError, match="no parts"):
        split_equal(1, 0)


@given(
    st.integers(min_value=0, max_value=10**17),
    st.lists(st.integers(min_value=0, max_value=10**15), min_size=1, max_size=40),
)
def test_largest_remainder_is_exact_and_within_one_unit(total: int, weights: list[int]) -> None:
    """Parts sum exactly to the total and each is the floor or ceiling of its exact quota."""
    if not sum(weights):
        weights[0] = 1
    parts = largest_remainder(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        quota = Fraction(total * weight, whole)
        assert quota - 1 < part < quota + 1
        assert part in (quota.__floor__(), quota.__ceil__())


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=500))
def test_equal_weights_split_like_split_equal(total: int, count: int) -> None:
    """Equal weights give the same parts as split_equal (ties to the earlier parts)."""
    assert largest_remainder(total, [7] * count) == split_equal(total, count)


@given(st.integers(min_value=0, max_value=10**18), st.integers(min_value=1, max_value=10**9))
def test_half_up_div_rounds_half_up(numerator: int, denominator: int) -> None:
    """half_up_div is the exact quotient rounded to the nearest integer, halves up."""
    exact = Fraction(numerator, denominator)
    result = half_up_div(numerator, denominator)
    assert exact - Fraction(1, 2) < result <= exact + Fraction(1, 2)


def test_percent_ratio_is_exact() -> None:
    """Percentages become exact fractions; floats and values outside 0..100 are refused."""
    assert percent_ratio(Decimal("15")) == (3, 20)
    assert percent_ratio("12.5") == (1, 8)
    assert percent_ratio(0) == (0, 1)
    assert percent_ratio(Decimal("100")) == (1, 1)
    for bad in (15.0, Decimal("-1"), Decimal("100.01"), "NaN", "x"):
        with pytest.raises(ValueError):
            percent_ratio(bad)  # type: ignore[arg-type]


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=300),
)
def test_largest_remainder_matches_the_textbook_rule(total: int, weights: list[int]) -> None:
    """Floors first, then one unit each to the largest remainders, ties to the earlier part
    (a plain reference implementation; small weights make many ties)."""
    if not sum(weights):
        weights[0] = 1
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for index in order[: total - sum(parts)]:
        parts[index] += 1
    assert largest_remainder(total, weights) == parts
