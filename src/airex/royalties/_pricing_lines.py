"""The invoice lines of a priced report: one per tariff (see :mod:`airex.royalties.pricing`),
with the exact decimal arithmetic they are written with.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from airex.errors import MessageError, MessageStatus
from airex.formats.usage import ReportHeader
from airex.messages.terms import LicenceTerms
from airex.royalties._pricing_collect import line_basis
from airex.royalties._pricing_terms import (
    EXACT,
    REVENUE_NOT_REPORTED,
    Plan,
    PricingContext,
    billing_fraction,
)
from airex.royalties._types import UNITS, USE_TYPES, Basis, PricedLine, ReportUsage

__all__ = ["price_lines"]

_MICRO = 10**6
_QUANTITY_DIGITS = 12  # fraction digits of a Quantity that is not a terminating decimal
_CHECK_PRECISION = 28  # the validator multiplies Quantity × UnitPrice in a 28-digit context
_ALL_USE_TYPES = (1 << len(USE_TYPES)) - 1


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
    return Decimal(scaled).scaleb(-digits, EXACT)


def _quantity(value: Fraction, price: Decimal) -> Decimal:
    """The Quantity to write for ``value``: exact when it is a decimal of at most 12 fraction
    digits, else rounded half-up to 12; fewer digits still when Quantity × price would need
    more than the 28 significant digits the validator multiplies with."""
    exact = _terminating_digits(value)
    digits = _QUANTITY_DIGITS if exact is None else min(exact, _QUANTITY_DIGITS)
    while True:
        quantity = _as_decimal(value, digits)
        product = EXACT.multiply(quantity, price)
        if digits == 0 or len(product.as_tuple().digits) <= _CHECK_PRECISION:
            return quantity.normalize(EXACT) if quantity else Decimal(0)
        digits -= 1


def _line_minor(quantity: Decimal, price: Decimal, exponent: int) -> int:
    """Quantity × price in minor units, half-up (what the spec's rule checks)."""
    return _half_up(Fraction(quantity) * Fraction(price) * 10**exponent)


def _to_minor(amount: Fraction, exponent: int) -> int:
    return _half_up(amount * 10**exponent)


def _amount_text(minor: int, exponent: int) -> str:
    return f"{Decimal(minor).scaleb(-exponent, EXACT):f}"


def _number(value: Decimal) -> str:
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _use_types_text(mask: int) -> str:
    if mask == _ALL_USE_TYPES:
        return "every use type"
    return ", ".join(name for i, name in enumerate(USE_TYPES) if (mask >> i) & 1)


def price_lines(
    header: ReportHeader,
    terms: LicenceTerms,
    plans: Sequence[Plan],
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
    guarantees: list[Plan] = []
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
    plan: Plan,
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
    plan: Plan,
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
