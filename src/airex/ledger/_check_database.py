"""The database's own guarantees, for :func:`airex.ledger.check_ledger`: the immutability
triggers are the migration's, every reference points at a row, every stored amount is an integer.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import backend_of
from airex.ledger import _triggers
from airex.ledger._check_report import CheckReport
from airex.ledger.models import (
    Account,
    Balance,
    BalanceDay,
    Entry,
    GrantEvent,
    GrantUseType,
    GrantWork,
    Posting,
    table,
)

__all__ = ["check_integers", "check_references", "check_triggers"]

_ACCOUNT = table(Account)
_ENTRY = table(Entry)
_POSTING = table(Posting)
_BALANCE = table(Balance)
_DAY = table(BalanceDay)
_GRANT = table(GrantEvent)
_USE = table(GrantUseType)
_WORK = table(GrantWork)


def check_triggers(connection: Connection, report: CheckReport) -> None:
    expected: dict[str, tuple[str, str]]
    found: dict[str, str] = {}
    if backend_of(connection.engine) == "postgresql":
        schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
        for name, definition, enabled in connection.execute(
            sa.text(
                "SELECT t.tgname, pg_get_triggerdef(t.oid), t.tgenabled FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relnamespace = to_regnamespace(current_schema())"
            )
        ):
            text = str(definition).replace(f" ON {schema}.", " ON ")
            text = text.replace(f"EXECUTE FUNCTION {schema}.", "EXECUTE FUNCTION ")
            found[name] = text if enabled in ("O", "A") else "(disabled)"
        expected = _triggers.pg_triggers()
        bodies: dict[str, str] = dict(
            connection.execute(
                sa.text(
                    "SELECT p.proname, p.prosrc FROM pg_proc p "
                    "WHERE p.pronamespace = to_regnamespace(current_schema())"
                )
            ).all()
        )
        for function, body in _triggers.PG_FUNCTIONS.items():
            if bodies.get(function) != body:
                state = "missing" if function not in bodies else "not the migration's"
                report.add(
                    "immutability-enforced",
                    f"function {function}()",
                    f"is {state}: the triggers calling it may not refuse anything",
                )
    else:
        found = dict(
            connection.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
        )
        expected = _triggers.sqlite_triggers()
    for name, (table_name, definition) in expected.items():
        got = found.get(name)
        if got == definition:
            continue
        if got is None:
            state = "missing"
        elif got == "(disabled)":
            state = "disabled"
        else:
            state = f"not the migration's (the database has: {got})"
        report.add(
            "immutability-enforced",
            f"table {table_name}",
            f"trigger {name} is {state}: the database would accept changes of posted rows",
        )


def check_references(connection: Connection, report: CheckReport) -> None:
    """Rows that point at nothing: outer joins, and SQLite's own foreign-key check."""
    checks: list[tuple[sa.Table, sa.Column[Any], str, sa.Table, str]] = [
        (_POSTING, _POSTING.c.entry_id, "posting {id} of entry {ref}", _ENTRY, "entry"),
        (_POSTING, _POSTING.c.account_id, "posting {id} of entry {entry}", _ACCOUNT, "account"),
        (_BALANCE, _BALANCE.c.account_id, "balance row of account {ref}", _ACCOUNT, "account"),
        (_DAY, _DAY.c.account_id, "day row of account {ref} on {day}", _ACCOUNT, "account"),
        (_ENTRY, _ENTRY.c.reverses_entry_id, "entry {id}", _ENTRY, "reversed entry"),
        (_USE, _USE.c.grant_id, "use type row of grant {ref}", _GRANT, "grant"),
        (_WORK, _WORK.c.grant_id, "work row of grant {ref}", _GRANT, "grant"),
    ]
    for child, column, where, parent, what in checks:
        target = parent.alias("parent")
        key = child.c.id if "id" in child.c else column
        for row in connection.execute(
            sa.select(child, column.label("ref"))
            .outerjoin(target, target.c.id == column)
            .where(column.is_not(None), target.c.id.is_(None))
            .order_by(key)
        ).mappings():
            fields = {
                "id": row.get("id"),
                "ref": row["ref"],
                "entry": row.get("entry_id"),
                "day": row.get("day"),
            }
            report.add(
                "references-exist",
                where.format(**fields),
                f"refers to {what} {row['ref']}, which does not exist",
            )
    if backend_of(connection.engine) == "sqlite":
        covered = {(str(c.name), str(p.name)) for c, _, _, p, _ in checks}
        for table_name, rowid, parent, _ in connection.exec_driver_sql("PRAGMA foreign_key_check"):
            if (table_name, parent) not in covered:
                report.add(
                    "references-exist",
                    f"row {rowid} of {table_name}",
                    f"refers to a row of {parent} that does not exist (foreign_key_check)",
                )


def check_integers(connection: Connection, report: CheckReport) -> None:
    """SQLite keeps a REAL or TEXT given to an integer column: find any (PostgreSQL's BIGINT
    cannot hold one)."""
    if backend_of(connection.engine) != "sqlite":
        return
    checks = [
        ("ledger_posting", "id", "entry_id", ("amount_minor",), "posting {0} of entry {1}"),
        (
            "ledger_balance",
            "account_id",
            "account_id",
            ("balance_minor", "posting_count"),
            "balance of account {0}",
        ),
        (
            "ledger_balance_day",
            "account_id",
            "day",
            ("delta_minor", "posting_count"),
            "day row of account {0} on {1}",
        ),
    ]
    for table_name, key, other, columns, where in checks:
        for column in columns:
            for first, second, value, kind in connection.exec_driver_sql(
                f"SELECT {key}, {other}, {column}, typeof({column}) FROM {table_name} "  # noqa: S608
                f"WHERE typeof({column}) <> 'integer' ORDER BY {key}"
            ):
                report.add(
                    "amounts-are-integers",
                    where.format(first, second),
                    f"{column} is {value!r} ({kind}), not an integer",
                )
