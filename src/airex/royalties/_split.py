"""Exact integer splits: largest remainder, equal shares, half-up division, percentages.

Every amount here is an ``int`` count of a currency's minor units, never a float or a
``Decimal``: a split is integer arithmetic, so it is exact and its parts sum to the whole by
construction.

Largest remainder (Hamilton's method): part ``i`` of ``total`` split by ``weights`` first gets
the floor of its exact quota ``total × wᵢ / Σw``; the units the floors leave over (fewer than
the number of parts) go one each to the parts with the largest remainders, ties to the earlier
part. So the parts sum exactly to ``total``, each part is within one unit of its exact quota,
and the result depends only on the inputs and their order::

    >>> largest_remainder(100, [1, 1, 1])
    [34, 33, 33]
    >>> largest_remainder(1000, [5000, 3000, 2000])
    [500, 300, 200]
    >>> split_equal(10, 4)
    [3, 3, 2, 2]
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import compress, islice

__all__ = [
    "Ratio",
    "half_up_div",
    "largest_remainder",
    "percent_ratio",
    "split_equal",
]

Ratio = tuple[int, int]
"""An exact non-negative fraction ``(numerator, denominator)``, denominator positive."""

_SORT_FRACTION = 8  # above n/8 leftover units, sorting every index beats a k-element heap


def split_equal(total: int, count: int) -> list[int]:
    """``total`` in ``count`` parts as equal as can be: the first ``total % count`` get one more.

    Raises ``ValueError`` for a negative total, or for no parts when there is something to
    split.
    """
    if total < 0:
        raise ValueError(f"cannot split a negative amount ({total})")
    if count <= 0:
        if total:
            raise ValueError(f"cannot split {total} over no parts")
        return []
    base, extra = divmod(total, count)
    if not extra:
        return [base] * count
    return [base + 1] * extra + [base] * (count - extra)


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split over ``weights`` (non-negative ints) by largest remainder; parts sum to it.

    Ties between equal remainders go to the earlier part. All weights equal is the same as
    :func:`split_equal`. A zero total gives zeros; a positive total needs a positive weight
    sum (``ValueError`` otherwise, and for a negative total or weight).
    """
    if total < 0:
        raise ValueError(f"cannot split a negative amount ({total})")
    count = len(weights)
    whole = sum(weights)
    if total == 0:
        if any(w < 0 for w in weights):
            raise ValueError("weights must not be negative")
        return [0] * count
    if whole <= 0:
        raise ValueError(f"cannot split {total} over weights that sum to {whole}")
    if min(weights) < 0:
        raise ValueError("weights must not be negative")
    parts = [total * w // whole for w in weights]
    left = total - sum(parts)
    if left:
        remainders = [total * w % whole for w in weights]
        if left * _SORT_FRACTION < count:
            # nlargest is sorted(reverse=True)[:left], which keeps ties in order: earlier first.
            chosen: Iterable[int] = heapq.nlargest(left, range(count), key=remainders.__getitem__)
        else:
            # The left-th largest remainder is the threshold: every part above it gets a unit,
            # and the earliest parts exactly at it get the rest (C-level passes, no key sort).
            threshold = sorted(remainders, reverse=True)[left - 1]
            above = compress(range(count), map(threshold.__lt__, remainders))
            at = compress(range(count), map(threshold.__eq__, remainders))
            chosen = list(above)
            chosen.extend(islice(at, left - len(chosen)))
        for index in chosen:
            parts[index] += 1
    return parts


def half_up_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up (both non-negative, denominator positive)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError(
            f"half_up_div takes a non-negative numerator and positive denominator, "
            f"not {numerator}/{denominator}"
        )
    return (2 * numerator + denominator) // (2 * denominator)


def percent_ratio(percent: Decimal | int | str) -> Ratio:
    """``percent`` % as an exact fraction: ``Decimal("15")`` → ``(3, 20)``; 0 ≤ percent ≤ 100.

    Raises ``ValueError`` for anything else (a float, NaN, a negative or a value above 100).
    """
    if isinstance(percent, float | bool):
        raise ValueError(f"a percentage must be a Decimal, int or decimal string, not {percent!r}")
    try:
        value = Decimal(percent)
    except ArithmeticError:
        raise ValueError(f"{percent!r} is not a decimal percentage") from None
    if not value.is_finite() or value < 0 or value > 100:
        raise ValueError(f"a percentage is between 0 and 100, not {percent}")
    numerator, denominator = value.as_integer_ratio()
    denominator *= 100
    common = math.gcd(numerator, denominator)  # lowest terms again after scaling by 100
    return numerator // common, denominator // common
