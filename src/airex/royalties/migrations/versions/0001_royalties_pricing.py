"""Pricing and invoices: report versions, their works and usage, lines, invoices, held usage.

Revision ID: 0001
Revises:
Create Date: 2026-05-03

Usage totals in micro-units may exceed 64 bits: ``NUMERIC(40,0)`` on PostgreSQL, ``TEXT``
(decimal digits) on SQLite, whose ``NUMERIC`` affinity would store large values as floats.
The per-report child tables are ``WITHOUT ROWID`` on SQLite (one b-tree keyed by report and
position): they are written in bulk and read back in key order.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
ID_LENGTH = 64


def _big_count() -> sa.types.TypeEngine[Any]:
    return sa.Numeric(40, 0) if op.get_bind().dialect.name == "postgresql" else sa.Text()


def upgrade() -> None:
    """Create the pricing tables."""
    op.create_table(
        "royalties_report",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("licence_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("sender", sa.String(ID_LENGTH), nullable=False),
        sa.Column("recipient", sa.String(ID_LENGTH), nullable=False),
        sa.Column("message_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("correction_of", sa.String(ID_LENGTH), nullable=True),
        sa.Column("replaces_id", ID, sa.ForeignKey("royalties_report.id"), nullable=True),
        sa.Column("superseded_by_id", ID, sa.ForeignKey("royalties_report.id"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("form", sa.String(8), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("held_records", sa.BigInteger(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("priced_at", INSTANT, nullable=False),
        sa.UniqueConstraint("sender", "report_id", name="uq_royalties_report_id"),
        sa.UniqueConstraint("sender", "message_id", name="uq_royalties_report_message"),
        sa.CheckConstraint(
            "status IN ('current', 'superseded')", name="ck_royalties_report_status"
        ),
    )
    op.create_index("ix_royalties_report_licence", "royalties_report", ["licence_id", "status"])
    op.create_table(
        "royalties_report_work",
        sa.Column("report", ID, sa.ForeignKey("royalties_report.id"), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("work_key", sa.BigInteger(), nullable=True),
        sa.Column("ids", sa.Text(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "royalties_report_usage",
        sa.Column("report", ID, sa.ForeignKey("royalties_report.id"), primary_key=True),
        sa.Column("work_position", sa.BigInteger(), primary_key=True),
        sa.Column("use_type_index", sa.SmallInteger(), primary_key=True),
        sa.Column("unit_index", sa.SmallInteger(), primary_key=True),
        sa.Column("units_micro", _big_count(), nullable=False),
        sa.Column("attribution_micro", sa.BigInteger(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "royalties_report_line",
        sa.Column("report", ID, sa.ForeignKey("royalties_report.id"), primary_key=True),
        sa.Column("line_number", sa.Integer(), primary_key=True),
        sa.Column("tariff_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("tariff_type", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("use_type_mask", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=True),
        sa.Column("quantity", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Text(), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("weight_total", _big_count(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "royalties_invoice",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("invoice_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("invoice_type", sa.String(16), nullable=False),
        sa.Column("report", ID, sa.ForeignKey("royalties_report.id"), nullable=False),
        sa.Column("basis_report", ID, sa.ForeignKey("royalties_report.id"), nullable=False),
        sa.Column("licence_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("licensor", sa.String(ID_LENGTH), nullable=False),
        sa.Column("licensee", sa.String(ID_LENGTH), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("territories", sa.Text(), nullable=False),
        sa.Column("excluded_territories", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("ledger_key", sa.String(255), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.UniqueConstraint("invoice_id", name="uq_royalties_invoice_id"),
        sa.CheckConstraint(
            "invoice_type IN ('Invoice', 'CreditNote')", name="ck_royalties_invoice_type"
        ),
        sa.CheckConstraint("total_minor > 0", name="ck_royalties_invoice_total"),
    )
    op.create_index("ix_royalties_invoice_report", "royalties_invoice", ["report"])
    op.create_index(
        "ix_royalties_invoice_period", "royalties_invoice", ["period_end", "period_start"]
    )
    op.create_index("ix_royalties_invoice_licence", "royalties_invoice", ["licence_id"])
    op.create_table(
        "royalties_invoice_line",
        sa.Column("invoice", ID, sa.ForeignKey("royalties_invoice.id"), primary_key=True),
        sa.Column("line_number", sa.Integer(), primary_key=True),
        sa.Column("tariff_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("tariff_type", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Text(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "royalties_held",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("report", ID, sa.ForeignKey("royalties_report.id"), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("work_ids", sa.Text(), nullable=False),
        sa.Column("use_type", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
    )
    op.create_index("ix_royalties_held_report", "royalties_held", ["report", "id"])


def downgrade() -> None:
    """Drop the pricing tables (and their data)."""
    op.drop_index("ix_royalties_held_report", table_name="royalties_held")
    op.drop_table("royalties_held")
    op.drop_table("royalties_invoice_line")
    for index in (
        "ix_royalties_invoice_licence",
        "ix_royalties_invoice_period",
        "ix_royalties_invoice_report",
    ):
        op.drop_index(index, table_name="royalties_invoice")
    op.drop_table("royalties_invoice")
    op.drop_table("royalties_report_line")
    op.drop_table("royalties_report_usage")
    op.drop_table("royalties_report_work")
    op.drop_index("ix_royalties_report_licence", table_name="royalties_report")
    op.drop_table("royalties_report")
