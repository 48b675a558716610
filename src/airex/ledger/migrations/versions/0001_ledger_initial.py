"""The ledger: accounts, journal entries, postings, balances, grant register; immutability.

Revision ID: 0001
Revises:
Create Date: 2026-05-02

Posted rows are append-only, and the database itself refuses to change them: ``BEFORE UPDATE``
and ``BEFORE DELETE`` triggers on every immutable table raise an error (on PostgreSQL also a
``BEFORE TRUNCATE`` statement trigger), whatever client or code issues the statement; on SQLite
``BEFORE INSERT`` triggers also refuse ``INSERT OR REPLACE`` over an existing row, and on
PostgreSQL a statement trigger refuses postings added to an entry of an earlier transaction
(see :mod:`airex.ledger._triggers`, whose text the checker compares with the database's). Only
the derived balance tables are updatable; the checker proves them equal to the postings.

SQLite stores whatever a column is given (a ``REAL`` in a ``BIGINT`` column stays a ``REAL``),
so every money and count column there carries ``CHECK (typeof(col) = 'integer')``: a
fractional amount, or a balance update that overflowed into a float, is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from airex.ledger._triggers import pg_statements, sqlite_triggers

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)

PG_FUNCTIONS = ("ledger_refuse_change", "ledger_posting_whole_entries")


def _integers(name: str, *columns: str) -> list[sa.CheckConstraint]:
    """SQLite only: ``CHECK (typeof(c) = 'integer')`` over ``columns`` (PostgreSQL's BIGINT
    holds nothing else)."""
    if op.get_bind().dialect.name != "sqlite":
        return []
    condition = " AND ".join(f"typeof({c}) = 'integer'" for c in columns)
    return [sa.CheckConstraint(condition, name=f"ck_{name}_integer")]


def upgrade() -> None:
    """Create the ledger's tables, indexes and immutability triggers."""
    op.create_table(
        "ledger_account",
        sa.Column("party", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("licence_id", sa.String(64), nullable=False),
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.UniqueConstraint("party", "kind", "currency", "licence_id", name="uq_ledger_account"),
        sa.CheckConstraint(
            "kind IN ('licensee_receivable', 'cash', 'distributable_pool', "
            "'rightsholder_payable', 'admin_fee_revenue', 'suspense', 'unclaimed')",
            name="ck_ledger_account_kind",
        ),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reverses_entry_id", ID, sa.ForeignKey("ledger_entry.id"), nullable=True),
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("posted_at", INSTANT, nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_entry_key"),
        sa.UniqueConstraint("reverses_entry_id", name="uq_ledger_entry_reverses"),
    )
    op.create_index("ix_ledger_entry_effective_on", "ledger_entry", ["effective_on"])
    op.create_table(
        "ledger_posting",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entry_id", ID, sa.ForeignKey("ledger_entry.id"), nullable=False),
        sa.Column("account_id", ID, sa.ForeignKey("ledger_account.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name="ck_ledger_posting_nonzero"),
        *_integers("ledger_posting", "amount_minor"),
    )
    op.create_index("ix_ledger_posting_entry", "ledger_posting", ["entry_id"])
    op.create_index("ix_ledger_posting_account", "ledger_posting", ["account_id", "entry_id"])
    op.create_table(
        "ledger_balance",
        sa.Column("account_id", ID, primary_key=True, autoincrement=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("posting_count", sa.BigInteger(), nullable=False),
        *_integers("ledger_balance", "balance_minor", "posting_count"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_balance_day",
        sa.Column("account_id", ID, primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("delta_minor", sa.BigInteger(), nullable=False),
        sa.Column("posting_count", sa.BigInteger(), nullable=False),
        *_integers("ledger_balance_day", "delta_minor", "posting_count"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_grant",
        sa.Column("licence_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("licensor", sa.String(64), nullable=False),
        sa.Column("licensee", sa.String(64), nullable=False),
        sa.Column("issued_at", INSTANT, nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("all_works", sa.Boolean(), nullable=False),
        sa.Column("source_message_id", sa.String(255), nullable=False),
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("effective_at", INSTANT, nullable=False),
        sa.Column("territories", sa.Text(), nullable=False),
        sa.Column("excluded_territories", sa.Text(), nullable=False),
        sa.Column("source_message", sa.LargeBinary(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("recorded_at", INSTANT, nullable=False),
        sa.UniqueConstraint("source_message_id", name="uq_ledger_grant_source"),
        sa.CheckConstraint(
            "status IN ('Granted', 'Suspended', 'Revoked', 'Expired')",
            name="ck_ledger_grant_status",
        ),
    )
    op.create_index("ix_ledger_grant_licence", "ledger_grant", ["licence_id", "effective_at"])
    op.create_index("ix_ledger_grant_licensee", "ledger_grant", ["licensee"])
    op.create_table(
        "ledger_grant_use_type",
        sa.Column(
            "grant_id",
            ID,
            sa.ForeignKey("ledger_grant.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("use_type", sa.String(64), primary_key=True),
    )
    op.create_index("ix_ledger_grant_use_type", "ledger_grant_use_type", ["use_type"])
    op.create_table(
        "ledger_grant_work",
        sa.Column(
            "grant_id",
            ID,
            sa.ForeignKey("ledger_grant.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("work_id", sa.String(255), primary_key=True),
    )
    op.create_index("ix_ledger_grant_work", "ledger_grant_work", ["work_id"])
    _install_immutability()


def downgrade() -> None:
    """Drop everything :func:`upgrade` created (and with it every posted row)."""
    _remove_immutability()
    for name in (
        "ledger_grant_work",
        "ledger_grant_use_type",
        "ledger_grant",
        "ledger_balance_day",
        "ledger_balance",
        "ledger_posting",
        "ledger_entry",
        "ledger_account",
    ):
        op.drop_table(name)


def _install_immutability() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in pg_statements():
            op.execute(statement)
        return
    for _, statement in sqlite_triggers().values():
        op.execute(statement)


def _remove_immutability() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_posting_whole_entries ON ledger_posting")
        for name in (
            "ledger_account",
            "ledger_entry",
            "ledger_posting",
            "ledger_grant",
            "ledger_grant_use_type",
            "ledger_grant_work",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_immutable ON {name}")
            op.execute(f"DROP TRIGGER IF EXISTS {name}_no_truncate ON {name}")
        for function in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        return
    for name in sqlite_triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
