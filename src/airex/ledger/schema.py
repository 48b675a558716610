"""The ledger's schema: Alembic migrations shipped in the package, driven from Python.

``airex db upgrade`` (or :func:`upgrade`) creates or upgrades the ledger's tables on SQLite and
PostgreSQL alike; there is no ``alembic.ini``. The migration scripts live in
``airex/ledger/migrations/versions/`` and record their progress in the table
:data:`VERSION_TABLE` (a table of its own, so that other parts of airex can keep their own
migration histories in the same database).

The whole upgrade runs in one transaction (DDL is transactional on both backends) and holds the
database's write lock (SQLite ``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock, so two
processes that upgrade at once do it one after the other. Every ledger operation first checks
that the database is at the code's revision (:func:`require_current`) and says to run
``airex db upgrade`` when it is not.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from airex.ledger.db import backend_of, write_transaction
from airex.ledger.errors import SchemaNotCurrentError
from airex.ledger.models import ledger_tables

__all__ = [
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

_SCRIPT_LOCATION = "airex.ledger:migrations"
_ADVISORY_LOCK = 0x41495245584C4544  # "AIREXLED": serialises concurrent upgrades on PostgreSQL


@functools.cache
def ledger_metadata() -> sa.MetaData:
    """A ``MetaData`` holding only the ledger's tables (what the migrations must produce)."""
    metadata = sa.MetaData()
    for table in ledger_tables():
        table.to_metadata(metadata)
    return metadata


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


@functools.cache
def head_revision() -> str:
    """The revision this version of airex expects (the newest migration)."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the ledger ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's ledger revision, ``None`` when the ledger was never installed."""
    with engine.connect() as connection:
        return _current(connection)


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to ``revision`` (default: the newest); return the new revision.

    Idempotent: upgrading a database that is already there does nothing.
    """
    with write_transaction(engine) as connection:
        _lock(connection)
        command.upgrade(_config(connection), revision)
        return _current(connection)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Migrate the database down to ``revision`` (``"base"``: drop the ledger, *and its data*)."""
    with write_transaction(engine) as connection:
        _lock(connection)
        command.downgrade(_config(connection), revision)
        return _current(connection)


def _lock(connection: Connection) -> None:
    if backend_of(connection.engine) == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaNotCurrentError` unless the database is at :func:`head_revision`."""
    try:
        current = current_revision(engine)
    except sa.exc.OperationalError as exc:
        reason = " ".join(str(exc.orig).split())
        raise SchemaNotCurrentError(f"{_where(engine)}: cannot use the database: {reason}") from exc
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaNotCurrentError(
            f"{_where(engine)} has no ledger tables yet; run `airex db upgrade` to create them"
        )
    raise SchemaNotCurrentError(
        f"{_where(engine)} is at ledger schema revision {current}, this airex needs {head}; "
        "run `airex db upgrade`"
    )


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def revision(message: str) -> Path:
    """Write a new, empty migration script (for airex developers); return its path."""
    script = command.revision(_config(), message=message)
    assert isinstance(script, Script), script
    return Path(script.path)
