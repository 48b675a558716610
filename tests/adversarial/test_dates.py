"""Integrity: licensees do not choose the CMO's accounting dates (issue 13, items 7 and 8).

The review saw a payment dated 9999-12-31 or 0001-01-01 posted and then the action crash
(``InternalError``, the money stuck on payables), and invoices dated by the report's own
``MessageCreatedDateTime`` (1900, 2099 accepted). Now the invoice is dated by the exchange's
clock at receipt; a payment dated before the invoice it settles, or after the day it was
received, is refused up front (``PaymentDateOutOfRange``), as is a payment of nothing
(``ZeroPayment``), and nothing is posted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from actions_support import (
    acknowledged,
    effect_counts,
    licensed,
    on_scenario_clock,
    parsed,
    send,
    sent_by_cmo,
    usage_report,
)
from exchange_support import DEV, Env

from airex.demo import TIMELINE, Scenario
from airex.exchange import Exchange
from airex.messages import InvoiceMessage
from airex.messages.common import Amount


def _invoiced(
    env: Env, tmp_path: Path, created: datetime
) -> tuple[Exchange, Scenario, InvoiceMessage]:
    exchange, scenario, licence_id = licensed(env, 60)
    header = scenario.usage_header(licence_id)
    report = usage_report(scenario, licence_id, tmp_path)
    stamp = header.message_header.message_created_date_time.strftime("%Y-%m-%dT%H:%M:%S")
    assert stamp.encode() in report
    report = report.replace(stamp.encode(), created.strftime("%Y-%m-%dT%H:%M:%S").encode(), 1)
    received_id = send(exchange, report, DEV, "q1.xml")
    assert acknowledged(exchange, received_id)[0] == "MessageAccepted"
    (data,) = sent_by_cmo(exchange, "InvoiceMessage")
    invoice = parsed(data)
    assert isinstance(invoice, InvoiceMessage)
    return exchange, scenario, invoice


@pytest.mark.parametrize(
    "created", [datetime(1900, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, tzinfo=UTC)]
)
def test_an_invoice_is_dated_by_the_exchange_not_the_report(
    embedded: Env, tmp_path: Path, created: datetime
) -> None:
    """Item 8: a report claiming to be made in 1900 or 2099 is invoiced on the day the
    exchange received it."""
    _, _, invoice = _invoiced(embedded, tmp_path, created)
    assert invoice.invoice.issue_date == TIMELINE["usage report"].date()


@pytest.mark.parametrize(
    ("paid_on", "code"),
    [
        (date(9999, 12, 31), "PaymentDateOutOfRange"),
        (date(1, 1, 1), "PaymentDateOutOfRange"),
        (None, "ZeroPayment"),
    ],
)
def test_out_of_range_or_empty_payments_are_refused_before_anything_is_posted(
    backend: Env, tmp_path: Path, paid_on: date | None, code: str
) -> None:
    """Items 7 and 8: payments dated 9999-12-31 or 0001-01-01, or of nothing, are refused
    with a business-rule code; nothing is posted, stated or paid out; the licensee's right
    payment afterwards is accepted."""
    exchange, scenario, invoice = _invoiced(backend, tmp_path, TIMELINE["usage report"])
    on_scenario_clock(backend, "payment")
    bad = scenario.payment(invoice, paid_on=paid_on)
    bad.message_header.message_id = "BAD-PAYMENT"
    if paid_on is None:
        zero = Amount.of("0.00", invoice.invoice.total_amount.currency)
        bad.payment.paid_amount = zero
        bad.payment.settled_documents[0].applied_amount = zero.model_copy()
    before = effect_counts(exchange.engine)
    refused = send(exchange, bad, DEV)
    assert acknowledged(exchange, refused) == ("BusinessRuleViolation", [code])
    assert effect_counts(exchange.engine) == before
    assert sent_by_cmo(exchange, "RoyaltyStatementMessage") == []
    good = send(exchange, scenario.payment(invoice), DEV)
    assert acknowledged(exchange, good) == ("MessageAccepted", [])
