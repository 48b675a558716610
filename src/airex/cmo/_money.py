"""The CMO's money: price a usage report into an invoice; take a payment, distribute it, state
it to the rightsholders and pay them out.

Both are plain functions over the royalties' services (:class:`~airex.royalties.InvoiceService`,
:class:`~airex.royalties.distribution.Distributor`, :func:`~airex.royalties.statements.
build_statements`) and the ledger's :class:`~airex.ledger.Journal`; every effect is idempotent
(pricing by the report's sender and MessageId, payments by payer, PaymentId and invoice,
ledger entries by key), and everything sent is derived from stored results and the incoming
message, never from the clock, so a redo after a crash sends the same bytes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from airex.cmo._licence import derived_message_id, to_second
from airex.errors import MessageError, MessageInvalidError, MessageStatus
from airex.exchange.hooks import OutgoingMessage
from airex.formats.usage import UsageRow, open_report
from airex.ledger import AccountKey, AccountKind, NewEntry, credit, debit
from airex.ledger.money import currency_exponent
from airex.messages import serialise
from airex.messages.codes import DocumentType
from airex.messages.common import Amount, MessageHeader, Party
from airex.messages.payment import Payment, PaymentNotificationMessage, SettledDocument
from airex.royalties.distribution import (
    OverpaymentError,
    PaymentError,
    PeriodSpec,
    UnknownSettledDocumentError,
)
from airex.royalties.errors import (
    PaymentDateError,
    PricingError,
    ReportRefusedError,
    ZeroPaymentError,
)
from airex.royalties.statements import Statement, build_statements, statement_id

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airex.ledger import Journal
    from airex.royalties import InvoiceService
    from airex.royalties.distribution import Distributor

__all__ = [
    "Invoicing",
    "Payout",
    "Settlement",
    "StatementPeriod",
    "invoice_report",
    "payment_statement_id",
    "payout_message",
    "settle_payment",
    "statement_period_of",
]

_ID_LIMIT = 64
log = logging.getLogger(__name__)

StatementPeriod = str
"""How long the period of a payment's statements is: ``"month"``, ``"quarter"`` or ``"year"``."""

_PERIODS = ("month", "quarter", "year")


def statement_period_of(day: date, length: StatementPeriod = "quarter") -> PeriodSpec:
    """The calendar month, quarter or year containing ``day``."""
    if length == "quarter":
        return PeriodSpec.parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    if length == "month":
        return PeriodSpec.parse(f"{day.year}-{day.month:02d}")
    if length == "year":
        return PeriodSpec.parse(f"{day.year}")
    raise ValueError(f"statement period {length!r} is not one of {', '.join(_PERIODS)}")


# --- usage report → invoice ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Invoicing:
    """What acting on a usage report came to: the documents to send and the warnings (held
    usage), or the error that refuses the report."""

    outgoing: list[OutgoingMessage] = field(default_factory=list)
    warnings: list[MessageError] = field(default_factory=list)
    error: MessageError | None = None
    created: bool = False
    invalid: list[MessageError] = field(default_factory=list)
    """Why the report itself is invalid, found while reading it (nothing was priced)."""


def _report_file_name(file_name: str | None, message_id: str) -> str:
    """The name held records cite: the file as it was handed in (its last part), else the
    MessageId; always ending in ``.xml``."""
    name = Path(file_name).name if file_name else ""
    if not name or name.startswith("."):
        name = f"{message_id}.xml"
    return name if name.lower().endswith(".xml") else f"{name}.xml"


def invoice_report(
    stored: Path,
    *,
    file_name: str | None,
    service: InvoiceService,
    issued_on: date | None = None,
) -> Invoicing:
    """Price the usage report whose bytes are the stored file ``stored`` (streamed, never
    loaded whole nor materialised: its header comes from the same stream; a folder is a flat
    report's view, its files those of the report) and return the
    Invoice (and CreditNote) to send, with the held usage as warnings. The IssueDate (and
    the ledger's effective date) is ``issued_on``, the day the exchange received the report
    (a licensee never chooses the CMO's accounting dates); without it, the report's
    MessageCreatedDateTime (UTC date).

    Records are cited by the name the report was handed in under (the held records, the
    acknowledgement's warnings), not by the store's hash. The reading validates every record
    (the strict readers): a report found invalid is :attr:`Invoicing.invalid`, nothing priced.
    """
    flat = stored.is_dir()  # a flat report's view: its files, named as handed in
    reader = open_report(
        sorted(str(p) for p in stored.iterdir() if not p.name.startswith(".")) if flat else stored
    )
    try:
        report = reader.header
        header = report.message_header
        issue_date = issued_on or to_second(header.message_created_date_time).date()
        name = _report_file_name(file_name, header.message_id)
        rows = (UsageRow._make((*row[:-1], name)) for row in reader)
        result = service.invoice(
            rows, header=reader.header, today=issue_date, form="flat" if flat else "xml"
        )
    except MessageInvalidError as exc:  # the strict reader: raised before anything is posted
        return Invoicing(invalid=list(exc.errors))
    except ReportRefusedError as exc:
        return Invoicing(error=exc.message_error())
    except PricingError as exc:
        return Invoicing(
            error=MessageError(
                "ReportNotPriced",
                f"report {report.report_id}: {exc}",
                status=MessageStatus.BUSINESS_RULE_VIOLATION,
            )
        )
    outgoing = [
        OutgoingMessage(document.message, f"{document.invoice_type}_{document.invoice_id}.xml")
        for document in result.documents
    ]
    return Invoicing(outgoing, list(result.warnings), created=result.created)


# --- payment → distribution → statements and payouts --------------------------------------


@dataclass(frozen=True, slots=True)
class Payout:
    """One rightsholder's statement of a payment, and the payout that settles it."""

    statement_id: str
    payee: str
    currency: str
    net_minor: int
    statement: bytes
    payout: OutgoingMessage | None
    """The PaymentNotificationMessage CMO → rightsholder, validated once where it was built
    (``None`` when the net is zero)."""
    entry: NewEntry | None


@dataclass(frozen=True, slots=True)
class Settlement:
    """What acting on a licensee's payment came to: the distributions it made, and each
    rightsholder's statement and payout; or the error that refuses the payment."""

    distributions: tuple[int, ...] = ()
    payouts: tuple[Payout, ...] = ()
    error: MessageError | None = None
    held_payees: tuple[str, ...] = ()
    """Rightsholders owed money who cannot receive a statement through the exchange (not in
    the party directory, or not a role that receives statements): nothing is stated or paid
    out to them; their payable stays open in the ledger for the CMO to settle."""

    @property
    def outgoing(self) -> list[OutgoingMessage]:
        """The messages to send: each statement, then its payout."""
        out: list[OutgoingMessage] = []
        for payout in self.payouts:
            out.append(
                OutgoingMessage(
                    payout.statement, f"RoyaltyStatementMessage_{payout.statement_id}.xml"
                )
            )
            if payout.payout is not None:
                out.append(payout.payout)
        return out


def payment_statement_id(
    period: PeriodSpec, currency: str, payee: str, payer: str, payment_id: str
) -> str:
    """The StatementId of ``payee``'s statement of one payment: the royalties' period
    statement id (``RS-<period>-<currency>-<party>``) and ``-P`` with 10 hex digits of
    SHA-256(payer:PaymentId); when that passes 64 characters, ``RS-<period>-<currency>-``
    and 32 hex digits of SHA-256(payee:payer:PaymentId)."""
    tag = hashlib.sha256(f"{payer}:{payment_id}".encode()).hexdigest()[:10]
    candidate = f"{statement_id(period, currency, payee)}-P{tag}"
    if len(candidate) <= _ID_LIMIT:
        return candidate
    digest = hashlib.sha256(f"{payee}:{payer}:{payment_id}".encode()).hexdigest()[:32]
    return f"RS-{period.token}-{currency}-{digest}"


def _money(minor: int, currency: str) -> Decimal:
    exponent = currency_exponent(currency)
    return Decimal(minor).scaleb(-exponent) if exponent else Decimal(minor)


def payout_message(
    cmo: str,
    payee: str,
    statement_id_: str,
    currency: str,
    net_minor: int,
    *,
    paid_on: date,
    created: datetime,
    thread_id: str | None,
) -> PaymentNotificationMessage:
    """The PaymentNotificationMessage CMO → ``payee`` settling its statement: PaidAmount and
    the one SettledDocument's AppliedAmount are the statement's NetAmount total; PaymentId
    ``PO-<StatementId>`` (``PO-`` and 40 hex digits of its SHA-256 when too long); MessageId
    derived from the statement id."""
    payment_id = f"PO-{statement_id_}"
    if len(payment_id) > _ID_LIMIT:
        payment_id = f"PO-{hashlib.sha256(statement_id_.encode()).hexdigest()[:40]}"
    amount = _money(net_minor, currency)
    return PaymentNotificationMessage(
        message_header=MessageHeader(
            message_thread_id=thread_id,
            message_id=derived_message_id("payout", f"{cmo}\n{statement_id_}"),
            message_sender=Party(party_id=cmo),
            message_recipients=[Party(party_id=payee)],
            message_created_date_time=to_second(created),
        ),
        payment=Payment(
            payment_id=payment_id,
            payer=Party(party_id=cmo),
            payee=Party(party_id=payee),
            paid_amount=Amount.of(amount, currency),
            payment_date=paid_on,
            settled_documents=[
                SettledDocument(
                    document_type=DocumentType.ROYALTY_STATEMENT,
                    document_id=statement_id_,
                    applied_amount=Amount.of(amount, currency),
                )
            ],
        ),
    )


def settle_payment(
    message: PaymentNotificationMessage,
    *,
    cmo: str,
    distributor: Distributor,
    journal: Journal,
    engine: Engine,
    period_length: StatementPeriod = "quarter",
    reachable: Callable[[str], bool] | None = None,
    received_on: date | None = None,
    days_ahead: int = 0,
) -> Settlement:
    """Record a licensee's payment, distribute it, and state and pay out each rightsholder's
    share of it (see ``docs/cmo-actions.md``); or say why the payment is refused.

    ``reachable(party)`` says whether a rightsholder can receive its statement and payout
    (default: all can); one that cannot is neither stated nor paid out: the money stays on
    its payable account, and the settlement lists it in ``held_payees``."""
    header = message.message_header
    payment = message.payment
    sender = header.message_sender.party_id
    behalf = header.sent_on_behalf_of.party_id if header.sent_on_behalf_of else None
    payer = payment.payer.party_id
    root = "/PaymentNotificationMessage/Payment"
    if payer not in (sender, behalf):
        return Settlement(
            error=MessageError(
                "PayerNotSender",
                f"payment {payment.payment_id} names {payer} as the payer, but it comes from "
                f"{sender}" + (f" on behalf of {behalf}" if behalf else ""),
                path=f"{root}/Payer/PartyId",
                status=MessageStatus.NOT_AUTHORISED,
            )
        )
    try:
        if all(d.applied_amount.value <= 0 for d in payment.settled_documents):
            raise ZeroPaymentError(
                f"payment {payment.payment_id} of {payer} pays nothing; a payment applies "
                "an amount above zero"
            )
        recorded = distributor.record_payment(
            message, received_on=received_on, days_ahead=days_ahead
        )
    except PaymentDateError as exc:
        return Settlement(
            error=MessageError(
                "PaymentDateOutOfRange",
                str(exc),
                path=f"{root}/PaymentDate",
                status=MessageStatus.BUSINESS_RULE_VIOLATION,
            )
        )
    except ZeroPaymentError as exc:
        return Settlement(
            error=MessageError(
                "ZeroPayment",
                str(exc),
                path=f"{root}/PaidAmount",
                status=MessageStatus.BUSINESS_RULE_VIOLATION,
            )
        )
    except UnknownSettledDocumentError as exc:
        return Settlement(
            error=MessageError(
                "UnknownInvoice",
                str(exc),
                path=f"{root}/SettledDocument/DocumentId",
                status=MessageStatus.UNKNOWN_REFERENCE,
            )
        )
    except OverpaymentError as exc:
        return Settlement(
            error=MessageError(
                "Overpayment",
                str(exc),
                path=f"{root}/SettledDocument/AppliedAmount",
                status=MessageStatus.BUSINESS_RULE_VIOLATION,
            )
        )
    except PaymentError as exc:
        return Settlement(
            error=MessageError(
                "PaymentRefused", str(exc), status=MessageStatus.BUSINESS_RULE_VIOLATION
            )
        )
    distributions = tuple(
        sorted(r.distribution.distribution_id for r in recorded if r.distribution is not None)
    )
    if not distributions:
        return Settlement()
    period = statement_period_of(payment.payment_date, period_length)
    created = to_second(header.message_created_date_time)
    payouts: list[Payout] = []
    held: list[str] = []
    for found in build_statements(
        engine, period, created=created, licensor=cmo, distributions=distributions
    ):
        head = found.head
        if reachable is not None and not reachable(head.payee):
            log.warning(
                "payment %s of %s: rightsholder %s cannot receive statements through the "
                "exchange (not in the party directory, or not a rightsholder); its share stays "
                "on its payable account, unstated and unpaid",
                payment.payment_id,
                payer,
                head.payee,
            )
            held.append(head.payee)
            continue
        own_id = payment_statement_id(period, head.currency, head.payee, payer, payment.payment_id)
        statement = Statement(replace(head, statement_id=own_id), found.lines)
        net = statement.net_minor
        payout: OutgoingMessage | None = None
        entry: NewEntry | None = None
        if net > 0:
            notification = payout_message(
                cmo,
                head.payee,
                own_id,
                head.currency,
                net,
                paid_on=payment.payment_date,
                created=created,
                thread_id=header.message_thread_id,
            )
            payout = OutgoingMessage.checked(
                serialise(notification), f"PaymentNotificationMessage_PO_{own_id}.xml"
            )
            assert payout.inspection is not None  # checked() always inspects
            problems = payout.inspection.errors
            if problems:  # our own message: a fault, never sent half-right
                raise ValueError(
                    f"payout of statement {own_id} does not validate: "
                    + "; ".join(str(p) for p in problems[:5])
                )
            amount = _money(net, head.currency)
            entry = NewEntry(
                idempotency_key=f"payout:{cmo}:{own_id}",
                effective_on=payment.payment_date,
                lines=(
                    debit(
                        AccountKey(head.payee, AccountKind.RIGHTSHOLDER_PAYABLE, head.currency),
                        amount,
                    ),
                    credit(AccountKey(cmo, AccountKind.CASH, head.currency), amount),
                ),
                description=(
                    f"Payout of royalty statement {own_id} to {head.payee} "
                    f"(payment {payment.payment_id} of {payer})"
                ),
            )
        payouts.append(
            Payout(own_id, head.payee, head.currency, net, statement.xml(), payout, entry)
        )
    journal.post_many([p.entry for p in payouts if p.entry is not None])
    return Settlement(distributions, tuple(payouts), held_payees=tuple(held))
