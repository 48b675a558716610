"""Usage totals per work × use type × unit, in one pass over a report of any size.

:class:`UsageTotals` keeps one running total per distinct ``(work, use type, unit)``: memory
grows with the distinct works a report names (times the few use types and units each is used
under), never with its records. A work is known by its first WorkId (:attr:`UsageRow.work`).

Sums are exact: they are taken in a decimal context wide enough that no total is ever rounded
(Python's default context keeps 28 significant digits; large quantities with 6 fraction digits
can need more).
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Iterator
from decimal import Decimal

from airex.formats.usage._records import UsageRow, WorkRef

__all__ = ["UsageTotals"]

_EXACT = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.Inexact]
)
"""Adds exactly: with MAX_PREC digits an addition of finite numbers is never rounded.

Used through its ``add`` method, never installed as the current context: the rows being
summed may come from code (a reader) that must keep its own context."""
_add = _EXACT.add
_ZERO = Decimal(0)

Key = tuple[WorkRef, str, str]


class UsageTotals:
    """Totals of quantities per (work, use type, unit), and the record count.

    >>> totals = UsageTotals()
    >>> totals.add_all(reader)                       # doctest: +SKIP
    >>> totals.records, totals.distinct_works        # doctest: +SKIP
    >>> totals.totals_by_use_type_unit()             # doctest: +SKIP
    [('UseForTrainingGenerativeAI', 'Token', Decimal('1245882310'))]
    """

    __slots__ = ("_totals", "records")

    def __init__(self) -> None:
        self._totals: dict[Key, Decimal] = {}
        self.records = 0
        """Rows added so far."""

    def add(self, row: UsageRow) -> None:
        """Add one row's quantity to the total of its work, use type and unit."""
        key = (row[0][0], row[1], row[3])  # work (first WorkId), use type, unit
        totals = self._totals
        totals[key] = _add(totals.get(key, _ZERO), row[2])
        self.records += 1

    def add_all(self, rows: Iterable[UsageRow]) -> None:
        """Add every row of ``rows`` (one pass; ``rows`` may be a reader of any size)."""
        totals = self._totals
        get = totals.get
        add = _add
        count = 0
        try:
            for row in rows:  # indexing beats attribute access and unpacking here
                key = (row[0][0], row[1], row[3])
                totals[key] = add(get(key, _ZERO), row[2])
                count += 1
        finally:  # a reader that raises part way: what was read is counted
            self.records += count

    @property
    def distinct_works(self) -> int:
        """The number of distinct works (by first WorkId) in the rows added."""
        return len({work for work, _, _ in self._totals})

    def totals_by_use_type_unit(self) -> list[tuple[str, str, Decimal]]:
        """Total quantity per (use type, unit) over all works, sorted by use type and unit."""
        by_use: dict[tuple[str, str], Decimal] = {}
        for (_, use_type, unit), quantity in self._totals.items():
            key = (use_type, unit)
            by_use[key] = _add(by_use.get(key, _ZERO), quantity)
        return [(use_type, unit, total) for (use_type, unit), total in sorted(by_use.items())]

    def per_work(self) -> Iterator[tuple[WorkRef, str, str, Decimal]]:
        """``(work, use type, unit, total)`` for every combination seen, sorted."""
        for key in sorted(self._totals, key=_sort_key):
            work, use_type, unit = key
            yield work, use_type, unit, self._totals[key]

    def as_json(self) -> dict[str, object]:
        """``{"records", "distinct_works", "totals": [{"use_type", "unit", "quantity"}]}``.

        Quantities are strings holding the exact decimal, in fixed-point notation.
        """
        return {
            "records": self.records,
            "distinct_works": self.distinct_works,
            "totals": [
                {"use_type": use_type, "unit": unit, "quantity": format(total, "f")}
                for use_type, unit, total in self.totals_by_use_type_unit()
            ],
        }


def _sort_key(key: Key) -> tuple[str, str, str, str, str]:
    work, use_type, unit = key
    return work.type, work.value, work.namespace or "", use_type, unit
