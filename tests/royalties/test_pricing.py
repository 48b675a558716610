"""Pricing a usage report under its licence's tariffs: worked examples checked by hand.

Each example states its arithmetic in a comment; the expected figures are the hand results,
never recomputed by the code under test.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from _pricing_support import (
    INPUT,
    MINING,
    TRAIN,
    FakeChecker,
    flat,
    guarantee,
    header,
    isrc,
    numbered,
    per_unit,
    per_work,
    revenue,
    row,
    terms,
    work_key,
)

from airex.registry import Reason
from airex.royalties import (
    Basis,
    HeldRecord,
    PricedReport,
    PricingContext,
    PricingError,
    billing_fraction,
    price_report,
)
from airex.royalties._types import USE_TYPES
from airex.royalties.pricing import REVENUE_NOT_REPORTED

W1, W2, W3 = isrc(1), isrc(2), isrc(3)


def price(
    rows: list,  # type: ignore[type-arg]
    licence_terms: object,
    *,
    checker: FakeChecker | None = None,
    context: PricingContext | None = None,
    report_header: object = None,
) -> tuple[PricedReport, list[HeldRecord]]:
    """Price ``rows``; return the priced report and the records held."""
    held: list[HeldRecord] = []
    priced = price_report(
        report_header or header(),  # type: ignore[arg-type]
        numbered(rows),
        licence_terms,  # type: ignore[arg-type]
        checker or FakeChecker(),
        on_held=held.append,
        context=context,
    )
    return priced, held


def amounts(priced: PricedReport) -> list[tuple[str, int]]:
    """(tariff, amount in minor units) per line."""
    return [(line.tariff_id, line.amount_minor) for line in priced.lines]


# --- PerUnit ------------------------------------------------------------------------------


def test_per_unit_worked_example_rounds_half_up() -> None:
    """1 234 500 tokens at EUR 0.25 per 1 000: Quantity 1234.5 × 0.25 = 308.625 → 308.63."""
    priced, held = price(
        [row(W1, quantity=1_000_000), row(W2, quantity=234_500), row(W3, INPUT, 10, "Retrieval")],
        terms(per_unit("T-TOK", "0.25", "Token", 1000, TRAIN)),
    )
    (line,) = priced.lines
    assert (line.quantity, line.unit_price, line.amount_minor) == (
        Decimal("1234.5"),
        Decimal("0.25"),
        30863,
    )
    assert line.basis is Basis.UNITS
    # Pro rata to units (micro-units): W1 10^12, W2 234 500 × 10^6.
    assert list(line.weight) == [10**12, 234_500 * 10**6]
    assert [priced.works.ids[i] for i in line.work_index] == [(f"ISRC::{W1}",), (f"ISRC::{W2}",)]
    # The retrievals are permitted but no tariff prices them: held, not dropped.
    assert [(h.reason, h.line) for h in held] == [("NoTariffForUsage", 12)]
    assert priced.total_minor == 30863


def test_per_unit_sums_fractional_quantities_exactly() -> None:
    """2 000 000.5 + 1 999 999.5 tokens at EUR 2.00 per 10^6: Quantity 4 exactly → 8.00."""
    priced, _ = price(
        [row(W1, quantity="2000000.5"), row(W2, quantity="1999999.5")],
        terms(per_unit("T-TOK", "2.00", "Token", 1_000_000)),
    )
    (line,) = priced.lines
    assert (line.quantity, line.amount_minor) == (Decimal(4), 800)
    assert list(line.units_micro) == [2_000_000_500_000, 1_999_999_500_000]


def test_per_unit_quantity_that_does_not_terminate_is_written_to_twelve_digits() -> None:
    """10 tokens at EUR 0.01 per 3: Quantity 10/3 → 3.333333333333; × 0.01 = 0.0333… → 0.03."""
    priced, _ = price([row(W1, quantity=10)], terms(per_unit("T-3", "0.01", "Token", 3)))
    (line,) = priced.lines
    assert line.quantity == Decimal("3.333333333333")
    assert line.amount_minor == 3


def test_per_unit_prices_only_its_unit() -> None:
    """A per-token tariff prices tokens; bytes of the same use type are held (no tariff)."""
    priced, held = price(
        [row(W1, MINING, 5_000_000), row(W2, MINING, 8_000, "Byte")],
        terms(per_unit("T-TOK", "1.00", "Token", 1_000_000, MINING)),
    )
    assert amounts(priced) == [("T-TOK", 500)]  # 5 × 1.00
    assert [(h.work_ids, h.unit, h.reason) for h in held] == [
        ((f"ISRC::{W2}",), "Byte", "NoTariffForUsage")
    ]


# --- PerWork ------------------------------------------------------------------------------


def test_per_work_worked_example_counts_distinct_works_once() -> None:
    """W1 (training and mining) and W2 (mining) under EUR 12.00 per work: 2 works → 24.00."""
    priced, held = price(
        [row(W1), row(W1, MINING), row(W2, MINING, 3), row(W3, INPUT, 1, "Retrieval")],
        terms(per_work("T-WORK", "12.00", TRAIN, MINING)),
    )
    (line,) = priced.lines
    assert (line.quantity, line.unit_price, line.amount_minor) == (
        Decimal(2),
        Decimal("12.00"),
        2400,
    )
    # Equal basis: one row per work (so a work used twice does not get two shares), named by
    # its first use type in USE_TYPES order.
    assert line.basis is Basis.EQUAL
    assert list(line.weight) == [1, 1]
    assert [USE_TYPES[u] for u in line.use_type_index] == [TRAIN, MINING]
    assert [h.reason for h in held] == ["NoTariffForUsage"]


# --- FlatFee ------------------------------------------------------------------------------


def test_flat_fee_annual_for_a_quarter_is_a_quarter() -> None:
    """EUR 12 000.00 a year, reported Jan–Mar (3 whole months of 12): 0.25 × 12 000 = 3 000."""
    priced, _ = price([row(W1), row(W2)], terms(flat("T-FLAT", "12000.00", "Annually")))
    (line,) = priced.lines
    assert (line.quantity, line.amount_minor) == (Decimal("0.25"), 300000)
    assert line.basis is Basis.EQUAL
    assert len(line.work_index) == 2


def test_flat_fee_for_part_of_a_month_counts_days() -> None:
    """EUR 3 100.00 a month, reported 1–15 January: 15/31 → 0.483870967742 × 3100 = 1 500.00."""
    priced, _ = price(
        [row(W1)],
        terms(flat("T-FLAT", "3100.00", "Monthly")),
        report_header=header(period=(date(2026, 1, 1), date(2026, 1, 15))),
    )
    (line,) = priced.lines
    assert line.quantity == Decimal("0.483870967742")
    assert line.amount_minor == 150000


def test_flat_fee_one_off_is_charged_once_per_licence() -> None:
    """A one-off fee of EUR 5 000.00 is charged in full, then never again on later reports."""
    licence = terms(flat("T-ONCE", "5000.00", "OneOff"))
    first, _ = price([row(W1)], licence)
    assert [(line.quantity, line.amount_minor) for line in first.lines] == [(Decimal(1), 500000)]
    later, held = price(
        [row(W1)], licence, context=PricingContext(one_off_charged=frozenset({"T-ONCE"}))
    )
    assert later.lines == []
    assert held == []  # the usage is covered by the fee already paid: not held
    assert any("one-off fee" in note for note in later.notes)


@pytest.mark.parametrize(
    ("start", "end", "period", "expected"),
    [
        (date(2026, 1, 1), date(2026, 3, 31), "Quarterly", Fraction(1)),
        (date(2026, 1, 1), date(2026, 3, 31), "Annually", Fraction(1, 4)),
        (date(2026, 1, 1), date(2026, 3, 31), "Monthly", Fraction(3)),
        (date(2026, 4, 1), date(2026, 4, 15), "Monthly", Fraction(1, 2)),
        (date(2026, 1, 16), date(2026, 2, 28), "Monthly", Fraction(16, 31) + 1),
        (date(2025, 12, 1), date(2026, 2, 28), "Quarterly", Fraction(2, 3)),  # term from Jan
        (date(2027, 12, 1), date(2028, 1, 31), "Monthly", Fraction(1)),  # term to Dec 2027
    ],
)
def test_billing_fraction_examples(start: date, end: date, period: str, expected: Fraction) -> None:
    """Whole months count as months, part months as days over the month, inside the term."""
    assert billing_fraction(start, end, period, date(2026, 1, 1), date(2027, 12, 31)) == expected


# --- RevenueShare -------------------------------------------------------------------------


def test_revenue_share_worked_example_by_attribution() -> None:
    """10 % of EUR 100 000.00 (API) + 23 456.78 (subscriptions) = 12 345.678 → 12 345.68;
    revenue in USD is not the tariff's currency and is left out; shared by attribution."""
    report = header(
        revenues=[
            ("100000.00", "EUR", "API"),
            ("23456.78", "EUR", "Subscription"),
            ("500.00", "USD", "Advertising"),
        ]
    )
    priced, _ = price(
        [row(W1, INPUT, 4, "Retrieval", "0.25"), row(W2, INPUT, 1, "Retrieval", "0.75")],
        terms(revenue("T-REV", "10", INPUT)),
        report_header=report,
    )
    (line,) = priced.lines
    assert line.amount_minor == 1234568
    assert (line.quantity, line.unit_price) == (None, None)
    assert line.basis is Basis.ATTRIBUTION
    assert list(line.weight) == [250_000, 750_000]


def test_revenue_share_without_attribution_is_shared_by_units() -> None:
    """2.5 % of EUR 1 000.00 = 25.00, shared by the units reported (4 and 1 retrievals)."""
    priced, _ = price(
        [row(W1, INPUT, 4, "Retrieval"), row(W2, INPUT, 1, "Retrieval")],
        terms(revenue("T-REV", "2.5", INPUT)),
        report_header=header(revenues=[("1000.00", "EUR", "API")]),
    )
    (line,) = priced.lines
    assert (line.amount_minor, line.basis) == (2500, Basis.UNITS)
    assert list(line.weight) == [4_000_000, 1_000_000]


def test_revenue_share_without_revenue_is_a_warning_and_its_usage_is_held() -> None:
    """No revenue reported (as in every flat file): the share is not priced, a
    RevenueNotReported warning says so, and the usage only it would price is held."""
    priced, held = price(
        [row(W1, INPUT, 4, "Retrieval"), row(W2, TRAIN, 1_000_000)],
        terms(revenue("T-REV", "10", INPUT), per_unit("T-TOK", "1.00", "Token", 1_000_000, TRAIN)),
    )
    assert amounts(priced) == [("T-TOK", 100)]
    assert [w.code for w in priced.warnings] == [REVENUE_NOT_REPORTED]
    assert [(h.work_ids, h.reason) for h in held] == [((f"ISRC::{W1}",), "RevenueNotReported")]


# --- MinimumGuarantee -----------------------------------------------------------------------


def test_minimum_guarantee_tops_up_per_unit_pricing() -> None:
    """EUR 2.00 per 10^6 tokens, 500 000 000 tokens → 1 000.00; guarantee EUR 10 000.00 a
    year, Q1 → 2 500.00: a shortfall line of 1 500.00, total 2 500.00."""
    priced, _ = price(
        [row(W1, quantity=300_000_000), row(W2, quantity=200_000_000)],
        terms(
            per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN),
            guarantee("T-MG", "10000.00", "Annually"),
        ),
    )
    assert amounts(priced) == [("T-TOK", 100000), ("T-MG", 150000)]
    assert priced.total_minor == 250000
    shortfall = priced.lines[1]
    assert (shortfall.quantity, shortfall.unit_price, shortfall.basis) == (None, None, Basis.EQUAL)
    assert len(shortfall.work_index) == 2


def test_minimum_guarantee_met_adds_no_line() -> None:
    """2 000 000 000 tokens → 4 000.00, above the quarter's guarantee of 2 500.00: no line."""
    priced, _ = price(
        [row(W1, quantity=2_000_000_000)],
        terms(
            per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN),
            guarantee("T-MG", "10000.00", "Annually"),
        ),
    )
    assert amounts(priced) == [("T-TOK", 400000)]


def test_minimum_guarantee_floors_only_tariffs_that_overlap_its_use_types() -> None:
    """A guarantee on AI input (EUR 900.00 a quarter) is not met by training fees: 900.00."""
    priced, _ = price(
        [row(W1, quantity=1_000_000_000), row(W2, INPUT, 7, "Retrieval")],
        terms(
            per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN),
            guarantee("T-MG-IN", "900.00", "Quarterly", INPUT),
        ),
    )
    assert amounts(priced) == [("T-TOK", 200000), ("T-MG-IN", 90000)]
    assert [priced.works.ids[i] for i in priced.lines[1].work_index] == [(f"ISRC::{W2}",)]


def test_one_off_guarantee_is_settled_on_the_report_that_reaches_the_term_end() -> None:
    """A one-off guarantee of EUR 5 000.00 over a term ending 31 March: the Q1 report that
    reaches it pays the shortfall against every current report's fees (1 200.00 before,
    800.00 now): 5 000 − 2 000 = 3 000.00; a report before the term's end pays none."""
    licence = terms(
        per_unit("T-TOK", "1.00", "Token", 1_000_000, TRAIN),
        guarantee("T-MG", "5000.00", "OneOff"),
        end=date(2026, 3, 31),
    )
    context = PricingContext(prior_covered_minor={"T-MG": 120000})
    final, _ = price([row(W1, quantity=800_000_000)], licence, context=context)
    assert amounts(final) == [("T-TOK", 80000), ("T-MG", 300000)]
    early, _ = price(
        [row(W1, quantity=800_000_000)],
        licence,
        report_header=header(period=(date(2026, 1, 1), date(2026, 1, 31))),
    )
    assert amounts(early) == [("T-TOK", 80000)]


# --- what is held -----------------------------------------------------------------------------


def test_usage_outside_the_licence_is_held_with_its_reason_and_line() -> None:
    """Opted-out, unknown and unlicensed uses are held with the record's line; nothing of
    them is priced."""
    checker = FakeChecker(reasons={W2: Reason.OPTED_OUT, W3: Reason.UNKNOWN_WORK})
    priced, held = price(
        [row(W1), row(W2), row(W3), row(W1, INPUT, 3, "Retrieval")],
        terms(per_unit("T-TOK", "1.00", "Token", 1000), permitted=[TRAIN]),
        checker=checker,
    )
    assert [(h.line, h.reason) for h in held] == [
        (11, "OptedOut"),
        (12, "UnknownWork"),
        (13, "UseTypeNotLicensed"),
    ]
    assert amounts(priced) == [("T-TOK", 100)]  # W1's 1 000 tokens only
    assert priced.held_by_reason == {"OptedOut": 1, "UnknownWork": 1, "UseTypeNotLicensed": 1}
    assert priced.works.ids == [(f"ISRC::{W1}",)]


def test_unknown_work_under_an_opt_out_regime_is_priced_without_a_key() -> None:
    """UnknownWorkOptOutRegime is permitted: priced, its work has no key (suspense later)."""
    checker = FakeChecker(reasons={W1: Reason.UNKNOWN_WORK_OPT_OUT_REGIME})
    priced, held = price([row(W1)], terms(per_unit("T", "1.00", "Token", 1000)), checker=checker)
    assert held == []
    assert priced.works.keys == [None]
    assert amounts(priced) == [("T", 100)]


def test_a_work_named_by_several_ids_is_found_by_any_of_them() -> None:
    """A record whose first id the registry does not know is priced under its second id."""
    checker = FakeChecker(reasons={"UNKNOWN1": Reason.UNKNOWN_WORK})
    priced, held = price(
        [row(["Proprietary::PADPIDA2026CADENZA::UNKNOWN1", f"ISRC::{W1}"])],
        terms(per_unit("T", "1.00", "Token", 1000)),
        checker=checker,
    )
    assert held == []
    assert priced.works.keys == [work_key(W1)]
    assert priced.works.ids == [("Proprietary::PADPIDA2026CADENZA::UNKNOWN1", f"ISRC::{W1}")]


def test_a_licence_not_in_force_holds_everything_and_charges_nothing() -> None:
    """Suspended or revoked: every record held (LicenceNotInForce), no fee, no guarantee."""
    priced, held = price(
        [row(W1), row(W2)],
        terms(flat("T-FLAT", "900.00"), guarantee("T-MG", "100.00")),
        context=PricingContext(licence_in_force=False),
    )
    assert priced.lines == []
    assert [h.reason for h in held] == ["LicenceNotInForce", "LicenceNotInForce"]


def test_the_checker_is_asked_once_per_work_and_use_type() -> None:
    """Decisions are cached by (first WorkId, use type): 1 000 records of 2 works, 2 checks."""
    checker = FakeChecker()
    price(
        [row(W1 if i % 2 else W2) for i in range(1000)], terms(flat("F", "1.00")), checker=checker
    )
    assert checker.calls == 2


def test_tariffs_in_several_currencies_cannot_be_invoiced() -> None:
    """One currency per invoice: terms mixing EUR and GBP are refused, naming both."""
    with pytest.raises(PricingError, match=r"EUR \(tariff T-EUR\), GBP \(tariff T-GBP\)"):
        price(
            [row(W1)],
            terms(per_unit("T-EUR", "1.00"), flat("T-GBP", "5.00", currency="GBP")),
        )


# --- content hash -----------------------------------------------------------------------------


def test_content_hash_ignores_decisions_and_record_order() -> None:
    """The hash says what the report says: not what the registry decided, not where a work's
    later records stand; a changed quantity, or another record count, changes it."""
    licence = terms(per_unit("T", "1.00", "Token", 1000))
    base, _ = price([row(W1, quantity=300), row(W2)], licence)
    refused, _ = price(
        [row(W1, quantity=300), row(W2)], licence, checker=FakeChecker({W1: Reason.OPTED_OUT})
    )
    rows = [row(W1, quantity=100), row(W2), row(W1, quantity=200)]
    moved, _ = price(rows, licence)
    moved_again, _ = price([rows[0], rows[2], rows[1]], licence)
    changed, _ = price([row(W1, quantity=301), row(W2)], licence)
    assert base.content_hash == refused.content_hash
    assert moved.content_hash == moved_again.content_hash != base.content_hash
    assert changed.content_hash != base.content_hash
