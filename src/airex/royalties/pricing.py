"""Pricing: a usage report under its licence's tariffs → invoice lines. Pure: no database.

:func:`price_report` reads the records once, in one streaming pass, and does per record
one lookup of its work (by its first WorkId) and one exact running-total update per (work,
use type, unit) — found through an array indexed by work position × 8 + use type, so no
hashing; the registry is asked once per (work, use type), on first sight. Records that are
not priced go to the ``on_held`` sink as they pass, so memory grows with the number of
distinct works, never with the number of records.

What is held (never priced, never dropped; each with its reason):

* what the registry's checker does not permit — its :class:`~airex.registry.Reason`
  (``OptedOut``, ``UnknownWork``, ``OutsideRepertoire``, ``UseTypeNotLicensed``,
  ``OutsideTerm``, ``OutsideTerritory``, ``LicenceNotInForce``, ``NoPreferenceOptInRegime``);
* permitted usage that no tariff of the licence prices: ``NoTariffForUsage`` (e.g. bytes of
  data mining under a licence whose only tariff is per token), or ``RevenueNotReported`` when
  the only tariff that would price it is a revenue share and the report states no revenue in
  its currency (a flat-file report never does).

The tariffs (spec: LicenceOfferMessage), each limited to its ``UseType`` s (absent: every
permitted use type):

``PerUnit``
    the usage in its ``Unit``: Quantity = total units / PerQuantity, UnitPrice = Amount,
    LineAmount = Quantity × UnitPrice half-up to the currency's minor unit; basis
    :attr:`~Basis.UNITS` (pro rata to each work's units).
``PerWork``
    Amount per distinct work used: Quantity = the number of works, UnitPrice = Amount;
    basis :attr:`~Basis.EQUAL`.
``FlatFee``
    Amount × the share of its BillingPeriod the reporting period covers inside the licence
    term (:func:`billing_fraction`: whole calendar months count as months, a part of a month
    as its days over the month's days); Quantity = that share, UnitPrice = Amount. A
    ``OneOff`` fee is charged once per licence: on the first report priced for the licence
    (a correction of that report charges it again, so the difference nets out), never on a
    later one. Basis :attr:`~Basis.EQUAL` over the works used under its use types.
``RevenueShare``
    Percentage × the revenue reported in the tariff's Currency (all RevenueTypes summed) / 100,
    half-up; no Quantity/UnitPrice (the Description says what was shared). Basis
    :attr:`~Basis.ATTRIBUTION` when an AttributionShare was reported for the usage it covers,
    else :attr:`~Basis.UNITS`. Without revenue in its currency it is not priced: a
    ``RevenueNotReported`` warning.
``MinimumGuarantee``
    a floor on the total of the *other* (non-guarantee) lines whose use types overlap its own:
    a shortfall line of max(0, guarantee − those lines' total), omitted when zero; no
    Quantity/UnitPrice. A periodic guarantee is pro-rated like a FlatFee; a ``OneOff``
    guarantee is a floor on the whole licence term and is settled on the report whose
    period reaches the term's end (against the overlapping lines of every current report of
    the licence), never before (an open-ended term never reaches it). Basis
    :attr:`~Basis.EQUAL`.

Quantities that are not terminating decimals (units / 3, a third of a quarter) are written
rounded half-up to 12 fraction digits, and the LineAmount is computed from the Quantity as
written, so that every line satisfies the spec's rule LineAmount = Quantity × UnitPrice.
A line is listed when it has usage or a non-zero amount. One currency per invoice: terms
whose tariffs name several currencies are refused (:class:`PricingError`).

A large plain flat file can be read in byte ranges by several processes whose findings are
merged into what the one pass would have found (``parallel=``, see
:mod:`airex.royalties._parallel`); the one pass stays the reference, and is made whenever
the parts cannot promise its result.
"""

from __future__ import annotations

import calendar
import decimal
import gc
import hashlib
import json
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Protocol

from airex.errors import MessageError, MessageStatus
from airex.formats.usage import ReportHeader, UsageRow, WorkRef
from airex.ledger.money import currency_exponent
from airex.messages.terms import LicenceTerms, Tariff
from airex.registry import Decision, Reason
from airex.royalties._types import (
    UNITS,
    USE_TYPES,
    Basis,
    HeldRecord,
    PricedLine,
    PricedReport,
    ReportUsage,
    ReportWorks,
)
from airex.royalties.errors import PricingError

if TYPE_CHECKING:
    from airex.royalties._parallel import ParallelPricing

__all__ = [
    "HELD_REASONS",
    "NO_TARIFF",
    "REVENUE_NOT_REPORTED",
    "PricingContext",
    "PricingError",
    "RefuseAll",
    "UsageCheck",
    "billing_fraction",
    "line_basis",
    "price_report",
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

_MICRO = 10**6
_QUANTITY_DIGITS = 12  # fraction digits of a Quantity that is not a terminating decimal
_CHECK_PRECISION = 28  # the validator multiplies Quantity × UnitPrice in a 28-digit context
_UNSET = 0
_PERMITTED = 1
_UNSET_SLOTS = bytes(8)
_NO_AGGREGATES = array("i", [-1] * 8)
_HELD_CODE = {reason: index + 1 for index, reason in enumerate(HELD_REASONS)}
"""Held reason → its code in a held aggregate (0 = priced); a slot's decision is code + 1."""
_USE_TYPE_NOT_LICENSED = str(Reason.USE_TYPE_NOT_LICENSED)
_USE_TYPE_INDEX = {name: index for index, name in enumerate(USE_TYPES)}
_UNIT_INDEX = {name: index for index, name in enumerate(UNITS)}
_ALL_USE_TYPES = (1 << len(USE_TYPES)) - 1
_MONTHS = {"Monthly": 1, "Quarterly": 3, "Annually": 12}
_EXACT = decimal.Context(
    prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[decimal.Inexact]
)
_ZERO = Decimal(0)


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
class _Plan:
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


def _mask(use_types: Iterable[str]) -> int:
    mask = 0
    for name in use_types:
        index = _USE_TYPE_INDEX.get(str(name))
        if index is not None:
            mask |= 1 << index
    return mask


def _currency(terms: LicenceTerms) -> str:
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


def _plans(terms: LicenceTerms, header: ReportHeader, currency: str) -> list[_Plan]:
    permitted = _mask(terms.permitted_use_types)
    plans = []
    for tariff in terms.tariffs:
        kind = str(tariff.tariff_type)
        where = f"tariff {tariff.tariff_id} ({kind})"
        mask = _mask(tariff.use_types) & permitted if tariff.use_types else permitted
        unit_index = None
        revenue = None
        if kind in ("FlatFee", "PerWork", "PerUnit", "MinimumGuarantee") and tariff.amount is None:
            raise PricingError(f"{where} has no Amount")
        if kind in ("FlatFee", "MinimumGuarantee") and tariff.billing_period is None:
            raise PricingError(f"{where} has no BillingPeriod")
        if kind == "PerUnit":
            if tariff.unit is None or not tariff.per_quantity or tariff.per_quantity < 1:
                raise PricingError(f"{where} needs a Unit and a positive PerQuantity")
            unit_index = _UNIT_INDEX[str(tariff.unit)]
        if kind == "RevenueShare":
            if tariff.percentage is None or not Decimal(0) <= tariff.percentage <= 100:
                raise PricingError(f"{where} needs a Percentage between 0 and 100")
            matching = [r.value for r in header.reported_revenues if r.currency == currency]
            revenue = sum(matching, _ZERO) if matching else None
        plans.append(_Plan(tariff, tariff.tariff_id, kind, mask, unit_index, revenue))
    return plans


def _coverage(plans: Sequence[_Plan]) -> bytearray:
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


def _half_up(value: Fraction) -> int:
    """A non-negative fraction rounded half-up to an integer."""
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


def _terminating_digits(value: Fraction) -> int | None:
    """The fraction digits of ``value`` as a decimal, ``None`` when it does not terminate."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    return max(twos, fives) if denominator == 1 else None


def _as_decimal(value: Fraction, digits: int) -> Decimal:
    """``value`` as a Decimal with ``digits`` fraction digits, half-up (exact when it fits)."""
    scaled = _half_up(value * 10**digits) if value >= 0 else -_half_up(-value * 10**digits)
    return Decimal(scaled).scaleb(-digits, _EXACT)


def _quantity(value: Fraction, price: Decimal) -> Decimal:
    """The Quantity to write for ``value``: exact when it is a decimal of at most 12 fraction
    digits, else rounded half-up to 12; fewer digits still when Quantity × price would need
    more than the 28 significant digits the validator multiplies with."""
    exact = _terminating_digits(value)
    digits = _QUANTITY_DIGITS if exact is None else min(exact, _QUANTITY_DIGITS)
    while True:
        quantity = _as_decimal(value, digits)
        product = _EXACT.multiply(quantity, price)
        if digits == 0 or len(product.as_tuple().digits) <= _CHECK_PRECISION:
            return quantity.normalize(_EXACT) if quantity else Decimal(0)
        digits -= 1


def _line_minor(quantity: Decimal, price: Decimal, exponent: int) -> int:
    """Quantity × price in minor units, half-up (what the spec's rule checks)."""
    return _half_up(Fraction(quantity) * Fraction(price) * 10**exponent)


def _to_minor(amount: Fraction, exponent: int) -> int:
    return _half_up(amount * 10**exponent)


def _amount_text(minor: int, exponent: int) -> str:
    return f"{Decimal(minor).scaleb(-exponent, _EXACT):f}"


def _number(value: Decimal) -> str:
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _column(values: list[int]) -> Sequence[int]:
    """An ``array('q')`` when every value fits 64 bits (compact), else the list itself."""
    if not values or (max(values) < 2**63 and min(values) >= 0):
        return array("q", values)
    return values


def line_basis(
    usage: ReportUsage, basis: Basis, mask: int, unit_index: int | None
) -> tuple[array[int], array[int], Sequence[int], Sequence[int]]:
    """The basis rows of a line: ``(work_index, use_type_index, weight, units_micro)``.

    The usage rows a line covers are those whose use type is in ``mask`` (and, for a PerUnit
    line, whose unit is ``unit_index``). :attr:`~Basis.UNITS` and :attr:`~Basis.ATTRIBUTION`
    lines get one row per (work, use type), weighted by its units (all covered units summed)
    or by its AttributionShares (micro). :attr:`~Basis.EQUAL` lines get one row per *work*
    (weight 1, so the money is shared equally over works, not over uses), named by the
    work's first covered use type in :data:`USE_TYPES` order, with that use type's units.
    Rows come in work order. The same rule builds the lines at pricing and when an invoice
    is loaded back, so the two agree by construction.
    """
    positions = usage.work_position
    use_types = usage.use_type_index
    units_of = usage.unit_index
    units = usage.units_micro
    shares = usage.attribution_micro
    out_work: list[int] = []
    out_use: list[int] = []
    out_weight: list[int] = []
    out_units: list[int] = []
    last_work = last_use = -1
    equal = basis is Basis.EQUAL
    by_share = basis is Basis.ATTRIBUTION
    for i in range(len(positions)):
        use_type = use_types[i]
        if not (mask >> use_type) & 1 or (unit_index is not None and units_of[i] != unit_index):
            continue
        work = positions[i]
        if work == last_work:
            if use_type == last_use:
                out_units[-1] += units[i]
                if not equal:
                    out_weight[-1] += shares[i] if by_share else units[i]
                continue
            if equal:
                continue
        out_work.append(work)
        out_use.append(use_type)
        out_units.append(units[i])
        out_weight.append(1 if equal else shares[i] if by_share else units[i])
        last_work, last_use = work, use_type
    return array("q", out_work), array("b", out_use), _column(out_weight), _column(out_units)


class _Pass:
    """The one pass over the records: decisions, running totals, held records.

    Works get positions in order of first appearance; a *slot* is a work position × 8 + use
    type, decided once (``decisions``); an *aggregate* is a slot and a unit, with its running
    total (``totals``, a list indexed by aggregate) and whether its records are priced or
    held (``held_code``). ``first_aggregate[slot]`` finds a slot's aggregate without hashing
    (a second unit in the same slot, rare, goes through ``more_aggregates``).
    """

    def __init__(
        self,
        checker: UsageCheck,
        permitted_mask: int,
        covered: bytearray,
        on_held: Callable[[HeldRecord], None],
    ) -> None:
        self.checker = checker
        self.permitted_mask = permitted_mask
        self.covered = covered
        self.on_held = on_held
        self.positions: dict[WorkRef | str, int] = {}
        """The works by first WorkId (a merged pass: by its flat text)."""
        self.keys: list[int | None] = []
        self.more_ids: dict[int, tuple[WorkRef, ...] | tuple[str, ...]] = {}
        self.decisions = bytearray()
        self.first_aggregate = array("i")  # 32 bits: fewer than 2**31 aggregates
        self.work_aggregates = array("i")
        """Per work position: its last aggregate (-1: none); ``next_aggregate`` chains the
        work's earlier ones, so the aggregates are walked work by work without a sort."""
        self.next_aggregate = array("i")
        self.more_aggregates: dict[int, int] = {}
        self.aggregate_unit = bytearray()
        self.aggregate_key = array("q")
        self.held_code = bytearray()
        self.totals: list[Any] = []  # Decimals (int micro-units: ``micro_totals``)
        self.shares: dict[int, Any] = {}
        self.records = 0
        self.held = 0
        self.held_by_reason: dict[str, int] = {}
        self.odd_decisions: dict[int, tuple[WorkRef, ...]] | None = None
        """When a dict: the slots decided on a record naming its work by other ids than the
        work's first record did, with those ids (a pass over part of a report keeps them, so
        that the parts can be merged only when they decided alike)."""
        self.micro_totals = False
        """``totals`` and ``shares`` hold int micro-units, not Decimals (a merged pass)."""

    def run(self, rows: Iterable[UsageRow]) -> None:
        """Read every record once (the hot loop: indexing beats attribute access here)."""
        position_of = self.positions.get
        first_aggregate = self.first_aggregate
        aggregate_unit = self.aggregate_unit
        held_code = self.held_code
        totals = self.totals
        shares = self.shares
        share_of = shares.get
        use_type_index = _USE_TYPE_INDEX.get
        unit_index = _UNIT_INDEX.get
        add = _EXACT.add
        zero = _ZERO
        count = 0
        try:
            for row in rows:
                count += 1
                ids = row[0]
                position = position_of(ids[0])
                if position is None:
                    position = self._new_work(ids)
                use_type = use_type_index(row[1])
                unit = unit_index(row[3])
                if use_type is None or unit is None:
                    self._hold(row, _USE_TYPE_NOT_LICENSED if use_type is None else NO_TARIFF)
                    continue
                slot = position * 8 + use_type
                aggregate = first_aggregate[slot]
                if aggregate < 0 or aggregate_unit[aggregate] != unit:
                    aggregate = self._aggregate(row, slot, unit)
                totals[aggregate] = add(totals[aggregate], row[2])
                share = row[4]
                if share is not None:
                    shares[aggregate] = add(share_of(aggregate, zero), share)
                code = held_code[aggregate]
                if code:
                    self._hold(row, HELD_REASONS[code - 1])
        finally:
            self.records += count

    def _new_work(self, ids: tuple[WorkRef, ...]) -> int:
        position = len(self.keys)
        self.positions[ids[0]] = position
        self.keys.append(None)
        if len(ids) > 1:
            self.more_ids[position] = ids
        self.decisions.extend(_UNSET_SLOTS)
        self.first_aggregate.extend(_NO_AGGREGATES)
        self.work_aggregates.append(-1)
        return position

    def _aggregate(self, row: UsageRow, slot: int, unit: int) -> int:
        """The aggregate of ``slot`` and ``unit``, made (and its slot decided) on first use."""
        key = slot * 8 + unit
        found = self.first_aggregate[slot]
        if found >= 0:
            more = self.more_aggregates.get(key)
            if more is not None:
                return more
        decision = self.decisions[slot]
        if decision == _UNSET:
            decision = self._decide(row, slot)
        use_type = slot & 7
        if decision != _PERMITTED:
            code = decision - 1
        else:
            coverage = self.covered[use_type * 8 + unit]
            code = (
                0
                if coverage == 1
                else _HELD_CODE[NO_TARIFF if not coverage else REVENUE_NOT_REPORTED]
            )
        aggregate = len(self.totals)
        position = slot >> 3
        self.next_aggregate.append(self.work_aggregates[position])
        self.work_aggregates[position] = aggregate
        self.totals.append(_ZERO)
        self.aggregate_unit.append(unit)
        self.aggregate_key.append(key)
        self.held_code.append(code)
        if found < 0:
            self.first_aggregate[slot] = aggregate
        else:
            self.more_aggregates[key] = aggregate
        return aggregate

    def _decide(self, row: UsageRow, slot: int) -> int:
        ids: tuple[WorkRef, ...] = row[0]
        position, use_type = divmod(slot, 8)
        name = USE_TYPES[use_type]
        decision = self.checker.check(ids[0], name)
        for ref in ids[1:]:  # a record names one work: the first id the registry knows
            if decision.work_key is not None:
                break
            other = self.checker.check(ref, name)
            if other.work_key is not None:
                decision = other
        reason = decision.reason
        if not (self.permitted_mask >> use_type) & 1:
            reason = Reason.USE_TYPE_NOT_LICENSED  # whatever the checker says
        if decision.work_key is not None and self.keys[position] is None:
            self.keys[position] = decision.work_key
        odd = self.odd_decisions
        if odd is not None and ids != self.more_ids.get(position, ids[:1]):
            odd[slot] = ids
        code = _PERMITTED if reason.permitted else _HELD_CODE[str(reason)] + 1
        self.decisions[slot] = code
        return code

    def _hold(self, row: UsageRow, reason: str) -> None:
        self.held += 1
        self.held_by_reason[reason] = self.held_by_reason.get(reason, 0) + 1
        self.on_held(
            HeldRecord(
                file=row[7],
                line=row[6],
                work_ids=tuple(str(ref) for ref in row[0]),
                use_type=str(row[1]),
                quantity=row[2],
                unit=str(row[3]),
                reason=reason,
            )
        )

    def ids_of(self, position: int, ref: WorkRef | str) -> tuple[str, ...]:
        more = self.more_ids.get(position)
        if more is None:
            return (str(ref),)
        return tuple(str(r) for r in more)


def _collect(header: ReportHeader, state: _Pass) -> tuple[str, ReportUsage, ReportWorks]:
    """After the pass: the content hash, the priced usage (sorted, works renumbered to the
    works with priced usage) and those works, in one walk over the works and their
    aggregates in key order that frees each running total and WorkRef as it goes.

    The hash is the SHA-256 of what the report says, whatever was decided about it: header
    fields and the record count, then per work (in order of first appearance) its identifiers
    and per (use type, unit) its exact total and AttributionShare total. Moving a record after
    the first appearance of its work changes nothing; any other change of content changes it.
    """
    digest = hashlib.sha256()
    revenues = sorted(
        (r.currency, f"{r.value.normalize(_EXACT):f}", str(r.revenue_type))
        for r in header.reported_revenues
    )
    period = header.reporting_period
    head = [
        header.report_id,
        header.licence_id,
        period.start_date.isoformat(),
        period.end_date.isoformat(),
        header.correction_of_report_id or "",
        repr(revenues),
        str(state.records),
    ]
    digest.update(json.dumps(head).encode())
    refs: list[WorkRef | str | None] = list(state.positions)
    state.positions.clear()
    totals = state.totals
    share_of = state.shares.get
    held_code = state.held_code
    work_keys = state.keys
    usage = ReportUsage()
    positions = usage.work_position
    use_types = usage.use_type_index
    units_of = usage.unit_index
    units: list[int] = []
    shares: list[int] = []
    works = ReportWorks()
    # The hash is fed in chunks: identifiers, then keys, totals and shares of the chunk.
    ids_text: list[str] = []
    chunk_keys = array("q")
    chunk_units: list[int] = []
    chunk_shares: list[int] = []

    def feed() -> None:
        for segment in (
            "\x1f".join(ids_text).encode(),
            chunk_keys.tobytes(),
            "\x1f".join(map(str, chunk_units)).encode(),
            "\x1f".join(map(str, chunk_shares)).encode(),
        ):  # each segment after its length: the stream says where each one ends
            digest.update(len(segment).to_bytes(8, "big"))
            digest.update(segment)
        ids_text.clear()
        del chunk_keys[:]
        chunk_units.clear()
        chunk_shares.clear()

    scaleb = _EXACT.scaleb
    in_micro = state.micro_totals
    key_of = state.aggregate_key
    last_aggregate = state.work_aggregates
    earlier = state.next_aggregate
    for position, ref in enumerate(refs):
        # The work's aggregates (usually one or two), in key order: use type, then unit.
        found: list[int] = []
        aggregate = last_aggregate[position]
        while aggregate >= 0:
            found.append(aggregate)
            aggregate = earlier[aggregate]
        if not found or ref is None:
            continue
        if len(found) > 1:
            found.sort(key=key_of.__getitem__)
        ids = state.ids_of(position, ref)
        refs[position] = None  # the WorkRef goes as its strings come
        ids_text.append("|".join(ids))
        new = -1
        for aggregate in found:
            key = key_of[aggregate]
            total = totals[aggregate]
            share = share_of(aggregate)
            if in_micro:
                micro = int(total)
                share_micro = int(share) if share is not None else -1
            else:
                micro = int(scaleb(total, 6))
                share_micro = int(scaleb(share, 6)) if share is not None else -1
            totals[aggregate] = _ZERO  # freed as we go
            chunk_keys.append(key)
            chunk_units.append(micro)
            chunk_shares.append(share_micro)
            if len(chunk_units) >= 65536:
                feed()
            if held_code[aggregate]:
                continue
            if new < 0:
                new = len(works.keys)
                works.keys.append(work_keys[position])
                works.ids.append(ids)
            positions.append(new)
            use_types.append((key >> 3) & 7)
            units_of.append(key & 7)
            units.append(micro)
            shares.append(share_micro if share_micro > 0 else 0)
    feed()
    usage.units_micro = _column(units)
    usage.attribution_micro = _column(shares)
    return digest.hexdigest(), usage, works


def price_report(
    header: ReportHeader,
    rows: Iterable[UsageRow],
    terms: LicenceTerms,
    checker: UsageCheck,
    *,
    on_held: Callable[[HeldRecord], None],
    context: PricingContext | None = None,
    parallel: ParallelPricing | None = None,
) -> PricedReport:
    """Price the usage ``rows`` of the report ``header`` under ``terms`` (see the module doc).

    ``parallel``: read a large plain flat file in byte ranges, one process each, and merge
    what they found (:mod:`airex.royalties._parallel`); the result is the same as one pass's
    to the byte, and where the parts cannot promise that, one pass is made.

    ``checker`` decides each (work, use type) (the registry's
    :class:`~airex.registry.UsageChecker`, or :class:`RefuseAll`); every record that is not
    priced is handed to ``on_held`` as it passes. Returns the priced lines with their basis
    rows (columnar), the works, the aggregated usage, counts and warnings; raises
    :class:`PricingError` for terms that cannot be invoiced (several currencies, a tariff
    without its elements).
    """
    context = context or PricingContext()
    currency = _currency(terms)
    exponent = currency_exponent(currency)
    plans = _plans(terms, header, currency)
    permitted = _mask(terms.permitted_use_types)
    if not context.licence_in_force:
        checker = RefuseAll(Reason.LICENCE_NOT_IN_FORCE)
    covered = _coverage(plans)
    warnings: list[MessageError] = []
    notes: list[str] = []
    collecting = gc.isenabled()
    gc.disable()  # nothing here makes cycles; collections scanning the growing tables would
    try:  # cost more than the pass itself (measured: 10.3 s → 5.6 s for 1 M records)
        state: _Pass | None = None
        if parallel is not None and context.licence_in_force:
            from airex.royalties._parallel import price_in_parts

            state = price_in_parts(rows, parallel, permitted, covered, on_held)
        if state is None:
            state = _Pass(checker, permitted, covered, on_held)
            state.run(rows)
        # Drop the checker (the registry's tables) before the aggregates are collected.
        state.checker = checker = RefuseAll()
        records, held = state.records, state.held
        held_by_reason = dict(sorted(state.held_by_reason.items()))
        content_hash, usage, works = _collect(header, state)
        del state  # the pass's tables (hundreds of MB for a million works) go before the lines
        lines = _price_lines(
            header, terms, plans, usage, currency, exponent, context, warnings, notes
        )
    finally:
        if collecting:
            gc.enable()
    return PricedReport(
        report_id=header.report_id,
        licence_id=header.licence_id,
        currency=currency,
        works=works,
        lines=lines,
        usage=usage,
        records=records,
        held_records=held,
        held_by_reason=held_by_reason,
        warnings=warnings,
        notes=notes,
        content_hash=content_hash,
    )


def _use_types_text(mask: int) -> str:
    if mask == _ALL_USE_TYPES:
        return "every use type"
    return ", ".join(name for i, name in enumerate(USE_TYPES) if (mask >> i) & 1)


def _price_lines(
    header: ReportHeader,
    terms: LicenceTerms,
    plans: Sequence[_Plan],
    usage: ReportUsage,
    currency: str,
    exponent: int,
    context: PricingContext,
    warnings: list[MessageError],
    notes: list[str],
) -> list[PricedLine]:
    period = header.reporting_period
    start, end = period.start_date, period.end_date
    term = terms.term
    lines: list[PricedLine] = []
    guarantees: list[_Plan] = []
    for plan in plans:
        tariff = plan.tariff
        kind = plan.kind
        scope = _use_types_text(plan.mask)
        if kind == "MinimumGuarantee":
            guarantees.append(plan)
            continue
        if not context.licence_in_force:
            continue
        quantity: Decimal | None = None
        price: Decimal | None = None
        if kind == "PerUnit":
            assert tariff.amount is not None
            assert tariff.per_quantity
            assert tariff.unit is not None
            rows = line_basis(usage, Basis.UNITS, plan.mask, plan.unit_index)
            basis = Basis.UNITS
            total_units = Fraction(sum(rows[3]), _MICRO)
            price = tariff.amount.value
            quantity = _quantity(total_units / tariff.per_quantity, price)
            amount = _line_minor(quantity, price, exponent)
            description = (
                f"{_number(Decimal(total_units.numerator) / total_units.denominator)} "
                f"{tariff.unit} of {scope} at {_number(price)} {currency} per "
                f"{tariff.per_quantity:,} {tariff.unit}"
            )
        elif kind == "PerWork":
            assert tariff.amount is not None
            rows = line_basis(usage, Basis.EQUAL, plan.mask, None)
            basis = Basis.EQUAL
            price = tariff.amount.value
            quantity = Decimal(len(rows[0]))
            amount = _line_minor(quantity, price, exponent)
            description = (
                f"{len(rows[0]):,} distinct works used for {scope} at {_number(price)} "
                f"{currency} per work"
            )
        elif kind == "FlatFee":
            assert tariff.amount is not None
            assert tariff.billing_period is not None
            rows = line_basis(usage, Basis.EQUAL, plan.mask, None)
            basis = Basis.EQUAL
            price = tariff.amount.value
            billing = str(tariff.billing_period)
            if billing == "OneOff":
                if plan.tariff_id in context.one_off_charged:
                    notes.append(
                        f"tariff {plan.tariff_id}: the one-off fee was charged on an earlier "
                        "report of the licence; not charged again"
                    )
                    continue
                inside = start <= (term.end_date or end) and end >= term.start_date
                fraction = Fraction(1 if inside else 0)
                what = "one-off fee"
            else:
                fraction = billing_fraction(start, end, billing, term.start_date, term.end_date)
                what = f"{billing.lower()} fee for {start.isoformat()} to {end.isoformat()}"
            quantity = _quantity(fraction, price)
            amount = _line_minor(quantity, price, exponent)
            description = (
                f"Flat {what} ({scope}): {_number(quantity)} × {_number(price)} {currency}"
            )
        else:  # RevenueShare
            if plan.revenue is None:
                given = sorted({r.currency for r in header.reported_revenues})
                why = (
                    f"the report states revenue in {', '.join(given)} only"
                    if given
                    else "the report states no revenue (a flat-file report cannot)"
                )
                warnings.append(
                    MessageError(
                        REVENUE_NOT_REPORTED,
                        f"tariff {plan.tariff_id} (RevenueShare {tariff.percentage} % of "
                        f"revenue in {currency}) is not priced: {why}; usage only it would "
                        "price is held until a correction reports the revenue",
                        status=MessageStatus.MESSAGE_ACCEPTED,
                    )
                )
                continue
            assert tariff.percentage is not None
            rows = line_basis(usage, Basis.ATTRIBUTION, plan.mask, None)
            basis = Basis.ATTRIBUTION
            if not sum(rows[2]):
                rows = line_basis(usage, Basis.UNITS, plan.mask, None)
                basis = Basis.UNITS
            amount = _to_minor(Fraction(plan.revenue) * Fraction(tariff.percentage) / 100, exponent)
            description = (
                f"{_number(tariff.percentage)} % of revenue {_number(plan.revenue)} {currency} "
                f"({scope})"
            )
        if not amount and not len(rows[0]):
            continue
        lines.append(
            _line(len(lines) + 1, plan, kind, description, amount, basis, rows, quantity, price)
        )
    for plan in guarantees:
        line = _guarantee(plan, lines, usage, header, terms, currency, exponent, context, notes)
        if line is not None:
            line.line_number = len(lines) + 1
            lines.append(line)
    return lines


def _line(
    number: int,
    plan: _Plan,
    kind: str,
    description: str,
    amount: int,
    basis: Basis,
    rows: tuple[array[int], array[int], Sequence[int], Sequence[int]],
    quantity: Decimal | None,
    price: Decimal | None,
) -> PricedLine:
    return PricedLine(
        line_number=number,
        tariff_id=plan.tariff_id,
        tariff_type=kind,
        description=description[:1024],
        amount_minor=amount,
        basis=basis,
        work_index=rows[0],
        use_type_index=rows[1],
        weight=rows[2],
        units_micro=rows[3],
        quantity=quantity,
        unit_price=price,
        use_type_mask=plan.mask,
        unit=UNITS[plan.unit_index] if plan.unit_index is not None else None,
    )


def _guarantee(
    plan: _Plan,
    lines: Sequence[PricedLine],
    usage: ReportUsage,
    header: ReportHeader,
    terms: LicenceTerms,
    currency: str,
    exponent: int,
    context: PricingContext,
    notes: list[str],
) -> PricedLine | None:
    """The shortfall line of a MinimumGuarantee (``None`` when there is none)."""
    tariff = plan.tariff
    assert tariff.amount is not None
    assert tariff.billing_period is not None
    if not context.licence_in_force:
        return None
    period = header.reporting_period
    term = terms.term
    billing = str(tariff.billing_period)
    covered = sum(line.amount_minor for line in lines if line.use_type_mask & plan.mask)
    scope = _use_types_text(plan.mask)
    price = tariff.amount.value
    if billing == "OneOff":
        if term.end_date is None or period.end_date < term.end_date:
            notes.append(
                f"tariff {plan.tariff_id}: the one-off minimum guarantee is settled on the "
                "report that reaches the licence term's end"
                + (" (the term is open-ended)" if term.end_date is None else "")
            )
            return None
        floor = _to_minor(Fraction(price), exponent)
        total = covered + context.prior_covered_minor.get(plan.tariff_id, 0)
        already = context.prior_guarantee_minor.get(plan.tariff_id, 0)
        amount = max(0, floor - total - already)
        description = (
            f"Minimum guarantee for the licence term {_number(price)} {currency} ({scope}): "
            f"shortfall against {_amount_text(total, exponent)} {currency} of usage fees"
        )
    else:
        fraction = billing_fraction(
            period.start_date, period.end_date, billing, term.start_date, term.end_date
        )
        floor = _to_minor(Fraction(price) * fraction, exponent)
        amount = max(0, floor - covered)
        description = (
            f"Minimum guarantee {_amount_text(floor, exponent)} {currency} for "
            f"{period.start_date.isoformat()} to {period.end_date.isoformat()} ({scope}): "
            f"shortfall against {_amount_text(covered, exponent)} {currency} of usage fees"
        )
    if not amount:
        return None
    rows = line_basis(usage, Basis.EQUAL, plan.mask, None)
    return _line(0, plan, "MinimumGuarantee", description, amount, Basis.EQUAL, rows, None, None)
