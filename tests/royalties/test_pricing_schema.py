"""The royalties' migrations: they build exactly the models' tables, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from _pricing_support import engine, pricing_pg_url
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from airex.db import SCHEMA_MODULES
from airex.royalties import schema

__all__ = ["engine", "pricing_pg_url"]  # fixtures, imported for pytest


def test_migrations_build_exactly_the_models_tables(engine: Engine) -> None:
    """Alembic finds no difference between the migrated database and the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, schema.royalties_metadata())
    # Other parts' tables and the version table are not the royalties' models: left out.
    unexpected = [d for d in diff if _royalties(d)]
    assert unexpected == []
    assert schema.current_revision(engine) == schema.head_revision()


def _royalties(diff: tuple[object, ...] | list[tuple[object, ...]]) -> bool:
    """Whether a difference concerns a royalties model table (not the version table)."""
    if isinstance(diff, list):  # column changes come as lists of (kind, schema, table, ...)
        return any(_royalties(part) for part in diff)
    if len(diff) > 3 and isinstance(diff[2], str):
        return diff[2].startswith("royalties_") and diff[2] != schema.VERSION_TABLE
    target = diff[1] if len(diff) > 1 else None
    owner = getattr(target, "table", target)
    name = str(getattr(owner, "name", ""))
    return name.startswith("royalties_") and name != schema.VERSION_TABLE


def test_downgrade_drops_the_pricing_tables_and_upgrade_restores_them(engine: Engine) -> None:
    """Down to base and up again: the pricing tables go and come back, the ledger stays."""
    schema.downgrade(engine, "base")
    names = set(sa.inspect(engine).get_table_names())
    assert not {n for n in names if n.startswith("royalties_") and n != schema.VERSION_TABLE}
    assert "ledger_entry" in names
    schema.upgrade(engine)
    assert "royalties_report_usage" in set(sa.inspect(engine).get_table_names())


def test_db_upgrade_runs_the_royalties_history_after_the_ledger_and_registry() -> None:
    """`airex db upgrade` knows the royalties' history, after the parts it depends on."""
    order = list(SCHEMA_MODULES)
    assert order.index("airex.royalties.schema") > order.index("airex.ledger.schema")
    assert order.index("airex.royalties.schema") > order.index("airex.registry.schema")
