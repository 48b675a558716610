"""Money is exact: integer minor units per ISO 4217, and nothing is ever rounded silently."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airex.ledger import (
    MAX_MINOR_UNITS,
    AccountKey,
    AccountKind,
    InvalidAmountError,
    Money,
    PostingLine,
)
from airex.ledger.money import currency_exponent, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("0.10", "EUR", 10),
        ("1.500", "EUR", 150),  # trailing zeros are not extra precision
        ("-625.00", "EUR", -62500),
        (Decimal("1250"), "JPY", 1250),
        ("1.234", "KWD", 1234),
        ("0.0001", "CLF", 1),
        (7, "EUR", 700),  # an int is whole units
        ("1E+2", "JPY", 100),
    ],
)
def test_amounts_that_fit_become_exact_minor_units(
    amount: Decimal | int | str, currency: str, minor: int
) -> None:
    """An amount with no more fraction digits than its currency's exponent converts exactly."""
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "match"),
    [
        ("1.2345", "JPY", "4 fraction digits but JPY has 0"),
        ("0.001", "EUR", "3 fraction digits but EUR has 2"),
        ("1.0001", "KWD", "4 fraction digits but KWD has 3"),
        (0.1, "EUR", "is a float"),
        (0.5, "EUR", "floats are not exact"),
        (True, "EUR", "is a bool"),
        ("NaN", "EUR", "not a finite number"),
        ("Infinity", "EUR", "not a finite number"),
        ("12,50", "EUR", "not a decimal amount"),
        ("1e30", "EUR", "beyond the ledger's limit"),
        ("1", "EUX", "not an active ISO 4217 currency code"),
    ],
)
def test_amounts_that_do_not_fit_are_refused(amount: object, currency: str, match: str) -> None:
    """Too many fraction digits, floats, non-numbers, huge amounts, unknown currencies: refused."""
    with pytest.raises(InvalidAmountError, match=match):
        to_minor(amount, currency)  # type: ignore[arg-type]


def test_largest_amount_is_accepted_and_one_more_refused() -> None:
    """MAX_MINOR_UNITS is the inclusive limit of one amount (a posting), not of a balance."""
    assert Money.of(MAX_MINOR_UNITS, "JPY").minor == MAX_MINOR_UNITS
    with pytest.raises(InvalidAmountError, match="beyond the ledger's limit"):
        Money.of(MAX_MINOR_UNITS + 1, "JPY")
    account = AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "EUR")
    with pytest.raises(InvalidAmountError, match="beyond the ledger's limit"):
        PostingLine(account, Money(MAX_MINOR_UNITS + 1, "EUR"))
    balance = Money(MAX_MINOR_UNITS, "EUR") + Money(MAX_MINOR_UNITS, "EUR")  # a sum may exceed
    assert balance.minor == 2 * MAX_MINOR_UNITS


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1E-30000000", "30000000 fraction digits"),
        ("-7E-999999999", "999999999 fraction digits"),
        ("123456E-30000000", "fraction digits"),
        ("0E-30000000", 0),
        ("1.500E-1", 15),
        ("1500E-3", 150),
    ],
)
def test_huge_negative_exponents_are_refused_without_computing_them(
    amount: str, expected: int | str
) -> None:
    """'1E-30000000' is refused by comparing its exponent with its digits, never by computing
    10**30000000 (which would hang the process: a denial of service)."""
    if isinstance(expected, int):
        assert to_minor(amount, "EUR") == expected
    else:
        with pytest.raises(InvalidAmountError, match=expected):
            to_minor(amount, "EUR")


def test_money_reads_back_with_the_currency_exponent() -> None:
    """The Decimal of a Money has exactly its currency's fraction digits."""
    assert str(Money(10, "EUR").amount) == "0.10"
    assert str(Money(1250, "JPY").amount) == "1250"
    assert str(Money(-1, "KWD").amount) == "-0.001"
    assert str(Money.of("5", "EUR")) == "5.00 EUR"


def test_money_arithmetic_is_exact_and_refuses_mixed_currencies() -> None:
    """Sums stay in minor units; EUR and USD never add up."""
    total = Money.zero("EUR")
    for _ in range(10):
        total = total + Money.of("0.1", "EUR")
    assert total == Money.of("1.00", "EUR")
    assert -(total - Money.of("0.25", "EUR")) == Money.of("-0.75", "EUR")
    with pytest.raises(InvalidAmountError, match="different currencies"):
        total + Money.of("1", "USD")


def test_currency_exponents_come_from_iso_4217() -> None:
    """EUR 2, JPY 0, KWD 3, gold (no minor unit in ISO 4217) the 4 digits an Amount allows."""
    assert [currency_exponent(c) for c in ("EUR", "JPY", "KWD", "XAU")] == [2, 0, 3, 4]


@given(
    st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS),
    st.sampled_from(["EUR", "JPY", "KWD", "CLF"]),
)
def test_decimal_round_trip(minor: int, currency: str) -> None:
    """Any amount in range survives minor → Decimal → string → minor unchanged."""
    money = Money(minor, currency)
    assert Money.of(str(money.amount), currency) == money
