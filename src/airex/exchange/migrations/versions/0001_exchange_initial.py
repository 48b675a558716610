"""The exchange: party directory, batches, received messages, deduplication, inbox,
acknowledgements, the transactional outbox and the dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Written by hand with explicit operations (never derived from the models, so that it keeps
meaning the same thing when the models move on); a test checks that it produces exactly the
tables of :mod:`airex.exchange.models`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
PARTY = 64


def upgrade() -> None:
    """Create the exchange's tables and indexes."""
    op.create_table(
        "exchange_party",
        sa.Column("party_id", sa.String(PARTY), primary_key=True),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("folder", sa.Text(), nullable=True),
        sa.Column("queue", sa.Boolean(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
    )
    op.create_table(
        "exchange_batch",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("arrival_party", sa.String(PARTY), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("intake_token", sa.String(80), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("ack_context", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("acknowledged_at", INSTANT, nullable=True),
        sa.UniqueConstraint("intake_token"),
    )
    op.create_table(
        "exchange_received",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("arrival_party", sa.String(PARTY), nullable=True),
        sa.Column("intake_token", sa.String(80), nullable=True),
        sa.Column("batch_row_id", ID, sa.ForeignKey("exchange_batch.id"), nullable=True),
        sa.Column("batch_position", sa.Integer(), nullable=True),
        sa.Column("parent_id", ID, sa.ForeignKey("exchange_received.id"), nullable=True),
        sa.Column("preset_status", sa.String(40), nullable=True),
        sa.Column("preset_errors", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.String(40), nullable=True),
        sa.Column("errors", sa.Text(), nullable=True),
        sa.Column("message_type", sa.String(40), nullable=True),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("sender", sa.String(PARTY), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", INSTANT, nullable=False),
        sa.Column("processed_at", INSTANT, nullable=True),
        sa.UniqueConstraint("intake_token"),
    )
    op.create_index("ix_exchange_received_state", "exchange_received", ["state"])
    op.create_index("ix_exchange_received_batch", "exchange_received", ["batch_row_id"])
    op.create_table(
        "exchange_message",
        sa.Column("sender", sa.String(PARTY), primary_key=True),
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("recorded_at", INSTANT, nullable=False),
        sa.UniqueConstraint("received_id", name="uq_exchange_message_received"),
    )
    op.create_table(
        "exchange_inbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("party_id", sa.String(PARTY), nullable=False),
        sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
        sa.Column("routed_at", INSTANT, nullable=False),
        sa.UniqueConstraint("party_id", "received_id", name="uq_exchange_inbox"),
    )
    op.create_table(
        "exchange_ack",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("ack_message_id", sa.String(64), nullable=False),
        sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=True),
        sa.Column("batch_row_id", ID, sa.ForeignKey("exchange_batch.id"), nullable=True),
        sa.Column("recipient", sa.String(PARTY), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.UniqueConstraint("ack_message_id"),
        sa.UniqueConstraint("received_id", name="uq_exchange_ack_received"),
        sa.UniqueConstraint("batch_row_id", name="uq_exchange_ack_batch"),
    )
    op.create_table(
        "exchange_outbox",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("published_at", INSTANT, nullable=True),
        sa.Column("publish_count", sa.Integer(), nullable=False),
        sa.Column("done_at", INSTANT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_exchange_outbox_open", "exchange_outbox", ["done_at", "id"])
    op.create_index("ix_exchange_outbox_received", "exchange_outbox", ["received_id", "kind"])
    op.create_table(
        "exchange_dead_letter",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.UniqueConstraint("received_id", name="uq_exchange_dead_letter_received"),
    )


def downgrade() -> None:
    """Drop the exchange's tables (and their data)."""
    for name in (
        "exchange_dead_letter",
        "exchange_outbox",
        "exchange_ack",
        "exchange_inbox",
        "exchange_message",
        "exchange_received",
        "exchange_batch",
        "exchange_party",
    ):
        op.drop_table(name)
