"""What pricing a report gives back: the :class:`InvoiceResult` of a stored report version
(its lines, the documents issued, the acknowledgement's warnings), read back from the store
and posted to the ledger (idempotent) each time it is returned.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import read_transaction
from airex.errors import MessageError, MessageStatus
from airex.formats.usage import ReportHeader
from airex.ledger import AccountKey, AccountKind, Journal, NewEntry, credit, debit
from airex.ledger.money import currency_exponent
from airex.messages.acknowledgement import AcknowledgementMessage
from airex.royalties._store import held_records, report_lines
from airex.royalties._types import HeldRecord
from airex.royalties._warnings import WARNING_LIMIT, acknowledgement, warnings_for
from airex.royalties.errors import RoyaltiesError
from airex.royalties.models import (
    HeldUsage,
    InvoiceLineRow,
    InvoiceRow,
    ReportLineRow,
    ReportRow,
    table,
)

__all__ = ["InvoiceResult", "IssuedDocument", "PricedLineSummary", "stored_result"]

_REPORT = table(ReportRow)
_LINE = table(ReportLineRow)
_INVOICE = table(InvoiceRow)
_INVOICE_LINE = table(InvoiceLineRow)
_HELD = table(HeldUsage)
_REPORT_WARNINGS: dict[str, str] = {"RevenueNotReported": "RevenueNotReported"}
"""Report-level warning codes pricing yields (literal, for the error-code catalogue test)."""


@dataclass(frozen=True, slots=True)
class PricedLineSummary:
    """One line of a report version's full pricing (for display)."""

    line_number: int
    tariff_id: str
    tariff_type: str
    description: str
    amount_minor: int
    quantity: Decimal | None
    unit_price: Decimal | None
    basis_rows: int


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    """An Invoice or CreditNote issued for a report version, as stored and sent."""

    invoice_id: str
    invoice_type: str
    currency: str
    total_minor: int
    issue_date: date
    due_date: date
    message_id: str
    message: bytes
    """The InvoiceMessage (UTF-8 XML)."""
    ledger_key: str
    licence_id: str
    licensor: str
    licensee: str

    @property
    def total(self) -> Decimal:
        """The TotalAmount as a decimal of the currency."""
        return Decimal(self.total_minor).scaleb(-currency_exponent(self.currency))

    def ledger_entry(self, report_id: str) -> NewEntry:
        """The journal entry this document posts (see the module doc)."""
        amount = self.total
        receivable = AccountKey(
            self.licensee, AccountKind.LICENSEE_RECEIVABLE, self.currency, self.licence_id
        )
        pool = AccountKey(
            self.licensor, AccountKind.DISTRIBUTABLE_POOL, self.currency, self.licence_id
        )
        if self.invoice_type == "CreditNote":
            lines = (debit(pool, amount), credit(receivable, amount))
        else:
            lines = (debit(receivable, amount), credit(pool, amount))
        return NewEntry(
            idempotency_key=self.ledger_key,
            effective_on=self.issue_date,
            lines=lines,
            description=(
                f"{self.invoice_type} {self.invoice_id}: usage report {report_id} under "
                f"licence {self.licence_id}"
            ),
        )


@dataclass(slots=True)
class InvoiceResult:
    """What pricing a usage report did (or had done, for a retry: ``created`` False)."""

    report_id: str
    sender: str
    message_id: str
    licence_id: str
    licensor: str
    period_start: date
    period_end: date
    currency: str
    total_minor: int
    """The total of this version's full pricing (for a correction: not the difference)."""
    records: int
    held_records: int
    held_by_reason: dict[str, int]
    lines: list[PricedLineSummary]
    documents: list[IssuedDocument]
    warnings: list[MessageError]
    """The acknowledgement's warnings (at most 1000 held records, then a summary)."""
    notes: list[str]
    created: bool
    correction_of: str | None = None
    replaced_report_id: str | None = None
    """The ReportId of the version this correction replaced."""
    header: ReportHeader | None = field(default=None, repr=False)
    acknowledging_party: str = ""

    @property
    def invoice(self) -> IssuedDocument | None:
        """The Invoice issued (``None`` when nothing was invoiced)."""
        return next((d for d in self.documents if d.invoice_type == "Invoice"), None)

    @property
    def credit_note(self) -> IssuedDocument | None:
        """The CreditNote issued (corrections that lower a tariff's amount)."""
        return next((d for d in self.documents if d.invoice_type == "CreditNote"), None)

    def acknowledgement(self, *, file_name: str | None = None) -> AcknowledgementMessage:
        """The AcknowledgementMessage for the report: MessageAccepted, warnings as errors."""
        if self.header is None:  # pragma: no cover - every result is built with its header
            raise RoyaltiesError("this result has no report header to acknowledge")
        return acknowledgement(
            self.header.message_header,
            self.warnings,
            sender=self.acknowledging_party,
            file_name=file_name,
        )


def stored_result(
    engine: Engine,
    journal: Journal,
    report_pk: int,
    header: ReportHeader,
    *,
    created: bool = False,
    held_first: Sequence[HeldRecord] | None = None,
    held_by_reason: dict[str, int] | None = None,
) -> InvoiceResult:
    """The result of the stored version ``report_pk``; posts its documents (idempotent)."""
    with read_transaction(engine) as connection:
        row = connection.execute(sa.select(_REPORT).where(_REPORT.c.id == report_pk)).one()
        lines = report_lines(connection, report_pk)
        documents = [
            _document(doc)
            for doc in connection.execute(
                sa.select(_INVOICE).where(_INVOICE.c.report == report_pk).order_by(_INVOICE.c.id)
            )
        ]
        replaced_id = None
        if row.replaces_id is not None:
            replaced_id = connection.execute(
                sa.select(_REPORT.c.report_id).where(_REPORT.c.id == row.replaces_id)
            ).scalar_one()
    if held_first is None:
        held_first = list(
            held_records(engine, row.report_id, sender=row.sender, limit=WARNING_LIMIT)
        )
    if held_by_reason is None:
        with read_transaction(engine) as connection:
            held_by_reason = _held_counts(connection, report_pk)
    for document in documents:
        journal.post(document.ledger_entry(row.report_id))
    stored_notes = json.loads(row.notes)
    report_warnings = [
        MessageError(
            _REPORT_WARNINGS.get(w["code"], "RevenueNotReported"),
            w["text"],
            status=MessageStatus.MESSAGE_ACCEPTED,
        )
        for w in stored_notes["warnings"]
    ]
    return InvoiceResult(
        report_id=row.report_id,
        sender=row.sender,
        message_id=row.message_id,
        licence_id=row.licence_id,
        licensor=documents[0].licensor if documents else row.recipient,
        period_start=row.period_start,
        period_end=row.period_end,
        currency=row.currency,
        total_minor=row.total_minor,
        records=row.records,
        held_records=row.held_records,
        held_by_reason=dict(held_by_reason),
        lines=[
            PricedLineSummary(
                line_number=line.line_number,
                tariff_id=line.tariff_id,
                tariff_type=line.tariff_type,
                description=line.description,
                amount_minor=line.amount_minor,
                quantity=None if line.quantity is None else Decimal(line.quantity),
                unit_price=None if line.unit_price is None else Decimal(line.unit_price),
                basis_rows=line.row_count,
            )
            for line in lines
        ],
        documents=documents,
        warnings=warnings_for(row.report_id, held_first, row.held_records, report_warnings),
        notes=list(stored_notes["notes"]),
        created=created,
        correction_of=row.correction_of,
        replaced_report_id=replaced_id,
        header=header,
        acknowledging_party=row.recipient,
    )


def _held_counts(connection: Connection, report_pk: int) -> dict[str, int]:
    return {
        reason: int(count)
        for reason, count in connection.execute(
            sa.select(_HELD.c.reason, sa.func.count())
            .where(_HELD.c.report == report_pk)
            .group_by(_HELD.c.reason)
            .order_by(_HELD.c.reason)
        )
    }


def _document(row: Any) -> IssuedDocument:
    return IssuedDocument(
        invoice_id=row.invoice_id,
        invoice_type=row.invoice_type,
        currency=row.currency,
        total_minor=row.total_minor,
        issue_date=row.issue_date,
        due_date=row.due_date,
        message_id=row.message_id,
        message=bytes(row.message),
        ledger_key=row.ledger_key,
        licence_id=row.licence_id,
        licensor=row.licensor,
        licensee=row.licensee,
    )
