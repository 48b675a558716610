"""The ledger's invariants, verified over the whole database (``airex ledger check``).

:func:`check_ledger` reads everything in one snapshot and reports every violation it finds, each
with the invariant it breaks, where (entry, account, key, grant) and the figures that disagree.
The invariants, by code:

``schema-current``
    the database is at the code's schema revision (otherwise nothing else is checked).
``immutability-enforced``
    the triggers that make the database refuse UPDATE and DELETE of posted rows (and, see
    :mod:`airex.ledger._triggers`, ``INSERT OR REPLACE`` on SQLite, partial entries on
    PostgreSQL) are installed, enabled, and *are* the migration's: each trigger's SQL
    (``sqlite_master.sql``; ``pg_get_triggerdef`` and the function bodies on PostgreSQL) is
    compared with the definition the schema revision installs, so a look-alike under the
    right name fails.
``references-exist``
    every posting's entry and account exist, every balance row's (and per-day row's) account
    exists, every reversal's original exists, every grant use type and work row's grant
    exists (outer joins; on SQLite also ``PRAGMA foreign_key_check``, since a client with
    ``foreign_keys`` off can insert orphans).
``amounts-are-integers``
    every stored amount, balance, movement and count is an integer (SQLite stores a ``REAL``
    given to an integer column as a ``REAL``; the schema refuses it, the checker proves it).
    Figures that are not integers are reported as stored, never truncated.
``entry-has-two-postings``
    every entry has at least two postings.
``entry-balances``
    every entry's postings sum to zero, per currency.
``debits-equal-credits``
    over the whole journal, total debits equal total credits, per currency.
``posting-currency``
    every posting is in its account's currency.
``one-entry-per-key``
    no idempotency key has two entries.
``entry-unchanged``
    every entry's stored content hash equals the hash recomputed from its rows (dates,
    description, accounts, amounts): no posted row changed since it was posted.
``reversal-negates-original``
    a reversal's postings are exactly its original's, negated, the original is not itself a
    reversal, and the reversal does not take effect before the original.
``balance-equals-postings``
    every account's current balance (and posting count) equals the sum of its postings.
``day-balance-equals-postings``
    every account's movement per effective date equals the sum of that day's postings.
``grant-unchanged``
    every grant event's content hash matches its rows (licence terms, works, use types), and
    the instant it takes effect is the one its status, issue time and term give.

The checker never writes, and never trusts what it reads: figures are formatted from the
stored integers and currency text (an unknown currency or an amount beyond the ledger's limits
is reported, not raised). It costs one pass over the journal (in pages of entries), so it is
meant for ``airex ledger check`` after a crash, in CI, or on a schedule, not per posting.

What it cannot see: a whole entry deleted together with its postings, its per-day rows and its
share of the balances, by someone who first dropped the triggers (or who owns the database),
leaves a smaller ledger that is consistent in itself. The triggers (which the checker proves
installed and unaltered) are what refuses such a deletion; detecting it after the fact would
need a record kept outside the database (e.g. periodic exports of entry counts and hashes).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import display_url, read_transaction
from airex.ledger._check_balances import check_balances
from airex.ledger._check_database import check_integers, check_references, check_triggers
from airex.ledger._check_entries import check_content, check_entries, check_totals
from airex.ledger._check_report import INVARIANTS, CheckReport, Violation, as_int
from airex.ledger._check_report import MAX_PER_INVARIANT as MAX_PER_INVARIANT
from airex.ledger.errors import SchemaNotCurrentError
from airex.ledger.grants import GrantRegister, effective_at, stored_grant_hash
from airex.ledger.models import Account, Entry, GrantEvent, Posting, table
from airex.ledger.schema import require_current

__all__ = ["INVARIANTS", "CheckReport", "Violation", "check_ledger"]

_ACCOUNT = table(Account)
_ENTRY = table(Entry)
_POSTING = table(Posting)
_GRANT = table(GrantEvent)


def check_ledger(engine: Engine) -> CheckReport:
    """Verify every invariant of :data:`INVARIANTS` over the whole database, in one snapshot."""
    report = CheckReport(database=display_url(engine))
    try:
        require_current(engine)
    except SchemaNotCurrentError as exc:
        report.add("schema-current", report.database, str(exc))
        return report
    with read_transaction(engine) as connection:
        report.counts = _counts(connection)
        check_triggers(connection, report)
        check_references(connection, report)
        check_integers(connection, report)
        check_entries(connection, report)
        check_totals(connection, report)
        check_content(connection, report)
        check_balances(connection, report)
    _check_grants(engine, report)
    return report


def _counts(connection: Connection) -> dict[str, int]:
    return {
        name: as_int(connection.execute(sa.select(sa.func.count()).select_from(t)).scalar())
        for name, t in (
            ("entries", _ENTRY),
            ("postings", _POSTING),
            ("accounts", _ACCOUNT),
            ("grant events", _GRANT),
        )
    }


def _check_grants(engine: Engine, report: CheckReport) -> None:
    # The history first, then the stored hashes: grant events are append-only, so every event
    # of the history is still there when the hashes are read.
    history = GrantRegister(engine, check_schema=False).history()
    with read_transaction(engine) as connection:
        recorded = {
            row.id: (row.content_hash, row.source_message)
            for row in connection.execute(
                sa.select(_GRANT.c.id, _GRANT.c.content_hash, _GRANT.c.source_message)
            )
        }
    for grant in history:
        stored_hash, message = recorded.get(grant.id, ("", None))
        source = bytes(message) if message is not None else None
        if stored_grant_hash(grant, source) != stored_hash:
            report.add(
                "grant-unchanged",
                f"grant {grant.id} (licence {grant.licence_id!r}, {grant.status})",
                "its rows no longer match the content hash stored when it was recorded",
            )
        elif grant.effective_at != effective_at(grant.status, grant.issued_at, grant.term_end):
            report.add(
                "grant-unchanged",
                f"grant {grant.id} (licence {grant.licence_id!r}, {grant.status})",
                f"takes effect at {grant.effective_at.isoformat()}, but its status, issue time "
                f"and term say {effective_at(grant.status, grant.issued_at, grant.term_end)}",
            )
