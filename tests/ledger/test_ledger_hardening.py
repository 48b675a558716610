"""What the database refuses by itself, and what the checker reports on a corrupted database.

Each test reproduces a way to damage the ledger behind its back (a fractional amount on
SQLite, orphan postings, an amount out of range, ``INSERT OR REPLACE``, postings added to an
old entry, a look-alike trigger) and pins what stops or reports it.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import TYPE_CHECKING

import psycopg
import pytest
import sqlalchemy as sa
from test_ledger_check import CASH, FEE, RECEIVABLE, populate, tamper
from test_ledger_cli import run

from airex.ledger import (
    INVARIANTS,
    MAX_MINOR_UNITS,
    AccountKey,
    AccountKind,
    InvalidAmountError,
    Money,
    NewEntry,
    PostingLine,
    ReversalError,
    check_ledger,
    credit,
    debit,
)

if TYPE_CHECKING:
    from conftest import Backend

YEN = AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "JPY")
YEN_POOL = AccountKey("PADPIDA2026CMO01", AccountKind.DISTRIBUTABLE_POOL, "JPY", "LIC-1")


def sqlite_path(backend: Backend) -> str:
    """The file of a SQLite backend."""
    return backend.url.removeprefix("sqlite:///")


def raw(backend: Backend, *statements: str) -> None:
    """Run ``statements`` as another client would: the plain driver, no airex in between
    (on PostgreSQL with replication role 'replica', which skips triggers and foreign keys)."""
    backend.engine.dispose()
    if backend.name == "sqlite":
        connection = sqlite3.connect(sqlite_path(backend))  # foreign_keys off: the default
        with connection:
            for statement in statements:
                connection.execute(statement)
        connection.close()
        return
    with psycopg.connect(backend.url, autocommit=False) as pg, pg.transaction():
        pg.execute("SET LOCAL session_replication_role = replica")
        for statement in statements:
            pg.execute(statement)


# --- 1. amounts are integers ----------------------------------------------------------------


def test_sqlite_refuses_fractional_amounts_and_balances(backend: Backend) -> None:
    """SQLite keeps a REAL in a BIGINT column; the schema's typeof() checks refuse it."""
    if backend.name != "sqlite":
        pytest.skip("PostgreSQL's BIGINT cannot hold a fraction")
    populate(backend)
    connection = sqlite3.connect(sqlite_path(backend))
    for statement in (
        "INSERT INTO ledger_posting (entry_id, account_id, currency, amount_minor) "
        "VALUES (3, 1, 'EUR', 0.9)",
        "UPDATE ledger_balance SET balance_minor = balance_minor + 0.9",
        "UPDATE ledger_balance_day SET delta_minor = 0.5",
        "UPDATE ledger_balance SET posting_count = 'many'",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
            connection.execute(statement)
    connection.close()
    assert check_ledger(backend.engine).ok


def test_fractional_amounts_are_reported_never_truncated(backend: Backend) -> None:
    """With the checks bypassed (``ignore_check_constraints``), 0.9 minor units are reported
    as 0.9 (not int()-truncated to 0), and reading the balance refuses instead of guessing."""
    if backend.name != "sqlite":
        pytest.skip("PostgreSQL's BIGINT cannot hold a fraction")
    populate(backend)
    backend.engine.dispose()
    connection = sqlite3.connect(sqlite_path(backend))
    connection.execute("PRAGMA ignore_check_constraints = ON")
    with connection:
        connection.execute("UPDATE ledger_balance SET balance_minor = balance_minor + 0.9")
    connection.close()
    report = check_ledger(backend.engine)
    assert report.broken() == ["amounts-are-integers", "balance-equals-postings"]
    assert "balance_minor is " in report.violations[0].detail
    assert "(real), not an integer" in report.violations[0].detail
    assert any("0.9" in v.detail for v in report.violations[1:])
    with pytest.raises(InvalidAmountError, match="ledger is corrupt"):
        backend.journal().balance(CASH)
    with pytest.raises(InvalidAmountError, match="ledger is corrupt"):
        backend.journal().balances()


# --- 2. orphans -----------------------------------------------------------------------------


def test_orphan_postings_and_balance_rows_are_reported(backend: Backend) -> None:
    """Postings of an entry that does not exist (balances adjusted to match), and a balance
    row of an account that does not exist: references-exist names each."""
    populate(backend)
    raw(
        backend,
        "INSERT INTO ledger_posting (entry_id, account_id, currency, amount_minor) "
        "VALUES (4242, 3, 'EUR', 100000), (4242, 2, 'EUR', -100000)",
        "UPDATE ledger_balance SET balance_minor = balance_minor + 100000, "
        "posting_count = posting_count + 1 WHERE account_id = 3",
        "UPDATE ledger_balance SET balance_minor = balance_minor - 100000, "
        "posting_count = posting_count + 1 WHERE account_id = 2",
        "INSERT INTO ledger_balance (account_id, balance_minor, posting_count) VALUES (999, 0, 0)",
    )
    report = check_ledger(backend.engine)
    assert report.broken() == ["references-exist", "day-balance-equals-postings"]
    orphans = [str(v) for v in report.violations if v.invariant == "references-exist"]
    assert orphans[0].startswith("references-exist: posting ")
    assert orphans[0].endswith("of entry 4242: refers to entry 4242, which does not exist")
    assert "balance row of account 999: refers to account 999" in orphans[-1]
    day = next(v for v in report.violations if v.invariant == "day-balance-equals-postings")
    assert "on no day (postings of a missing entry)" in day.where


# --- 3. the CLI reports a corrupted database ----------------------------------------------


def test_check_reports_out_of_range_amounts_and_unknown_currencies(backend: Backend) -> None:
    """An amount of 10^18 minor units and a currency 'ZZZ' (triggers dropped and re-created
    around the change): exit 1 and a report with the raw figures, not a crash (exit 2)."""
    populate(backend)
    tamper(
        backend,
        "ledger_posting",
        "UPDATE ledger_posting SET amount_minor = 1000000000000000000 "
        "WHERE id = (SELECT MIN(id) FROM ledger_posting)",
    )
    tamper(
        backend,
        "ledger_posting",
        "UPDATE ledger_posting SET currency = 'ZZZ' "
        "WHERE id = (SELECT MAX(id) FROM ledger_posting)",
    )
    result = run("ledger", "check", "--database", backend.url)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert "its EUR postings sum to 9999999999999990.00 EUR, not 0" in lines[0]
    assert any(
        "its ZZZ postings sum to 1000 minor units of 'ZZZ' (not an ISO 4217 currency), not 0"
        in line
        for line in lines
    )
    assert any(line.startswith("posting-currency: posting ") for line in lines)
    assert "ledger check: FAILED" in result.stderr


# --- 4. balances beyond one amount's limit --------------------------------------------------


def test_balances_may_exceed_one_amounts_limit_but_not_64_bits(backend: Backend) -> None:
    """Two maximal postings make a balance of 2 × MAX_MINOR_UNITS, read back exactly; a
    posting that would take a stored balance beyond 64 bits is refused, whole."""
    journal = backend.journal()

    def big(key: str) -> NewEntry:
        return NewEntry(
            key,
            date(2026, 1, 1),
            [
                PostingLine(YEN, Money(MAX_MINOR_UNITS, "JPY")),
                PostingLine(YEN_POOL, Money(-MAX_MINOR_UNITS, "JPY")),
            ],
        )

    journal.post_many([big(f"B{n}") for n in range(92)], batch_size=92)  # 9.2e18: fits
    assert journal.balance(YEN).minor == 92 * MAX_MINOR_UNITS
    assert journal.balance(YEN, as_of=date(2026, 1, 1)).minor == 92 * MAX_MINOR_UNITS
    assert sorted(b.balance_minor for b in journal.balances()) == [
        -92 * MAX_MINOR_UNITS,
        92 * MAX_MINOR_UNITS,
    ]
    with pytest.raises(InvalidAmountError, match="beyond the 64-bit range"):
        journal.post(big("B92"))  # refused by the database (SQLite: typeof check; PG: 22003)
    with pytest.raises(InvalidAmountError, match="more than the 64-bit range"):
        journal.post_many([big(f"C{n}") for n in range(93)], batch_size=93)  # refused before
    assert journal.entry_by_key("B92") is None
    assert journal.balance(YEN).minor == 92 * MAX_MINOR_UNITS
    report = check_ledger(backend.engine)
    assert report.ok, report.lines()


# --- 6. reversals ---------------------------------------------------------------------------


def test_a_reversal_before_its_original_is_refused_and_reported(backend: Backend) -> None:
    """reverse() refuses an earlier date; a reversal moved earlier behind the ledger's back
    breaks reversal-negates-original."""
    journal = backend.journal()
    original = journal.post(
        NewEntry("INV-1", date(2026, 4, 1), [debit(RECEIVABLE, "625"), credit(FEE, "625")])
    ).entry
    with pytest.raises(ReversalError, match="before what it reverses"):
        journal.reverse(original.id, effective_on=date(2026, 1, 1))
    reversal = journal.reverse(original.id, effective_on=date(2026, 4, 1)).entry
    tamper(
        backend,
        "ledger_entry",
        f"UPDATE ledger_entry SET effective_on = '2026-01-01' WHERE id = {reversal.id}",
    )
    report = check_ledger(backend.engine)
    assert "reversal-negates-original" in report.broken()
    assert any(
        v.detail.startswith("takes effect on 2026-01-01, before entry") for v in report.violations
    )


# --- 10, 11. what the database refuses ------------------------------------------------------


def test_insert_or_replace_cannot_rewrite_posted_rows(backend: Backend) -> None:
    """SQLite's REPLACE deletes the old row without its DELETE trigger: the BEFORE INSERT
    guards refuse (or, where the ledger itself relies on ON CONFLICT DO NOTHING, skip) it."""
    if backend.name != "sqlite":
        pytest.skip("PostgreSQL has no INSERT OR REPLACE")
    populate(backend)
    backend.engine.dispose()
    connection = sqlite3.connect(sqlite_path(backend))
    tables = [
        "ledger_account",
        "ledger_entry",
        "ledger_posting",
        "ledger_grant",
        "ledger_grant_use_type",
        "ledger_grant_work",
    ]
    before = {t: connection.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    attacks = [
        "INSERT OR REPLACE INTO ledger_posting (id, entry_id, account_id, currency, amount_minor) "
        "VALUES (1, 1, 1, 'EUR', 99900)",
        "INSERT OR REPLACE INTO ledger_entry (id, idempotency_key, effective_on, description, "
        "reverses_entry_id, content_hash, posted_at) SELECT id, idempotency_key, '1999-01-01', "
        "'rewritten', reverses_entry_id, content_hash, posted_at FROM ledger_entry WHERE id = 1",
        "REPLACE INTO ledger_entry (idempotency_key, effective_on, description, content_hash, "
        "posted_at) VALUES ('E1', '1999-01-01', 'new id, same key', 'x', '2026-01-01')",
        "INSERT OR REPLACE INTO ledger_account (id, party, kind, currency, licence_id, created_at) "
        "SELECT id, 'EVIL', kind, currency, licence_id, created_at FROM ledger_account "
        "WHERE id = 1",
        "INSERT OR REPLACE INTO ledger_grant SELECT * FROM ledger_grant",
        "INSERT OR REPLACE INTO ledger_grant_use_type SELECT * FROM ledger_grant_use_type",
    ]
    refused = []
    for attack in attacks:
        try:
            with connection:
                connection.execute(attack)
        except sqlite3.IntegrityError as exc:
            refused.append(str(exc))
    assert len(refused) == 4  # posting, entry (twice), use type; accounts, grants: skipped
    assert all(message.startswith("airex ledger: INSERT into") for message in refused)
    after = {t: connection.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    connection.close()
    assert after == before
    assert check_ledger(backend.engine).ok


def test_postings_cannot_be_added_to_an_existing_entry(backend: Backend) -> None:
    """PostgreSQL: a statement trigger refuses postings for an entry that an earlier
    transaction created. SQLite: a posting for an entry older than the newest posted one is
    refused."""
    populate(backend)
    backend.engine.dispose()
    pair = (
        "INSERT INTO ledger_posting (entry_id, account_id, currency, amount_minor) "
        "VALUES (1, 1, 'EUR', 500), (1, 2, 'EUR', -500)"
    )
    single = (
        "INSERT INTO ledger_posting (entry_id, account_id, currency, amount_minor) "
        "VALUES (1, 1, 'EUR', 500)"
    )
    if backend.name == "sqlite":
        connection = sqlite3.connect(sqlite_path(backend))
        for statement in (pair, single):
            with pytest.raises(sqlite3.IntegrityError, match="older than the newest posted"):
                connection.execute(statement)
        connection.close()
    else:
        with psycopg.connect(backend.url, autocommit=True) as pg:
            for statement in (pair, single):
                with pytest.raises(psycopg.errors.RestrictViolation, match="earlier transaction"):
                    pg.execute(statement)
    assert check_ledger(backend.engine).ok


# --- 12. the guards are the migration's -----------------------------------------------------


def test_a_look_alike_trigger_or_function_fails_the_check(backend: Backend) -> None:
    """A no-op trigger under the expected name (SQLite), a trigger function that lets every
    change through (PostgreSQL): immutability-enforced compares definitions, not names."""
    populate(backend)
    with backend.engine.begin() as connection:
        if backend.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER ledger_posting_no_update")
            connection.exec_driver_sql(
                "CREATE TRIGGER ledger_posting_no_update BEFORE UPDATE ON ledger_posting "
                "WHEN 0 BEGIN SELECT 1; END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
            )
    report = check_ledger(backend.engine)
    assert report.broken() == ["immutability-enforced"]
    if backend.name == "sqlite":
        assert report.violations[0].where == "table ledger_posting"
        assert "ledger_posting_no_update is not the migration's" in report.violations[0].detail
    else:
        assert report.violations[0].where == "function ledger_refuse_change()"
    assert len(INVARIANTS) == 14


def test_a_disabled_trigger_fails_the_check(backend: Backend) -> None:
    """ALTER TABLE ... DISABLE TRIGGER keeps the definition but not the guard."""
    if backend.name != "postgresql":
        pytest.skip("SQLite triggers cannot be disabled")
    populate(backend)
    with backend.engine.begin() as connection:
        connection.execute(
            sa.text("ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_immutable")
        )
    report = check_ledger(backend.engine)
    assert [str(v) for v in report.violations] == [
        "immutability-enforced: table ledger_entry: trigger ledger_entry_immutable is disabled: "
        "the database would accept changes of posted rows"
    ]
