"""The journal's write transaction: one batch of entries, its accounts, postings and balances.

:func:`write_batch` is what :meth:`airex.ledger.Journal.post_many` runs in each transaction
(with retries, see :func:`airex.db.run_write`): duplicates, accounts created on first use,
entries with one multi-row insert per table, idempotency conflicts, balance movements in one
global lock order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import chunked, insert_for
from airex.ledger import _bulk
from airex.ledger._entries import AccountKey, Draft, PostedRef
from airex.ledger.errors import IdempotencyConflictError, InvalidAmountError
from airex.ledger.models import Account, AccountKind, table
from airex.ledger.money import INT64_MAX

__all__ = ["is_balance_overflow", "resolve_accounts", "write_batch"]

_ACCOUNT = table(Account)


def write_batch(
    connection: Connection,
    drafts: list[Draft],
    known: dict[AccountKey, int],
    new_ids: dict[AccountKey, int],
) -> list[PostedRef]:
    """Write one batch of drafts in ``connection``'s transaction; see :meth:`Journal.post_many`.

    ``known`` holds account ids committed before (the journal's cache); ids of accounts created
    now are put in ``new_ids``, for the caller to cache once the transaction commits.
    """
    # 1. The batch's own duplicates: one draft per key.
    unique: dict[str, Draft] = {}
    for draft in drafts:
        first = unique.setdefault(draft.key, draft)
        if first.content_hash != draft.content_hash:
            raise IdempotencyConflictError(
                f"idempotency key {draft.key!r} appears twice in the batch with different content",
                key=draft.key,
                existing_id=None,
            )
    # 2. Accounts, created on first use, in key order (the lock order on PostgreSQL).
    accounts = resolve_accounts(
        connection, {line.account for d in unique.values() for line in d.lines}, known, new_ids
    )
    # 3. Entries in key order; keys posted before are left out.
    ordered = sorted(unique.values(), key=lambda d: d.key)
    created = _bulk.insert_entries(
        connection,
        [
            (d.key, d.effective_on, d.description, d.reverses_entry_id, d.content_hash)
            for d in ordered
        ],
        datetime.now(UTC),
    )
    # 4. Keys posted before: the same content returns the first entry, else a conflict.
    ids = dict(created)
    before = _bulk.existing_entries(connection, [d.key for d in ordered if d.key not in created])
    for draft in ordered:
        if draft.key in created:
            continue
        entry_id, stored_hash = before[draft.key]
        if stored_hash != draft.content_hash:
            raise IdempotencyConflictError(
                f"idempotency key {draft.key!r} was posted before (entry {entry_id}) with "
                "different content; an entry is never changed: post a reversal and a new "
                "entry with a new key",
                key=draft.key,
                existing_id=entry_id,
            )
        ids[draft.key] = entry_id
    # 5. Postings, and the balance movements they make, of the entries created now
    #    (a hot loop: one pass, one dict operation per posting).
    postings: list[tuple[int, int, str, int]] = []
    append = postings.append
    days: dict[tuple[int, date], list[int]] = {}
    for draft in ordered:
        new_id = created.get(draft.key)
        if new_id is None:
            continue
        on = draft.effective_on
        for line in draft.lines:
            account_id = accounts[line.account]
            amount = line.amount
            minor = amount.minor
            append((new_id, account_id, amount.currency, minor))
            day = days.get((account_id, on))
            if day is None:
                days[account_id, on] = [minor, 1]
            else:
                day[0] += minor
                day[1] += 1
    balance: dict[int, list[int]] = {}
    for (account_id, _), (delta, count) in days.items():
        total = balance.get(account_id)
        if total is None:
            balance[account_id] = [delta, count]
        else:
            total[0] += delta
            total[1] += count
    if any(abs(delta) > INT64_MAX for delta, _ in balance.values()) or any(
        abs(delta) > INT64_MAX for delta, _ in days.values()
    ):
        raise InvalidAmountError(
            "posting refused: the batch moves an account by more than the 64-bit range "
            f"(±{INT64_MAX} minor units) of the database; post it in smaller batches"
        )
    _bulk.insert_postings(connection, postings)
    # Row locks in one global order: balance rows by account id, then day rows.
    _bulk.add_movements(
        connection,
        [(account, delta, n) for account, (delta, n) in sorted(balance.items())],
        [(account, day, delta, n) for (account, day), (delta, n) in sorted(days.items())],
    )
    return [PostedRef(ids[d.key], d.key, d.key in created and d is unique[d.key]) for d in drafts]


def resolve_accounts(
    connection: Connection,
    keys: set[AccountKey],
    known: dict[AccountKey, int],
    new_ids: dict[AccountKey, int],
) -> dict[AccountKey, int]:
    """The ids of the accounts ``keys``, creating those that do not exist yet."""
    resolved = {key: known[key] for key in keys if key in known}
    missing = sorted(keys - resolved.keys())
    if not missing:
        return resolved
    now = datetime.now(UTC)
    connection.execute(
        insert_for(connection, _ACCOUNT).on_conflict_do_nothing(
            index_elements=["party", "kind", "currency", "licence_id"]
        ),
        [
            {
                "party": key.party,
                "kind": str(key.kind),
                "currency": key.currency,
                "licence_id": key.licence_id,
                "created_at": now,
            }
            for key in missing
        ],
    )
    columns = (_ACCOUNT.c.party, _ACCOUNT.c.kind, _ACCOUNT.c.currency, _ACCOUNT.c.licence_id)
    wanted = set(missing)
    for chunk in chunked(missing):
        # By party (the unique index's first column: SQLite cannot use the index for a
        # row-value IN list and scanned every account per chunk), then keep the keys asked.
        rows = connection.execute(
            sa.select(_ACCOUNT.c.id, *columns).where(
                _ACCOUNT.c.party.in_(sorted({k.party for k in chunk}))
            )
        )
        for row in rows:
            key = AccountKey(row.party, AccountKind(row.kind), row.currency, row.licence_id)
            if key in wanted:
                resolved[key] = new_ids[key] = row.id
    return resolved


def is_balance_overflow(exc: sa.exc.DBAPIError) -> bool:
    """Whether the database refused a balance update for overflowing 64 bits: PostgreSQL's
    ``bigint out of range`` (SQLSTATE 22003), SQLite's integer check (its integer arithmetic
    overflows into a REAL, which ``ck_ledger_balance*_integer`` refuses)."""
    if getattr(exc.orig, "sqlstate", None) == "22003":
        return True
    return "ck_ledger_balance" in str(exc.orig)
