"""The CMO's answers: each message the CMO's actions sent, stored once and routed in the
transaction that processed the message it answers (no second received message).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

Written by hand (see 0001).
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
PARTY = 64


def upgrade() -> None:
    """Create ``exchange_sent``."""
    op.create_table(
        "exchange_sent",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(PARTY), nullable=True),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("message_type", sa.String(40), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("errors", sa.Text(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.UniqueConstraint("received_id", "position", name="uq_exchange_sent_position"),
        sa.UniqueConstraint("sender", "message_id", name="uq_exchange_sent_message"),
    )


def downgrade() -> None:
    """Drop ``exchange_sent``."""
    op.drop_table("exchange_sent")
