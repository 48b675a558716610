"""The checker proves every invariant, and names each one a tampered database breaks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from airex.ledger import (
    INVARIANTS,
    AccountKey,
    AccountKind,
    GrantRecord,
    NewEntry,
    check_ledger,
    credit,
    debit,
)

if TYPE_CHECKING:
    from conftest import Backend

CASH = AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "EUR")
FEE = AccountKey("PADPIDA2026CMO01", AccountKind.ADMIN_FEE_REVENUE, "EUR")
RECEIVABLE = AccountKey("PADPIDA2026DEV01", AccountKind.LICENSEE_RECEIVABLE, "EUR")


def populate(backend: Backend) -> int:
    """Three entries (one reversed) and a grant; returns the reversed entry's id."""
    journal = backend.journal()
    first = journal.post(
        NewEntry("E1", date(2026, 4, 1), [debit(RECEIVABLE, "10"), credit(FEE, "10")])
    )
    journal.post(NewEntry("E2", date(2026, 4, 2), [debit(CASH, "10"), credit(RECEIVABLE, "10")]))
    journal.reverse(first.entry.id, effective_on=date(2026, 4, 3))
    backend.register().record(
        GrantRecord(
            "LIC-1",
            "Granted",
            "PADPIDA2026CMO01",
            "PADPIDA2026DEV01",
            datetime(2026, 1, 5, tzinfo=UTC),
            date(2026, 1, 1),
            use_types=["UseForDataMining"],
            all_works=True,
            source_message_id="M1",
        )
    )
    return first.entry.id


def tamper(backend: Backend, table: str, sql: str) -> None:
    """Run ``sql`` with the table's immutability triggers briefly out of the way."""
    with backend.engine.begin() as connection:
        if backend.name == "postgresql":
            connection.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            connection.execute(sa.text(sql))
            connection.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            return
        triggers = connection.execute(
            sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        ).all()
        for name, _ in triggers:
            connection.execute(sa.text(f"DROP TRIGGER {name}"))
        connection.execute(sa.text(sql))
        for _, create in triggers:
            connection.exec_driver_sql(create)


def test_a_sound_ledger_passes_every_invariant(backend: Backend) -> None:
    """After posts, a reversal and a grant, every invariant holds."""
    populate(backend)
    report = check_ledger(backend.engine)
    assert report.ok, report.lines()
    assert report.counts == {"entries": 3, "postings": 6, "accounts": 3, "grant events": 1}
    assert report.lines()[-1].startswith(f"ledger check: OK, {len(INVARIANTS)} invariants hold")


def test_a_changed_amount_breaks_balance_hash_and_totals(backend: Backend) -> None:
    """One cent added to a posting behind the ledger's back is caught five ways."""
    populate(backend)
    tamper(
        backend,
        "ledger_posting",
        "UPDATE ledger_posting SET amount_minor = amount_minor + 1 "
        "WHERE id = (SELECT MIN(id) FROM ledger_posting)",
    )
    report = check_ledger(backend.engine)
    assert report.broken() == [
        "entry-balances",
        "debits-equal-credits",
        "entry-unchanged",
        "reversal-negates-original",
        "balance-equals-postings",
        "day-balance-equals-postings",
    ]
    first = str(report.violations[0])
    assert first.startswith("entry-balances: entry ")
    assert first.endswith("its EUR postings sum to 0.01 EUR, not 0")


def test_a_deleted_posting_is_caught(backend: Backend) -> None:
    """An entry left with one posting breaks the two-postings rule and its balance."""
    populate(backend)
    tamper(
        backend,
        "ledger_posting",
        "DELETE FROM ledger_posting WHERE id = (SELECT MAX(id) FROM ledger_posting)",
    )
    broken = check_ledger(backend.engine).broken()
    assert {
        "entry-has-two-postings",
        "entry-balances",
        "entry-unchanged",
        "balance-equals-postings",
    } <= set(broken)


def test_a_drifted_balance_row_is_caught(backend: Backend) -> None:
    """The kept balance must equal the postings: a direct update of it is reported."""
    populate(backend)
    with backend.engine.begin() as connection:
        connection.execute(sa.text("UPDATE ledger_balance SET balance_minor = balance_minor + 100"))
    report = check_ledger(backend.engine)
    assert report.broken() == ["balance-equals-postings"]
    assert "but its postings sum to" in report.violations[0].detail


def test_a_changed_description_or_grant_is_caught(backend: Backend) -> None:
    """Content hashes cover every field: a new description or licensee is a change."""
    populate(backend)
    tamper(
        backend,
        "ledger_entry",
        "UPDATE ledger_entry SET description = 'edited' WHERE idempotency_key = 'E2'",
    )
    tamper(backend, "ledger_grant", "UPDATE ledger_grant SET licensee = 'PADPIDA2026DEV99'")
    report = check_ledger(backend.engine)
    assert report.broken() == ["entry-unchanged", "grant-unchanged"]
    assert "'E2'" in report.violations[0].where


def test_a_missing_trigger_is_caught(backend: Backend) -> None:
    """A database that would accept edits of posted rows fails the check."""
    populate(backend)
    with backend.engine.begin() as connection:
        if backend.name == "postgresql":
            connection.execute(sa.text("DROP TRIGGER ledger_posting_immutable ON ledger_posting"))
        else:
            connection.execute(sa.text("DROP TRIGGER ledger_posting_no_update"))
    report = check_ledger(backend.engine)
    assert report.broken() == ["immutability-enforced"]
    assert report.violations[0].where == "table ledger_posting"


def test_an_unmigrated_database_fails_the_schema_invariant(empty_backend: Backend) -> None:
    """Without the schema, the check says so and checks nothing else."""
    report = check_ledger(empty_backend.engine)
    assert report.broken() == ["schema-current"]
    assert "airex db upgrade" in report.violations[0].detail
