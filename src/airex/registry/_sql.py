"""Plain SQL for the registry's bulk paths, in the fastest form each backend offers.

Loading a million works, or reading them back for a usage check, through SQLAlchemy's per-row
processing would cost more than the database itself. The registry's hot statements go straight
to the driver, inside the caller's SQLAlchemy transaction (same connection):

SQLite
    ``executemany`` of tuples and plain cursors; dates and instants are bound as the text
    SQLAlchemy stores (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC) and read back
    from it.
PostgreSQL
    ``COPY ... FROM STDIN`` for inserts, ``= ANY(%s)`` with one array for ``IN`` lists, and
    server-side cursors for reads of any size.

Driver errors are raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``...), so
:func:`airex.db.run_write` retries and reports them like any other.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import backend_of

__all__ = ["Sql"]

_IN_CHUNK = 900  # SQLite binds at most 32766 variables, older builds 999
_FETCH = 20_000  # rows per round trip of a PostgreSQL server-side cursor
_cursor_names = itertools.count(1)


class Sql:
    """The driver-level helpers on one SQLAlchemy connection (in a transaction)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.pg = backend_of(connection.engine) == "postgresql"

    # --- errors -------------------------------------------------------------------------

    def _wrap(self, sql: str, exc: Exception) -> sa.exc.StatementError:
        base: type[Exception] = psycopg.Error if self.pg else sqlite3.Error
        return sa.exc.DBAPIError.instance(sql, None, exc, base)

    def _run(self, sql: str, action: Callable[[Any], Any]) -> Any:
        cursor = self.connection.connection.cursor()
        try:
            return action(cursor)
        except (sqlite3.Error, psycopg.Error) as exc:
            raise self._wrap(sql, exc) from exc
        finally:
            cursor.close()

    # --- values -------------------------------------------------------------------------

    def day(self, value: date | None) -> Any:
        """A date as the driver binds it for a ``DATE`` column."""
        if value is None or self.pg:
            return value
        return value.isoformat()

    def instant(self, value: datetime) -> Any:
        """An aware instant as the driver binds it for a ``TIMESTAMP WITH TIME ZONE`` column."""
        if self.pg:
            return value.astimezone(UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def read_day(self, value: Any) -> date | None:
        """A ``DATE`` column's value as a date."""
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(value)

    def read_instant(self, value: Any) -> datetime:
        """A ``TIMESTAMP WITH TIME ZONE`` column's value as an aware UTC datetime."""
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    # --- statements ---------------------------------------------------------------------

    def q(self, sql: str) -> str:
        """``sql`` written with ``?`` placeholders, in the driver's placeholder style."""
        return sql.replace("?", "%s") if self.pg else sql

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (``None`` when there is no row)."""

        sql = self.q(sql)

        def run(cursor: Any) -> Any:
            cursor.execute(sql, tuple(params))
            row = cursor.fetchone()
            return None if row is None else row[0]

        return self._run(sql, run)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a (small) query."""
        sql = self.q(sql)

        def run(cursor: Any) -> list[tuple[Any, ...]]:
            cursor.execute(sql, tuple(params))
            return [tuple(row) for row in cursor.fetchall()]

        found: list[tuple[Any, ...]] = self._run(sql, run)
        return found

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query of any size, fetched in batches (a server-side cursor on
        PostgreSQL). Consume it inside the transaction."""
        sql = self.q(sql)
        if self.pg:
            driver = self.connection.connection.driver_connection
            assert isinstance(driver, psycopg.Connection)
            cursor: Any = driver.cursor(name=f"airex_registry_{next(_cursor_names)}")
            cursor.itersize = _FETCH
        else:
            cursor = self.connection.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            while True:
                batch = cursor.fetchmany(_FETCH)
                if not batch:
                    return
                yield from batch
        except (sqlite3.Error, psycopg.Error) as exc:
            raise self._wrap(sql, exc) from exc
        finally:
            cursor.close()

    def rows_in(
        self, sql: str, values: Iterable[Any], params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` whose ``{in}`` (a ``column IN`` condition written
        ``column {in}``) matches any of ``values``; ``params`` bind the placeholders
        *after* ``{in}``."""
        values = list(values)
        if not values:
            return []
        if self.pg:
            return self.rows(sql.replace("{in}", "= ANY(?)"), [values, *params])
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(values), _IN_CHUNK):
            chunk = values[start : start + _IN_CHUNK]
            marks = f"IN ({', '.join('?' * len(chunk))})"
            found.extend(self.rows(sql.replace("{in}", marks), [*chunk, *params]))
        return found

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (tuples in ``columns`` order, values bound as by :meth:`day` and
        :meth:`instant`)."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.pg:
            sql = f"COPY {table} ({names}) FROM STDIN"

            def copy(cursor: Any) -> None:
                with cursor.copy(sql) as stream:
                    for row in rows:
                        stream.write_row(row)

            self._run(sql, copy)
            return
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - names are ours
        self._run(sql, lambda cursor: cursor.executemany(sql, rows))

    def insert_ignoring(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert ``rows``, skipping those whose unique key exists (``ON CONFLICT DO
        NOTHING``)."""
        if not rows:
            return
        names = ", ".join(columns)
        marks = ", ".join(["?"] * len(columns))
        sql = self.q(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "  # noqa: S608 - names are ours
            "ON CONFLICT DO NOTHING"
        )
        self._run(sql, lambda cursor: cursor.executemany(sql, rows))

    def next_id(self, table: str, column: str = "id") -> int:
        """One more than the largest ``column`` of ``table`` (1 when empty). The caller holds
        the registry's write lock, so nobody else takes the same ids."""
        return int(self.scalar(f"SELECT COALESCE(MAX({column}), 0) FROM {table}")) + 1  # noqa: S608
