"""The journal's entries, for :func:`airex.ledger.check_ledger`: each has two postings and
balances per currency, debits equal credits, one entry per key, every entry's content hash still
matches its rows, and every reversal exactly negates its original.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import chunked
from airex.ledger._check_report import CheckReport, Figure, exact, figure
from airex.ledger._entries import content_hash
from airex.ledger.models import Account, Entry, Posting, table

__all__ = ["check_content", "check_entries", "check_totals"]

_PAGE = 5000  # entries per page of the content-hash pass

_ACCOUNT = table(Account)
_ENTRY = table(Entry)
_POSTING = table(Posting)


def check_entries(connection: Connection, report: CheckReport) -> None:
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
            f"its {row.currency} postings sum to {figure(exact(row.total), row.currency)}, not 0",
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


def check_totals(connection: Connection, report: CheckReport) -> None:
    amount = _POSTING.c.amount_minor
    debits = sa.func.sum(sa.case((amount > 0, amount), else_=0))
    credits = sa.func.sum(sa.case((amount < 0, -amount), else_=0))
    for currency, debit, credit in connection.execute(
        sa.select(_POSTING.c.currency, debits, credits).group_by(_POSTING.c.currency)
    ):
        if exact(debit) != exact(credit):
            report.add(
                "debits-equal-credits",
                f"currency {currency}",
                f"total debits {figure(exact(debit), currency)} != total credits "
                f"{figure(exact(credit), currency)}",
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


def check_content(connection: Connection, report: CheckReport) -> None:
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
            minor = exact(row[5])
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
    check_reversals(connection, report, reversal_of)


def check_reversals(
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
            sides[entry_id][(account_id, exact(minor))] += 1
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
