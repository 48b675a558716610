"""Storing priced reports and issued documents, and reading them back (no pricing here).

Bulk rows are written by :mod:`airex.royalties._store_write`; everything else is SQLAlchemy
Core on the tables of :mod:`airex.royalties.models`.

Read side, used by distribution and statements:

* :func:`load_priced_invoice` — an issued Invoice or CreditNote with the priced report behind
  it (works, lines and their basis rows), as :class:`~airex.royalties._types.PricedInvoice`;
* :func:`invoices_for_period` — the documents whose InvoicePeriod ends within a period;
* :func:`held_records` — the usage held back from a report, for follow-up.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import backend_of, read_transaction
from airex.royalties._pricing_collect import line_basis
from airex.royalties._store_write import CHUNK, INT64, raw_cursor
from airex.royalties._types import (
    UNITS,
    Basis,
    HeldRecord,
    PricedInvoice,
    PricedLine,
    PricedReport,
    ReportUsage,
    ReportWorks,
)
from airex.royalties.errors import RoyaltiesError, UnknownInvoiceError
from airex.royalties.models import (
    HeldUsage,
    InvoiceLineRow,
    InvoiceRow,
    ReportLineRow,
    ReportRow,
    ReportStatus,
    table,
)
from airex.royalties.schema import require_current

__all__ = [
    "InvoiceSummary",
    "held_records",
    "invoices_for_period",
    "load_priced_invoice",
]

_REPORT = table(ReportRow)
_LINE = table(ReportLineRow)
_INVOICE = table(InvoiceRow)
_INVOICE_LINE = table(InvoiceLineRow)
_HELD = table(HeldUsage)


def _stream(connection: Connection, sql: str, params: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """The rows of a large query, fetched :data:`CHUNK` at a time through the driver."""
    postgresql = backend_of(connection.engine) == "postgresql"
    cursor = raw_cursor(connection)
    try:
        cursor.execute(sql.replace("?", "%s") if postgresql else sql, tuple(params))
        while True:
            batch = cursor.fetchmany(CHUNK)
            if not batch:
                return
            yield from batch
    finally:
        cursor.close()


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# --- reading back --------------------------------------------------------------------------


def load_works(connection: Connection, report_pk: int) -> ReportWorks:
    """The works of a stored report version, by position."""
    works = ReportWorks()
    keys = works.keys
    ids = works.ids
    rows = _stream(
        connection,
        "SELECT position, work_key, ids FROM royalties_report_work WHERE report = ? "
        "ORDER BY position",
        (report_pk,),
    )
    for expected, (position, key, text) in enumerate(rows):
        if position != expected:
            raise RoyaltiesError(f"report {report_pk}: work position {expected} is missing")
        keys.append(None if key is None else int(key))
        ids.append(tuple(text.split("|")))
    return works


def load_usage(connection: Connection, report_pk: int) -> ReportUsage:
    """The priced usage of a stored report version."""
    usage = ReportUsage()
    units: list[int] = []
    shares: list[int] = []
    positions = usage.work_position
    use_types = usage.use_type_index
    unit_index = usage.unit_index
    for position, use_type, unit, total, share in _stream(
        connection,
        "SELECT work_position, use_type_index, unit_index, units_micro, attribution_micro "
        "FROM royalties_report_usage WHERE report = ? "
        "ORDER BY work_position, use_type_index, unit_index",
        (report_pk,),
    ):
        positions.append(position)
        use_types.append(use_type)
        unit_index.append(unit)
        units.append(int(total))
        shares.append(share)
    usage.units_micro = _column(units)
    usage.attribution_micro = _column(shares)
    return usage


def _column(values: list[int]) -> Sequence[int]:
    if not values or (max(values) <= INT64 and min(values) >= 0):
        return array("q", values)
    return values


def report_lines(connection: Connection, report_pk: int) -> list[Any]:
    """The stored lines of a report version, in line order."""
    return list(
        connection.execute(
            sa.select(_LINE).where(_LINE.c.report == report_pk).order_by(_LINE.c.line_number)
        )
    )


def priced_line(row: Any, usage: ReportUsage, number: int, amount_minor: int) -> PricedLine:
    """A stored report line as a :class:`PricedLine` (basis rows re-derived from ``usage``)
    numbered ``number`` and carrying ``amount_minor``; checks the rows against the stored
    count and weight total."""
    basis = Basis(row.basis)
    unit_index = UNITS.index(row.unit) if row.unit is not None else None
    rows = line_basis(usage, basis, row.use_type_mask, unit_index)
    if len(rows[0]) != row.row_count or sum(rows[2]) != int(row.weight_total):
        raise RoyaltiesError(
            f"report {row.report} line {row.line_number}: the stored usage gives "
            f"{len(rows[0])} basis rows of weight {sum(rows[2])}, the line was priced on "
            f"{row.row_count} of weight {row.weight_total}"
        )
    return PricedLine(
        line_number=number,
        tariff_id=row.tariff_id,
        tariff_type=row.tariff_type,
        description=row.description,
        amount_minor=amount_minor,
        basis=basis,
        work_index=rows[0],
        use_type_index=rows[1],
        weight=rows[2],
        units_micro=rows[3],
        quantity=_decimal(row.quantity),
        unit_price=_decimal(row.unit_price),
        use_type_mask=row.use_type_mask,
        unit=row.unit,
    )


@dataclass(frozen=True, slots=True)
class InvoiceSummary:
    """An issued document, without its lines (what :func:`invoices_for_period` lists)."""

    invoice_id: str
    invoice_type: str
    licence_id: str
    licensor: str
    licensee: str
    currency: str
    total_minor: int
    issue_date: date
    due_date: date
    period_start: date
    period_end: date
    report_id: str
    """The ReportId of the report version whose pricing issued the document."""
    message_id: str


def _summary(row: Any, report_id: str) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_id=row.invoice_id,
        invoice_type=row.invoice_type,
        licence_id=row.licence_id,
        licensor=row.licensor,
        licensee=row.licensee,
        currency=row.currency,
        total_minor=row.total_minor,
        issue_date=row.issue_date,
        due_date=row.due_date,
        period_start=row.period_start,
        period_end=row.period_end,
        report_id=report_id,
        message_id=row.message_id,
    )


def invoices_for_period(
    engine: Engine,
    start: date,
    end: date,
    *,
    licence_id: str | None = None,
    invoice_type: str | None = None,
) -> list[InvoiceSummary]:
    """The documents whose InvoicePeriod *ends* within ``start..end`` (inclusive), so that each
    belongs to exactly one distribution period; optionally of one licence or type
    (``"Invoice"``, ``"CreditNote"``). Ordered by period end, then InvoiceId."""
    require_current(engine)
    query = (
        sa.select(_INVOICE, _REPORT.c.report_id.label("source_report_id"))
        .join(_REPORT, _REPORT.c.id == _INVOICE.c.report)
        .where(_INVOICE.c.period_end >= start, _INVOICE.c.period_end <= end)
        .order_by(_INVOICE.c.period_end, _INVOICE.c.invoice_id)
    )
    if licence_id is not None:
        query = query.where(_INVOICE.c.licence_id == licence_id)
    if invoice_type is not None:
        query = query.where(_INVOICE.c.invoice_type == invoice_type)
    with read_transaction(engine) as connection:
        return [_summary(row, row.source_report_id) for row in connection.execute(query)]


def invoice_summary(engine: Engine, invoice_id: str) -> InvoiceSummary:
    """One document's summary (raises :class:`UnknownInvoiceError`)."""
    require_current(engine)
    with read_transaction(engine) as connection:
        row = connection.execute(
            sa.select(_INVOICE, _REPORT.c.report_id.label("source_report_id"))
            .join(_REPORT, _REPORT.c.id == _INVOICE.c.report)
            .where(_INVOICE.c.invoice_id == invoice_id)
        ).first()
    if row is None:
        raise UnknownInvoiceError(f"no invoice or credit note has InvoiceId {invoice_id!r}")
    return _summary(row, row.source_report_id)


def invoice_message(engine: Engine, invoice_id: str) -> bytes:
    """The InvoiceMessage issued as ``invoice_id`` (UTF-8 XML, as sent)."""
    require_current(engine)
    with read_transaction(engine) as connection:
        value = connection.execute(
            sa.select(_INVOICE.c.message).where(_INVOICE.c.invoice_id == invoice_id)
        ).scalar()
    if value is None:
        raise UnknownInvoiceError(f"no invoice or credit note has InvoiceId {invoice_id!r}")
    return bytes(value)


def load_priced_invoice(engine: Engine, invoice_id: str) -> PricedInvoice:
    """An issued Invoice or CreditNote with the priced report behind it.

    ``report`` holds the document's lines (its amounts: for a correction, the differences)
    with the basis rows of the report version they were priced on (``basis_report``: the
    correction itself for an invoice, the replaced version for a credit note), and that
    version's works; ``report.report_id`` is that version's ReportId. Raises
    :class:`UnknownInvoiceError` when no document has ``invoice_id``.
    """
    require_current(engine)
    with read_transaction(engine) as connection:
        row = connection.execute(
            sa.select(_INVOICE).where(_INVOICE.c.invoice_id == invoice_id)
        ).first()
        if row is None:
            raise UnknownInvoiceError(f"no invoice or credit note has InvoiceId {invoice_id!r}")
        basis_pk = row.basis_report
        report = connection.execute(sa.select(_REPORT).where(_REPORT.c.id == basis_pk)).one()
        stored = {line.line_number: line for line in report_lines(connection, basis_pk)}
        usage = load_usage(connection, basis_pk)
        works = load_works(connection, basis_pk)
        lines: list[PricedLine] = []
        for line in connection.execute(
            sa.select(_INVOICE_LINE)
            .where(_INVOICE_LINE.c.invoice == row.id)
            .order_by(_INVOICE_LINE.c.line_number)
        ):
            source = stored.get(line.source_line) if line.source_line is not None else None
            if source is None:
                lines.append(_bare_line(line))
                continue
            priced = priced_line(source, usage, line.line_number, line.amount_minor)
            priced.description = line.description
            priced.quantity = _decimal(line.quantity)
            priced.unit_price = _decimal(line.unit_price)
            lines.append(priced)
    return PricedInvoice(
        invoice_id=row.invoice_id,
        invoice_type=row.invoice_type,
        licence_id=row.licence_id,
        licensor=row.licensor,
        licensee=row.licensee,
        period_start=row.period_start,
        period_end=row.period_end,
        territories=tuple(json.loads(row.territories)),
        report=PricedReport(
            report_id=report.report_id,
            licence_id=report.licence_id,
            currency=row.currency,
            works=works,
            lines=lines,
            usage=usage,
            records=report.records,
            held_records=report.held_records,
            content_hash=report.content_hash,
        ),
    )


def _bare_line(line: Any) -> PricedLine:
    """A document line with no basis rows (its money has no work to go to)."""
    return PricedLine(
        line_number=line.line_number,
        tariff_id=line.tariff_id,
        tariff_type=line.tariff_type,
        description=line.description,
        amount_minor=line.amount_minor,
        basis=Basis(line.basis),
        work_index=array("q"),
        use_type_index=array("b"),
        weight=array("q"),
        units_micro=array("q"),
        quantity=_decimal(line.quantity),
        unit_price=_decimal(line.unit_price),
    )


def held_records(
    engine: Engine,
    report_id: str,
    *,
    sender: str | None = None,
    reason: str | None = None,
    limit: int | None = None,
) -> Iterator[HeldRecord]:
    """The usage records held back when ``report_id`` was priced (every version of it with
    that ReportId; of one sender when given), in file and line order, optionally of one
    ``reason`` only and at most ``limit`` of them."""
    require_current(engine)
    query = (
        sa.select(_HELD)
        .join(_REPORT, _REPORT.c.id == _HELD.c.report)
        .where(_REPORT.c.report_id == report_id)
        .order_by(_HELD.c.report, _HELD.c.id)
    )
    if sender is not None:
        query = query.where(_REPORT.c.sender == sender)
    if reason is not None:
        query = query.where(_HELD.c.reason == reason)
    if limit is not None:
        query = query.limit(limit)
    with read_transaction(engine) as connection:
        for row in connection.execution_options(yield_per=CHUNK).execute(query):
            yield HeldRecord(
                file=row.file,
                line=row.line,
                work_ids=tuple(row.work_ids.split("|")),
                use_type=row.use_type,
                quantity=Decimal(row.quantity),
                unit=row.unit,
                reason=row.reason,
            )


def current_version(connection: Connection, pk: int) -> Any:
    """The version in force of the report whose version ``pk`` is given (follows
    ``superseded_by_id`` to the end of the chain)."""
    seen = set()
    while True:
        row = connection.execute(sa.select(_REPORT).where(_REPORT.c.id == pk)).one()
        if row.status == ReportStatus.CURRENT or row.superseded_by_id is None:
            return row
        if pk in seen:  # pragma: no cover - a cycle would need hand-edited rows
            raise RoyaltiesError(f"report versions form a cycle at {pk}")
        seen.add(pk)
        pk = row.superseded_by_id
