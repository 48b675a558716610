"""Migration 0002: the distribution tables come and go with it, and match the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from airex.royalties import schema
from airex.royalties._distribution_models import royalties_tables

MINE = {table.name for table in royalties_tables()}


def test_migration_0002_builds_exactly_the_distribution_tables(db: Engine) -> None:
    """Alembic finds no difference between the migrated tables and the models."""
    metadata = sa.MetaData()
    for table in royalties_tables():
        table.to_metadata(metadata)
    with db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    about_mine = [d for d in diff if any(name in repr(d) for name in MINE)]
    assert about_mine == []


def test_downgrade_to_0001_drops_them_and_upgrade_restores_them(db: Engine) -> None:
    """Down to pricing's revision: the distribution tables go, pricing's stay; up: back."""
    schema.downgrade(db, "0001")
    names = set(sa.inspect(db).get_table_names())
    assert not MINE & names
    assert "royalties_invoice" in names
    schema.upgrade(db)
    assert set(sa.inspect(db).get_table_names()) >= MINE
