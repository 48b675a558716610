"""Recording a licensee's payment of invoices: each SettledDocument checked against the
invoice it settles, recorded once (by payer, PaymentId and InvoiceId), and the cash posted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import backend_of
from airex.royalties import _distribution_store as store
from airex.royalties._distribution_types import InvoiceSource, PayableInvoice
from airex.royalties.errors import (
    OverpaymentError,
    PaymentDateError,
    PaymentError,
    UnknownSettledDocumentError,
)

if TYPE_CHECKING:
    from airex.ledger import NewEntry

__all__ = ["cash_entries", "now", "payment_key", "record_one", "settled_invoices"]


def now() -> datetime:
    return datetime.now(UTC)


def payment_key(payer: str, payment_id: str, invoice_id: str) -> str:
    return f"payment:{payer}:{payment_id}:{invoice_id}"


def settled_invoices(
    message: Any, invoices: InvoiceSource
) -> tuple[Any, list[tuple[PayableInvoice, int]]]:
    """The payment of ``message`` and each invoice it settles with its applied amount (minor
    units), checked (see :meth:`airex.royalties.Distributor.record_payment`)."""
    from airex.ledger import Money
    from airex.ledger.errors import InvalidAmountError
    from airex.messages import PaymentNotificationMessage, check

    if not isinstance(message, PaymentNotificationMessage):
        raise TypeError(
            f"record_payment takes a PaymentNotificationMessage, not {type(message).__name__}"
        )
    payment = message.payment
    where = f"payment {payment.payment_id} of {payment.payer.party_id}"
    errors = check(message).errors
    if errors:
        detail = "; ".join(f"{e.code}: {e.message}" for e in errors[:5])
        raise PaymentError(f"{where}: the message is not valid ({detail})")
    payer = payment.payer.party_id
    payee = payment.payee.party_id
    wanted: list[tuple[PayableInvoice, int]] = []
    seen: set[str] = set()
    for document in payment.settled_documents:
        doc = f"{where}, SettledDocument {document.document_id}"
        if document.document_id in seen:
            raise PaymentError(f"{doc}: settled twice in one payment; apply it once")
        seen.add(document.document_id)
        if document.document_type != "Invoice":
            raise PaymentError(
                f"{doc}: settles a {document.document_type}; only invoices are paid in "
                "licence fees (a royalty payout is recorded by the CMO when it pays)"
            )
        invoice = invoices.summary(document.document_id)
        if invoice is None:
            raise UnknownSettledDocumentError(
                f"{doc}: no invoice {document.document_id} was issued"
            )
        if invoice.invoice_type != "Invoice":
            raise PaymentError(f"{doc}: {document.document_id} is a {invoice.invoice_type}")
        if invoice.licensee != payer or invoice.licensor != payee:
            raise PaymentError(
                f"{doc}: invoice {invoice.invoice_id} was issued by {invoice.licensor} to "
                f"{invoice.licensee}, but the payment is from {payer} to {payee}"
            )
        currency = document.applied_amount.currency
        if currency != invoice.currency:
            raise PaymentError(
                f"{doc}: applied in {currency}, but invoice {invoice.invoice_id} is in "
                f"{invoice.currency}"
            )
        try:
            minor = Money.of(document.applied_amount.value, currency).minor
        except InvalidAmountError as exc:
            raise PaymentError(f"{doc}: {exc}") from None
        wanted.append((invoice, minor))
    return payment, wanted


def check_payment_dates(
    payment: Any,
    wanted: Sequence[tuple[PayableInvoice, int]],
    received_on: date | None,
    days_ahead: int,
) -> None:
    """Refuse a payment dated before an invoice it settles was issued or after
    ``received_on`` + ``days_ahead`` days (see ``Distributor.record_payment``)."""
    where = f"payment {payment.payment_id} of {payment.payer.party_id}"
    day = payment.payment_date
    for invoice, _ in wanted:
        if invoice.issue_date is not None and day < invoice.issue_date:
            raise PaymentDateError(
                f"{where}: PaymentDate {day.isoformat()} is before invoice "
                f"{invoice.invoice_id} was issued ({invoice.issue_date.isoformat()})"
            )
    if received_on is not None and day > received_on + timedelta(days=days_ahead):
        raise PaymentDateError(
            f"{where}: PaymentDate {day.isoformat()} is after the payment was received "
            f"({received_on.isoformat()}"
            + (f", plus {days_ahead} days" if days_ahead else "")
            + "): a payment is notified once it is made"
        )


def cash_entries(payment: Any, wanted: Sequence[tuple[PayableInvoice, int]]) -> list[NewEntry]:
    """The ledger entries of the cash received: one per invoice paid a non-zero amount."""
    from airex.ledger import AccountKey, AccountKind, Money, NewEntry, PostingLine

    payer = payment.payer.party_id
    payee = payment.payee.party_id
    day = payment.payment_date
    entries = []
    for invoice, minor in wanted:
        if not minor:
            continue
        cash = AccountKey(payee, AccountKind.CASH, invoice.currency)
        receivable = AccountKey(
            payer, AccountKind.LICENSEE_RECEIVABLE, invoice.currency, invoice.licence_id
        )
        entries.append(
            NewEntry(
                idempotency_key=payment_key(payer, payment.payment_id, invoice.invoice_id),
                effective_on=day,
                lines=(
                    PostingLine(cash, Money(minor, invoice.currency)),
                    PostingLine(receivable, Money(-minor, invoice.currency)),
                ),
                description=(
                    f"Payment {payment.payment_id} from {payer} of invoice {invoice.invoice_id}"
                ),
            )
        )
    return entries


def record_one(
    connection: Connection,
    payer: str,
    payment_id: str,
    payee: str,
    invoice: PayableInvoice,
    minor: int,
    day: date,
    message_id: str,
) -> tuple[int, bool]:
    table = store.PAYMENT
    if backend_of(connection.engine) == "postgresql":
        # One payment of an invoice at a time: the open amount is read and written under it.
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"royalties-invoice:{invoice.invoice_id}"},
        )
    existing = connection.execute(
        sa.select(table.c.id, table.c.applied_minor, table.c.payment_date).where(
            table.c.payer == payer,
            table.c.payment_id == payment_id,
            table.c.document_id == invoice.invoice_id,
        )
    ).first()
    where = f"payment {payment_id} of {payer}, invoice {invoice.invoice_id}"
    if existing is not None:
        if int(existing.applied_minor) != minor or existing.payment_date != day:
            raise PaymentError(
                f"{where}: recorded before with {existing.applied_minor} minor units on "
                f"{existing.payment_date}; now {minor} on {day}. A payment is never changed"
            )
        return int(existing.id), False
    paid_before = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(table.c.applied_minor), 0)).where(
            table.c.document_id == invoice.invoice_id
        )
    ).scalar_one()
    open_minor = invoice.total_minor - int(paid_before)
    if minor > open_minor:
        raise OverpaymentError(
            f"{where}: applies {minor} minor units of {invoice.currency}, but only "
            f"{open_minor} of the invoice's {invoice.total_minor} are still open"
        )
    result = connection.execute(
        table.insert().values(
            payer=payer,
            payment_id=payment_id,
            document_id=invoice.invoice_id,
            payee=payee,
            currency=invoice.currency,
            applied_minor=minor,
            payment_date=day,
            message_id=message_id,
            ledger_key=payment_key(payer, payment_id, invoice.invoice_id),
            recorded_at=now(),
        )
    )
    (row_id,) = result.inserted_primary_key or (None,)
    assert row_id is not None
    return int(row_id), True
