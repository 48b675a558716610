"""Storing a priced report version and issuing its documents, in one transaction: the
version, its works, usage, lines and held records; the Invoice (or, for a correction, the
Invoice of the increases and the CreditNote of the decreases), each checked before it is stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.formats.usage import ReportHeader
from airex.ledger import GrantPublic
from airex.ledger.money import currency_exponent
from airex.messages.codes import InvoiceType
from airex.messages.common import Amount, MessageHeader, Party, Period
from airex.messages.invoice import Invoice, InvoiceLine, InvoiceMessage
from airex.messages.terms import LicenceTerms
from airex.royalties._held_spool import HeldSpool
from airex.royalties._store import report_lines
from airex.royalties._store_write import bulk_insert, insert_report_rows, line_values
from airex.royalties._types import PricedReport
from airex.royalties.errors import ReportConflictError, RoyaltiesError
from airex.royalties.models import (
    HeldUsage,
    InvoiceLineRow,
    InvoiceRow,
    ReportLineRow,
    ReportRow,
    ReportStatus,
    table,
)
from airex.royalties.settings import RoyaltySettings

__all__ = ["persist"]

_REPORT = table(ReportRow)
_LINE = table(ReportLineRow)
_INVOICE = table(InvoiceRow)
_INVOICE_LINE = table(InvoiceLineRow)
_HELD = table(HeldUsage)
_ID_LIMIT = 64


def persist(
    connection: Connection,
    settings: RoyaltySettings,
    header: ReportHeader,
    form: str,
    grant: GrantPublic,
    terms: LicenceTerms,
    priced: PricedReport,
    spool: HeldSpool,
    replaced: Any,
    issue_date: date,
) -> int:
    message = header.message_header
    period = header.reporting_period
    sender = message.message_sender.party_id
    recipient = message.message_recipients[0].party_id
    notes = {
        "warnings": [{"code": w.code, "text": w.message} for w in priced.warnings],
        "notes": priced.notes,
    }
    report_pk = connection.execute(
        sa.insert(_REPORT)
        .values(
            report_id=header.report_id,
            licence_id=header.licence_id,
            sender=sender,
            recipient=recipient,
            message_id=message.message_id,
            period_start=period.start_date,
            period_end=period.end_date,
            correction_of=header.correction_of_report_id,
            replaces_id=replaced.id if replaced is not None else None,
            superseded_by_id=None,
            status=ReportStatus.CURRENT,
            content_hash=priced.content_hash,
            form=form,
            currency=priced.currency,
            total_minor=priced.total_minor,
            records=priced.records,
            held_records=priced.held_records,
            notes=json.dumps(notes, ensure_ascii=False),
            priced_at=datetime.now(UTC),
        )
        .returning(_REPORT.c.id)
    ).scalar_one()
    insert_report_rows(connection, report_pk, priced)
    if priced.lines:
        connection.execute(
            sa.insert(_LINE), [line_values(report_pk, line) for line in priced.lines]
        )
    bulk_insert(
        connection,
        "royalties_held",
        ("report", "file", "line", "work_ids", "use_type", "quantity", "unit", "reason"),
        spool.rows(report_pk),
    )
    if replaced is not None:
        done = connection.execute(
            sa.update(_REPORT)
            .where(_REPORT.c.id == replaced.id, _REPORT.c.status == ReportStatus.CURRENT)
            .values(status=ReportStatus.SUPERSEDED, superseded_by_id=report_pk)
        )
        if done.rowcount != 1:
            raise ReportConflictError(
                f"report {replaced.report_id} was corrected by another report while "
                f"{header.report_id} was being priced; send {header.report_id} again to "
                "correct the version now in force"
            )
    for document in _documents(connection, report_pk, header, priced, replaced):
        _issue(connection, settings, report_pk, document, header, grant, terms, issue_date)
    return int(report_pk)


def _documents(
    connection: Connection,
    report_pk: int,
    header: ReportHeader,
    priced: PricedReport,
    replaced: Any,
) -> list[_Draft]:
    if replaced is None:
        if priced.total_minor <= 0:
            return []
        lines = [
            _DraftLine(
                line.tariff_id,
                line.tariff_type,
                line.description,
                line.amount_minor,
                str(line.basis),
                line.quantity,
                line.unit_price,
                line.line_number,
            )
            for line in priced.lines
        ]
        return [_Draft("Invoice", "INV", report_pk, lines)]
    old = {row.tariff_id: row for row in report_lines(connection, replaced.id)}
    new = {line.tariff_id: line for line in priced.lines}
    increases: list[_DraftLine] = []
    decreases: list[_DraftLine] = []
    currency = priced.currency
    for tariff_id in [*new, *(t for t in old if t not in new)]:
        line = new.get(tariff_id)
        before = old.get(tariff_id)
        was = before.amount_minor if before is not None else 0
        now = line.amount_minor if line is not None else 0
        if now == was:
            continue
        description = (
            f"Correction of report {replaced.report_id}, tariff {tariff_id}: "
            f"{_minor_text(was, currency)} → {_minor_text(now, currency)} {currency}"
        )
        if now > was:
            assert line is not None
            increases.append(
                _DraftLine(
                    tariff_id,
                    line.tariff_type,
                    description,
                    now - was,
                    str(line.basis),
                    None,
                    None,
                    line.line_number,
                )
            )
        else:
            assert before is not None
            decreases.append(
                _DraftLine(
                    tariff_id,
                    before.tariff_type,
                    description,
                    was - now,
                    before.basis,
                    None,
                    None,
                    before.line_number,
                )
            )
    drafts = []
    if increases:
        drafts.append(_Draft("Invoice", "INV", report_pk, increases))
    if decreases:
        drafts.append(_Draft("CreditNote", "CN", replaced.id, decreases))
    return drafts


def _issue(
    connection: Connection,
    settings: RoyaltySettings,
    report_pk: int,
    draft: _Draft,
    header: ReportHeader,
    grant: GrantPublic,
    terms: LicenceTerms,
    issue_date: date,
) -> None:
    message = header.message_header
    sender = message.message_sender.party_id
    invoice_id = _document_id(connection, draft.prefix, sender, header.report_id)
    currency = _currency_of(terms)
    period = header.reporting_period
    due_date = issue_date + timedelta(days=settings.due_days)
    total = sum(line.amount_minor for line in draft.lines)
    invoice_lines = [
        InvoiceLine(
            line_number=number,
            tariff_id=line.tariff_id,
            description=line.description,
            quantity=line.quantity,
            unit_price=(
                Amount.of(line.unit_price, currency) if line.unit_price is not None else None
            ),
            line_amount=Amount.of(_minor_text(line.amount_minor, currency), currency),
        )
        for number, line in enumerate(draft.lines, start=1)
    ]
    document = InvoiceMessage(
        message_header=MessageHeader.build(
            Party(party_id=grant.licensor),
            Party(party_id=grant.licensee),
            thread_id=message.message_thread_id,
        ),
        invoice=Invoice(
            invoice_id=invoice_id,
            invoice_type=InvoiceType.CREDIT_NOTE if draft.kind == "CreditNote" else None,
            licence_id=header.licence_id,
            usage_report_id=header.report_id,
            invoice_period=Period(start_date=period.start_date, end_date=period.end_date),
            issue_date=issue_date,
            due_date=due_date,
            invoice_lines=invoice_lines,
            total_amount=Amount.of(_minor_text(total, currency), currency),
        ),
    )
    from airex.messages import check, serialise

    xml = serialise(document)
    problems = check(xml).errors
    if problems:
        raise RoyaltiesError(
            f"{draft.kind} {invoice_id} for report {header.report_id} does not validate: "
            + "; ".join(str(p) for p in problems[:5])
        )
    invoice_pk = connection.execute(
        sa.insert(_INVOICE)
        .values(
            invoice_id=invoice_id,
            invoice_type=draft.kind,
            report=report_pk,
            basis_report=draft.basis_pk,
            licence_id=header.licence_id,
            licensor=grant.licensor,
            licensee=grant.licensee,
            currency=currency,
            total_minor=total,
            issue_date=issue_date,
            due_date=due_date,
            period_start=period.start_date,
            period_end=period.end_date,
            territories=json.dumps(list(terms.territory.territory_codes)),
            excluded_territories=json.dumps(list(terms.territory.excluded_territory_codes)),
            message_id=document.message_id,
            message=xml,
            ledger_key=f"invoice:{invoice_id}",
            created_at=datetime.now(UTC),
        )
        .returning(_INVOICE.c.id)
    ).scalar_one()
    connection.execute(
        sa.insert(_INVOICE_LINE),
        [
            {
                "invoice": invoice_pk,
                "line_number": number,
                "tariff_id": line.tariff_id,
                "tariff_type": line.tariff_type,
                "description": line.description,
                "amount_minor": line.amount_minor,
                "basis": line.basis,
                "quantity": None if line.quantity is None else f"{line.quantity:f}",
                "unit_price": None if line.unit_price is None else f"{line.unit_price:f}",
                "source_line": line.source_line,
            }
            for number, line in enumerate(draft.lines, start=1)
        ],
    )


def _document_id(connection: Connection, prefix: str, sender: str, report_id: str) -> str:
    candidate = f"{prefix}-{report_id}"
    taken = connection.execute(
        sa.select(_INVOICE.c.id).where(_INVOICE.c.invoice_id == candidate)
    ).first()
    if len(candidate) <= _ID_LIMIT and taken is None:
        return candidate
    digest = hashlib.sha256(f"{sender}:{report_id}".encode()).hexdigest()[:40]
    return f"{prefix}-{digest}"


def _minor_text(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


@dataclass(frozen=True, slots=True)
class _DraftLine:
    tariff_id: str
    tariff_type: str
    description: str
    amount_minor: int
    basis: str
    quantity: Decimal | None
    unit_price: Decimal | None
    source_line: int | None


@dataclass(frozen=True, slots=True)
class _Draft:
    kind: str
    prefix: str
    basis_pk: int
    """The version whose usage the lines' basis rows come from."""
    lines: list[_DraftLine]

    def __post_init__(self) -> None:
        if not self.lines:  # pragma: no cover - drafts are only made with lines
            raise RoyaltiesError("a document needs at least one line")


def _currency_of(terms: LicenceTerms) -> str:
    for tariff in terms.tariffs:
        if tariff.amount is not None:
            return tariff.amount.currency
        if tariff.currency is not None:
            return tariff.currency
    raise RoyaltiesError("the licence's tariffs name no currency")  # pragma: no cover
