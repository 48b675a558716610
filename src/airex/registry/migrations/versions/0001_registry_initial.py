"""The registry: sources, works, versions, identifiers, shares, preferences, conflicts.

Revision ID: 0001
Revises:
Create Date: 2026-05-02

Every table is append-only, and the database itself refuses to change a row: ``BEFORE UPDATE``
and ``BEFORE DELETE`` triggers on every registry table raise an error (on PostgreSQL also a
``BEFORE TRUNCATE`` statement trigger), whatever client issues the statement.
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

TABLES = (
    "registry_source",
    "registry_source_complete",
    "registry_work",
    "registry_preference_set",
    "registry_preference",
    "registry_version",
    "registry_identifier",
    "registry_share",
    "registry_conflict",
)
PG_FUNCTION = "registry_refuse_change"
REFUSAL = "registry rows are append-only (declare a new version instead)"


def _id(name: str = "id") -> sa.Column[int]:
    return sa.Column(name, ID, primary_key=True, autoincrement=False)


def upgrade() -> None:
    """Create the registry's tables, indexes and append-only triggers."""
    op.create_table(
        "registry_source",
        _id(),
        sa.Column("source_key", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(64), nullable=True),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("recipient", sa.String(64), nullable=True),
        sa.Column("declared_by", sa.String(64), nullable=False),
        sa.Column("declared_at", INSTANT, nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("raw_message", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_at", INSTANT, nullable=False),
        sa.UniqueConstraint("source_key", name="uq_registry_source_key"),
    )
    op.create_table(
        "registry_source_complete",
        sa.Column(
            "source_id",
            ID,
            sa.ForeignKey("registry_source.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("works", sa.BigInteger(), nullable=False),
        sa.Column("new_works", sa.BigInteger(), nullable=False),
        sa.Column("new_versions", sa.BigInteger(), nullable=False),
        sa.Column("unchanged", sa.BigInteger(), nullable=False),
        sa.Column("conflicts", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", INSTANT, nullable=False),
    )
    op.create_table(
        "registry_work",
        _id(),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("source_id", ID, sa.ForeignKey("registry_source.id"), nullable=False),
    )
    op.create_table(
        "registry_preference_set",
        _id(),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.UniqueConstraint("content_hash", name="uq_registry_preference_set"),
    )
    op.create_table(
        "registry_preference",
        sa.Column(
            "set_id",
            ID,
            sa.ForeignKey("registry_preference_set.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("use_type", sa.String(64), nullable=False),
        sa.Column("preference", sa.String(8), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=True),
        sa.Column("territory", sa.Text(), nullable=False),
        sa.Column("excluded", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "preference IN ('OptIn', 'OptOut')", name="ck_registry_preference_value"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "registry_version",
        _id(),
        sa.Column("work_id", ID, sa.ForeignKey("registry_work.id"), nullable=False),
        sa.Column("source_id", ID, sa.ForeignKey("registry_source.id"), nullable=False),
        sa.Column("ordinal", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("declared_at", INSTANT, nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("work_type", sa.String(32), nullable=False),
        sa.Column("contains_ai", sa.String(16), nullable=True),
        sa.Column("contributors", sa.Text(), nullable=True),
        sa.Column(
            "preference_set_id", ID, sa.ForeignKey("registry_preference_set.id"), nullable=True
        ),
        sa.Column("content_hash", sa.String(32), nullable=False),
    )
    op.create_index("ix_registry_version_work", "registry_version", ["work_id", "effective_from"])
    op.create_table(
        "registry_identifier",
        _id(),
        sa.Column("version_id", ID, sa.ForeignKey("registry_version.id"), nullable=False),
        sa.Column("work_id", ID, sa.ForeignKey("registry_work.id"), nullable=False),
        sa.Column("id_key", sa.String(600), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("namespace", sa.String(64), nullable=True),
    )
    op.create_index("ix_registry_identifier_key", "registry_identifier", ["id_key"])
    op.create_index("ix_registry_identifier_version", "registry_identifier", ["version_id"])
    op.create_table(
        "registry_share",
        sa.Column(
            "version_id",
            ID,
            sa.ForeignKey("registry_version.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("position", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("party", sa.String(64), nullable=False),
        sa.Column("hundredths", sa.Integer(), nullable=False),
        sa.Column("territory", sa.Text(), nullable=False),
        sa.Column("excluded", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "hundredths > 0 AND hundredths <= 10000", name="ck_registry_share_range"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "registry_conflict",
        _id(),
        sa.Column("source_id", ID, sa.ForeignKey("registry_source.id"), nullable=False),
        sa.Column("ordinal", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(64), nullable=True),
        sa.Column("work_id", ID, sa.ForeignKey("registry_work.id"), nullable=False),
        sa.Column("id_key", sa.String(600), nullable=False),
        sa.Column("held_by_work_id", ID, sa.ForeignKey("registry_work.id"), nullable=False),
        sa.Column("held_by_party", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.UniqueConstraint("source_id", "ordinal", "id_key", name="uq_registry_conflict"),
        sa.CheckConstraint(
            "kind IN ('OtherParty', 'SeveralWorks')", name="ck_registry_conflict_kind"
        ),
    )
    op.create_index("ix_registry_conflict_work", "registry_conflict", ["work_id"])
    _create_guards()


def _create_guards() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in TABLES:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {name}_no_{operation.lower()} BEFORE {operation} ON {name} "
                    f"BEGIN SELECT RAISE(ABORT, 'airex registry: {operation} on {name} "
                    f"refused: {REFUSAL}'); END"
                )
        return
    op.execute(
        f"CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        f"    RAISE EXCEPTION 'airex registry: % on % refused: {REFUSAL}', TG_OP, TG_TABLE_NAME "
        "USING ERRCODE = 'restrict_violation';\n"
        "END\n$$"
    )
    for name in TABLES:
        op.execute(
            f"CREATE TRIGGER {name}_no_change BEFORE UPDATE OR DELETE ON {name} "
            f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
        )
        op.execute(
            f"CREATE TRIGGER {name}_no_truncate BEFORE TRUNCATE ON {name} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
        )


def downgrade() -> None:
    """Drop the registry's tables (and their data) and guards."""
    for name in reversed(TABLES):
        op.drop_table(name)
    if op.get_bind().dialect.name != "sqlite":
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
