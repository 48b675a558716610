"""Royalty settings from the environment, and refusals as acknowledgement errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from airex.errors import MessageStatus
from airex.messages.error_codes import CODES
from airex.royalties import (
    NotLicenseeError,
    ReportConflictError,
    ReportRefusedError,
    RoyaltiesConfigError,
    RoyaltySettings,
    UnknownLicenceError,
    UnknownReportError,
)


def test_defaults_when_the_environment_says_nothing() -> None:
    """No variables: the licensor of each licence, a 15 % fee, invoices due in 30 days."""
    assert RoyaltySettings.from_env({}) == RoyaltySettings(None, Decimal("15"), 30)


def test_the_environment_sets_every_field() -> None:
    """AIREX_CMO_PARTY_ID, AIREX_ADMIN_FEE_PERCENT and AIREX_INVOICE_DUE_DAYS are read."""
    settings = RoyaltySettings.from_env(
        {
            "AIREX_CMO_PARTY_ID": " PADPIDA2026HARMONIA ",
            "AIREX_ADMIN_FEE_PERCENT": "12.5",
            "AIREX_INVOICE_DUE_DAYS": "45",
        }
    )
    assert settings == RoyaltySettings("PADPIDA2026HARMONIA", Decimal("12.5"), 45)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"AIREX_CMO_PARTY_ID": "HARMONIA"}, "is not a DDEX party id"),
        ({"AIREX_ADMIN_FEE_PERCENT": "fifteen"}, "expected a percentage"),
        ({"AIREX_ADMIN_FEE_PERCENT": "101"}, "not between 0 and 100"),
        ({"AIREX_ADMIN_FEE_PERCENT": "1.23456"}, "at most 4 fraction digits"),
        ({"AIREX_INVOICE_DUE_DAYS": "-1"}, "expected a number of days"),
        ({"AIREX_INVOICE_DUE_DAYS": "4000"}, "not between 0 and 3650"),
    ],
)
def test_unusable_values_are_refused_saying_which(environ: dict[str, str], message: str) -> None:
    """Each unusable variable is refused with a message naming the problem."""
    with pytest.raises(RoyaltiesConfigError, match=message):
        RoyaltySettings.from_env(environ)


def test_a_float_fee_is_refused() -> None:
    """Money settings are exact: a float fee is a programming error, refused."""
    with pytest.raises(RoyaltiesConfigError, match="give a Decimal"):
        RoyaltySettings(None, 15.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (ReportRefusedError("x"), "ReportNotPriced", MessageStatus.BUSINESS_RULE_VIOLATION),
        (UnknownLicenceError("x"), "UnknownLicence", MessageStatus.UNKNOWN_REFERENCE),
        (UnknownReportError("x"), "UnknownReport", MessageStatus.UNKNOWN_REFERENCE),
        (ReportConflictError("x"), "ReportConflict", MessageStatus.BUSINESS_RULE_VIOLATION),
        (NotLicenseeError("x"), "NotLicensee", MessageStatus.NOT_AUTHORISED),
    ],
)
def test_refusals_say_themselves_as_catalogued_errors(
    error: ReportRefusedError, code: str, status: MessageStatus
) -> None:
    """Each refusal becomes an acknowledgement error whose code is catalogued with its status."""
    found = error.message_error()
    assert (found.code, found.status, found.message) == (code, status, "x")
    assert CODES[code].status == status
