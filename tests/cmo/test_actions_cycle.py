"""The CMO's actions through the real pipeline, a whole cycle: declarations → offer → request →
licence → usage report → invoice → payment → distribution → statements and payouts.

Runs on SQLite and on PostgreSQL (the ``backend`` fixture). Every action runs twice per
message (:class:`~actions_support.TwiceActions`: a worker killed after acting, before the
exchange committed), and at the end every message is acted on once more: nothing is posted
twice and every answer is the same, byte for byte.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from actions_support import (
    TwiceActions,
    acknowledged,
    cast,
    effect_counts,
    on_scenario_clock,
    parsed,
    real_actions,
    run_pending,
    send,
    sent_by_cmo,
    usage_report,
)
from exchange_support import CMO, DEV, RH1, RH2, Env

from airex.batch import pack
from airex.demo import TIMELINE, Scenario
from airex.ledger import AccountKey, AccountKind, GrantRegister, Journal, check_ledger
from airex.messages import (
    InvoiceMessage,
    LicenceMessage,
    PaymentNotificationMessage,
    RoyaltyStatementMessage,
)

ACCEPTED = "MessageAccepted"
RECORDS = 300
PAID_ON = date(2026, 5, 15)


def _cent(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def test_whole_cycle_through_the_pipeline(backend: Env, tmp_path: Path) -> None:
    """A complete cycle ends with every message accepted, the licence in the grant register,
    the invoice paid, each rightsholder stated and paid out, the ledger settled (receivable,
    pool and payables zero; cash = fee + suspense; fee = 15 % of each line) and checked; each
    action run twice posts nothing twice and answers the same bytes."""
    on_scenario_clock(backend, "declarations")  # each step on the scenario's clock, as the demo
    twice = TwiceActions(real_actions(backend))
    exchange = backend.exchange(actions=twice)
    scenario = Scenario(RECORDS, seed=11, cast=cast())
    rh1, rh2 = scenario.cast.rightsholders

    # declarations: RH1 as a batch, RH2 one message at a time
    batch = pack(list(map(_xml, scenario.declarations(rh1))), tmp_path / "batches")
    intake = exchange.receive_path(batch.path, arrival_party=RH1, publish=False)
    run_pending(exchange)
    ack = exchange.acknowledgement_of(batch_row_id=intake.batch_row_id)
    assert ack is not None
    assert {str(a.message_status) for a in parsed(ack[1]).acknowledgements} == {ACCEPTED}
    for declaration in scenario.declarations(rh2):
        assert acknowledged(exchange, send(exchange, declaration, RH2)) == (ACCEPTED, [])

    # offer (the CMO's own message: routed, not acted on), request, licence
    on_scenario_clock(backend, "offer")
    offer_id = send(exchange, scenario.offer(), CMO)
    assert exchange.received_message(offer_id).status == ACCEPTED
    assert twice.of_type("LicenceOfferMessage") == []
    on_scenario_clock(backend, "request")
    request_id = send(exchange, scenario.request(), DEV)
    assert acknowledged(exchange, request_id) == (ACCEPTED, [])
    (licence_bytes,) = sent_by_cmo(exchange, "LicenceMessage")
    licence = parsed(licence_bytes)
    assert isinstance(licence, LicenceMessage)
    granted = licence.licence
    assert (granted.licence_id, granted.offer_id, granted.request_id) == (
        f"{scenario.offer_id}-L-{scenario.request_id}",
        scenario.offer_id,
        scenario.request_id,
    )
    assert str(granted.licence_status) == "Granted"
    assert granted.licence_terms == scenario.terms()
    (state,) = GrantRegister(backend.engine).history(granted.licence_id)
    assert (state.licensor, state.licensee, str(state.status)) == (CMO, DEV, "Granted")
    assert GrantRegister(backend.engine).source_message(state.id) == licence_bytes
    assert f"{CMO}_{licence.message_id}.xml" in backend.inbox_files(DEV)

    # usage report → invoice (held usage as warnings)
    on_scenario_clock(backend, "usage report")
    report = usage_report(scenario, granted.licence_id, tmp_path)
    report_id = send(exchange, report, DEV, "q1-report.xml")
    status, codes = acknowledged(exchange, report_id)
    assert status == ACCEPTED
    assert {"OptedOut", "UseTypeNotLicensed"} <= set(codes)
    (invoice_bytes,) = sent_by_cmo(exchange, "InvoiceMessage")
    invoice = parsed(invoice_bytes)
    assert isinstance(invoice, InvoiceMessage)
    assert invoice.invoice.licence_id == granted.licence_id
    assert invoice.invoice.issue_date == date(2026, 4, 2)
    total = invoice.invoice.total_amount.value
    licence_id = granted.licence_id
    journal = Journal(backend.engine)
    receivable = AccountKey(DEV, AccountKind.LICENSEE_RECEIVABLE, "EUR", licence_id)
    pool = AccountKey(CMO, AccountKind.DISTRIBUTABLE_POOL, "EUR", licence_id)
    assert journal.balance(receivable).minor == _cent(total)

    # payment → distribution → a statement and a payout for each rightsholder
    on_scenario_clock(backend, "payment")
    payment_id = send(exchange, scenario.payment(invoice, paid_on=PAID_ON), DEV)
    assert acknowledged(exchange, payment_id) == (ACCEPTED, [])
    statements = [parsed(b) for b in sent_by_cmo(exchange, "RoyaltyStatementMessage")]
    payouts = [parsed(b) for b in sent_by_cmo(exchange, "PaymentNotificationMessage")]
    assert all(isinstance(s, RoyaltyStatementMessage) for s in statements)
    assert all(isinstance(p, PaymentNotificationMessage) for p in payouts)
    assert sorted(s.royalty_statement.payee.party_id for s in statements) == [RH1, RH2]
    by_statement = {p.payment.settled_documents[0].document_id: p for p in payouts}
    nets = {}
    line_fees = Decimal()
    for statement in statements:
        body = statement.royalty_statement
        payee = body.payee.party_id
        assert (body.statement_period.start_date, body.statement_period.end_date) == (
            date(2026, 4, 1),
            date(2026, 6, 30),
        )
        assert body.statement_id.startswith(f"RS-2026Q2-EUR-{payee[7:]}-P")
        for line in body.statement_lines:  # the fee is 15 % of each line, half-up
            fee = (line.gross_amount * Decimal("0.15")).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert line.administration_fee == fee
            line_fees += fee
        payout = by_statement[body.statement_id].payment
        assert (payout.payer.party_id, payout.payee.party_id) == (CMO, payee)
        assert payout.paid_amount.value == body.statement_total.net_amount
        assert payout.payment_date == PAID_ON
        assert str(payout.settled_documents[0].document_type) == "RoyaltyStatement"
        nets[payee] = body.statement_total.net_amount
    # delivered: RH1 by folder, RH2 (queue only) on its queue
    rh1_files = backend.inbox_files(RH1)
    assert sum(b"<RoyaltyStatementMessage" in data for data in rh1_files.values()) == 1
    assert sum(b"<PaymentNotificationMessage" in data for data in rh1_files.values()) == 1
    queued = [d.headers["airex-message-type"] for d in backend.drain(RH2)]
    assert sorted(t for t in queued if t != "AcknowledgementMessage") == [
        "PaymentNotificationMessage",
        "RoyaltyStatementMessage",
    ]

    # the ledger: settled, and checked
    fee_account = AccountKey(CMO, AccountKind.ADMIN_FEE_REVENUE, "EUR")
    suspense = AccountKey(CMO, AccountKind.SUSPENSE, "EUR")
    cash = AccountKey(CMO, AccountKind.CASH, "EUR")
    assert journal.balance(receivable).minor == 0
    assert journal.balance(pool).minor == 0
    for party in (RH1, RH2):
        payable = AccountKey(party, AccountKind.RIGHTSHOLDER_PAYABLE, "EUR")
        assert journal.balance(payable).minor == 0
    assert -journal.balance(fee_account).minor == _cent(line_fees)
    held = -journal.balance(suspense).minor
    assert held > 0  # unknown works are priced under the opt-out regime; their money waits
    assert journal.balance(cash).minor == _cent(line_fees) + held
    assert _cent(total) == _cent(line_fees) + held + sum(_cent(n) for n in nets.values())
    assert check_ledger(backend.engine).ok

    # every run twice: the second posted nothing and answered the same bytes
    acted = [c.message_type for c in twice.calls]
    assert sorted(set(acted)) == [
        "LicenceRequestMessage",
        "PaymentNotificationMessage",
        "UsageReportMessage",
        "WorkDeclarationMessage",
    ]
    for call in twice.calls:
        assert call.after_second == call.before_second, call.message_type
        assert call.second == call.first, call.message_type

    # every message acted on once more, after the whole cycle: the same answers, no effect
    before = effect_counts(backend.engine)
    for call in twice.calls:
        again = twice.inner.act(call.message, call.raw, call.received, backend.engine)
        assert again == call.first, call.message_type
    assert effect_counts(backend.engine) == before
    assert check_ledger(backend.engine).ok


def _xml(message: object) -> bytes:
    from airex.messages import serialise

    return serialise(message)  # type: ignore[arg-type]


def test_licence_is_issued_when_the_exchange_received_the_request(embedded: Env) -> None:
    """The licence is issued at the time the exchange took the request in (stored, so a redo
    issues the same), not at the request's own MessageCreatedDateTime: a backdated request
    neither backdates the licence nor revives an expired offer."""
    on_scenario_clock(embedded, "request")
    exchange = embedded.exchange(actions=real_actions(embedded))
    scenario = Scenario(5, seed=3, cast=cast())
    send(exchange, scenario.offer(), CMO)
    request = scenario.request()
    backdated = TIMELINE["request"] - timedelta(days=40, hours=3, minutes=5, seconds=6)
    request.message_header.message_created_date_time = backdated
    received_id = send(exchange, request, DEV)
    received_at = exchange.received_message(received_id).received_at
    (licence,) = map(parsed, sent_by_cmo(exchange, "LicenceMessage"))
    issued = received_at.astimezone(UTC).replace(microsecond=0)
    assert licence.licence.issued_date_time == issued
    assert licence.message_header.message_created_date_time == issued
