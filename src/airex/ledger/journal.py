"""The money ledger: accounts, balanced journal entries, idempotency, reversals, balances.

A CMO's books as a double-entry journal::

    from airex.ledger import AccountKey, AccountKind, Journal, NewEntry, credit, debit

    journal = Journal(engine)
    receivable = AccountKey("PADPIDA2026DEV01", AccountKind.LICENSEE_RECEIVABLE, "EUR")
    pool = AccountKey("PADPIDA2026CMO01", AccountKind.DISTRIBUTABLE_POOL, "EUR", "LIC-1")
    result = journal.post(NewEntry(
        idempotency_key="PADPIDA2026CMO01:INV-2026-Q1",   # e.g. sender + MessageId
        effective_on=date(2026, 4, 1),
        lines=(debit(receivable, "625.00"), credit(pool, "625.00")),
        description="Invoice INV-2026-Q1",
    ))
    journal.balance(pool)                                  # Money(-62500, 'EUR'): a credit

The rules, each enforced before anything is written (and proved afterwards by
:func:`~airex.ledger.check_ledger`):

* an entry has at least two postings, none of them zero, and its postings sum to exactly zero
  **per currency** (amounts are exact minor units, see :mod:`airex.ledger.money`);
* one entry per idempotency key: posting a key again with the same content returns the first
  entry (``created=False``); the same key with different content raises
  :class:`~airex.ledger.IdempotencyConflictError`. "Content" is the date, the description and
  the postings (in any order), so a re-delivered message never posts twice;
* entries are never updated or deleted: a mistake is undone by :meth:`Journal.reverse`, a new
  entry with every posting negated (an entry is reversed at most once);
* balances are kept in the same transaction as the postings (current balance: one row per
  account; balance as of a date: one row per account and effective date), so a balance query
  costs the same however long the journal is.

Batched posting (:meth:`Journal.post_many`) writes many entries per transaction, with one
multi-row insert per table: the way to load a backlog or a whole distribution run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import read_transaction, run_write
from airex.ledger import _reading
from airex.ledger._entries import (
    AccountKey,
    Draft,
    NewEntry,
    PostedRef,
    PostingLine,
    PostResult,
    content_hash,
    credit,
    debit,
    line_tuples,
    to_draft,
)
from airex.ledger._posting import is_balance_overflow, write_batch
from airex.ledger.errors import InvalidAmountError, ReversalError, UnknownEntryError
from airex.ledger.models import (
    Account,
    AccountPublic,
    BalancePublic,
    Entry,
    EntryPublic,
    Posting,
    table,
)
from airex.ledger.money import INT64_MAX, Money
from airex.ledger.schema import require_current

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "AccountKey",
    "Journal",
    "NewEntry",
    "PostResult",
    "PostedRef",
    "PostingLine",
    "content_hash",
    "credit",
    "debit",
]

DEFAULT_BATCH_SIZE = 2000
"""Entries per transaction in :meth:`Journal.post_many`."""

_ACCOUNT = table(Account)
_ENTRY = table(Entry)
_POSTING = table(Posting)


class Journal:
    """The money ledger on one database (an engine from :func:`airex.ledger.create_engine`).

    Safe to use from many processes at once (see :mod:`airex.db` for the locking);
    one instance per process is enough. Raises
    :class:`~airex.ledger.SchemaNotCurrentError` when the database is not migrated.
    """

    def __init__(self, engine: Engine, *, check_schema: bool = True) -> None:
        if check_schema:
            require_current(engine)
        self.engine = engine
        self._account_ids: dict[AccountKey, int] = {}

    # --- writing -------------------------------------------------------------------------

    def post(self, entry: NewEntry) -> PostResult:
        """Post one entry (or return the entry its key already posted); see the module doc."""
        (ref,) = self._post([to_draft(entry)])
        return PostResult(self.entry(ref.entry_id), ref.created)

    def post_many(
        self, entries: Iterable[NewEntry], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[PostedRef]:
        """Post entries in batches of ``batch_size``, one transaction per batch.

        Each batch is all-or-nothing: an idempotency conflict anywhere in it rolls the batch
        back and raises (batches committed before stay committed, and posting the same
        entries again is safe: they come back with ``created=False``).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        results: list[PostedRef] = []
        batch: list[Draft] = []
        for entry in entries:
            batch.append(to_draft(entry))
            if len(batch) >= batch_size:
                results.extend(self._post(batch))
                batch = []
        if batch:
            results.extend(self._post(batch))
        return results

    def reverse(
        self,
        entry_id: int,
        *,
        effective_on: date,
        idempotency_key: str | None = None,
        description: str | None = None,
    ) -> PostResult:
        """Post the reversal of entry ``entry_id``: the same postings, negated.

        ``effective_on`` is the date the reversal counts from (balances before it still show
        the original); it cannot be earlier than the original's own date
        (:class:`~airex.ledger.ReversalError`), or balances between the two dates would show
        the reversal without what it reverses. The key defaults to
        ``reversal-of-entry-<id>``, so reversing the same entry again returns the first
        reversal. Raises :class:`~airex.ledger.ReversalError`
        for an unknown entry, a reversal, or an entry another key already reversed.
        """
        try:
            original = self.entry(entry_id)
        except UnknownEntryError:
            raise ReversalError(
                f"cannot reverse entry {entry_id}: there is no such entry"
            ) from None
        if original.reverses_entry_id is not None:
            raise ReversalError(
                f"entry {entry_id} ({original.idempotency_key!r}) is itself the reversal of "
                f"entry {original.reverses_entry_id}; post the original again with a new key "
                "instead of reversing a reversal"
            )
        if (
            isinstance(effective_on, date)
            and not isinstance(effective_on, datetime)
            and effective_on < original.effective_on
        ):
            raise ReversalError(
                f"cannot reverse entry {entry_id} ({original.idempotency_key!r}) effective "
                f"{effective_on}: it takes effect on {original.effective_on}, and a reversal "
                "cannot take effect before what it reverses"
            )
        key = f"reversal-of-entry-{entry_id}" if idempotency_key is None else idempotency_key
        text = (
            f"Reversal of entry {entry_id} ({original.idempotency_key})"
            if description is None
            else description
        )
        lines = tuple(
            PostingLine(
                AccountKey(
                    p.account.party, p.account.kind, p.account.currency, p.account.licence_id
                ),
                Money(-p.amount_minor, p.account.currency),
            )
            for p in original.postings
        )
        checked = NewEntry(key, effective_on, lines, text)  # validates key, date and balance
        draft = Draft(
            checked.idempotency_key,
            checked.effective_on,
            checked.description,
            entry_id,
            lines,
            content_hash(effective_on, text, entry_id, line_tuples(lines)),
        )
        try:
            (ref,) = self._post([draft])
        except sa.exc.IntegrityError as exc:
            if "reverses" not in str(exc.orig):
                raise
            raise self._already_reversed(entry_id, key) from None
        return PostResult(self.entry(ref.entry_id), ref.created)

    def _already_reversed(self, entry_id: int, key: str) -> ReversalError:
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                sa.select(_ENTRY.c.id, _ENTRY.c.idempotency_key).where(
                    _ENTRY.c.reverses_entry_id == entry_id
                )
            ).first()
        by = f" by entry {row.id} (key {row.idempotency_key!r})" if row else ""
        return ReversalError(
            f"entry {entry_id} was reversed already{by}; a second reversal (key {key!r}) "
            "would undo it twice"
        )

    def _post(self, drafts: list[Draft]) -> list[PostedRef]:
        new_ids: dict[AccountKey, int] = {}

        def work(connection: Connection) -> list[PostedRef]:
            new_ids.clear()
            return write_batch(connection, drafts, self._account_ids, new_ids)

        try:
            refs = run_write(self.engine, work)
        except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
            if not is_balance_overflow(exc):
                raise
            raise InvalidAmountError(
                "posting refused: it would take a stored balance beyond the 64-bit range "
                f"(±{INT64_MAX} minor units) of the database"
            ) from exc
        self._account_ids.update(new_ids)  # only ids whose creation is committed
        return refs

    # --- reading -------------------------------------------------------------------------

    def entry(self, entry_id: int) -> EntryPublic:
        """The entry with id ``entry_id``; :class:`~airex.ledger.UnknownEntryError` if none."""
        entries = _reading.load_entries(
            self.engine, sa.select(_ENTRY).where(_ENTRY.c.id == entry_id)
        )
        if not entries:
            raise UnknownEntryError(f"there is no journal entry {entry_id}")
        return entries[0]

    def entry_by_key(self, idempotency_key: str) -> EntryPublic | None:
        """The entry posted under ``idempotency_key``, or ``None``."""
        entries = _reading.load_entries(
            self.engine, sa.select(_ENTRY).where(_ENTRY.c.idempotency_key == idempotency_key)
        )
        return entries[0] if entries else None

    def entries(self, *, party: str | None = None, limit: int | None = None) -> list[EntryPublic]:
        """Entries in posting order, all or those touching an account of ``party``.

        ``limit`` keeps the newest ``limit`` of them (still in posting order).
        """
        query = sa.select(_ENTRY)
        if party is not None:
            touching = (
                sa.select(_POSTING.c.entry_id)
                .join(_ACCOUNT, _ACCOUNT.c.id == _POSTING.c.account_id)
                .where(_ACCOUNT.c.party == party)
            )
            query = query.where(_ENTRY.c.id.in_(touching))
        if limit is not None:
            newest = query.order_by(_ENTRY.c.id.desc()).limit(limit).subquery()
            query = sa.select(newest)
        return _reading.load_entries(self.engine, query)

    def accounts(self, *, party: str | None = None) -> list[AccountPublic]:
        """Every account (or ``party``'s), ordered by party, kind, currency and licence."""
        return _reading.accounts(self.engine, party=party)

    def balance(self, account: AccountKey, *, as_of: date | None = None) -> Money:
        """``account``'s balance (debit > 0) now, or at the end of day ``as_of``.

        An account that never moved has a zero balance. Costs one indexed lookup (now) or a
        sum over the days the account moved (as of a date), never a scan of the postings.
        """
        return _reading.balance(self.engine, self._account_ids, account, as_of=as_of)

    def balances(
        self, *, party: str | None = None, as_of: date | None = None
    ) -> list[BalancePublic]:
        """The balance of every account (or ``party``'s), now or at the end of day ``as_of``."""
        return _reading.balances(self.engine, party=party, as_of=as_of)
