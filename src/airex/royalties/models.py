"""The royalties' tables (SQLModel): priced reports, their usage, invoices, held usage.

What pricing stores (migration ``0001``, tables prefixed ``royalties_``):

``royalties_report``
    one row per *version* of a usage report that was priced: who sent it (sender +
    MessageId), its ReportId, licence and period, the content hash, the CorrectionOfReportId
    it named, the version it replaced and the version that replaced it (``status``
    ``current`` or ``superseded``), totals and counts. The only table with updated rows:
    ``superseded_by_id`` / ``status`` are set when a correction replaces the version.
``royalties_report_work``
    the distinct works the version's permitted usage names, by position (the columns of
    :class:`~airex.royalties._types.ReportWorks`): the registry's work key and the
    identifiers as reported (flat form, ``|``-joined).
``royalties_report_usage``
    the version's permitted usage, aggregated: one row per (work position, use type, unit)
    with the exact total in micro-units and the sum of the AttributionShares reported
    (micro). Every invoice line's basis rows are derived from these rows by one
    deterministic rule (:func:`airex.royalties.pricing.line_basis`), so they are not stored
    once per line (a 10-million-record report would otherwise store its usage once per
    tariff).
``royalties_report_line``
    the version's full pricing: one row per tariff line, with what selects its basis rows
    (use-type mask, unit, basis) and, as a check, how many rows and what total weight it had.
``royalties_invoice`` / ``royalties_invoice_line``
    every document issued (Invoice or CreditNote) with its InvoiceMessage bytes; each line
    names the report line (of the document's ``basis_report_id``) whose basis rows share its
    money.
``royalties_held``
    every usage record that was not priced, with its file, line and reason (kept for
    follow-up; listed by ``airex royalties held``).

Money is ``BIGINT`` minor units. Usage totals in micro-units can exceed 64 bits (a work used
for 10¹³ tokens is 10¹⁹ micro-units), so they are :class:`BigCount` columns: ``NUMERIC(40,0)``
on PostgreSQL and ``TEXT`` (decimal digits) on SQLite, whose ``NUMERIC`` affinity would turn
large values into inexact floats.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from airex.db import UTCDateTime

__all__ = [
    "BigCount",
    "HeldUsage",
    "InvoiceLineRow",
    "InvoiceRow",
    "ReportLineRow",
    "ReportRow",
    "ReportStatus",
    "ReportUsageRow",
    "ReportWorkRow",
    "UTCDateTime",
    "royalties_tables",
    "table",
]

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit ids; on SQLite ``INTEGER`` so that the id is the rowid (autoincrementing)."""

ID_LENGTH = 64  # airex identifiers and party ids are at most 64 characters


class ReportStatus:
    """The states of a stored report version."""

    CURRENT = "current"
    """The version in force: what the licensee is invoiced for."""
    SUPERSEDED = "superseded"
    """Replaced by a correction (``superseded_by_id``); kept for the record."""

    ALL = (CURRENT, SUPERSEDED)


class BigCount(sa.types.TypeDecorator[int]):
    """A non-negative integer of any size: ``NUMERIC(40,0)`` on PostgreSQL, ``TEXT`` on SQLite.

    Python ``int`` in and out. (Bulk inserts bypass this and hand the driver what it takes:
    see :mod:`airex.royalties._store`.)
    """

    impl = sa.Text()
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        """``NUMERIC(40,0)`` on PostgreSQL, ``TEXT`` elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(sa.Numeric(40, 0))
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        """An ``int`` as the backend stores it."""
        if value is None:
            return None
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        """Back to an exact ``int``."""
        return None if value is None else int(value)


class ReportRow(SQLModel, table=True):
    """Table ``royalties_report``: one priced version of a usage report."""

    __tablename__: ClassVar[Any] = "royalties_report"
    __table_args__ = (
        sa.UniqueConstraint("sender", "report_id", name="uq_royalties_report_id"),
        sa.UniqueConstraint("sender", "message_id", name="uq_royalties_report_message"),
        sa.CheckConstraint(
            "status IN ('current', 'superseded')", name="ck_royalties_report_status"
        ),
        sa.Index("ix_royalties_report_licence", "licence_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    report_id: str = Field(sa_type=sa.String(ID_LENGTH))
    licence_id: str = Field(sa_type=sa.String(ID_LENGTH))
    sender: str = Field(sa_type=sa.String(ID_LENGTH))
    recipient: str = Field(sa_type=sa.String(ID_LENGTH))
    message_id: str = Field(sa_type=sa.String(ID_LENGTH))
    period_start: date
    period_end: date
    correction_of: str | None = Field(default=None, sa_type=sa.String(ID_LENGTH))
    """The CorrectionOfReportId the report named (``None``: an original report)."""
    replaces_id: int | None = Field(
        default=None, foreign_key="royalties_report.id", sa_type=ID_TYPE
    )
    """The version this one replaced (the current version of ``correction_of`` then)."""
    superseded_by_id: int | None = Field(
        default=None, foreign_key="royalties_report.id", sa_type=ID_TYPE
    )
    status: str = Field(sa_type=sa.String(16))
    content_hash: str = Field(sa_type=sa.String(64))
    form: str = Field(sa_type=sa.String(8))
    currency: str = Field(sa_type=sa.String(3))
    total_minor: int = Field(sa_type=sa.BigInteger())
    records: int = Field(sa_type=sa.BigInteger())
    held_records: int = Field(sa_type=sa.BigInteger())
    notes: str = Field(default="[]", sa_type=sa.Text())
    """Report-level warnings (JSON list of ``{code, text}``)."""
    priced_at: datetime = Field(sa_type=UTCDateTime())


class ReportWorkRow(SQLModel, table=True):
    """Table ``royalties_report_work``: the works of a version, by position."""

    __tablename__: ClassVar[Any] = "royalties_report_work"
    __table_args__ = {"sqlite_with_rowid": False}

    report: int = Field(primary_key=True, foreign_key="royalties_report.id", sa_type=ID_TYPE)
    position: int = Field(primary_key=True, sa_type=sa.BigInteger())
    work_key: int | None = Field(default=None, sa_type=sa.BigInteger())
    ids: str = Field(sa_type=sa.Text())


class ReportUsageRow(SQLModel, table=True):
    """Table ``royalties_report_usage``: permitted usage per (work, use type, unit)."""

    __tablename__: ClassVar[Any] = "royalties_report_usage"
    __table_args__ = {"sqlite_with_rowid": False}

    report: int = Field(primary_key=True, foreign_key="royalties_report.id", sa_type=ID_TYPE)
    work_position: int = Field(primary_key=True, sa_type=sa.BigInteger())
    use_type_index: int = Field(primary_key=True, sa_type=sa.SmallInteger())
    unit_index: int = Field(primary_key=True, sa_type=sa.SmallInteger())
    units_micro: int = Field(sa_type=BigCount())
    attribution_micro: int = Field(sa_type=sa.BigInteger())


class ReportLineRow(SQLModel, table=True):
    """Table ``royalties_report_line``: a version's full pricing, one row per tariff line."""

    __tablename__: ClassVar[Any] = "royalties_report_line"
    __table_args__ = {"sqlite_with_rowid": False}

    report: int = Field(primary_key=True, foreign_key="royalties_report.id", sa_type=ID_TYPE)
    line_number: int = Field(primary_key=True)
    tariff_id: str = Field(sa_type=sa.String(ID_LENGTH))
    tariff_type: str = Field(sa_type=sa.String(32))
    description: str = Field(sa_type=sa.Text())
    amount_minor: int = Field(sa_type=sa.BigInteger())
    basis: str = Field(sa_type=sa.String(16))
    use_type_mask: int
    unit: str | None = Field(default=None, sa_type=sa.String(16))
    quantity: str | None = Field(default=None, sa_type=sa.Text())
    unit_price: str | None = Field(default=None, sa_type=sa.Text())
    row_count: int = Field(sa_type=sa.BigInteger())
    weight_total: int = Field(sa_type=BigCount())


class InvoiceRow(SQLModel, table=True):
    """Table ``royalties_invoice``: an issued Invoice or CreditNote and its message."""

    __tablename__: ClassVar[Any] = "royalties_invoice"
    __table_args__ = (
        sa.UniqueConstraint("invoice_id", name="uq_royalties_invoice_id"),
        sa.CheckConstraint(
            "invoice_type IN ('Invoice', 'CreditNote')", name="ck_royalties_invoice_type"
        ),
        sa.CheckConstraint("total_minor > 0", name="ck_royalties_invoice_total"),
        sa.Index("ix_royalties_invoice_report", "report"),
        sa.Index("ix_royalties_invoice_period", "period_end", "period_start"),
        sa.Index("ix_royalties_invoice_licence", "licence_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    invoice_id: str = Field(sa_type=sa.String(ID_LENGTH))
    invoice_type: str = Field(sa_type=sa.String(16))
    report: int = Field(foreign_key="royalties_report.id", sa_type=ID_TYPE)
    """The version whose pricing issued the document."""
    basis_report: int = Field(foreign_key="royalties_report.id", sa_type=ID_TYPE)
    """The version whose usage the lines' basis rows come from."""
    licence_id: str = Field(sa_type=sa.String(ID_LENGTH))
    licensor: str = Field(sa_type=sa.String(ID_LENGTH))
    licensee: str = Field(sa_type=sa.String(ID_LENGTH))
    currency: str = Field(sa_type=sa.String(3))
    total_minor: int = Field(sa_type=sa.BigInteger())
    issue_date: date
    due_date: date
    period_start: date
    period_end: date
    territories: str = Field(sa_type=sa.Text())
    """JSON list: the licence's TerritoryCodes."""
    excluded_territories: str = Field(sa_type=sa.Text())
    """JSON list: the licence's ExcludedTerritoryCodes."""
    message_id: str = Field(sa_type=sa.String(ID_LENGTH))
    message: bytes = Field(sa_type=sa.LargeBinary())
    """The InvoiceMessage as sent (UTF-8 XML)."""
    ledger_key: str = Field(sa_type=sa.String(255))
    created_at: datetime = Field(sa_type=UTCDateTime())


class InvoiceLineRow(SQLModel, table=True):
    """Table ``royalties_invoice_line``: one line of a document."""

    __tablename__: ClassVar[Any] = "royalties_invoice_line"
    __table_args__ = {"sqlite_with_rowid": False}

    invoice: int = Field(primary_key=True, foreign_key="royalties_invoice.id", sa_type=ID_TYPE)
    line_number: int = Field(primary_key=True)
    tariff_id: str = Field(sa_type=sa.String(ID_LENGTH))
    tariff_type: str = Field(sa_type=sa.String(32))
    description: str = Field(sa_type=sa.Text())
    amount_minor: int = Field(sa_type=sa.BigInteger())
    basis: str = Field(sa_type=sa.String(16))
    quantity: str | None = Field(default=None, sa_type=sa.Text())
    unit_price: str | None = Field(default=None, sa_type=sa.Text())
    source_line: int | None = None
    """The line of the document's ``basis_report`` whose basis rows share this line's money."""


class HeldUsage(SQLModel, table=True):
    """Table ``royalties_held``: a usage record that was not priced, kept for follow-up."""

    __tablename__: ClassVar[Any] = "royalties_held"
    __table_args__ = (sa.Index("ix_royalties_held_report", "report", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    report: int = Field(foreign_key="royalties_report.id", sa_type=ID_TYPE)
    file: str = Field(sa_type=sa.Text())
    line: int = Field(sa_type=sa.BigInteger())
    work_ids: str = Field(sa_type=sa.Text())
    use_type: str = Field(sa_type=sa.String(64))
    quantity: str = Field(sa_type=sa.Text())
    unit: str = Field(sa_type=sa.String(16))
    reason: str = Field(sa_type=sa.String(64))


def royalties_tables() -> list[sa.Table]:
    """The royalties' tables in creation order (parents before children)."""
    return [
        table(model)
        for model in (
            ReportRow,
            ReportWorkRow,
            ReportUsageRow,
            ReportLineRow,
            InvoiceRow,
            InvoiceLineRow,
            HeldUsage,
        )
    ]


def table(model: type[SQLModel]) -> sa.Table:
    """The SQLAlchemy ``Table`` of a SQLModel table class (typed for Core statements)."""
    result = model.__table__  # type: ignore[attr-defined]
    assert isinstance(result, sa.Table)
    return result
