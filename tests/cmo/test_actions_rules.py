"""The CMO's actions, rule by rule, through the real pipeline on SQLite: what each refusal is
acknowledged with, and the decisions where the standard is silent (open offers, resent
requests, offers sent twice, instalments in one period, declarations in conflict)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from actions_support import (
    acknowledged,
    cast,
    effect_counts,
    on_scenario_clock,
    parsed,
    real_actions,
    send,
    sent_by_cmo,
    usage_report,
)
from exchange_support import CMO, DEV, RH1, RH2, Env, payment

from airex.demo import TIMELINE, Scenario
from airex.exchange import Exchange
from airex.exchange.settings import read_clock, write_clock
from airex.ledger import AccountKey, AccountKind, GrantRegister, Journal, check_ledger
from airex.messages import (
    Acknowledgement,
    AcknowledgementMessage,
    InvoiceMessage,
    LicenceOfferMessage,
    LicenceRequestMessage,
    PaymentNotificationMessage,
    WorkDeclarationMessage,
)
from airex.messages.codes import DocumentType, MessageControlType, MessageStatus
from airex.messages.common import Amount, MessageHeader, Party
from airex.messages.declaration import RightsShare

DEV2 = "PADPIDA2026DEV02"
ACCEPTED = "MessageAccepted"


@dataclass
class World:
    """An exchange with the real actions, a second developer, and a small scenario."""

    env: Env
    exchange: Exchange
    scenario: Scenario

    def offer(self, *, licensee: str | None = DEV, **changes: object) -> LicenceOfferMessage:
        """The scenario's offer, changed as asked (addressed to ``licensee``; None: open)."""
        offer = self.scenario.offer()
        offer.offer.licensee = Party(party_id=licensee) if licensee else None
        for name, value in changes.items():
            setattr(offer.offer, name, value)
        return offer

    def request(self, sender: str = DEV, **changes: object) -> LicenceRequestMessage:
        """The scenario's request from ``sender`` (a fresh MessageId), changed as asked."""
        request = self.scenario.request()
        request.message_header = MessageHeader.build(sender, CMO)
        request.licence_request.licensee = Party(party_id=sender)
        for name, value in changes.items():
            setattr(request.licence_request, name, value)
        return request

    def licences(self) -> list[object]:
        """The LicenceMessages the CMO sent, parsed."""
        return [parsed(b) for b in sent_by_cmo(self.exchange, "LicenceMessage")]


@pytest.fixture
def world(embedded: Env) -> World:
    """The real actions on SQLite, on the scenario's clock when the licence is requested; DEV2
    a second developer in the directory."""
    on_scenario_clock(embedded, "request")
    exchange = embedded.exchange(actions=real_actions(embedded))
    exchange.directory.add(DEV2, "Other AI", "AIDeveloper")
    return World(embedded, exchange, Scenario(40, seed=5, cast=cast()))


def _declare(world: World) -> None:
    for rightsholder in world.scenario.cast.rightsholders:
        for declaration in world.scenario.declarations(rightsholder):
            send(world.exchange, declaration, rightsholder.party_id)


def _invoiced(world: World, tmp_path: Path) -> InvoiceMessage:
    """Declarations, offer, request, licence and a priced report: the invoice sent."""
    _declare(world)
    send(world.exchange, world.offer(), CMO)
    send(world.exchange, world.request(), DEV)
    (licence,) = world.licences()
    report = usage_report(world.scenario, licence.licence.licence_id, tmp_path)  # type: ignore[attr-defined]
    send(world.exchange, report, DEV)
    (invoice,) = map(parsed, sent_by_cmo(world.exchange, "InvoiceMessage"))
    assert isinstance(invoice, InvoiceMessage)
    return invoice


def _payment(world: World, invoice: InvoiceMessage, cents: int, day: date) -> bytes:
    """A payment of ``cents`` made on ``day``; the exchange's clock moves to that day (a
    payment is notified once it is made, and one dated later than its receipt is refused)."""
    assert world.env.settings.clock_file is not None
    noon = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    write_clock(world.env.settings.clock_file, max(noon, read_clock(world.env.settings.clock_file)))
    message = world.scenario.payment(invoice, paid_on=day)
    amount = Amount.of(Decimal(cents).scaleb(-2), "EUR")
    message.payment.paid_amount = amount
    message.payment.settled_documents[0].applied_amount = amount.model_copy()
    message.payment.payment_id = f"PAY-{day.isoformat()}-{cents}"
    message.message_header.message_id = f"MSG-{message.payment.payment_id}"
    from airex.messages import serialise

    return serialise(message)


# --- licence requests ----------------------------------------------------------------------

# The world's exchange runs on the scenario's clock, at the request's instant.
PAST = TIMELINE["request"] - timedelta(days=30)
LATELY = TIMELINE["request"] - timedelta(hours=1)
"""An offer that expired an hour before the test ran."""


def _dated(request: LicenceRequestMessage, when: datetime) -> LicenceRequestMessage:
    request.message_header.message_created_date_time = when
    return request


def _on_behalf_of(request: LicenceRequestMessage, party: str) -> LicenceRequestMessage:
    request.message_header.sent_on_behalf_of = Party(party_id=party)
    request.licence_request.licensee = Party(party_id=party)
    return request


REQUESTS: list[tuple[str, Callable[[World], tuple[object | None, object]], str, str]] = [
    (
        "unknown offer",
        lambda w: (w.offer(), w.request(offer_id="NO-SUCH-OFFER")),
        "UnknownReference",
        "UnknownOffer",
    ),
    (
        "expired offer",
        lambda w: (w.offer(valid_until=PAST), w.request()),
        "BusinessRuleViolation",
        "OfferExpired",
    ),
    (
        "expired offer, backdated request",
        lambda w: (
            w.offer(valid_until=LATELY),
            _dated(w.request(), LATELY - timedelta(days=1)),
        ),
        "BusinessRuleViolation",
        "OfferExpired",
    ),
    (
        "on behalf of another developer",
        lambda w: (w.offer(licensee=None), _on_behalf_of(w.request(), DEV2)),
        "NotAuthorised",
        "BehalfNotAuthorised",
    ),
    (
        "offer for another licensee",
        lambda w: (w.offer(licensee=DEV2), w.request()),
        "NotAuthorised",
        "OfferNotForLicensee",
    ),
    (
        "licensee is not the sender",
        lambda w: (w.offer(licensee=None), w.request(licensee=Party(party_id=DEV2))),
        "NotAuthorised",
        "LicenseeNotSender",
    ),
    (
        "start after the term",
        lambda w: (w.offer(), w.request(requested_start_date=date(2027, 1, 1))),
        "BusinessRuleViolation",
        "StartDateOutsideTerm",
    ),
    (
        "start before the term",
        lambda w: (w.offer(), w.request(requested_start_date=date(2025, 12, 31))),
        "BusinessRuleViolation",
        "StartDateOutsideTerm",
    ),
    (
        "test offer",
        lambda w: (_test_message(w.offer()), w.request()),
        "UnknownReference",
        "UnknownOffer",
    ),
    ("no offer at all", lambda w: (None, w.request()), "UnknownReference", "UnknownOffer"),
]


def _test_message(offer: LicenceOfferMessage) -> LicenceOfferMessage:
    offer.message_header.message_control_type = MessageControlType.TEST_MESSAGE
    return offer


@pytest.mark.parametrize(
    ("make", "status", "code"), [pytest.param(m, s, c, id=i) for i, m, s, c in REQUESTS]
)
def test_refused_requests_get_their_exact_status(
    world: World, make: Callable[[World], tuple[object | None, object]], status: str, code: str
) -> None:
    """A request for an unknown, expired, test or other licensee's offer, from a sender that
    is not its licensee, or starting outside the term, is acknowledged with its status and
    code; no licence is recorded or sent, and the request still reached the CMO's inbox."""
    offer, request = make(world)
    if offer is not None:
        send(world.exchange, offer, CMO)  # type: ignore[arg-type]
    received_id = send(world.exchange, request, DEV)  # type: ignore[arg-type]
    assert acknowledged(world.exchange, received_id) == (status, [code])
    assert world.licences() == []
    assert GrantRegister(world.env.engine).history() == []
    assert any(n.startswith(f"{DEV}_") for n in world.env.inbox_files(CMO))


def test_requested_start_date_inside_the_term_starts_the_licence(world: World) -> None:
    """A RequestedStartDate inside the offer's term is the licence's Term StartDate; the rest
    of the terms are the offer's."""
    send(world.exchange, world.offer(), CMO)
    send(world.exchange, world.request(requested_start_date=date(2026, 3, 1)), DEV)
    (licence,) = world.licences()
    terms = licence.licence.licence_terms  # type: ignore[attr-defined]
    assert (terms.term.start_date, terms.term.end_date) == (date(2026, 3, 1), date(2026, 12, 31))
    expected = world.scenario.terms()
    expected.term.start_date = date(2026, 3, 1)
    assert terms == expected
    (state,) = GrantRegister(world.env.engine).history()
    assert state.term_start == date(2026, 3, 1)


def test_an_open_offer_is_granted_to_two_licensees_with_the_same_request_id(world: World) -> None:
    """Two developers accepting an open offer with the same RequestId get two licences: the
    first `<OfferId>-L-<RequestId>`, the second a hashed id of its own."""
    send(world.exchange, world.offer(licensee=None), CMO)
    first = send(world.exchange, world.request(DEV), DEV)
    second = send(world.exchange, world.request(DEV2), DEV2)
    assert acknowledged(world.exchange, first) == (ACCEPTED, [])
    assert acknowledged(world.exchange, second) == (ACCEPTED, [])
    ids = {lic.licence.licensee.party_id: lic.licence.licence_id for lic in world.licences()}  # type: ignore[attr-defined]
    digest = hashlib.sha256(
        f"{DEV2}:{world.scenario.offer_id}:{world.scenario.request_id}".encode()
    ).hexdigest()[:40]
    assert ids == {
        DEV: f"{world.scenario.offer_id}-L-{world.scenario.request_id}",
        DEV2: f"LIC-{digest}",
    }
    assert check_ledger(world.env.engine).ok


def test_a_request_sent_again_under_a_new_message_id_is_refused(world: World) -> None:
    """The same RequestId in a new message is RequestAlreadyGranted: one licence only."""
    send(world.exchange, world.offer(), CMO)
    send(world.exchange, world.request(), DEV)
    again = send(world.exchange, world.request(), DEV)
    assert acknowledged(world.exchange, again) == (
        "BusinessRuleViolation",
        ["RequestAlreadyGranted"],
    )
    assert len(world.licences()) == 1
    assert len(GrantRegister(world.env.engine).history()) == 1


def test_the_latest_offer_under_an_offer_id_is_the_one_granted(world: World) -> None:
    """When the CMO sent an OfferId twice, the request gets the terms of the later offer."""
    earlier = world.offer()
    earlier.message_header.message_created_date_time = datetime.now(UTC) - timedelta(hours=1)
    later = world.offer()
    later.offer.licence_terms.term.end_date = date(2026, 6, 30)
    send(world.exchange, later, CMO)
    send(world.exchange, earlier, CMO)  # arrives last, but was made first
    send(world.exchange, world.request(), DEV)
    (licence,) = world.licences()
    assert licence.licence.licence_terms.term.end_date == date(2026, 6, 30)  # type: ignore[attr-defined]


def test_an_offer_the_cmo_sends_never_reaches_its_actions(world: World) -> None:
    """The CMO's own offers are routed to the developer and not acted on: no effect at all."""
    before = effect_counts(world.env.engine)
    received_id = send(world.exchange, world.offer(), CMO)
    assert world.exchange.received_message(received_id).status == MessageStatus.MESSAGE_ACCEPTED
    assert any(n.startswith(f"{CMO}_") for n in world.env.inbox_files(DEV))
    assert effect_counts(world.env.engine) == before


# --- usage reports --------------------------------------------------------------------------


def test_a_report_under_an_unknown_licence_is_unknown_reference(
    world: World, tmp_path: Path
) -> None:
    """A report naming a licence never granted is UnknownReference / UnknownLicence; nothing
    is priced, invoiced or posted."""
    before = effect_counts(world.env.engine)
    report = usage_report(world.scenario, "NO-SUCH-LICENCE", tmp_path)
    received_id = send(world.exchange, report, DEV)
    assert acknowledged(world.exchange, received_id) == ("UnknownReference", ["UnknownLicence"])
    assert sent_by_cmo(world.exchange, "InvoiceMessage") == []
    assert effect_counts(world.env.engine) == before


def test_a_report_from_another_developer_is_not_authorised(world: World, tmp_path: Path) -> None:
    """A report under DEV's licence sent by DEV2 is NotAuthorised / NotLicensee."""
    _declare(world)
    send(world.exchange, world.offer(), CMO)
    send(world.exchange, world.request(), DEV)
    (licence,) = world.licences()
    scenario = Scenario(40, seed=5, cast=_with_developer(DEV2))
    report = usage_report(scenario, licence.licence.licence_id, tmp_path)  # type: ignore[attr-defined]
    received_id = send(world.exchange, report, DEV2)
    assert acknowledged(world.exchange, received_id) == ("NotAuthorised", ["NotLicensee"])
    assert sent_by_cmo(world.exchange, "InvoiceMessage") == []


def _with_developer(party_id: str) -> object:
    base = cast()
    from airex.demo import Cast

    return Cast(base.cmo, base.rightsholders, Party(party_id=party_id))


# --- payments -------------------------------------------------------------------------------


def test_a_payment_of_an_unknown_invoice_is_unknown_reference(world: World) -> None:
    """A payment settling an invoice never issued is UnknownReference / UnknownInvoice, and
    posts nothing."""
    before = effect_counts(world.env.engine)
    received_id = send(world.exchange, payment(DEV, CMO), DEV)
    assert acknowledged(world.exchange, received_id) == ("UnknownReference", ["UnknownInvoice"])
    assert effect_counts(world.env.engine) == before


def test_a_payment_for_another_payer_is_not_authorised(world: World) -> None:
    """A payment whose Payer is not its sender is NotAuthorised / PayerNotSender."""
    data = payment(DEV, CMO).replace(
        f"<Payer>\n      <PartyId>{DEV}</PartyId>".encode(),
        f"<Payer>\n      <PartyId>{DEV2}</PartyId>".encode(),
    )
    assert DEV2.encode() in data
    received_id = send(world.exchange, data, DEV)
    assert acknowledged(world.exchange, received_id) == ("NotAuthorised", ["PayerNotSender"])


def test_paying_more_than_is_open_is_refused(world: World, tmp_path: Path) -> None:
    """An AppliedAmount above the invoice's open amount is BusinessRuleViolation /
    Overpayment; nothing of it is recorded."""
    invoice = _invoiced(world, tmp_path)
    total = int(invoice.invoice.total_amount.value * 100)
    before = effect_counts(world.env.engine)
    too_much = _payment(world, invoice, total + 1, date(2026, 5, 2))
    received_id = send(world.exchange, too_much, DEV)
    assert acknowledged(world.exchange, received_id) == ("BusinessRuleViolation", ["Overpayment"])
    assert effect_counts(world.env.engine) == before
    assert sent_by_cmo(world.exchange, "RoyaltyStatementMessage") == []


def test_a_payment_settling_a_statement_is_refused(world: World) -> None:
    """A PaymentNotification to the CMO settling a RoyaltyStatement is not a licence fee:
    BusinessRuleViolation / PaymentRefused."""
    message = parsed(payment(DEV, CMO))
    assert isinstance(message, PaymentNotificationMessage)
    message.payment.settled_documents[0].document_type = DocumentType.ROYALTY_STATEMENT
    received_id = send(world.exchange, message, DEV)
    assert acknowledged(world.exchange, received_id) == (
        "BusinessRuleViolation",
        ["PaymentRefused"],
    )


def test_two_instalments_in_one_period_are_stated_and_paid_out_separately(
    world: World, tmp_path: Path
) -> None:
    """Two payments of one invoice in the same quarter each get their own statements (ids
    ending in the payment's tag, covering that payment only) and payouts; the payables end at
    zero and each statement's net is exactly its payout."""
    invoice = _invoiced(world, tmp_path)
    total = int(invoice.invoice.total_amount.value * 100)
    first = _payment(world, invoice, total // 3, date(2026, 4, 20))
    second = _payment(world, invoice, total - total // 3, date(2026, 6, 1))
    for data in (first, second):
        assert acknowledged(world.exchange, send(world.exchange, data, DEV)) == (ACCEPTED, [])
    statements = [parsed(b) for b in sent_by_cmo(world.exchange, "RoyaltyStatementMessage")]
    payouts = [parsed(b) for b in sent_by_cmo(world.exchange, "PaymentNotificationMessage")]
    ids = [s.royalty_statement.statement_id for s in statements]
    assert len(ids) == len(set(ids)) == 4
    tags = {i.rsplit("-P", 1)[1] for i in ids}
    assert len(tags) == 2
    paid = {
        p.payment.settled_documents[0].document_id: p.payment.paid_amount.value for p in payouts
    }
    assert {
        s.royalty_statement.statement_id: s.royalty_statement.statement_total.net_amount
        for s in statements
    } == paid
    journal = Journal(world.env.engine)
    for party in (RH1, RH2):
        assert (
            journal.balance(AccountKey(party, AccountKind.RIGHTSHOLDER_PAYABLE, "EUR")).minor == 0
        )
    assert check_ledger(world.env.engine).ok


# --- declarations and the rest --------------------------------------------------------------


def test_a_declared_identifier_of_another_partys_work_is_a_warning(world: World) -> None:
    """RH2 declaring an identifier of RH1's work is accepted with a DeclarationConflict
    warning naming the work; the identifier keeps resolving to RH1's work."""
    (first, *_) = world.scenario.declarations(world.scenario.cast.rightsholders[0])
    send(world.exchange, first, RH1)
    rival = WorkDeclarationMessage(
        message_header=MessageHeader.build(RH2, CMO),
        work_list=first.work_list.model_copy(deep=True),
    )
    rival.work_list.works = rival.work_list.works[:1]
    for share in rival.work_list.works[0].rights_shares:
        share.rightsholder_party_id = RH2
    received_id = send(world.exchange, rival, RH2)
    status, codes = acknowledged(world.exchange, received_id)
    assert (status, codes) == (ACCEPTED, ["DeclarationConflict"])
    found = world.exchange.acknowledgement_of(received_id=received_id)
    assert found is not None
    (error,) = parsed(found[1]).acknowledgements[0].errors
    assert error.path == "/WorkDeclarationMessage/WorkList/Work[1]/WorkId"
    assert RH1 in error.error_text


def test_messages_without_a_business_effect_are_accepted_and_change_nothing(
    world: World, embedded: Env
) -> None:
    """An acknowledgement (or an invoice) handed to the actions is accepted with no effect
    and nothing sent."""
    actions = real_actions(embedded)
    before = effect_counts(embedded.engine)
    ack = AcknowledgementMessage(
        message_header=MessageHeader.build(DEV, CMO),
        acknowledgements=[
            Acknowledgement(acknowledged_message_id="X-1", message_status=ACCEPTED)  # type: ignore[arg-type]
        ],
    )
    received = world.exchange.received_message(
        world.exchange.receive_bytes(b"<x/>", arrival_party=DEV, publish=False)
    )
    result = actions.act(ack, b"", received, embedded.engine)
    assert (result.status, list(result.errors), list(result.outgoing)) == (None, [], [])
    assert effect_counts(embedded.engine) == before


def test_a_payment_on_behalf_of_another_payer_is_not_authorised(
    world: World, tmp_path: Path
) -> None:
    """A payment sent by one developer on behalf of another is NotAuthorised /
    BehalfNotAuthorised (the exchange holds no mandates); nothing is recorded."""
    invoice = _invoiced(world, tmp_path)
    message = parsed(_payment(world, invoice, 100, date(2026, 5, 2)))
    assert isinstance(message, PaymentNotificationMessage)
    message.message_header.sent_on_behalf_of = Party(party_id=DEV2)
    message.payment.payer = Party(party_id=DEV2)
    before = effect_counts(world.env.engine)
    received_id = send(world.exchange, message, DEV)
    assert acknowledged(world.exchange, received_id) == ("NotAuthorised", ["BehalfNotAuthorised"])
    assert effect_counts(world.env.engine) == before


def test_a_rightsholder_outside_the_directory_is_neither_stated_nor_paid_out(
    world: World, tmp_path: Path
) -> None:
    """A co-owner declared in a work's shares but unknown to the exchange cannot receive a
    statement: it gets none and no payout; its share stays on its payable account (the ledger
    still balances and checks); the known rightsholders are stated and paid as usual."""
    ghost = "PADPIDA2026GHOST"
    rh1 = world.scenario.cast.rightsholders[0]
    for number, declaration in enumerate(world.scenario.declarations(rh1)):
        if number == 0:  # the first declared work: half of it belongs to the ghost
            work = declaration.work_list.works[0]
            work.rights_shares = [
                RightsShare(rightsholder_party_id=rh1.party_id, share_percentage=Decimal(50)),
                RightsShare(rightsholder_party_id=ghost, share_percentage=Decimal(50)),
            ]
        send(world.exchange, declaration, rh1.party_id)
    for declaration in world.scenario.declarations(world.scenario.cast.rightsholders[1]):
        send(world.exchange, declaration, RH2)
    send(world.exchange, world.offer(), CMO)
    send(world.exchange, world.request(), DEV)
    (licence,) = world.licences()
    report = usage_report(world.scenario, licence.licence.licence_id, tmp_path)  # type: ignore[attr-defined]
    send(world.exchange, report, DEV)
    (invoice,) = map(parsed, sent_by_cmo(world.exchange, "InvoiceMessage"))
    assert isinstance(invoice, InvoiceMessage)
    total = int(invoice.invoice.total_amount.value * 100)
    paid = send(world.exchange, _payment(world, invoice, total, date(2026, 5, 2)), DEV)
    assert acknowledged(world.exchange, paid) == (ACCEPTED, [])
    payees = {
        parsed(b).royalty_statement.payee.party_id  # type: ignore[attr-defined]
        for b in sent_by_cmo(world.exchange, "RoyaltyStatementMessage")
    }
    assert payees == {RH1, RH2}
    journal = Journal(world.env.engine)
    owed = journal.balance(AccountKey(ghost, AccountKind.RIGHTSHOLDER_PAYABLE, "EUR"))
    assert owed.minor < 0  # a credit balance: the CMO owes the ghost its share
    for known in (RH1, RH2):
        payable = AccountKey(known, AccountKind.RIGHTSHOLDER_PAYABLE, "EUR")
        assert journal.balance(payable).minor == 0
    assert check_ledger(world.env.engine).ok
