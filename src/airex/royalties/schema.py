"""The royalties' schema: Alembic migrations shipped in the package, driven from Python.

``airex db upgrade`` creates or upgrades the royalties' tables beside the ledger's and the
registry's, on SQLite and PostgreSQL alike. The scripts live in
``airex/royalties/migrations/versions/`` (``0001``: pricing and invoices; later revisions add
distribution and statements) and record their progress in :data:`VERSION_TABLE` (see
:class:`airex.db.MigrationHistory`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import MigrationHistory

__all__ = [
    "HISTORY",
    "VERSION_TABLE",
    "current_revision",
    "downgrade",
    "head_revision",
    "require_current",
    "royalties_metadata",
    "upgrade",
]

VERSION_TABLE = "royalties_alembic_version"
"""Where Alembic records the royalties schema's revision."""


def _tables() -> list[sa.Table]:
    # Every royalties table module is collected here (pricing's models, and whatever later
    # revisions add), so that HISTORY.metadata() is what the migrations must produce.
    import importlib

    from airex.royalties.models import royalties_tables

    tables = royalties_tables()
    for name in TABLE_MODULES:
        module = importlib.import_module(name)
        tables.extend(module.royalties_tables())
    return tables


TABLE_MODULES: tuple[str, ...] = ("airex.royalties._distribution_models",)
"""Further modules with a ``royalties_tables()`` function (added by later revisions)."""

HISTORY = MigrationHistory(
    name="royalties",
    script_location="airex.royalties:migrations",
    version_table=VERSION_TABLE,
    tables=_tables,
)
"""The royalties' migration history."""


def royalties_metadata() -> sa.MetaData:
    """A ``MetaData`` holding only the royalties' tables (what the migrations must produce)."""
    return HISTORY.metadata()


def head_revision() -> str:
    """The revision this version of airex expects (the newest migration)."""
    return HISTORY.head_revision()


def current_revision(engine: Engine) -> str | None:
    """The database's royalties revision, ``None`` when the royalties were never installed."""
    return HISTORY.current_revision(engine)


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); idempotent."""
    return HISTORY.upgrade(engine, revision)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Migrate down to ``revision`` (``"base"``: drop the royalties' tables *and their data*)."""
    return HISTORY.downgrade(engine, revision)


def require_current(engine: Engine) -> None:
    """Raise :class:`~airex.db.SchemaNotCurrentError` unless the royalties are at the head."""
    HISTORY.require_current(engine)
