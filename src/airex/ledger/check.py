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

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import backend_of, chunked, read_transaction
from airex.ledger import _triggers
from airex.ledger.errors import InvalidAmountError, SchemaNotCurrentError
from airex.ledger.grants import GrantRegister, effective_at, stored_grant_hash
from airex.ledger.journal import content_hash
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
from airex.ledger.money import currency_exponent
from airex.ledger.schema import require_current

__all__ = ["INVARIANTS", "CheckReport", "Violation", "check_ledger"]

INVARIANTS = (
    "schema-current",
    "immutability-enforced",
    "references-exist",
    "amounts-are-integers",
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
_USE = table(GrantUseType)
_WORK = table(GrantWork)


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
        _check_references(connection, report)
        _check_integers(connection, report)
        _check_entries(connection, report)
        _check_totals(connection, report)
        _check_content(connection, report)
        _check_balances(connection, report)
    _check_grants(engine, report)
    return report


def _int(value: Any) -> int:
    """A count read from the database (PostgreSQL sums BIGINT as NUMERIC)."""
    return int(value) if value is not None else 0


Figure = int | Decimal | str


def _num(value: Any) -> Figure:
    """A stored amount or sum, exactly: an ``int`` when it is one, else the exact ``Decimal``
    of a ``REAL`` (``0.9`` stays ``0.9``, never truncated to 0), else the text as stored.
    Figures compare with ``!=`` whatever they are, and are formatted by :func:`_figure`."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, float | Decimal):
        return Decimal(value)
    return str(value)


def _figure(minor: Figure, currency: Any) -> str:
    """``minor`` units of ``currency`` for a report, from the raw stored values: never through
    :class:`~airex.ledger.Money`, so that a corrupt row (an amount beyond any limit, a currency
    that is not ISO 4217, a fraction of a minor unit) is shown as it is instead of raising."""
    try:
        exponent = currency_exponent(str(currency))
    except InvalidAmountError:
        return f"{minor} minor units of {str(currency)!r} (not an ISO 4217 currency)"
    if not isinstance(minor, int):
        return f"{minor} minor units of {currency} (not an integer)"
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    sign = "-" if minor < 0 else ""
    if exponent:
        return f"{sign}{digits[:-exponent]}.{digits[-exponent:]} {currency}"
    return f"{sign}{digits} {currency}"


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


def _check_references(connection: Connection, report: CheckReport) -> None:
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


def _check_integers(connection: Connection, report: CheckReport) -> None:
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
            f"its {row.currency} postings sum to {_figure(_num(row.total), row.currency)}, not 0",
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
        if _num(debit) != _num(credit):
            report.add(
                "debits-equal-credits",
                f"currency {currency}",
                f"total debits {_figure(_num(debit), currency)} != total credits "
                f"{_figure(_num(credit), currency)}",
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
    reversal_of: dict[int, tuple[int, date]] = {}
    for page in _pages(connection):
        lines: dict[int, list[tuple[str, str, str, str, int]]] = defaultdict(list)
        fractional: set[int] = set()
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
            minor = _num(row[5])
            if isinstance(minor, int):
                lines[row[0]].append((row[1], row[2], row[3], row[4], minor))
            else:
                fractional.add(row[0])
        for entry in page:
            if entry["id"] in fractional:
                report.add(
                    "entry-unchanged",
                    f"entry {entry['id']} ({entry['idempotency_key']!r})",
                    "a posting holds an amount that is not an integer of minor units: it was "
                    "not posted by the ledger",
                )
                continue
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
                reversal_of[entry["id"]] = (entry["reverses_entry_id"], entry["effective_on"])
    _check_reversals(connection, report, reversal_of)


def _check_reversals(
    connection: Connection, report: CheckReport, reversal_of: dict[int, tuple[int, date]]
) -> None:
    items = sorted((reversal, original, on) for reversal, (original, on) in reversal_of.items())
    for chunk in chunked(items):
        ids = {i for reversal, original, _ in chunk for i in (reversal, original)}
        sides: dict[int, Counter[tuple[int, Figure]]] = defaultdict(Counter)
        for entry_id, account_id, minor in connection.execute(
            sa.select(_POSTING.c.entry_id, _POSTING.c.account_id, _POSTING.c.amount_minor).where(
                _POSTING.c.entry_id.in_(ids)
            )
        ):
            sides[entry_id][(account_id, _num(minor))] += 1
        originals = {
            row.id: (row.reverses_entry_id, row.effective_on)
            for row in connection.execute(
                sa.select(_ENTRY.c.id, _ENTRY.c.reverses_entry_id, _ENTRY.c.effective_on).where(
                    _ENTRY.c.id.in_([original for _, original, _ in chunk])
                )
            )
        }
        for reversal, original, on in chunk:
            original_reverses, original_on = originals.get(original, (None, None))
            if original_on is not None and on < original_on:
                report.add(
                    "reversal-negates-original",
                    f"entry {reversal}",
                    f"takes effect on {on}, before entry {original} it reverses "
                    f"({original_on}): balances between the two dates would show neither",
                )
            if original_reverses is not None:
                report.add(
                    "reversal-negates-original",
                    f"entry {reversal}",
                    f"reverses entry {original}, which is itself a reversal",
                )
            negated = Counter(
                {
                    (a, -m if not isinstance(m, str) else m): n
                    for (a, m), n in sides[original].items()
                }
            )
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
    posted: dict[int, tuple[Figure, Figure]] = {
        account_id: (_num(total), _int(n))
        for account_id, total, n in connection.execute(
            sa.select(
                _POSTING.c.account_id,
                sa.func.sum(_POSTING.c.amount_minor),
                sa.func.count(),
            ).group_by(_POSTING.c.account_id)
        )
    }
    kept: dict[int, tuple[Figure, Figure]] = {
        account_id: (_num(total), _num(n))
        for account_id, total, n in connection.execute(
            sa.select(_BALANCE.c.account_id, _BALANCE.c.balance_minor, _BALANCE.c.posting_count)
        )
    }
    for account_id in sorted(posted.keys() | kept.keys()):
        want, got = posted.get(account_id, (0, 0)), kept.get(account_id, (0, 0))
        if want != got:
            cur = currency.get(account_id, "?")
            report.add(
                "balance-equals-postings",
                labels.get(account_id, f"account {account_id} (no such account)"),
                f"balance {_figure(got[0], cur)} over {got[1]} posting(s), but its postings sum "
                f"to {_figure(want[0], cur)} over {want[1]}",
            )
    # An outer join: postings whose entry is missing are summed on no day (None), so that
    # they cannot vanish from this invariant as they would from an inner join.
    posted_days: dict[tuple[int, date | None], tuple[Figure, Figure]] = {
        (account_id, day): (_num(total), _int(n))
        for account_id, day, total, n in connection.execute(
            sa.select(
                _POSTING.c.account_id,
                _ENTRY.c.effective_on,
                sa.func.sum(_POSTING.c.amount_minor),
                sa.func.count(),
            )
            .outerjoin(_ENTRY, _ENTRY.c.id == _POSTING.c.entry_id)
            .group_by(_POSTING.c.account_id, _ENTRY.c.effective_on)
        )
    }
    kept_days: dict[tuple[int, date | None], tuple[Figure, Figure]] = {
        (account_id, day): (_num(total), _num(n))
        for account_id, day, total, n in connection.execute(
            sa.select(_DAY.c.account_id, _DAY.c.day, _DAY.c.delta_minor, _DAY.c.posting_count)
        )
    }
    keys = posted_days.keys() | kept_days.keys()
    for key in sorted(keys, key=lambda k: (k[0], k[1] is None, k[1] or date.min)):
        want, got = posted_days.get(key, (0, 0)), kept_days.get(key, (0, 0))
        if want != got:
            account_id, day = key
            cur = currency.get(account_id, "?")
            on = "no day (postings of a missing entry)" if day is None else str(day)
            report.add(
                "day-balance-equals-postings",
                f"{labels.get(account_id, f'account {account_id} (no such account)')} on {on}",
                f"movement {_figure(got[0], cur)} over {got[1]} posting(s), but that day's "
                f"postings sum to {_figure(want[0], cur)} over {want[1]}",
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
        elif grant.effective_at != effective_at(grant.status, grant.issued_at, grant.term_end):
            report.add(
                "grant-unchanged",
                f"grant {grant.id} (licence {grant.licence_id!r}, {grant.status})",
                f"takes effect at {grant.effective_at.isoformat()}, but its status, issue time "
                f"and term say {effective_at(grant.status, grant.issued_at, grant.term_end)}",
            )
