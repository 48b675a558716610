"""The journal's bulk writes, in the fastest form each backend offers.

Batched posting writes thousands of rows per transaction; going through SQLAlchemy's
per-row parameter processing would cost more than the database itself. So the four hot
statements are written here as plain SQL handed straight to the driver:

SQLite
    ``executemany`` of tuples (dates and instants formatted as SQLAlchemy stores them). Entry
    ids are assigned here, from ``MAX(id)``: the transaction holds SQLite's write lock
    (``BEGIN IMMEDIATE``), so no other writer can take the same ids, and keys already posted
    are looked up first and left out. (Not "insert, and roll back to a savepoint on a
    clash": with the guard triggers of :mod:`airex.ledger._triggers`, every statement inside
    a savepoint keeps a statement journal, which made batched posting half as fast.)
PostgreSQL
    one ``INSERT ... SELECT FROM unnest(arrays)`` per table and batch: a single statement and
    round trip however many rows. Rows are processed in array order, which the caller sorts,
    so row locks are taken in the documented order. Entries use ``ON CONFLICT DO NOTHING``
    (which waits for a concurrent writer of the same key to finish, then skips it).

Every function runs inside the caller's write transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import backend_of, chunked

__all__ = ["EntryRow", "add_movements", "existing_entries", "insert_entries", "insert_postings"]

EntryRow = tuple[str, date, str, int | None, str]
"""(idempotency key, effective date, description, reversed entry id, content hash)."""


def _is_pg(connection: Connection) -> bool:
    return backend_of(connection.engine) == "postgresql"


def _executemany(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """``executemany`` on the driver's cursor (SQLite), without SQLAlchemy's per-row checks;
    driver errors are raised as SQLAlchemy's (``IntegrityError``...), like everywhere else."""
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(sql, rows)
    except sqlite3.DatabaseError as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, sqlite3.DatabaseError) from exc
    finally:
        cursor.close()


def _sqlite_instant(value: datetime) -> str:
    """An aware instant the way SQLAlchemy stores a DateTime in SQLite (naive UTC text)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def existing_entries(connection: Connection, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """``key -> (entry id, content hash)`` for the keys already posted."""
    found: dict[str, tuple[int, str]] = {}
    mark = "%s" if _is_pg(connection) else "?"
    for chunk in chunked(keys):
        marks = ", ".join([mark] * len(chunk))  # placeholders only: values are bound
        result = connection.exec_driver_sql(
            "SELECT idempotency_key, id, content_hash FROM ledger_entry "  # noqa: S608
            f"WHERE idempotency_key IN ({marks})",
            tuple(chunk),
        )
        for key, entry_id, content in result:
            found[key] = (int(entry_id), content)
    return found


def insert_entries(
    connection: Connection, rows: Sequence[EntryRow], now: datetime
) -> dict[str, int]:
    """Insert the entries whose key is new; return ``key -> id`` of those inserted.

    ``rows`` must be sorted by key and free of duplicates.
    """
    if not rows:
        return {}
    if _is_pg(connection):
        result = connection.exec_driver_sql(
            "INSERT INTO ledger_entry (idempotency_key, effective_on, description, "
            "reverses_entry_id, content_hash, posted_at) "
            "SELECT k, d, t, r, h, %s FROM unnest(%s::text[], %s::date[], %s::text[], "
            "%s::bigint[], %s::text[]) AS u(k, d, t, r, h) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key, id",
            (now, *map(list, zip(*rows, strict=True))),
        )
        return {key: int(entry_id) for key, entry_id in result}
    # The write lock is held (BEGIN IMMEDIATE): the keys found now stay the only ones.
    known = existing_entries(connection, [row[0] for row in rows])
    return _insert_sqlite(connection, [row for row in rows if row[0] not in known], now)


def _insert_sqlite(
    connection: Connection, rows: Sequence[EntryRow], now: datetime
) -> dict[str, int]:
    if not rows:
        return {}
    max_id = connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM ledger_entry")
    first = int(max_id.scalar_one()) + 1
    stamp = _sqlite_instant(now)
    _executemany(
        connection,
        "INSERT INTO ledger_entry (id, idempotency_key, effective_on, description, "
        "reverses_entry_id, content_hash, posted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (first + n, key, day.isoformat(), text, reverses, content, stamp)
            for n, (key, day, text, reverses, content) in enumerate(rows)
        ],
    )
    return {row[0]: first + n for n, row in enumerate(rows)}


def insert_postings(connection: Connection, rows: Sequence[tuple[int, int, str, int]]) -> None:
    """Insert postings ``(entry id, account id, currency, amount in minor units)``."""
    if not rows:
        return
    if _is_pg(connection):
        connection.exec_driver_sql(
            "INSERT INTO ledger_posting (entry_id, account_id, currency, amount_minor) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::bigint[])",
            tuple(map(list, zip(*rows, strict=True))),
        )
        return
    _executemany(
        connection,
        "INSERT INTO ledger_posting (entry_id, account_id, currency, amount_minor) "
        "VALUES (?, ?, ?, ?)",
        rows,
    )


def add_movements(
    connection: Connection,
    balances: Sequence[tuple[int, int, int]],
    days: Sequence[tuple[int, date, int, int]],
) -> None:
    """Add ``(account id, delta, postings)`` to the current balances and
    ``(account id, day, delta, postings)`` to the per-day movements (rows sorted by key)."""
    if _is_pg(connection):
        params: Any
        if balances:
            params = tuple(map(list, zip(*balances, strict=True)))
            connection.exec_driver_sql(
                "INSERT INTO ledger_balance AS b (account_id, balance_minor, posting_count) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) "
                "ON CONFLICT (account_id) DO UPDATE SET "
                "balance_minor = b.balance_minor + EXCLUDED.balance_minor, "
                "posting_count = b.posting_count + EXCLUDED.posting_count",
                params,
            )
        if days:
            params = tuple(map(list, zip(*days, strict=True)))
            connection.exec_driver_sql(
                "INSERT INTO ledger_balance_day AS b (account_id, day, delta_minor, posting_count) "
                "SELECT * FROM unnest(%s::bigint[], %s::date[], %s::bigint[], %s::bigint[]) "
                "ON CONFLICT (account_id, day) DO UPDATE SET "
                "delta_minor = b.delta_minor + EXCLUDED.delta_minor, "
                "posting_count = b.posting_count + EXCLUDED.posting_count",
                params,
            )
        return
    if balances:
        _executemany(
            connection,
            "INSERT INTO ledger_balance (account_id, balance_minor, posting_count) "
            "VALUES (?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
            "balance_minor = balance_minor + excluded.balance_minor, "
            "posting_count = posting_count + excluded.posting_count",
            balances,
        )
    if days:
        _executemany(
            connection,
            "INSERT INTO ledger_balance_day (account_id, day, delta_minor, posting_count) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (account_id, day) DO UPDATE SET "
            "delta_minor = delta_minor + excluded.delta_minor, "
            "posting_count = posting_count + excluded.posting_count",
            [(account, day.isoformat(), delta, n) for account, day, delta, n in days],
        )
