"""The pure core of distribution: worked examples checked by hand, and its invariants."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from _distribution_support import invoice, line
from hypothesis import given, settings
from hypothesis import strategies as st

from airex.royalties import (
    Distribution,
    DistributionError,
    SuspenseReason,
    distribute,
)
from airex.royalties._split import largest_remainder
from airex.royalties._types import Basis
from parties import PUB01 as P1
from parties import PUB02 as P2
from parties import PUB03 as P3


def by_party(result: Distribution) -> dict[str, tuple[int, int, int]]:
    """party → (gross, fee, net)."""
    return {h.party: (h.gross_minor, h.fee_minor, h.net_minor) for h in result.rightsholders()}


def grosses(result: Distribution) -> list[tuple[str, int, int]]:
    """(party, work position, gross) of every line, grouped by party."""
    return [(x.party, x.work_position, x.gross_minor) for x in result.lines()]


def test_equal_split_gives_the_remainder_cents_to_the_first_works() -> None:
    """EUR 100.00 flat fee over 3 works: 33.34 + 33.33 + 33.33; 15 % fee half-up per line."""
    priced = invoice([line(1, 10000, Basis.EQUAL, [0, 1, 2])], [11, 12, 13])
    shares = {11: ((P1, 10000),), 12: ((P2, 10000),), 13: ((P3, 10000),)}
    result = distribute(priced, 10000, shares, Decimal(15))
    # 3334 × 0.15 = 500.10 → 500; 3333 × 0.15 = 499.95 → 500 (half-up)
    assert by_party(result) == {
        P1: (3334, 500, 2834),
        P2: (3333, 500, 2833),
        P3: (3333, 500, 2833),
    }
    assert (result.gross_minor, result.fee_minor, result.net_minor) == (10000, 1500, 8500)
    assert result.suspense == []


def test_pro_rata_to_units() -> None:
    """EUR 1000.00 over units 1 : 2 : 3 is 166.67, 333.33, 500.00 (the leftover cent to the
    largest remainder, 100000 × 1 mod 6 = 4)."""
    priced = invoice([line(1, 100000, Basis.UNITS, [0, 1, 2], [1, 2, 3])], [1, 2, 3])
    shares = {1: ((P1, 10000),), 2: ((P2, 10000),), 3: ((P3, 10000),)}
    result = distribute(priced, 100000, shares, Decimal(0))
    assert grosses(result) == [(P1, 0, 16667), (P2, 1, 33333), (P3, 2, 50000)]
    assert result.fee_minor == 0


def test_attribution_shares_in_yen() -> None:
    """JPY 999 by attribution 0.25 : 0.25 : 0.5 is 250 + 250 + 499 (no minor unit);
    fees 15 %: 37.5 → 38, 74.85 → 75."""
    priced = invoice(
        [line(1, 999, Basis.ATTRIBUTION, [0, 1, 2], [250000, 250000, 500000])],
        [1, 2, 3],
        currency="JPY",
    )
    shares = {1: ((P1, 10000),), 2: ((P2, 10000),), 3: ((P3, 10000),)}
    result = distribute(priced, 999, shares, Decimal(15))
    assert by_party(result) == {P1: (250, 38, 212), P2: (250, 38, 212), P3: (499, 75, 424)}


def test_three_way_share_split_by_largest_remainder() -> None:
    """EUR 2.00 of one work shared 33.34 / 33.33 / 33.33 % is 0.67 + 0.67 + 0.66: the floors
    are 0.66 each, the two leftover cents go to the largest remainders (tie: the earlier)."""
    priced = invoice([line(1, 200, Basis.EQUAL, [0])], [7])
    shares = {7: ((P1, 3334), (P2, 3333), (P3, 3333))}
    result = distribute(priced, 200, shares, Decimal(15))
    assert grosses(result) == [(P1, 0, 67), (P2, 0, 67), (P3, 0, 66)]
    assert [x.share for x in result.lines()] == [3334, 3333, 3333]
    # fees: 10.05 → 10, 10.05 → 10, 9.9 → 10
    assert by_party(result) == {P1: (67, 10, 57), P2: (67, 10, 57), P3: (66, 10, 56)}


def test_unknown_works_and_works_without_rightsholders_go_to_suspense() -> None:
    """Money of an unknown work, of a work without shares and of a line without works is held."""
    priced = invoice(
        [
            line(1, 900, Basis.EQUAL, [0, 1, 2]),
            line(2, 50, Basis.EQUAL, []),
        ],
        [None, 5, 6],
    )
    result = distribute(priced, 950, {6: ((P1, 10000),)}, Decimal(10))
    assert by_party(result) == {P1: (300, 30, 270)}
    suspense = [(s.line_number, s.work_position, s.amount_minor, s.reason) for s in result.suspense]
    assert suspense == [
        (1, 0, 300, SuspenseReason.UNKNOWN_WORK),
        (1, 1, 300, SuspenseReason.NO_RIGHTSHOLDER),
        (2, None, 50, SuspenseReason.NO_BASIS),
    ]
    assert result.suspense_minor + result.gross_minor == 950


def test_kuwaiti_dinar_has_three_decimals() -> None:
    """KWD 1.000 over 3 works is 0.334 + 0.333 + 0.333; fee 15 % of 0.334 is 0.050."""
    priced = invoice([line(1, 1000, Basis.EQUAL, [0, 1, 2])], [1, 2, 3], currency="KWD")
    shares = {1: ((P1, 10000),), 2: ((P2, 10000),), 3: ((P3, 10000),)}
    result = distribute(priced, 1000, shares, Decimal(15))
    assert by_party(result) == {P1: (334, 50, 284), P2: (333, 50, 283), P3: (333, 50, 283)}


def test_minimum_guarantee_with_per_unit_pricing() -> None:
    """Per-unit EUR 30.00 over units 1 000 : 3 000 and an MG top-up of EUR 10.00 equally over
    the two works; work A is 50/50, work B all P1's. P1 gets 3.75 + 2.50 + 22.50 + 5.00."""
    priced = invoice(
        [
            line(1, 3000, Basis.UNITS, [0, 1], [1000, 3000], tariff="T-TOKENS"),
            line(2, 1000, Basis.EQUAL, [0, 1], tariff="T-MG", tariff_type="MinimumGuarantee"),
        ],
        [100, 200],
    )
    shares = {100: ((P1, 5000), (P2, 5000)), 200: ((P1, 10000),)}
    result = distribute(priced, 4000, shares, Decimal(15))
    # per line fees: 375 → 56.25 → 56, 250 → 37.5 → 38, 2250 → 337.5 → 338, 500 → 75
    assert by_party(result) == {P1: (3375, 507, 2868), P2: (625, 94, 531)}
    # within an invoice line: rows of one-rightsholder works first, then the others
    assert [(x.party, x.tariff_id, x.gross_minor, x.fee_minor) for x in result.lines()] == [
        (P1, "T-TOKENS", 2250, 338),
        (P1, "T-TOKENS", 375, 56),
        (P1, "T-MG", 500, 75),
        (P1, "T-MG", 250, 38),
        (P2, "T-TOKENS", 375, 56),
        (P2, "T-MG", 250, 38),
    ]


def test_a_partial_payment_is_shared_over_the_lines_pro_rata() -> None:
    """EUR 5.00 paid on an invoice of 6.00 + 4.00 gives the lines 3.00 and 2.00."""
    priced = invoice([line(1, 600, Basis.EQUAL, [0]), line(2, 400, Basis.EQUAL, [1])], [1, 2])
    result = distribute(priced, 500, {1: ((P1, 10000),), 2: ((P2, 10000),)}, Decimal(0))
    assert result.line_money == [300, 200]
    assert by_party(result) == {P1: (300, 0, 300), P2: (200, 0, 200)}


def test_what_cannot_be_distributed_is_refused() -> None:
    """A credit note, a paid amount beyond the total and shares not summing to 100 % fail."""
    priced = invoice([line(1, 100, Basis.EQUAL, [0])], [1])
    with pytest.raises(DistributionError, match="CreditNote"):
        distribute(
            invoice([line(1, 100, Basis.EQUAL, [0])], [1], invoice_type="CreditNote"),
            100,
            {},
            0,
        )
    with pytest.raises(DistributionError, match="total is 100"):
        distribute(priced, 101, {}, 0)
    with pytest.raises(DistributionError, match="9999"):
        distribute(priced, 100, {1: ((P1, 5000), (P2, 4999))}, 0)
    with pytest.raises(DistributionError, match="administration fee"):
        distribute(priced, 100, {}, Decimal(101))


# --- properties ---------------------------------------------------------------------------

PARTIES = [f"PADPIDA2026RH{n:03d}" for n in range(12)]


@st.composite
def share_tuples(draw: st.DrawFn) -> tuple[tuple[str, int], ...]:
    """A work's shares: nobody, or 1-4 distinct parties summing to 10 000."""
    count = draw(st.integers(min_value=0, max_value=4))
    if not count:
        return ()
    parties = draw(st.lists(st.sampled_from(PARTIES), min_size=count, max_size=count, unique=True))
    cuts = sorted(
        draw(st.lists(st.integers(1, 9999), min_size=count - 1, max_size=count - 1, unique=True))
    )
    bounds = [0, *cuts, 10000]
    return tuple((p, bounds[i + 1] - bounds[i]) for i, p in enumerate(parties))


@st.composite
def cases(draw: st.DrawFn) -> tuple[object, int, dict[int, tuple[tuple[str, int], ...]], Decimal]:
    """An invoice over random works, shares, a paid amount and an administration fee."""
    works = draw(st.integers(min_value=1, max_value=12))
    keys = [draw(st.one_of(st.none(), st.just(k))) for k in range(1, works + 1)]
    shares = {k: draw(share_tuples()) for k in range(1, works + 1)}
    lines = []
    for number in range(1, draw(st.integers(1, 4)) + 1):
        basis = draw(st.sampled_from(list(Basis)))
        positions = draw(st.lists(st.integers(0, works - 1), max_size=works, unique=True))
        weights = [draw(st.integers(0, 10**13)) for _ in positions]
        amount = draw(st.integers(0, 10**12))
        lines.append(line(number, amount, basis, positions, weights))
    currency = draw(st.sampled_from(["EUR", "JPY", "KWD"]))
    priced = invoice(lines, keys, currency=currency)
    paid = draw(st.integers(0, priced.report.total_minor))
    fee = Decimal(draw(st.integers(0, 10000))) / 100
    return priced, paid, shares, fee


@settings(max_examples=300, deadline=None)
@given(cases())
def test_distribution_invariants(
    case: tuple[object, int, dict[int, tuple[tuple[str, int], ...]], Decimal],
) -> None:
    """Lines + suspense sum exactly to the paid amount, fee + net = gross on every line with
    the fee half-up, totals are the lines' sums, and every split is the largest-remainder one."""
    priced, paid, shares, fee = case
    result = distribute(priced, paid, shares, fee)  # type: ignore[arg-type]
    assert sum(result.line_money) == paid
    assert result.gross_minor + result.suspense_minor == paid
    fraction = Fraction(fee) / 100
    totals: dict[str, list[int]] = {}
    for x in result.lines():
        assert x.gross_minor > 0
        assert x.fee_minor + x.net_minor == x.gross_minor
        exact = x.gross_minor * fraction
        assert exact - Fraction(1, 2) < x.fee_minor <= exact + Fraction(1, 2)
        total = totals.setdefault(x.party, [0, 0])
        total[0] += x.gross_minor
        total[1] += x.fee_minor
    assert {p: (g, f, g - f) for p, (g, f) in totals.items()} == by_party(result)
    assert result.fee_minor + result.net_minor == result.gross_minor
    assert list(result.totals()) == [
        (h.position, h.party, h.gross_minor, h.fee_minor, len(h.lines))
        for h in result.rightsholders()
    ]
    # Independently: each row's money is the line's largest-remainder part, shared again.
    expected: dict[tuple[str, int, int], int] = {}
    for priced_line, money in zip(priced.report.lines, result.line_money, strict=True):  # type: ignore[attr-defined]
        if not money or not sum(priced_line.weight):
            continue
        rows = largest_remainder(money, priced_line.weight)
        for row, part in enumerate(rows):
            key = priced.report.works.keys[priced_line.work_index[row]]  # type: ignore[attr-defined]
            holders = shares.get(key, ()) if key is not None else ()
            if not part or not holders:
                continue
            split = largest_remainder(part, [h for _, h in holders])
            for (party, _), gross in zip(holders, split, strict=True):
                if gross:
                    expected[party, priced_line.line_number, row] = gross
    got = {
        (
            x.party,
            result.invoice.report.lines[result.line_index[i]].line_number,
            result.line_row[i],
        ): x.gross_minor
        for i, x in ((i, result.line(i)) for i in range(result.line_count))
    }
    assert got == expected


@settings(max_examples=50, deadline=None)
@given(cases())
def test_distribution_is_deterministic(
    case: tuple[object, int, dict[int, tuple[tuple[str, int], ...]], Decimal],
) -> None:
    """The same invoice, payment, shares and fee always give the same lines."""
    priced, paid, shares, fee = case
    first = distribute(priced, paid, shares, fee)  # type: ignore[arg-type]
    second = distribute(priced, paid, lambda keys: {k: shares.get(k, ()) for k in keys}, fee)  # type: ignore[arg-type]
    assert list(first.lines()) == list(second.lines())
    assert first.suspense == second.suspense
