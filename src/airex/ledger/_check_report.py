"""What :func:`airex.ledger.check_ledger` reports: the invariants, each violation, the report,
and the figures it shows (formatted from the stored values, never raising on a corrupt row).

The public names are exported by :mod:`airex.ledger.check` and :mod:`airex.ledger`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airex.ledger.errors import InvalidAmountError
from airex.ledger.money import currency_exponent

__all__ = [
    "INVARIANTS",
    "MAX_PER_INVARIANT",
    "CheckReport",
    "Figure",
    "Violation",
    "as_int",
    "exact",
    "figure",
]

INVARIANTS = (
    "schema-current",
    "immutability-enforced",
    "references-exist",
    "amounts-are-integers",
    "entry-has-two-postings",
    "entry-balances",
    "debits-equal-credits",
    "posting-currency",
    "one-entry-per-key",
    "entry-unchanged",
    "reversal-negates-original",
    "balance-equals-postings",
    "day-balance-equals-postings",
    "grant-unchanged",
)
"""Every invariant :func:`check_ledger` verifies, in the order it verifies them."""

MAX_PER_INVARIANT = 100
"""At most this many violations are listed per invariant (the count says how many more)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: its code, where (``entry 12``, ``account 3 (party/kind/EUR)``),
    and what disagrees."""

    invariant: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.where}: {self.detail}"

    def as_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"invariant": self.invariant, "where": self.where, "detail": self.detail}


@dataclass(slots=True)
class CheckReport:
    """What :func:`check_ledger` found: the violations (empty when every invariant holds),
    how many were left unlisted per invariant, and the size of what was checked."""

    database: str
    violations: list[Violation] = field(default_factory=list)
    unlisted: Counter[str] = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every invariant holds."""
        return not self.violations

    def broken(self) -> list[str]:
        """The codes of the broken invariants, in :data:`INVARIANTS` order."""
        codes = {v.invariant for v in self.violations}
        return [code for code in INVARIANTS if code in codes]

    def add(self, invariant: str, where: str, detail: str) -> None:
        """Record a violation (or count it, beyond :data:`MAX_PER_INVARIANT`)."""
        listed = sum(1 for v in self.violations if v.invariant == invariant)
        if listed >= MAX_PER_INVARIANT:
            self.unlisted[invariant] += 1
        else:
            self.violations.append(Violation(invariant, where, detail))

    def lines(self) -> list[str]:
        """The report for people: one line per violation, then a summary line."""
        out = [str(v) for v in self.violations]
        out += [f"{code}: ... and {n} more" for code, n in sorted(self.unlisted.items())]
        size = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        if self.ok:
            out.append(f"ledger check: OK, {len(INVARIANTS)} invariants hold ({size})")
        else:
            total = len(self.violations) + sum(self.unlisted.values())
            out.append(
                f"ledger check: FAILED, {total} violation(s) of {len(self.broken())} "
                f"invariant(s): {', '.join(self.broken())} ({size})"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``airex ledger check --json``)."""
        return {
            "database": self.database,
            "ok": self.ok,
            "invariants": list(INVARIANTS),
            "broken": self.broken(),
            "violations": [v.as_dict() for v in self.violations],
            "unlisted": dict(self.unlisted),
            "counts": self.counts,
        }


def as_int(value: Any) -> int:
    """A count read from the database (PostgreSQL sums BIGINT as NUMERIC)."""
    return int(value) if value is not None else 0


Figure = int | Decimal | str


def exact(value: Any) -> Figure:
    """A stored amount or sum, exactly: an ``int`` when it is one, else the exact ``Decimal``
    of a ``REAL`` (``0.9`` stays ``0.9``, never truncated to 0), else the text as stored.
    Figures compare with ``!=`` whatever they are, and are formatted by :func:`figure`."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float | Decimal):
        return Decimal(value)
    return str(value)


def figure(minor: Figure, currency: Any) -> str:
    """``minor`` units of ``currency`` for a report, from the raw stored values: never through
    :class:`~airex.ledger.Money`, so that a corrupt row (an amount beyond any limit, a currency
    that is not ISO 4217, a fraction of a minor unit) is shown as it is instead of raising."""
    try:
        exponent = currency_exponent(str(currency))
    except InvalidAmountError:
        return f"{minor} minor units of {str(currency)!r} (not an ISO 4217 currency)"
    if not isinstance(minor, int):
        return f"{minor} minor units of {currency} (not an integer)"
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    sign = "-" if minor < 0 else ""
    if exponent:
        return f"{sign}{digits[:-exponent]}.{digits[-exponent:]} {currency}"
    return f"{sign}{digits} {currency}"
