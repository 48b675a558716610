"""The registry's schema: Alembic migrations shipped in the package, driven from Python.

``airex db upgrade`` creates or upgrades the registry's tables beside the ledger's, on SQLite
and PostgreSQL alike; the scripts live in ``airex/registry/migrations/versions/`` and record
their progress in :data:`VERSION_TABLE` (see :class:`airex.db.MigrationHistory`).
:class:`~airex.registry.Registry` checks that the database is at the code's revision first
(:func:`require_current`) and says to run ``airex db upgrade`` when it is not.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import MigrationHistory
from airex.registry.models import registry_tables

__all__ = [
    "APPEND_ONLY_TABLES",
    "HISTORY",
    "VERSION_TABLE",
    "current_revision",
    "downgrade",
    "head_revision",
    "registry_metadata",
    "require_current",
    "upgrade",
]

VERSION_TABLE = "registry_alembic_version"
"""Where Alembic records the registry schema's revision."""

HISTORY = MigrationHistory(
    name="registry",
    script_location="airex.registry:migrations",
    version_table=VERSION_TABLE,
    tables=registry_tables,
)
"""The registry's migration history."""

APPEND_ONLY_TABLES = (
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
"""Every registry table: rows are inserted, never updated or deleted (database triggers)."""


def registry_metadata() -> sa.MetaData:
    """A ``MetaData`` holding only the registry's tables (what the migrations must produce)."""
    return HISTORY.metadata()


def head_revision() -> str:
    """The revision this version of airex expects (the newest migration)."""
    return HISTORY.head_revision()


def current_revision(engine: Engine) -> str | None:
    """The database's registry revision, ``None`` when the registry was never installed."""
    return HISTORY.current_revision(engine)


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); idempotent."""
    return HISTORY.upgrade(engine, revision)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Migrate down to ``revision`` (``"base"``: drop the registry's tables *and their data*)."""
    return HISTORY.downgrade(engine, revision)


def require_current(engine: Engine) -> None:
    """Raise :class:`~airex.db.SchemaNotCurrentError` unless the registry is at the head."""
    HISTORY.require_current(engine)
