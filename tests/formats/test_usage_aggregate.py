"""One-pass totals of usage per work, use type and unit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airex.formats.usage import UsageRow, WorkRef
from airex.formats.usage._aggregate import UsageTotals
from strategies import exact, fixed_decimals

TRAIN, INPUT = "UseForTrainingGenerativeAI", "UseAsAIInput"
X, Y, Z = (WorkRef("ISRC", f"GBAAA260000{i}") for i in (1, 2, 3))
P = WorkRef("Proprietary", "cat-1", "PADPIDA2026LABEL")


def _row(
    work: WorkRef,
    quantity: str | Decimal,
    use_type: str = TRAIN,
    unit: str = "Token",
    *more: WorkRef,
) -> UsageRow:
    return UsageRow((work, *more), use_type, Decimal(quantity), unit, None, None, 1, "f.xml")


EXAMPLE = [
    _row(X, "100"),
    _row(X, "50.5"),
    _row(Y, "1.25"),
    _row(X, "3", INPUT, "Retrieval"),
    _row(Y, "0.000001", TRAIN, "Token", Z),  # Z is Y's second id: the work is Y
    _row(Z, "2", INPUT, "Retrieval"),
    _row(P, "7", INPUT, "Retrieval"),
]


def test_worked_example() -> None:
    """Seven rows by hand: totals per use type and unit, per work, and distinct works."""
    totals = UsageTotals()
    totals.add_all(EXAMPLE)
    assert totals.records == 7
    assert totals.distinct_works == 4  # X, Y, Z and P: a second WorkId does not count
    assert totals.totals_by_use_type_unit() == [
        (INPUT, "Retrieval", Decimal("12")),
        (TRAIN, "Token", Decimal("151.750001")),
    ]
    assert list(totals.per_work()) == [
        (X, INPUT, "Retrieval", Decimal("3")),
        (X, TRAIN, "Token", Decimal("150.5")),
        (Y, TRAIN, "Token", Decimal("1.250001")),
        (Z, INPUT, "Retrieval", Decimal("2")),
        (P, INPUT, "Retrieval", Decimal("7")),
    ]


def test_json_form() -> None:
    """``as_json`` gives records, distinct works and exact totals as fixed-point strings."""
    totals = UsageTotals()
    totals.add_all(EXAMPLE)
    totals.add(_row(X, Decimal("1E+3")))
    assert totals.as_json() == {
        "records": 8,
        "distinct_works": 4,
        "totals": [
            {"use_type": INPUT, "unit": "Retrieval", "quantity": "12"},
            {"use_type": TRAIN, "unit": "Token", "quantity": "1151.750001"},
        ],
    }


def test_empty() -> None:
    """No rows: no records, no works, no totals."""
    assert UsageTotals().as_json() == {"records": 0, "distinct_works": 0, "totals": []}


def test_sums_are_exact_beyond_28_digits() -> None:
    """Totals are never rounded, even past the 28 digits of Python's default decimal context."""
    totals = UsageTotals()
    totals.add_all([_row(X, "1" + "0" * 30), _row(X, "0.000001")])
    totals.add(_row(X, "0.000001"))
    assert totals.totals_by_use_type_unit() == [
        (TRAIN, "Token", Decimal("1" + "0" * 30 + ".000002"))
    ]


def test_rows_read_before_a_failure_are_counted() -> None:
    """When the source raises part way (a strict reader), what was added stays added."""

    def rows() -> Iterator[UsageRow]:
        yield _row(X, "1")
        yield _row(Y, "2")
        raise ValueError("broken report")

    totals = UsageTotals()
    with pytest.raises(ValueError, match="broken report"):
        totals.add_all(rows())
    assert totals.records == 2
    assert totals.distinct_works == 2


_WORKS = [X, Y, Z, P]
_USES = [(TRAIN, "Token"), (INPUT, "Retrieval"), ("UseForDataMining", "Byte")]

rows_strategy = st.lists(
    st.builds(
        lambda work, use, quantity: _row(work, quantity, *use),
        st.sampled_from(_WORKS),
        st.sampled_from(_USES),
        fixed_decimals(6, 0, 10**24),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, data=st.data())
def test_totals_equal_a_naive_sum_in_any_order(rows: list[UsageRow], data: st.DataObject) -> None:
    """Totals equal an exact naive sum, whatever the order of the rows and however added."""
    naive: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with exact():
        for row in rows:
            naive[(row.use_type, row.unit)] += row.quantity
    in_order = UsageTotals()
    in_order.add_all(rows)
    shuffled = UsageTotals()
    for row in data.draw(st.permutations(rows)):
        shuffled.add(row)
    expected = sorted((use_type, unit, total) for (use_type, unit), total in naive.items())
    assert in_order.totals_by_use_type_unit() == expected
    assert shuffled.totals_by_use_type_unit() == expected
    assert list(shuffled.per_work()) == list(in_order.per_work())
    assert in_order.records == shuffled.records == len(rows)
    assert in_order.distinct_works == len({row.work for row in rows})
