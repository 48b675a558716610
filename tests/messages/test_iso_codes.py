"""ISO 4217 / ISO 3166-1 code lists: the generated schema and its run-time reader."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airex.iso import (
    _MINOR_UNITS,
    country_codes,
    currency_codes,
    minor_unit,
    quantize_minor,
)

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "gen_iso_codes.py"


def test_generated_schema_is_up_to_date() -> None:
    """tools/gen_iso_codes.py --check finds airex-iso.xsd identical to what it would write."""
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_schema_is_a_valid_xsd() -> None:
    """airex-iso.xsd compiles as an XML Schema."""
    from lxml import etree

    path = ROOT / "src" / "airex" / "schemas" / "airex-iso.xsd"
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    etree.XMLSchema(etree.parse(str(path), parser))


def test_code_lists_match_pycountry() -> None:
    """The run-time lists are exactly pycountry's currencies and countries."""
    assert {c.alpha_3 for c in pycountry.currencies} == currency_codes()
    assert {c.alpha_2 for c in pycountry.countries} == country_codes()


@pytest.mark.parametrize(("currency", "expected"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3)])
def test_minor_unit_of_common_currencies(currency: str, expected: int) -> None:
    """Well-known currencies exist and have their ISO 4217 exponent."""
    assert currency in currency_codes()
    assert expected == minor_unit(currency)


@pytest.mark.parametrize(("currency", "expected"), [("CLF", 4), ("UYW", 4), ("XAU", 4), ("XXX", 4)])
def test_minor_unit_of_special_codes(currency: str, expected: int) -> None:
    """Four-decimal units and codes without a minor unit get 4 digits (the Amount maximum)."""
    assert expected == minor_unit(currency)


def test_minor_unit_table_only_names_active_currencies() -> None:
    """Every code in the exponent table is an active ISO 4217 code in the generated schema."""
    assert set() == set(_MINOR_UNITS) - currency_codes()


def test_minor_unit_covers_every_currency() -> None:
    """Every active currency has an exponent between 0 and 4."""
    assert all(0 <= minor_unit(c) <= 4 for c in currency_codes())


@pytest.mark.parametrize("currency", ["", "eur", "ABC", "DEM", "EURO"])
def test_minor_unit_rejects_unknown_codes(currency: str) -> None:
    """A code that is not an active ISO 4217 code raises ValueError."""
    with pytest.raises(ValueError, match="not an active ISO 4217"):
        minor_unit(currency)


@pytest.mark.parametrize("code", ["DE", "GB", "US", "FR", "JP"])
def test_officially_assigned_countries(code: str) -> None:
    """Officially assigned alpha-2 codes are in the list."""
    assert code in country_codes()


@pytest.mark.parametrize("code", ["XK", "EU", "UK", "ZZ", "de", "Worldwide"])
def test_codes_not_officially_assigned(code: str) -> None:
    """User-assigned, reserved or malformed codes are not in the list."""
    assert code not in country_codes()


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("10.5", "JPY", "11"),
        ("10.4", "JPY", "10"),
        ("1.005", "EUR", "1.01"),
        ("1.004", "EUR", "1.00"),
        ("1.0005", "KWD", "1.001"),
        ("2.5", "USD", "2.50"),
        ("0.00005", "XAU", "0.0001"),
        ("-1.005", "EUR", "-1.01"),
    ],
)
def test_quantize_minor(amount: str, currency: str, expected: str) -> None:
    """Amounts round half-up to the currency's minor unit and keep that many digits."""
    actual = quantize_minor(Decimal(amount), currency)
    assert Decimal(expected) == actual
    assert str(Decimal(expected)) == str(actual)


@given(
    amount=st.decimals(min_value=0, max_value=10**12, places=6, allow_nan=False),
    currency=st.sampled_from(sorted(currency_codes())),
)
def test_quantize_minor_is_within_half_a_minor_unit(amount: Decimal, currency: str) -> None:
    """Rounding moves an amount by at most half a minor unit, to exactly minor_unit digits."""
    exponent = minor_unit(currency)
    actual = quantize_minor(amount, currency)
    assert -exponent == actual.as_tuple().exponent
    assert abs(actual - amount) <= Decimal(5).scaleb(-exponent - 1)
