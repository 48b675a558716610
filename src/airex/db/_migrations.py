"""One Alembic migration history per part of airex, all in one database, driven from Python.

Each stateful part (ledger, registry, royalties, exchange) ships its own migration scripts in
its package and records its progress in a version table of its own, so that the parts evolve
independently and ``airex db upgrade`` brings them all to the code's revision. There is no
``alembic.ini``: a :class:`MigrationHistory` knows where its scripts are.

Every upgrade runs in one transaction (DDL is transactional on SQLite and PostgreSQL) and holds
the database's write lock (SQLite ``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock, so two
processes that upgrade at once do it one after the other.

A part's ``env.py`` is three lines::

    from airex.registry.schema import HISTORY
    HISTORY.run_env()
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from airex.db._engine import backend_of, display_url, write_transaction
from airex.db._errors import SchemaNotCurrentError

__all__ = ["MigrationHistory"]


@dataclass(frozen=True)
class MigrationHistory:
    """The migration history of one part: where its scripts are, where its revision is kept.

    ``name`` is the part's name in messages (``"ledger"``); ``script_location`` an Alembic
    package location (``"airex.ledger:migrations"``); ``version_table`` the table holding the
    revision; ``tables`` returns the part's tables (what its migrations must produce);
    ``lock_key`` a 64-bit PostgreSQL advisory lock id shared by every history (one upgrade at a
    time, whatever the part).
    """

    name: str
    script_location: str
    version_table: str
    tables: Callable[[], list[sa.Table]] = field(repr=False)
    lock_key: int = 0x41495245584C4544  # "AIREXLED"

    def metadata(self) -> sa.MetaData:
        """A ``MetaData`` holding only this part's tables."""
        return _metadata(self)

    def _config(self, connection: Connection | None = None) -> Config:
        config = Config()
        config.set_main_option("script_location", self.script_location)
        config.attributes["connection"] = connection
        return config

    def head_revision(self) -> str:
        """The revision this version of airex expects (the newest migration)."""
        return _head(self)

    def current_revision(self, engine: Engine) -> str | None:
        """The database's revision of this part, ``None`` when it was never installed."""
        with engine.connect() as connection:
            return self._current(connection)

    def _current(self, connection: Connection) -> str | None:
        migration = MigrationContext.configure(
            connection, opts={"version_table": self.version_table}
        )
        return migration.get_current_revision()

    def upgrade(self, engine: Engine, revision: str = "head") -> str | None:
        """Migrate to ``revision`` (default: the newest); return the new revision. Idempotent."""
        with write_transaction(engine) as connection:
            self._lock(connection)
            command.upgrade(self._config(connection), revision)
            return self._current(connection)

    def downgrade(self, engine: Engine, revision: str) -> str | None:
        """Migrate down to ``revision`` (``"base"`` drops the part's tables *and their data*)."""
        with write_transaction(engine) as connection:
            self._lock(connection)
            command.downgrade(self._config(connection), revision)
            return self._current(connection)

    def _lock(self, connection: Connection) -> None:
        if backend_of(connection.engine) == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.lock_key}
            )

    def require_current(self, engine: Engine) -> None:
        """Raise :class:`SchemaNotCurrentError` unless the database is at the head revision."""
        where = display_url(engine)
        try:
            current = self.current_revision(engine)
        except sa.exc.OperationalError as exc:
            reason = " ".join(str(exc.orig).split())
            raise SchemaNotCurrentError(f"{where}: cannot use the database: {reason}") from exc
        head = self.head_revision()
        if current == head:
            return
        if current is None:
            raise SchemaNotCurrentError(
                f"{where} has no {self.name} tables yet; run `airex db upgrade` to create them"
            )
        raise SchemaNotCurrentError(
            f"{where} is at {self.name} schema revision {current}, this airex needs {head}; "
            "run `airex db upgrade`"
        )

    def revision(self, message: str) -> Path:
        """Write a new, empty migration script (for airex developers); return its path."""
        script = command.revision(self._config(), message=message)
        assert isinstance(script, Script), script
        return Path(script.path)

    def run_env(self) -> None:
        """The body of the part's Alembic ``env.py``: run the migrations on the open connection."""
        connection = context.config.attributes.get("connection")
        if not isinstance(connection, Connection):
            raise RuntimeError(
                f"the airex {self.name} migrations run from Python (`airex db upgrade`), which "
                "passes an open connection; the alembic command line is not supported"
            )
        context.configure(
            connection=connection,
            target_metadata=self.metadata(),
            version_table=self.version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


@functools.cache
def _metadata(history: MigrationHistory) -> sa.MetaData:
    metadata = sa.MetaData()
    for table in history.tables():
        table.to_metadata(metadata)
    return metadata


@functools.cache
def _head(history: MigrationHistory) -> str:
    head = ScriptDirectory.from_config(history._config()).get_current_head()
    assert head is not None, f"the {history.name} ships at least one migration"
    return head
