"""The ledger's invariants, verified over the whole database (``airex ledger check``).

:func:`check_ledger` reads everything in one snapshot and reports every violation it finds, each
with the invariant it breaks, where (entry, account, key, grant) and the figures that disagree.
The invariants, by code:

``schema-current``
    the database is at the code's schema revision (otherwise nothing else is checked).
``immutability-enforced``
    the triggers that make the database refuse UPDATE and DELETE of posted rows are installed
    on every append-only table.
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
    a reversal's postings are exactly its original's, negated, and the original is not itself a
    reversal.
``balance-equals-postings``
    every account's current balance (and posting count) equals the sum of its postings.
``day-balance-equals-postings``
    every account's movement per effective date equals the sum of that day's postings.
``grant-unchanged``
    every grant event's content hash matches its rows (licence terms, works, use types).

The checker never writes. It costs one pass over the journal (in pages of entries), so it is
meant for ``airex ledger check`` after a crash, in CI, or on a schedule, not per posting.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.ledger.db import backend_of, chunked, read_transaction
from airex.ledger.errors import SchemaNotCurrentError
from airex.ledger.grants import GrantRegister, stored_grant_hash
from airex.ledger.journal import content_hash
from airex.ledger.models import (
    IMMUTABLE_TABLES,
    Account,
    Balance,
    BalanceDay,
    Entry,
    GrantEvent,
    Posting,
    table,
)
from airex.ledger.money import Money
from airex.ledger.schema import require_current

__all__ = ["INVARIANTS", "CheckReport", "Violation", "check_ledger"]

INVARIANTS = (
    "schema-current",
    "immutability-enforced",
    "entry-has-two-postings",
    "entry-balances",
    "debits-equal-credits",
    "posting-currency",
    "one-entry-per-key",
    "entry-unchanged",
    "reversal-negates-original",
    "balance-equals-postings",
    "day-balance-equals-postings",
    "grant-unchanged",
)
"""Every invariant :func:`check_ledger` verifies, in the order it verifies them."""

MAX_PER_INVARIANT = 100
"""At most this many violations are listed per invariant (the count says how many more)."""

_PAGE = 5000  # entries per page of the content-hash pass

_ACCOUNT = table(Account)
_ENTRY = table(Entry)
_POSTING = table(Posting)
_BALANCE = table(Balance)
_DAY = table(BalanceDay)
_GRANT = table(GrantEvent)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: its code, where (``entry 12``, ``account 3 (party/kind/EUR)``),
    and what disagrees."""

    invariant: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.where}: {self.detail}"

    def as_dict(self) -> dict[str, str]:
        """The JSON form."""
        return {"invariant": self.invariant, "where": self.where, "detail": self.detail}


@dataclass(slots=True)
class CheckReport:
    """What :func:`check_ledger` found: the violations (empty when every invariant holds),
    how many were left unlisted per invariant, and the size of what was checked."""

    database: str
    violations: list[Violation] = field(default_factory=list)
    unlisted: Counter[str] = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every invariant holds."""
        return not self.violations

    def broken(self) -> list[str]:
        """The codes of the broken invariants, in :data:`INVARIANTS` order."""
        codes = {v.invariant for v in self.violations}
        return [code for code in INVARIANTS if code in codes]

    def add(self, invariant: str, where: str, detail: str) -> None:
        """Record a violation (or count it, beyond :data:`MAX_PER_INVARIANT`)."""
        listed = sum(1 for v in self.violations if v.invariant == invariant)
        if listed >= MAX_PER_INVARIANT:
            self.unlisted[invariant] += 1
        else:
            self.violations.append(Violation(invariant, where, detail))

    def lines(self) -> list[str]:
        """The report for people: one line per violation, then a summary line."""
        out = [str(v) for v in self.violations]
        out += [f"{code}: ... and {n} more" for code, n in sorted(self.unlisted.items())]
        size = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        if self.ok:
            out.append(f"ledger check: OK, {len(INVARIANTS)} invariants hold ({size})")
        else:
            total = len(self.violations) + sum(self.unlisted.values())
            out.append(
                f"ledger check: FAILED, {total} violation(s) of {len(self.broken())} "
                f"invariant(s): {', '.join(self.broken())} ({size})"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``airex ledger check --json``)."""
        return {
            "database": self.database,
            "ok": self.ok,
            "invariants": list(INVARIANTS),
            "broken": self.broken(),
            "violations": [v.as_dict() for v in self.violations],
            "unlisted": dict(self.unlisted),
            "counts": self.counts,
        }


def check_ledger(engine: Engine) -> CheckReport:
    """Verify every invariant of :data:`INVARIANTS` over the whole database, in one snapshot."""
    report = CheckReport(database=engine.url.render_as_string(hide_password=True))
    try:
        require_current(engine)
    except SchemaNotCurrentError as exc:
        report.add("schema-current", report.database, str(exc))
        return report
    with read_transaction(engine) as connection:
        report.counts = _counts(connection)
        _check_triggers(connection, report)
        _check_entries(connection, report)
        _check_totals(connection, report)
        _check_content(connection, report)
        _check_balances(connection, report)
    _check_grants(engine, report)
    return report


def _int(value: Any) -> int:
    return int(value) if value is not None else 0  # PostgreSQL sums BIGINT as NUMERIC


def _counts(connection: Connection) -> dict[str, int]:
    return {
        name: _int(connection.execute(sa.select(sa.func.count()).select_from(t)).scalar())
        for name, t in (
            ("entries", _ENTRY),
            ("postings", _POSTING),
            ("accounts", _ACCOUNT),
            ("grant events", _GRANT),
        )
    }


def _check_triggers(connection: Connection, report: CheckReport) -> None:
    if backend_of(connection.engine) == "postgresql":
        rows = connection.execute(
            sa.text(
                "SELECT c.relname, t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' "
                "AND c.relnamespace = to_regnamespace(current_schema())"
            )
        ).all()
        expected = {name: {f"{name}_immutable", f"{name}_no_truncate"} for name in IMMUTABLE_TABLES}
    else:
        rows = connection.execute(
            sa.text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        ).all()
        expected = {name: {f"{name}_no_update", f"{name}_no_delete"} for name in IMMUTABLE_TABLES}
    present: dict[str, set[str]] = defaultdict(set)
    for table_name, trigger in rows:
        present[table_name].add(trigger)
    for name, triggers in expected.items():
        missing = triggers - present[name]
        if missing:
            report.add(
                "immutability-enforced",
                f"table {name}",
                f"trigger(s) {', '.join(sorted(missing))} missing or disabled: the database "
                "would accept UPDATE/DELETE of posted rows",
            )


def _check_entries(connection: Connection, report: CheckReport) -> None:
    count = sa.func.count(_POSTING.c.id)
    for row in connection.execute(
        sa.select(_ENTRY.c.id, _ENTRY.c.idempotency_key, count.label("n"))
        .outerjoin(_POSTING, _POSTING.c.entry_id == _ENTRY.c.id)
        .group_by(_ENTRY.c.id, _ENTRY.c.idempotency_key)
        .having(count < 2)
        .order_by(_ENTRY.c.id)
    ):
        report.add(
            "entry-has-two-postings",
            f"entry {row.id} ({row.idempotency_key!r})",
            f"has {row.n} posting(s)",
        )
    total = sa.func.sum(_POSTING.c.amount_minor)
    for row in connection.execute(
        sa.select(_POSTING.c.entry_id, _POSTING.c.currency, total.label("total"))
        .group_by(_POSTING.c.entry_id, _POSTING.c.currency)
        .having(total != 0)
        .order_by(_POSTING.c.entry_id)
    ):
        report.add(
            "entry-balances",
            f"entry {row.entry_id}",
            f"its {row.currency} postings sum to {Money(_int(row.total), row.currency)}, not 0",
        )
    for row in connection.execute(
        sa.select(_POSTING.c.id, _POSTING.c.entry_id, _POSTING.c.currency, _ACCOUNT.c.currency)
        .join(_ACCOUNT, _ACCOUNT.c.id == _POSTING.c.account_id)
        .where(_POSTING.c.currency != _ACCOUNT.c.currency)
        .order_by(_POSTING.c.id)
    ):
        report.add(
            "posting-currency",
            f"posting {row[0]} of entry {row[1]}",
            f"is in {row[2]} but its account is in {row[3]}",
        )
    for row in connection.execute(
        sa.select(_ENTRY.c.idempotency_key, sa.func.count().label("n"))
        .group_by(_ENTRY.c.idempotency_key)
        .having(sa.func.count() > 1)
    ):
        report.add(
            "one-entry-per-key",
            f"idempotency key {row.idempotency_key!r}",
            f"has {row.n} entries",
        )


def _check_totals(connection: Connection, report: CheckReport) -> None:
    amount = _POSTING.c.amount_minor
    debits = sa.func.sum(sa.case((amount > 0, amount), else_=0))
    credits = sa.func.sum(sa.case((amount < 0, -amount), else_=0))
    for currency, debit, credit in connection.execute(
        sa.select(_POSTING.c.currency, debits, credits).group_by(_POSTING.c.currency)
    ):
        if _int(debit) != _int(credit):
            report.add(
                "debits-equal-credits",
                f"currency {currency}",
                f"total debits {Money(_int(debit), currency)} != total credits "
                f"{Money(_int(credit), currency)}",
            )


def _pages(connection: Connection) -> Iterator[list[Any]]:
    last = None
    while True:
        query = sa.select(_ENTRY).order_by(_ENTRY.c.id).limit(_PAGE)
        if last is not None:
            query = query.where(_ENTRY.c.id > last)
        page = connection.execute(query).mappings().all()
        if not page:
            return
        yield list(page)
        last = page[-1]["id"]


def _check_content(connection: Connection, report: CheckReport) -> None:
    """Recompute each entry's content hash; compare reversals with their originals."""
    reversal_of: dict[int, int] = {}
    for page in _pages(connection):
        lines: dict[int, list[tuple[str, str, str, str, int]]] = defaultdict(list)
        for row in connection.execute(
            sa.select(
                _POSTING.c.entry_id,
                _ACCOUNT.c.party,
                _ACCOUNT.c.kind,
                _POSTING.c.currency,
                _ACCOUNT.c.licence_id,
                _POSTING.c.amount_minor,
            )
            .join(_ACCOUNT, _ACCOUNT.c.id == _POSTING.c.account_id)
            .where(_POSTING.c.entry_id.between(page[0]["id"], page[-1]["id"]))
        ):
            lines[row[0]].append((row[1], row[2], row[3], row[4], int(row[5])))
        for entry in page:
            expected = content_hash(
                entry["effective_on"],
                entry["description"],
                entry["reverses_entry_id"],
                lines[entry["id"]],
            )
            if expected != entry["content_hash"]:
                report.add(
                    "entry-unchanged",
                    f"entry {entry['id']} ({entry['idempotency_key']!r})",
                    "its rows no longer match the content hash stored when it was posted "
                    "(a posted row was changed, added or deleted)",
                )
            if entry["reverses_entry_id"] is not None:
                reversal_of[entry["id"]] = entry["reverses_entry_id"]
    _check_reversals(connection, report, reversal_of)


def _check_reversals(
    connection: Connection, report: CheckReport, reversal_of: dict[int, int]
) -> None:
    items = sorted(reversal_of.items())
    for chunk in chunked(items):
        ids = {i for pair in chunk for i in pair}
        sides: dict[int, Counter[tuple[int, int]]] = defaultdict(Counter)
        for entry_id, account_id, minor in connection.execute(
            sa.select(_POSTING.c.entry_id, _POSTING.c.account_id, _POSTING.c.amount_minor).where(
                _POSTING.c.entry_id.in_(ids)
            )
        ):
            sides[entry_id][(account_id, int(minor))] += 1
        originals = {
            row.id: row.reverses_entry_id
            for row in connection.execute(
                sa.select(_ENTRY.c.id, _ENTRY.c.reverses_entry_id).where(
                    _ENTRY.c.id.in_([original for _, original in chunk])
                )
            )
        }
        for reversal, original in chunk:
            if originals.get(original) is not None:
                report.add(
                    "reversal-negates-original",
                    f"entry {reversal}",
                    f"reverses entry {original}, which is itself a reversal",
                )
            negated = Counter({(a, -m): n for (a, m), n in sides[original].items()})
            if sides[reversal] != negated:
                report.add(
                    "reversal-negates-original",
                    f"entry {reversal}",
                    f"its postings are not exactly those of entry {original}, negated",
                )


def _check_balances(connection: Connection, report: CheckReport) -> None:
    labels: dict[int, str] = {}
    currency: dict[int, str] = {}
    for row in connection.execute(sa.select(_ACCOUNT)):
        tail = f"/{row.licence_id}" if row.licence_id else ""
        labels[row.id] = f"account {row.id} ({row.party}/{row.kind}/{row.currency}{tail})"
        currency[row.id] = row.currency
    posted = {
        account_id: (_int(total), _int(n))
        for account_id, total, n in connection.execute(
            sa.select(
                _POSTING.c.account_id,
                sa.func.sum(_POSTING.c.amount_minor),
                sa.func.count(),
            ).group_by(_POSTING.c.account_id)
        )
    }
    kept = {
        account_id: (_int(total), _int(n))
        for account_id, total, n in connection.execute(
            sa.select(_BALANCE.c.account_id, _BALANCE.c.balance_minor, _BALANCE.c.posting_count)
        )
    }
    for account_id in sorted(posted.keys() | kept.keys()):
        want, got = posted.get(account_id, (0, 0)), kept.get(account_id, (0, 0))
        if want != got:
            cur = currency.get(account_id, "XXX")
            report.add(
                "balance-equals-postings",
                labels.get(account_id, f"account {account_id}"),
                f"balance {Money(got[0], cur)} over {got[1]} posting(s), but its postings sum "
                f"to {Money(want[0], cur)} over {want[1]}",
            )
    posted_days = {
        (account_id, day): (_int(total), _int(n))
        for account_id, day, total, n in connection.execute(
            sa.select(
                _POSTING.c.account_id,
                _ENTRY.c.effective_on,
                sa.func.sum(_POSTING.c.amount_minor),
                sa.func.count(),
            )
            .join(_ENTRY, _ENTRY.c.id == _POSTING.c.entry_id)
            .group_by(_POSTING.c.account_id, _ENTRY.c.effective_on)
        )
    }
    kept_days = {
        (account_id, day): (_int(total), _int(n))
        for account_id, day, total, n in connection.execute(
            sa.select(_DAY.c.account_id, _DAY.c.day, _DAY.c.delta_minor, _DAY.c.posting_count)
        )
    }
    for key in sorted(posted_days.keys() | kept_days.keys()):
        want, got = posted_days.get(key, (0, 0)), kept_days.get(key, (0, 0))
        if want != got:
            account_id, day = key
            cur = currency.get(account_id, "XXX")
            report.add(
                "day-balance-equals-postings",
                f"{labels.get(account_id, f'account {account_id}')} on {day}",
                f"movement {Money(got[0], cur)} over {got[1]} posting(s), but that day's "
                f"postings sum to {Money(want[0], cur)} over {want[1]}",
            )


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
