"""Periods as the ``--period`` options write them: a quarter, a month, a year, or a range.

==========================  ==========================  ==================
written                     means                       token (in ids)
==========================  ==========================  ==================
``2026-Q1``                 2026-01-01 .. 2026-03-31    ``2026Q1``
``2026-03``                 2026-03-01 .. 2026-03-31    ``202603``
``2026``                    2026-01-01 .. 2026-12-31    ``2026``
``2026-01-01..2026-02-15``  those days, both included   ``20260101-20260215``
==========================  ==========================  ==================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["PeriodSpec"]

_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def _month_end(year: int, month: int) -> date:
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PeriodSpec:
    """An inclusive range of days, and the short token that names it in StatementIds."""

    start: date
    end: date
    token: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period {self.token}: it ends ({self.end}) before it starts")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @classmethod
    def parse(cls, text: str) -> PeriodSpec:
        """``2026-Q1``, ``2026-03``, ``2026`` or ``2026-01-01..2026-03-31`` (see the module).

        Raises ``ValueError`` saying what is accepted.
        """
        value = text.strip()
        try:
            if match := _QUARTER.match(value):
                year, quarter = int(match[1]), int(match[2])
                return cls(
                    date(year, 3 * quarter - 2, 1),
                    _month_end(year, 3 * quarter),
                    f"{year}Q{quarter}",
                )
            if match := _MONTH.match(value):
                year, month = int(match[1]), int(match[2])
                return cls(date(year, month, 1), _month_end(year, month), f"{year}{month:02d}")
            if match := _YEAR.match(value):
                year = int(match[1])
                return cls(date(year, 1, 1), date(year, 12, 31), f"{year}")
            if match := _RANGE.match(value):
                start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
                token = f"{start:%Y%m%d}-{end:%Y%m%d}"
                return cls(start, end, token)
        except ValueError as exc:
            raise ValueError(f"period {text!r}: {exc}") from None
        raise ValueError(
            f"period {text!r} is not one of 2026-Q1 (a quarter), 2026-03 (a month), 2026 (a "
            "year) or 2026-01-01..2026-03-31 (a range of days)"
        )
