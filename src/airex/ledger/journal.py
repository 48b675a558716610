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

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import chunked, insert_for, read_transaction, run_write
from airex.ledger import _bulk
from airex.ledger.errors import (
    IdempotencyConflictError,
    InvalidAmountError,
    ReversalError,
    UnbalancedEntryError,
    UnknownEntryError,
)
from airex.ledger.models import (
    KEY_LENGTH,
    PARTY_LENGTH,
    Account,
    AccountKind,
    AccountPublic,
    Balance,
    BalanceDay,
    BalancePublic,
    Entry,
    EntryPublic,
    Posting,
    PostingPublic,
    table,
)
from airex.ledger.money import INT64_MAX, MAX_MINOR_UNITS, Money, currency_exponent, stored_minor
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
_BALANCE = table(Balance)
_DAY = table(BalanceDay)


def _check_text(value: object, what: str, max_length: int, *, empty_ok: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, not {value!r}")
    if not value and not empty_ok:
        raise ValueError(f"{what} is empty")
    if value != value.strip():
        raise ValueError(f"{what} {value!r} has surrounding white space")
    if len(value) > max_length:
        raise ValueError(f"{what} is {len(value)} characters long (at most {max_length})")
    return value


# --- what callers write --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class AccountKey:
    """Names an account: (party, kind, currency), plus the licence for per-licence kinds.

    Accounts are created on first use. ``licence_id`` is required for a
    :attr:`~AccountKind.DISTRIBUTABLE_POOL` (one pool per licence) and optional otherwise (a
    receivable may be kept per licence too).
    """

    party: str
    kind: AccountKind
    currency: str
    licence_id: str = ""
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            _check_text(self.party, "account party", PARTY_LENGTH)
            _check_text(self.licence_id, "account licence id", PARTY_LENGTH, empty_ok=True)
            kind = AccountKind(self.kind)
        except ValueError as exc:
            raise UnbalancedEntryError(f"invalid account {self._label()}: {exc}") from None
        object.__setattr__(self, "kind", kind)
        currency_exponent(self.currency)
        if kind.needs_licence and not self.licence_id:
            raise UnbalancedEntryError(
                f"account {self._label()}: a {kind} account is per licence; give its licence_id"
            )
        # Keys are hashed for every posting of a batch: hash the fields once.
        object.__setattr__(
            self, "_hash", hash((self.party, str(kind), self.currency, self.licence_id))
        )

    def __hash__(self) -> int:
        return self._hash

    def _label(self) -> str:
        tail = f"/{self.licence_id}" if self.licence_id else ""
        return f"{self.party}/{self.kind}/{self.currency}{tail}"

    def label(self) -> str:
        """``party/kind/currency`` (``/licence`` for per-licence accounts)."""
        return self._label()


@dataclass(frozen=True, slots=True)
class PostingLine:
    """One side of an entry: ``amount`` on ``account`` (positive: debit, negative: credit).

    Build it with :func:`debit` or :func:`credit`, which take a positive decimal amount.
    """

    account: AccountKey
    amount: Money

    def __post_init__(self) -> None:
        if self.amount.currency != self.account.currency:
            raise UnbalancedEntryError(
                f"posting of {self.amount} on {self.account.label()}: the amount's currency "
                "is not the account's"
            )
        if not self.amount.minor:
            raise UnbalancedEntryError(f"posting on {self.account.label()} has a zero amount")
        if abs(self.amount.minor) > MAX_MINOR_UNITS:
            raise InvalidAmountError(
                f"posting of {self.amount} on {self.account.label()} is beyond the ledger's "
                f"limit of {MAX_MINOR_UNITS} minor units per amount"
            )


def debit(account: AccountKey, amount: Any) -> PostingLine:
    """Debit ``amount`` (a positive ``Decimal``, ``int`` or decimal string) to ``account``."""
    return PostingLine(account, _positive(account, amount, "debit"))


def credit(account: AccountKey, amount: Any) -> PostingLine:
    """Credit ``amount`` (a positive ``Decimal``, ``int`` or decimal string) to ``account``."""
    return PostingLine(account, -_positive(account, amount, "credit"))


def _positive(account: AccountKey, amount: Any, side: str) -> Money:
    money = Money.of(amount, account.currency)
    if money.minor <= 0:
        raise InvalidAmountError(
            f"{side} of {amount} on {account.label()}: give a positive amount "
            f"(a {side} is already signed)"
        )
    return money


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A journal entry to post: its idempotency key, effective date, postings, description.

    ``lines`` (a sequence of :class:`PostingLine`) must hold at least two postings and sum to
    zero per currency; this is checked here, so an unbalanced entry never reaches the database.
    ``idempotency_key`` should name the business event exactly once, e.g. the sender and
    MessageId of the message that caused it.
    """

    idempotency_key: str
    effective_on: date
    lines: Sequence[PostingLine]
    description: str = ""
    content_hash: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            _check_text(self.idempotency_key, "idempotency key", KEY_LENGTH)
        except ValueError as exc:
            raise UnbalancedEntryError(str(exc)) from None
        where = f"entry {self.idempotency_key!r}"
        if isinstance(self.effective_on, datetime) or not isinstance(self.effective_on, date):
            raise UnbalancedEntryError(
                f"{where}: effective_on must be a date, not {self.effective_on!r}"
            )
        if not isinstance(self.description, str):
            raise UnbalancedEntryError(f"{where}: description must be a string")
        lines = tuple(self.lines)
        object.__setattr__(self, "lines", lines)
        _check_lines(where, lines)
        object.__setattr__(
            self,
            "content_hash",
            content_hash(self.effective_on, self.description, None, _line_tuples(lines)),
        )


def _check_lines(where: str, lines: tuple[PostingLine, ...]) -> None:
    if len(lines) < 2:
        raise UnbalancedEntryError(f"{where} has {len(lines)} posting(s); an entry needs two")
    sums: dict[str, int] = {}
    for line in lines:
        if not isinstance(line, PostingLine):
            raise UnbalancedEntryError(f"{where}: {line!r} is not a PostingLine")
        sums[line.amount.currency] = sums.get(line.amount.currency, 0) + line.amount.minor
    off = {currency: total for currency, total in sums.items() if total}
    if off:
        detail = ", ".join(f"{Money(total, currency)}" for currency, total in sorted(off.items()))
        raise UnbalancedEntryError(
            f"{where} does not balance: its postings sum to {detail} (debits are positive, "
            "credits negative; each currency must sum to zero)"
        )


_LineTuple = tuple[str, str, str, str, int]  # party, kind, currency, licence id, minor


def _line_tuples(lines: Iterable[PostingLine]) -> list[_LineTuple]:
    return [
        (
            line.account.party,
            str(line.account.kind),
            line.account.currency,
            line.account.licence_id,
            line.amount.minor,
        )
        for line in lines
    ]


def content_hash(
    effective_on: date,
    description: str,
    reverses_entry_id: int | None,
    lines: Iterable[_LineTuple],
) -> str:
    """The SHA-256 fingerprint of an entry's content (postings in any order give the same).

    Stored with the entry, compared when its key is posted again, and recomputed from the
    stored rows by the checker to prove that no posted row changed.
    """
    canonical = json.dumps(
        [effective_on.isoformat(), description, reverses_entry_id, sorted(lines)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- what posting returns ------------------------------------------------------------------


class PostedRef(NamedTuple):
    """What :meth:`Journal.post_many` returns per entry: its id, key, and whether this call
    created it (``False``: the key was posted before with the same content)."""

    entry_id: int
    idempotency_key: str
    created: bool


@dataclass(frozen=True, slots=True)
class PostResult:
    """What :meth:`Journal.post` and :meth:`Journal.reverse` return: the stored entry, and
    whether this call created it (``False``: an earlier post of the same key is returned)."""

    entry: EntryPublic
    created: bool


class _Draft(NamedTuple):
    key: str
    effective_on: date
    description: str
    reverses_entry_id: int | None
    lines: tuple[PostingLine, ...]
    content_hash: str


def _draft(entry: NewEntry) -> _Draft:
    if not isinstance(entry, NewEntry):
        raise TypeError(f"post takes NewEntry objects, not {type(entry).__name__}")
    return _Draft(
        entry.idempotency_key,
        entry.effective_on,
        entry.description,
        None,
        tuple(entry.lines),
        entry.content_hash,
    )


# --- the journal ---------------------------------------------------------------------------


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
        (ref,) = self._post([_draft(entry)])
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
        batch: list[_Draft] = []
        for entry in entries:
            batch.append(_draft(entry))
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
        draft = _Draft(
            checked.idempotency_key,
            checked.effective_on,
            checked.description,
            entry_id,
            lines,
            content_hash(effective_on, text, entry_id, _line_tuples(lines)),
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

    def _post(self, drafts: list[_Draft]) -> list[PostedRef]:
        new_ids: dict[AccountKey, int] = {}

        def work(connection: Connection) -> list[PostedRef]:
            new_ids.clear()
            return self._write_batch(connection, drafts, new_ids)

        try:
            refs = run_write(self.engine, work)
        except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
            if not _is_balance_overflow(exc):
                raise
            raise InvalidAmountError(
                "posting refused: it would take a stored balance beyond the 64-bit range "
                f"(±{INT64_MAX} minor units) of the database"
            ) from exc
        self._account_ids.update(new_ids)  # only ids whose creation is committed
        return refs

    def _write_batch(
        self, connection: Connection, drafts: list[_Draft], new_ids: dict[AccountKey, int]
    ) -> list[PostedRef]:
        # 1. The batch's own duplicates: one draft per key.
        unique: dict[str, _Draft] = {}
        for draft in drafts:
            first = unique.setdefault(draft.key, draft)
            if first.content_hash != draft.content_hash:
                raise IdempotencyConflictError(
                    f"idempotency key {draft.key!r} appears twice in the batch with different "
                    "content",
                    key=draft.key,
                    existing_id=None,
                )
        # 2. Accounts, created on first use, in key order (the lock order on PostgreSQL).
        accounts = self._resolve_accounts(
            connection, {line.account for d in unique.values() for line in d.lines}, new_ids
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
        before = _bulk.existing_entries(
            connection, [d.key for d in ordered if d.key not in created]
        )
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
        return [
            PostedRef(ids[d.key], d.key, d.key in created and d is unique[d.key]) for d in drafts
        ]

    def _resolve_accounts(
        self, connection: Connection, keys: set[AccountKey], new_ids: dict[AccountKey, int]
    ) -> dict[AccountKey, int]:
        resolved = {key: self._account_ids[key] for key in keys if key in self._account_ids}
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

    # --- reading -------------------------------------------------------------------------

    def entry(self, entry_id: int) -> EntryPublic:
        """The entry with id ``entry_id``; :class:`~airex.ledger.UnknownEntryError` if none."""
        entries = self._load_entries(sa.select(_ENTRY).where(_ENTRY.c.id == entry_id))
        if not entries:
            raise UnknownEntryError(f"there is no journal entry {entry_id}")
        return entries[0]

    def entry_by_key(self, idempotency_key: str) -> EntryPublic | None:
        """The entry posted under ``idempotency_key``, or ``None``."""
        entries = self._load_entries(
            sa.select(_ENTRY).where(_ENTRY.c.idempotency_key == idempotency_key)
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
        return self._load_entries(query)

    def _load_entries(self, query: sa.Select[Any]) -> list[EntryPublic]:
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query).mappings().all()
            if not rows:
                return []
            ids = [row["id"] for row in rows]
            postings: dict[int, list[PostingPublic]] = {entry_id: [] for entry_id in ids}
            for chunk in chunked(ids):
                for p in connection.execute(
                    sa.select(_POSTING.c.entry_id, _POSTING.c.amount_minor, *_ACCOUNT.c)
                    .join(_ACCOUNT, _ACCOUNT.c.id == _POSTING.c.account_id)
                    .where(_POSTING.c.entry_id.in_(chunk))
                    .order_by(_POSTING.c.id)
                ).mappings():
                    money = Money(
                        stored_minor(p["amount_minor"], f"posting of entry {p['entry_id']}"),
                        p["currency"],
                    )
                    postings[p["entry_id"]].append(
                        PostingPublic(
                            account=_account_public(p),
                            amount=money.amount,
                            amount_minor=money.minor,
                        )
                    )
        return [
            EntryPublic(
                id=row["id"],
                idempotency_key=row["idempotency_key"],
                effective_on=row["effective_on"],
                description=row["description"],
                reverses_entry_id=row["reverses_entry_id"],
                posted_at=row["posted_at"],
                postings=postings[row["id"]],
            )
            for row in sorted(rows, key=lambda r: int(r["id"]))
        ]

    def accounts(self, *, party: str | None = None) -> list[AccountPublic]:
        """Every account (or ``party``'s), ordered by party, kind, currency and licence."""
        query = sa.select(_ACCOUNT).order_by(
            _ACCOUNT.c.party, _ACCOUNT.c.kind, _ACCOUNT.c.currency, _ACCOUNT.c.licence_id
        )
        if party is not None:
            query = query.where(_ACCOUNT.c.party == party)
        with read_transaction(self.engine) as connection:
            return [_account_public(row) for row in connection.execute(query).mappings()]

    def balance(self, account: AccountKey, *, as_of: date | None = None) -> Money:
        """``account``'s balance (debit > 0) now, or at the end of day ``as_of``.

        An account that never moved has a zero balance. Costs one indexed lookup (now) or a
        sum over the days the account moved (as of a date), never a scan of the postings.
        """
        _require_day(as_of)
        with read_transaction(self.engine) as connection:
            account_id = self._account_ids.get(account)
            if account_id is None:
                account_id = connection.execute(
                    sa.select(_ACCOUNT.c.id).where(
                        _ACCOUNT.c.party == account.party,
                        _ACCOUNT.c.kind == str(account.kind),
                        _ACCOUNT.c.currency == account.currency,
                        _ACCOUNT.c.licence_id == account.licence_id,
                    )
                ).scalar()
                if account_id is None:
                    return Money.zero(account.currency)
            if as_of is None:
                query = sa.select(_BALANCE.c.balance_minor).where(
                    _BALANCE.c.account_id == account_id
                )
            else:
                query = sa.select(sa.func.sum(_DAY.c.delta_minor)).where(
                    _DAY.c.account_id == account_id, _DAY.c.day <= as_of
                )
            minor = connection.execute(query).scalar()
        return Money(stored_minor(minor, f"balance of {account.label()}"), account.currency)

    def balances(
        self, *, party: str | None = None, as_of: date | None = None
    ) -> list[BalancePublic]:
        """The balance of every account (or ``party``'s), now or at the end of day ``as_of``."""
        _require_day(as_of)
        if as_of is None:
            query = sa.select(
                *_ACCOUNT.c,
                sa.func.coalesce(_BALANCE.c.balance_minor, 0).label("balance_minor"),
                sa.func.coalesce(_BALANCE.c.posting_count, 0).label("posting_count"),
            ).outerjoin(_BALANCE, _BALANCE.c.account_id == _ACCOUNT.c.id)
        else:
            moved = (
                sa.select(
                    _DAY.c.account_id,
                    sa.func.sum(_DAY.c.delta_minor).label("balance_minor"),
                    sa.func.sum(_DAY.c.posting_count).label("posting_count"),
                )
                .where(_DAY.c.day <= as_of)
                .group_by(_DAY.c.account_id)
                .subquery()
            )
            query = sa.select(
                *_ACCOUNT.c,
                sa.func.coalesce(moved.c.balance_minor, 0).label("balance_minor"),
                sa.func.coalesce(moved.c.posting_count, 0).label("posting_count"),
            ).outerjoin(moved, moved.c.account_id == _ACCOUNT.c.id)
        if party is not None:
            query = query.where(_ACCOUNT.c.party == party)
        query = query.order_by(
            _ACCOUNT.c.party, _ACCOUNT.c.kind, _ACCOUNT.c.currency, _ACCOUNT.c.licence_id
        )
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query).mappings().all()
        result = []
        for row in rows:
            money = Money(
                stored_minor(row["balance_minor"], f"balance of account {row['id']}"),
                row["currency"],
            )
            result.append(
                BalancePublic(
                    account=_account_public(row),
                    balance=money.amount,
                    balance_minor=money.minor,
                    posting_count=stored_minor(row["posting_count"], "posting count"),
                    as_of=as_of,
                )
            )
        return result


def _is_balance_overflow(exc: sa.exc.DBAPIError) -> bool:
    """Whether the database refused a balance update for overflowing 64 bits: PostgreSQL's
    ``bigint out of range`` (SQLSTATE 22003), SQLite's integer check (its integer arithmetic
    overflows into a REAL, which ``ck_ledger_balance*_integer`` refuses)."""
    if getattr(exc.orig, "sqlstate", None) == "22003":
        return True
    return "ck_ledger_balance" in str(exc.orig)


def _require_day(as_of: object) -> None:
    if as_of is not None and (isinstance(as_of, datetime) or not isinstance(as_of, date)):
        raise TypeError(f"as_of takes a date (balances are by effective date), not {as_of!r}")


def _account_public(row: Any) -> AccountPublic:
    return AccountPublic(
        id=row["id"],
        party=row["party"],
        kind=AccountKind(row["kind"]),
        currency=row["currency"],
        licence_id=row["licence_id"],
    )
