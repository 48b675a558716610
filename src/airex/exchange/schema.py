"""The exchange's schema: its own Alembic migration history, driven from Python.

``airex db upgrade`` creates or upgrades the exchange's tables (after the ledger's, the
registry's and the royalties'); the scripts live in ``airex/exchange/migrations/versions/``
and record their progress in :data:`VERSION_TABLE`. :class:`~airex.exchange.Exchange` checks
that the database is at the code's revision before it does anything.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from airex.db import MigrationHistory
from airex.exchange.models import exchange_tables

__all__ = ["HISTORY", "VERSION_TABLE", "require_current", "upgrade"]

VERSION_TABLE = "exchange_alembic_version"
"""Where Alembic records the exchange schema's revision."""

HISTORY = MigrationHistory(
    name="exchange",
    script_location="airex.exchange:migrations",
    version_table=VERSION_TABLE,
    tables=exchange_tables,
)
"""The exchange's migration history."""


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the exchange's tables to ``revision`` (default: the newest). Idempotent."""
    return HISTORY.upgrade(engine, revision)


def require_current(engine: Engine) -> None:
    """Raise :class:`~airex.db.SchemaNotCurrentError` unless the exchange schema is current."""
    HISTORY.require_current(engine)
