"""Invariants of pricing, for any report and any tariffs (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from _pricing_support import (
    ALL_USES,
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
)
from hypothesis import given, settings
from hypothesis import strategies as st

from airex.messages.terms import Tariff
from airex.registry import Reason
from airex.royalties import Basis, HeldRecord, line_basis, price_report
from airex.royalties._types import UNITS, USE_TYPES

_UNITS = ("Token", "Retrieval", "Byte", "Work")
_REASONS = (Reason.OPTED_IN, Reason.OPTED_OUT, Reason.UNKNOWN_WORK, Reason.OPTED_IN)

quantities = st.decimals(
    min_value=Decimal(0), max_value=Decimal(10**9), places=6, allow_nan=False
).map(lambda d: d.normalize() if d else Decimal(0))
rows = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.sampled_from(ALL_USES),
        quantities,
        st.sampled_from(_UNITS),
        st.one_of(st.none(), st.decimals(Decimal(0), Decimal(1), places=6)),
    ),
    min_size=1,
    max_size=40,
)
amounts = st.decimals(Decimal("0.01"), Decimal(100000), places=4).map(str)
some_uses = st.lists(st.sampled_from(ALL_USES), max_size=3, unique=True)


@st.composite
def tariffs(draw: st.DrawFn) -> list[Tariff]:
    """Between 1 and 4 tariffs of any type, unique ids, one currency."""
    made: list[Tariff] = []
    for index in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["PerUnit", "PerWork", "FlatFee", "Rev", "MG"]))
        uses = draw(some_uses)
        tid = f"T{index}"
        if kind == "PerUnit":
            per = draw(st.sampled_from([1, 3, 1000, 1_000_000]))
            made.append(per_unit(tid, draw(amounts), draw(st.sampled_from(_UNITS)), per, *uses))
        elif kind == "PerWork":
            made.append(per_work(tid, draw(amounts), *uses))
        elif kind == "FlatFee":
            period = draw(st.sampled_from(["OneOff", "Monthly", "Quarterly", "Annually"]))
            made.append(flat(tid, draw(amounts), period, *uses))
        elif kind == "Rev":
            made.append(revenue(tid, str(draw(st.decimals(0, 100, places=2))), *uses))
        else:
            made.append(guarantee(tid, draw(amounts), "Quarterly", *uses))
    return made


@settings(max_examples=150, deadline=None)
@given(
    data=rows,
    chosen=tariffs(),
    reasons=st.lists(st.sampled_from(_REASONS), min_size=8, max_size=8),
    revenue_base=st.one_of(st.none(), st.decimals(Decimal(0), Decimal(10**7), places=2)),
)
def test_pricing_invariants(
    data: list[tuple[int, str, Decimal, str, Decimal | None]],
    chosen: list[Tariff],
    reasons: list[Reason],
    revenue_base: Decimal | None,
) -> None:
    """Total = Σ lines; every record is priced or held, once; the priced usage is exactly the
    records not held; each line's amount is Quantity × UnitPrice half-up; basis rows are the
    rule's rows over the priced usage."""
    usage_rows = numbered(
        row(isrc(w), use, q, unit, None if share is None else str(share))
        for w, use, q, unit, share in data
    )
    checker = FakeChecker(reasons={isrc(i): reasons[i] for i in range(8)})
    held: list[HeldRecord] = []
    revenues = [] if revenue_base is None else [(str(revenue_base), "EUR", "API")]
    priced = price_report(
        header(revenues=revenues),
        usage_rows,
        terms(*chosen),
        checker,
        on_held=held.append,
    )
    assert priced.total_minor == sum(line.amount_minor for line in priced.lines)
    assert priced.records == len(usage_rows)
    assert priced.held_records == len(held) == sum(priced.held_by_reason.values())
    held_lines = {h.line for h in held}
    assert len(held_lines) == len(held)
    kept = [r for r in usage_rows if r.line not in held_lines]
    usage = priced.usage
    assert usage is not None
    assert sum(usage.units_micro) == sum(int(r.quantity * 10**6) for r in kept)
    assert len(priced.works.keys) == len({r.work_ids[0] for r in kept})
    for line in priced.lines:
        assert line.amount_minor >= 0
        if line.quantity is not None and line.unit_price is not None:
            exact = Fraction(line.quantity) * Fraction(line.unit_price) * 100
            assert line.amount_minor == (2 * exact.numerator + exact.denominator) // (
                2 * exact.denominator
            )
        unit = UNITS.index(line.unit) if line.unit is not None else None
        rows_again = line_basis(usage, line.basis, line.use_type_mask, unit)
        assert list(rows_again[0]) == list(line.work_index)
        assert list(rows_again[2]) == list(line.weight)
        if line.basis is Basis.EQUAL:
            assert len(set(line.work_index)) == len(line.work_index)
        assert all(0 <= u < len(USE_TYPES) for u in line.use_type_index)
