"""The ledger's schema: Alembic migrations shipped in the package, driven from Python.

``airex db upgrade`` (or :func:`upgrade`) creates or upgrades the ledger's tables on SQLite and
PostgreSQL alike. The migration scripts live in ``airex/ledger/migrations/versions/`` and
record their progress in the table :data:`VERSION_TABLE`, a table of its own: the registry,
the royalties and the exchange keep their own histories in the same database (see
:class:`airex.db.MigrationHistory`, which does the work).

Every ledger operation first checks that the database is at the code's revision
(:func:`require_current`) and says to run ``airex db upgrade`` when it is not.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import MigrationHistory
from airex.ledger.models import ledger_tables

__all__ = [
    "HISTORY",
    "VERSION_TABLE",
    "current_revision",
    "downgrade",
    "head_revision",
    "ledger_metadata",
    "require_current",
    "revision",
    "upgrade",
]

VERSION_TABLE = "ledger_alembic_version"
"""Where Alembic records the ledger schema's revision."""

HISTORY = MigrationHistory(
    name="ledger",
    script_location="airex.ledger:migrations",
    version_table=VERSION_TABLE,
    tables=ledger_tables,
)
"""The ledger's migration history."""


def ledger_metadata() -> sa.MetaData:
    """A ``MetaData`` holding only the ledger's tables (what the migrations must produce)."""
    return HISTORY.metadata()


def head_revision() -> str:
    """The revision this version of airex expects (the newest migration)."""
    return HISTORY.head_revision()


def current_revision(engine: Engine) -> str | None:
    """The database's ledger revision, ``None`` when the ledger was never installed."""
    return HISTORY.current_revision(engine)


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); return the new revision.

    Idempotent: upgrading a database that is already there does nothing.
    """
    return HISTORY.upgrade(engine, revision)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Migrate the database down to ``revision`` (``"base"``: drop the ledger, *and its data*)."""
    return HISTORY.downgrade(engine, revision)


def require_current(engine: Engine) -> None:
    """Raise :class:`~airex.db.SchemaNotCurrentError` unless the ledger is at the head revision."""
    HISTORY.require_current(engine)


def revision(message: str) -> Path:
    """Write a new, empty migration script (for airex developers); return its path."""
    return HISTORY.revision(message)
