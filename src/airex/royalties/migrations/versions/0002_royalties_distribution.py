"""Distribution and statements: payments, distributions, rightsholder totals, suspense, lines.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-03

The rightsholder lines of a distribution are stored as columnar binary blocks
(``royalties_distribution_block``): millions of lines per distribution, written and read
whole. Everything that is looked up or summed by SQL (payments, distributions, each
rightsholder's totals, suspense) is in ordinary rows. The child tables are ``WITHOUT ROWID``
on SQLite (one b-tree keyed by distribution).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
ID_LENGTH = 64


def upgrade() -> None:
    """Create the distribution tables."""
    op.create_table(
        "royalties_payment",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("payer", sa.String(ID_LENGTH), nullable=False),
        sa.Column("payment_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("document_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("payee", sa.String(ID_LENGTH), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("applied_minor", sa.BigInteger(), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("message_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("ledger_key", sa.String(255), nullable=False),
        sa.Column("recorded_at", INSTANT, nullable=False),
        sa.UniqueConstraint(
            "payer", "payment_id", "document_id", name="uq_royalties_payment_document"
        ),
        sa.CheckConstraint("applied_minor >= 0", name="ck_royalties_payment_applied"),
    )
    op.create_index("ix_royalties_payment_date", "royalties_payment", ["payment_date"])
    op.create_index("ix_royalties_payment_document", "royalties_payment", ["document_id"])
    op.create_table(
        "royalties_distribution",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("payment", ID, sa.ForeignKey("royalties_payment.id"), nullable=False),
        sa.Column("invoice_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("licence_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("licensor", sa.String(ID_LENGTH), nullable=False),
        sa.Column("licensee", sa.String(ID_LENGTH), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("shares_on", sa.Date(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("suspense_minor", sa.BigInteger(), nullable=False),
        sa.Column("admin_fee_percent", sa.String(32), nullable=False),
        sa.Column("parties", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.Column("units_shown", sa.Boolean(), nullable=False),
        sa.Column("invoice_lines", sa.Text(), nullable=False),
        sa.Column("ledger_key", sa.String(255), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("posted_at", INSTANT, nullable=True),
        sa.UniqueConstraint("payment", name="uq_royalties_distribution_payment"),
        sa.CheckConstraint(
            "gross_minor + suspense_minor = paid_minor", name="ck_royalties_distribution_paid"
        ),
        sa.CheckConstraint(
            "fee_minor + net_minor = gross_minor", name="ck_royalties_distribution_net"
        ),
    )
    op.create_index("ix_royalties_distribution_date", "royalties_distribution", ["payment_date"])
    op.create_index("ix_royalties_distribution_invoice", "royalties_distribution", ["invoice_id"])
    op.create_table(
        "royalties_distribution_party",
        sa.Column("distribution", ID, sa.ForeignKey("royalties_distribution.id"), primary_key=True),
        sa.Column("party", sa.String(ID_LENGTH), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "fee_minor + net_minor = gross_minor", name="ck_royalties_distribution_party_net"
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_royalties_distribution_party_party", "royalties_distribution_party", ["party"]
    )
    op.create_table(
        "royalties_distribution_suspense",
        sa.Column("distribution", ID, sa.ForeignKey("royalties_distribution.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("tariff_id", sa.String(ID_LENGTH), nullable=False),
        sa.Column("use_type", sa.String(64), nullable=True),
        sa.Column("work_key", sa.BigInteger(), nullable=True),
        sa.Column("work_ids", sa.Text(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name="ck_royalties_distribution_suspense_amount"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "royalties_distribution_block",
        sa.Column("distribution", ID, sa.ForeignKey("royalties_distribution.id"), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("block", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop the distribution tables (and their data)."""
    op.drop_table("royalties_distribution_block")
    op.drop_table("royalties_distribution_suspense")
    op.drop_index(
        "ix_royalties_distribution_party_party", table_name="royalties_distribution_party"
    )
    op.drop_table("royalties_distribution_party")
    op.drop_index("ix_royalties_distribution_invoice", table_name="royalties_distribution")
    op.drop_index("ix_royalties_distribution_date", table_name="royalties_distribution")
    op.drop_table("royalties_distribution")
    op.drop_index("ix_royalties_payment_document", table_name="royalties_payment")
    op.drop_index("ix_royalties_payment_date", table_name="royalties_payment")
    op.drop_table("royalties_payment")
