"""What pricing is given besides the records: the licence's tariffs prepared as plans, the
registry's checker, the licence's history, and the reasons a record is held.

See :mod:`airex.royalties.pricing` for what each tariff prices.
"""

from __future__ import annotations

import calendar
import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from airex.formats.usage import ReportHeader, WorkRef
from airex.ledger.money import currency_exponent
from airex.messages.terms import LicenceTerms, Tariff
from airex.registry import Decision, Reason
from airex.royalties._types import UNITS, USE_TYPES
from airex.royalties.errors import PricingError

__all__ = [
    "EXACT",
    "HELD_REASONS",
    "NO_TARIFF",
    "REVENUE_NOT_REPORTED",
    "UNIT_INDEX",
    "USE_TYPE_INDEX",
    "ZERO",
    "Plan",
    "PricingContext",
    "RefuseAll",
    "UsageCheck",
    "billing_fraction",
    "coverage_of",
    "invoice_currency",
    "plans_of",
    "use_type_mask",
]

NO_TARIFF = "NoTariffForUsage"
"""Held: permitted usage that no tariff of the licence prices (use type and unit)."""
REVENUE_NOT_REPORTED = "RevenueNotReported"
"""Held / warned: a revenue share cannot be priced, the report states no revenue for it."""

HELD_REASONS: tuple[str, ...] = (
    str(Reason.OPTED_OUT),
    str(Reason.NO_PREFERENCE_OPT_IN_REGIME),
    str(Reason.UNKNOWN_WORK),
    str(Reason.OUTSIDE_REPERTOIRE),
    str(Reason.USE_TYPE_NOT_LICENSED),
    str(Reason.OUTSIDE_TERM),
    str(Reason.OUTSIDE_TERRITORY),
    str(Reason.LICENCE_NOT_IN_FORCE),
    NO_TARIFF,
    REVENUE_NOT_REPORTED,
)
"""Every reason a record can be held for."""
USE_TYPE_INDEX = {name: index for index, name in enumerate(USE_TYPES)}
UNIT_INDEX = {name: index for index, name in enumerate(UNITS)}
_MONTHS = {"Monthly": 1, "Quarterly": 3, "Annually": 12}
EXACT = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.Inexact]
)
ZERO = Decimal(0)


class UsageCheck(Protocol):
    """What pricing asks the registry: may this work be used so (see
    :meth:`airex.registry.Registry.checker`)."""

    def check(self, ref: WorkRef, use_type: str) -> Decision:
        """The decision for one identifier and use type."""
        ...


@dataclass(frozen=True, slots=True)
class RefuseAll:
    """A checker that holds every use for one reason (a licence not in force)."""

    reason: Reason = Reason.LICENCE_NOT_IN_FORCE

    def check(self, ref: WorkRef, use_type: str) -> Decision:
        """Refused, for :attr:`reason`; the work is not looked up."""
        return Decision(None, self.reason)


@dataclass(frozen=True, slots=True)
class PricingContext:
    """What pricing needs to know beyond the report and the terms (the licence's history).

    ``one_off_charged``: TariffIds of OneOff FlatFees already charged on another current
    report of the licence. ``prior_covered_minor``: per OneOff MinimumGuarantee, the total of
    the lines it floors on the licence's other current reports; ``prior_guarantee_minor``:
    what it already charged there. ``licence_in_force``: ``False`` prices nothing (every
    record is held by the checker, no fee is charged).
    """

    licence_in_force: bool = True
    one_off_charged: frozenset[str] = frozenset()
    prior_covered_minor: Mapping[str, int] = field(default_factory=dict)
    prior_guarantee_minor: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """One tariff, prepared for pricing."""

    tariff: Tariff
    tariff_id: str
    kind: str
    mask: int
    unit_index: int | None
    revenue: Decimal | None
    """RevenueShare: the revenue it shares (``None``: not reported, the tariff is not priced)."""

    @property
    def priceable(self) -> bool:
        return self.kind != "RevenueShare" or self.revenue is not None


def use_type_mask(use_types: Iterable[str]) -> int:
    mask = 0
    for name in use_types:
        index = USE_TYPE_INDEX.get(str(name))
        if index is not None:
            mask |= 1 << index
    return mask


def invoice_currency(terms: LicenceTerms) -> str:
    found: dict[str, str] = {}
    for tariff in terms.tariffs:
        currency = tariff.currency if tariff.tariff_type == "RevenueShare" else None
        if tariff.amount is not None:
            currency = tariff.amount.currency
        if currency is None:
            raise PricingError(
                f"tariff {tariff.tariff_id} ({tariff.tariff_type}) names no currency"
            )
        found.setdefault(currency, tariff.tariff_id)
    if len(found) != 1:
        named = ", ".join(f"{ccy} (tariff {tid})" for ccy, tid in sorted(found.items()))
        raise PricingError(
            f"the licence's tariffs are in several currencies: {named}; an invoice has one "
            "currency, so these terms cannot be invoiced"
        )
    (currency,) = found
    currency_exponent(currency)
    return currency


def plans_of(terms: LicenceTerms, header: ReportHeader, currency: str) -> list[Plan]:
    permitted = use_type_mask(terms.permitted_use_types)
    plans = []
    for tariff in terms.tariffs:
        kind = str(tariff.tariff_type)
        where = f"tariff {tariff.tariff_id} ({kind})"
        mask = use_type_mask(tariff.use_types) & permitted if tariff.use_types else permitted
        unit_index = None
        revenue = None
        if kind in ("FlatFee", "PerWork", "PerUnit", "MinimumGuarantee") and tariff.amount is None:
            raise PricingError(f"{where} has no Amount")
        if kind in ("FlatFee", "MinimumGuarantee") and tariff.billing_period is None:
            raise PricingError(f"{where} has no BillingPeriod")
        if kind == "PerUnit":
            if tariff.unit is None or not tariff.per_quantity or tariff.per_quantity < 1:
                raise PricingError(f"{where} needs a Unit and a positive PerQuantity")
            unit_index = UNIT_INDEX[str(tariff.unit)]
        if kind == "RevenueShare":
            if tariff.percentage is None or not Decimal(0) <= tariff.percentage <= 100:
                raise PricingError(f"{where} needs a Percentage between 0 and 100")
            matching = [r.value for r in header.reported_revenues if r.currency == currency]
            revenue = sum(matching, ZERO) if matching else None
        plans.append(Plan(tariff, tariff.tariff_id, kind, mask, unit_index, revenue))
    return plans


def coverage_of(plans: Sequence[Plan]) -> bytearray:
    """Per use type × 8 + unit: 1 when a priceable tariff covers it, 2 when only a revenue
    share that cannot be priced does, 0 when none."""
    covered = bytearray(len(USE_TYPES) * 8)
    for use_type in range(len(USE_TYPES)):
        for unit in range(len(UNITS)):
            slot = use_type * 8 + unit
            for plan in plans:
                if not (plan.mask >> use_type) & 1:
                    continue
                if plan.unit_index is not None and plan.unit_index != unit:
                    continue
                if plan.priceable:
                    covered[slot] = 1
                    break
                covered[slot] = 2
    return covered


def billing_fraction(
    start: date, end: date, billing_period: str, term_start: date, term_end: date | None
) -> Fraction:
    """How many BillingPeriods the reporting period ``start..end`` covers inside the term.

    The period is first clipped to the licence term. Each calendar month it touches counts
    as (days covered / days in that month), so whole months count as 1 each; the months are
    then divided by the months in a billing period (1, 3 or 12). Examples: Jan–Mar under a
    Quarterly fee → 1; Jan–Mar under an Annually fee → 1/4; 1–15 April under a Monthly fee →
    1/2. (``OneOff`` is not a duration: see :func:`price_report`.)
    """
    months_per_period = _MONTHS.get(billing_period)
    if months_per_period is None:
        raise PricingError(f"billing period {billing_period!r} is not a duration")
    first = max(start, term_start)
    last = min(end, term_end) if term_end is not None else end
    if last < first:
        return Fraction(0)
    months = Fraction(0)
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        days = calendar.monthrange(year, month)[1]
        month_start = date(year, month, 1)
        month_end = month_start + timedelta(days=days - 1)
        covered = (min(last, month_end) - max(first, month_start)).days + 1
        months += Fraction(covered, days)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months / months_per_period
