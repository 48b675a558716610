"""Where airex keeps its state, and how it is opened and written: config, engine, transactions.

Configuration is a typed object passed in (:class:`DatabaseConfig`); the environment is read in
exactly one place, :meth:`DatabaseConfig.from_env`, and never at import time:

``AIREX_DATABASE_URL`` unset
    a SQLite file ``airex.db`` in the current working directory (resolved to an absolute path
    when the config is read), the embedded default that needs no server.
``AIREX_DATABASE_URL=postgresql://user@host:5432/airex``
    PostgreSQL through psycopg 3 (``postgresql://``, ``postgres://`` and
    ``postgresql+psycopg://`` are all accepted).

Writers never lose or double a posting, on either backend:

SQLite
    every connection runs in WAL mode (readers never block the writer and see a consistent
    snapshot) with ``busy_timeout``; a write transaction starts with ``BEGIN IMMEDIATE``, which
    takes the database's single write lock *before* reading anything, so two processes that
    post at once run one after the other instead of both reading a stale balance.
PostgreSQL
    ``READ COMMITTED`` with row locks taken in one fixed order by every writer (accounts by key,
    entries by idempotency key, balance rows by account id, then day rows), so writers cannot
    deadlock; balances are updated in place (``balance = balance + delta``), which re-reads the
    locked row. A deadlock or serialisation failure (which the order should make impossible) is
    retried anyway, the whole transaction from the start, up to ``max_retries`` times.

Use :func:`write_transaction` for anything that writes and :func:`read_transaction` for
consistent reads (one snapshot on SQLite; one transaction on PostgreSQL).
"""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine

from airex.db._errors import DatabaseBusyError, DatabaseConfigError

__all__ = [
    "DEFAULT_SQLITE_FILE",
    "ENV_DATABASE_URL",
    "DatabaseConfig",
    "backend_of",
    "chunked",
    "create_engine",
    "insert_for",
    "read_transaction",
    "run_write",
    "write_transaction",
]

ENV_DATABASE_URL = "AIREX_DATABASE_URL"
"""The environment variable naming the database (read only by :meth:`DatabaseConfig.from_env`)."""

DEFAULT_SQLITE_FILE = "airex.db"
"""The SQLite file used when ``AIREX_DATABASE_URL`` is unset, in the working directory."""

Backend = Literal["sqlite", "postgresql"]
T = TypeVar("T")

_WRITE_OPTION = "airex_write"
_SQLITE_CACHE_KIB = 32 * 1024  # page cache per connection (SQLite's default is 2 MiB)
_CONFIGS: weakref.WeakKeyDictionary[Engine, DatabaseConfig] = weakref.WeakKeyDictionary()
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """How to reach airex's database (ledger, registry, royalties, exchange).

    ``url`` is a SQLAlchemy URL (``sqlite:////abs/path/airex.db`` or
    ``postgresql://user@host/db``). ``busy_timeout`` is how long (seconds) a SQLite writer waits
    for another writer's lock before :class:`DatabaseBusyError`; ``max_retries`` how often a
    PostgreSQL transaction aborted by a deadlock or serialisation failure is retried.
    ``sqlite_synchronous`` is SQLite's ``PRAGMA synchronous``: ``FULL`` (default) keeps a
    committed entry through a power cut, ``NORMAL`` only through a process crash.
    """

    url: str
    busy_timeout: float = 30.0
    max_retries: int = 8
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    echo: bool = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None
    ) -> DatabaseConfig:
        """The configuration the environment asks for (``AIREX_DATABASE_URL``), or the default.

        The default is the SQLite file :data:`DEFAULT_SQLITE_FILE` in ``cwd`` (the current
        working directory when not given), as an absolute path.
        """
        env = os.environ if environ is None else environ
        url = env.get(ENV_DATABASE_URL, "").strip()
        if url:
            return cls(url=url)
        return cls.sqlite((cwd or Path.cwd()) / DEFAULT_SQLITE_FILE)

    @classmethod
    def sqlite(cls, path: str | os.PathLike[str]) -> DatabaseConfig:
        """A SQLite file at ``path`` (created on first use)."""
        return cls(url=f"sqlite:///{Path(path).resolve()}")

    @property
    def backend(self) -> Backend:
        """``"sqlite"`` or ``"postgresql"`` (raises :class:`DatabaseConfigError` otherwise)."""
        return _backend_of_url(self.sqlalchemy_url())

    def sqlalchemy_url(self) -> sa.URL:
        """The URL with the driver airex uses (``postgresql+psycopg``, ``sqlite+pysqlite``)."""
        try:
            url = sa.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise DatabaseConfigError(f"database URL {self.url!r} is malformed: {exc}") from None
        backend, _, driver = url.drivername.partition("+")
        if backend in ("postgresql", "postgres"):
            if driver not in ("", "psycopg"):
                raise DatabaseConfigError(
                    f"database URL {self.display_url()!r} asks for driver {driver!r}; airex "
                    "talks to PostgreSQL through psycopg 3 (postgresql://...)"
                )
            return url.set(drivername="postgresql+psycopg")
        if backend == "sqlite":
            if driver not in ("", "pysqlite"):
                raise DatabaseConfigError(
                    f"database URL {self.url!r} asks for SQLite driver {driver!r}; "
                    "airex uses Python's sqlite3 (sqlite:///path)"
                )
            if url.database in (None, "", ":memory:"):
                raise DatabaseConfigError(
                    "airex needs a SQLite *file* (sqlite:///path/airex.db); an in-memory "
                    "database would vanish with its connection"
                )
            return url.set(drivername="sqlite+pysqlite")
        raise DatabaseConfigError(
            f"database URL {self.display_url()!r}: backend {backend!r} is not supported "
            "(use sqlite:///path or postgresql://...)"
        )

    def display_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        try:
            return sa.make_url(self.url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            return "<malformed URL>"


def display_url(engine: Engine) -> str:
    """``engine``'s URL as a user would write it, for messages: the password masked and the
    driver airex picked left out (``postgresql://``, not ``postgresql+psycopg://``)."""
    url = engine.url
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def _backend_of_url(url: sa.URL) -> Backend:
    return "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"


def backend_of(engine: Engine) -> Backend:
    """``"sqlite"`` or ``"postgresql"``: which backend ``engine`` talks to."""
    return "sqlite" if engine.dialect.name == "sqlite" else "postgresql"


def create_engine(config: DatabaseConfig) -> Engine:
    """An engine for ``config``, set up for safe concurrent writers (see the module doc).

    The engine remembers ``config`` (for the busy timeout and the retry policy). Creating it
    does not connect; the first transaction does.
    """
    url = config.sqlalchemy_url()
    if _backend_of_url(url) == "sqlite":
        engine = sa.create_engine(
            url,
            echo=config.echo,
            connect_args={"timeout": config.busy_timeout},
        )
        _install_sqlite_hooks(engine, config)
    else:
        engine = sa.create_engine(url, echo=config.echo, pool_pre_ping=True)
    _CONFIGS[engine] = config
    return engine


def _switch_to_wal(cursor: sqlite3.Cursor, patience: float) -> None:
    """Put the database in WAL mode (once per file; later connections find it so).

    Two connections opening a new file at once can both try the switch; SQLite answers the
    loser "database is locked" at once, without waiting for the busy timeout, so the switch
    is retried here for up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    pause = 0.005
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(0.1, pause * 2)


def _install_sqlite_hooks(engine: Engine, config: DatabaseConfig) -> None:
    busy_ms = max(0, int(config.busy_timeout * 1000))
    synchronous = config.sqlite_synchronous

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Python's sqlite3 would BEGIN (deferred) on its own before DML; take that over so
        # that write transactions can BEGIN IMMEDIATE (the recipe of SQLAlchemy's docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            _switch_to_wal(cursor, config.busy_timeout)
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _config(engine: Engine) -> DatabaseConfig:
    config = _CONFIGS.get(engine)
    if config is not None:
        return config
    return DatabaseConfig(url=engine.url.render_as_string(hide_password=False))


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed on success, rolled back on error.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the write lock, waiting up to
    the busy timeout). It is *not* retried here; use :func:`run_write` for that.
    """
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE_OPTION: True})
        try:
            with connection.begin():
                yield connection
        except sa.exc.OperationalError as exc:
            if _is_locked(exc):
                raise DatabaseBusyError(
                    f"{_config(engine).display_url()}: the database stayed locked by another "
                    f"writer for the whole busy timeout ({_config(engine).busy_timeout:g} s)"
                ) from exc
            raise


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a read-only snapshot: every query in it sees the same committed state
    (a WAL read transaction on SQLite, ``REPEATABLE READ`` on PostgreSQL), so a report never
    mixes before and after a concurrent posting."""
    with engine.connect() as connection:
        if backend_of(engine) == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


def insert_for(connection: Connection, target: sa.Table) -> Any:
    """An ``INSERT`` into ``target`` with the backend's ``ON CONFLICT`` clauses
    (``on_conflict_do_nothing``, ``on_conflict_do_update``, ``excluded``)."""
    if backend_of(connection.engine) == "postgresql":
        return pg_dialect.insert(target)
    return sqlite_dialect.insert(target)


def chunked(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size`` (to keep ``IN (...)`` lists short)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work(connection)`` in a write transaction, retrying it whole when PostgreSQL
    aborts it for a deadlock or serialisation failure (with a growing pause)."""
    config = _config(engine)
    attempt = 0
    while True:
        try:
            with write_transaction(engine) as connection:
                return work(connection)
        except sa.exc.DBAPIError as exc:
            if not _is_retryable(exc):
                raise
            attempt += 1
            if attempt > config.max_retries:
                raise DatabaseBusyError(
                    f"{config.display_url()}: the transaction was aborted "
                    f"{attempt} times by concurrent writers ({exc.orig}); giving up"
                ) from exc
            time.sleep(min(0.5, 0.005 * 2**attempt))


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    state: Any = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _is_retryable(exc: sa.exc.DBAPIError) -> bool:
    return _sqlstate(exc) in _RETRYABLE_SQLSTATES


def _is_locked(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    return isinstance(orig, sqlite3.OperationalError) and (
        getattr(orig, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
        or "locked" in str(orig)
    )
