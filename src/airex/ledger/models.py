"""The ledger's tables (SQLModel), and the read models the API and the CLI return.

Each stored thing is split the SQLModel way: ``*Base`` holds the fields shared by the table and
its readers, ``*Table``-style classes (``Account``, ``Entry``, ``Posting``, ``GrantEvent``) are
the tables, and ``*Public`` classes are what :class:`~airex.ledger.Journal` and
:class:`~airex.ledger.GrantRegister` hand out (plain pydantic models, safe to serialise with
``model_dump(mode="json")``). What callers *write* is plain data validated by the journal and
the register themselves (:class:`~airex.ledger.NewEntry`, :class:`~airex.ledger.GrantRecord`),
so that every refusal is an :class:`~airex.ledger.LedgerError` that says what and where.

Money columns are ``BIGINT`` counts of minor units (see :mod:`airex.ledger.money`), never
``NUMERIC``: SQLite would hand those back as floats. Posted rows (accounts, entries, postings,
grant events and their children) are append-only: the migrations install triggers that make
the database itself refuse ``UPDATE`` and ``DELETE`` of them (and ``TRUNCATE`` on PostgreSQL).
The two balance tables are *derived* (kept in the posting transaction, verified by
:func:`~airex.ledger.check_ledger`) and are the only ones ever updated.

Sign convention: a posting's ``amount_minor`` is positive for a debit and negative for a
credit, so an entry balances when its amounts sum to zero per currency, and a balance is the
plain sum of its postings (positive = debit balance).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from airex.db import UTCDateTime

__all__ = [
    "Account",
    "AccountBase",
    "AccountKind",
    "AccountPublic",
    "Balance",
    "BalanceDay",
    "BalancePublic",
    "Entry",
    "EntryBase",
    "EntryPublic",
    "GrantEvent",
    "GrantEventBase",
    "GrantPublic",
    "GrantStatus",
    "GrantUseType",
    "GrantWork",
    "Posting",
    "PostingPublic",
    "UTCDateTime",
    "ledger_tables",
]

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit ids; on SQLite ``INTEGER`` so that the id is the rowid (autoincrementing)."""

PARTY_LENGTH = 64  # airex party ids and licence ids are at most 64 characters
KEY_LENGTH = 255  # idempotency keys and source message ids (sender + MessageId fits)


class AccountKind(StrEnum):
    """What an account holds, in a CMO's books.

    ``normal_side`` is the side its balance normally sits on (assets are debit balances,
    liabilities and revenue credit balances).
    """

    LICENSEE_RECEIVABLE = "licensee_receivable"
    """What a licensee owes the CMO (invoiced, not yet paid)."""
    CASH = "cash"
    """Money in the CMO's bank account."""
    DISTRIBUTABLE_POOL = "distributable_pool"
    """Money collected under one licence, waiting to be distributed (per licence)."""
    RIGHTSHOLDER_PAYABLE = "rightsholder_payable"
    """What the CMO owes a rightsholder (distributed, not yet paid out)."""
    ADMIN_FEE_REVENUE = "admin_fee_revenue"
    """The CMO's administration fee, its own revenue."""
    SUSPENSE = "suspense"
    """Unallocated: money for usage of works not (yet) identified."""
    UNCLAIMED = "unclaimed"
    """Money for rightsholders who could not be found or paid."""

    @property
    def normal_side(self) -> str:
        """``"debit"`` for assets, ``"credit"`` for liabilities and revenue."""
        return "debit" if self in _DEBIT_NORMAL else "credit"

    @property
    def needs_licence(self) -> bool:
        """Whether accounts of this kind are per licence (the distributable pool is)."""
        return self is AccountKind.DISTRIBUTABLE_POOL


_DEBIT_NORMAL = frozenset({AccountKind.LICENSEE_RECEIVABLE, AccountKind.CASH})


class GrantStatus(StrEnum):
    """The states of a licence, as LicenceStatus carries them (spec: LicenceMessage)."""

    GRANTED = "Granted"
    SUSPENDED = "Suspended"
    REVOKED = "Revoked"
    EXPIRED = "Expired"


def _in_values(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in enum)})"


# --- accounts ------------------------------------------------------------------------------


class AccountBase(SQLModel):
    """An account is identified by (party, kind, currency, licence id).

    ``licence_id`` is ``""`` except for per-licence kinds (the distributable pool), where it
    names the licence whose money the pool holds.
    """

    party: str = Field(sa_type=sa.String(PARTY_LENGTH))
    kind: AccountKind = Field(sa_type=sa.String(32))
    currency: str = Field(sa_type=sa.String(3))
    licence_id: str = Field(default="", sa_type=sa.String(PARTY_LENGTH))


class Account(AccountBase, table=True):
    """Table ``ledger_account``: one row per account, never changed or deleted."""

    __tablename__: ClassVar[Any] = "ledger_account"
    __table_args__ = (
        sa.UniqueConstraint("party", "kind", "currency", "licence_id", name="uq_ledger_account"),
        sa.CheckConstraint(_in_values("kind", AccountKind), name="ck_ledger_account_kind"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    created_at: datetime = Field(sa_type=UTCDateTime())


class AccountPublic(AccountBase):
    """An account as the API returns it."""

    id: int

    def label(self) -> str:
        """``party/kind/currency`` (``/licence`` for per-licence accounts)."""
        tail = f"/{self.licence_id}" if self.licence_id else ""
        return f"{self.party}/{self.kind}/{self.currency}{tail}"


# --- journal -------------------------------------------------------------------------------


class EntryBase(SQLModel):
    """A journal entry: two or more postings that sum to zero per currency.

    ``idempotency_key`` is unique: posting the same key again returns this entry (and posting
    it with different content is an error). ``effective_on`` is the date the entry counts from
    in balances "as of" a date. ``reverses_entry_id`` is set on reversals (an entry can be
    reversed once; a reversal cannot itself be reversed).
    """

    idempotency_key: str = Field(sa_type=sa.String(KEY_LENGTH))
    effective_on: date
    description: str = Field(default="", sa_type=sa.Text())
    reverses_entry_id: int | None = Field(
        default=None, foreign_key="ledger_entry.id", sa_type=ID_TYPE
    )


class Entry(EntryBase, table=True):
    """Table ``ledger_entry``: immutable once posted.

    ``content_hash`` is the SHA-256 of the entry's content (date, description, reversed entry
    and sorted postings), the fingerprint compared when a key is posted again and recomputed by
    the checker to prove that no posted row changed.
    """

    __tablename__: ClassVar[Any] = "ledger_entry"
    __table_args__ = (
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_entry_key"),
        sa.UniqueConstraint("reverses_entry_id", name="uq_ledger_entry_reverses"),
        sa.Index("ix_ledger_entry_effective_on", "effective_on"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    content_hash: str = Field(sa_type=sa.String(64))
    posted_at: datetime = Field(sa_type=UTCDateTime())


class Posting(SQLModel, table=True):
    """Table ``ledger_posting``: one side of an entry, immutable once posted.

    ``currency`` repeats the account's currency so that "every entry balances per currency"
    is a single ``GROUP BY``; the checker verifies that the two agree.
    """

    __tablename__: ClassVar[Any] = "ledger_posting"
    __table_args__ = (
        sa.CheckConstraint("amount_minor <> 0", name="ck_ledger_posting_nonzero"),
        sa.Index("ix_ledger_posting_entry", "entry_id"),
        sa.Index("ix_ledger_posting_account", "account_id", "entry_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    entry_id: int = Field(foreign_key="ledger_entry.id", sa_type=ID_TYPE)
    account_id: int = Field(foreign_key="ledger_account.id", sa_type=ID_TYPE)
    currency: str = Field(sa_type=sa.String(3))
    amount_minor: int = Field(sa_type=sa.BigInteger())


class PostingPublic(SQLModel):
    """A posting as the API returns it: the account, and the signed amount (debit > 0)."""

    account: AccountPublic
    amount: Decimal
    amount_minor: int

    @property
    def side(self) -> str:
        """``"debit"`` or ``"credit"``."""
        return "debit" if self.amount_minor > 0 else "credit"


class EntryPublic(EntryBase):
    """A posted entry with its postings, as the API returns it."""

    id: int
    posted_at: datetime
    postings: list[PostingPublic]


class Balance(SQLModel, table=True):
    """Table ``ledger_balance``: the current balance of each account (derived, updated).

    On SQLite it is a ``WITHOUT ROWID`` table (one b-tree, keyed by account), as is the
    per-day table below: they are upserted on every posting transaction. Being derived data,
    neither carries a foreign key (the postings they sum do); the checker reports any row
    that does not match the postings of an account.

    Kept in the same transaction as the postings, so reading a balance is one primary-key
    lookup however long the journal grows; :func:`~airex.ledger.check_ledger` proves it equals
    the sum of the account's postings.
    """

    __tablename__: ClassVar[Any] = "ledger_balance"
    __table_args__ = {"sqlite_with_rowid": False}

    account_id: int = Field(primary_key=True, sa_type=ID_TYPE)
    balance_minor: int = Field(sa_type=sa.BigInteger())
    posting_count: int = Field(sa_type=sa.BigInteger())


class BalanceDay(SQLModel, table=True):
    """Table ``ledger_balance_day``: each account's net movement per effective date (derived).

    A balance as of a date is the sum of the account's days up to it: its cost grows with the
    number of days the account moved, not with the number of postings.
    """

    __tablename__: ClassVar[Any] = "ledger_balance_day"
    __table_args__ = {"sqlite_with_rowid": False}

    account_id: int = Field(primary_key=True, sa_type=ID_TYPE)
    day: date = Field(primary_key=True)
    delta_minor: int = Field(sa_type=sa.BigInteger())
    posting_count: int = Field(sa_type=sa.BigInteger())


class BalancePublic(SQLModel):
    """An account's balance (debit > 0) at the end of ``as_of`` (``None``: now)."""

    account: AccountPublic
    balance: Decimal
    balance_minor: int
    posting_count: int
    as_of: date | None = None

    @property
    def side(self) -> str:
        """``"debit"``, ``"credit"`` or ``""`` for a zero balance."""
        if self.balance_minor == 0:
            return ""
        return "debit" if self.balance_minor > 0 else "credit"


# --- grant register ------------------------------------------------------------------------


class GrantEventBase(SQLModel):
    """One state of a licence, as a LicenceMessage declared it.

    ``issued_at`` is the message's IssuedDateTime: the state holds from then until a later
    state of the same licence. ``term_start``/``term_end`` bound the licence whatever its
    state (an open end is ``None``). ``all_works`` is true when the repertoire is every work
    the licensor represents; otherwise the works are listed. ``source_message_id`` identifies
    the message the state came from (unique: a re-delivered message is recorded once).
    """

    licence_id: str = Field(sa_type=sa.String(PARTY_LENGTH))
    status: GrantStatus = Field(sa_type=sa.String(16))
    status_reason: str | None = Field(default=None, sa_type=sa.Text())
    licensor: str = Field(sa_type=sa.String(PARTY_LENGTH))
    licensee: str = Field(sa_type=sa.String(PARTY_LENGTH))
    issued_at: datetime = Field(sa_type=UTCDateTime())
    term_start: date
    term_end: date | None = None
    all_works: bool
    source_message_id: str = Field(sa_type=sa.String(KEY_LENGTH))


class GrantEvent(GrantEventBase, table=True):
    """Table ``ledger_grant``: the append-only grant register.

    Territories are stored as JSON lists (they are read with the row, never searched); use
    types and works have their own tables so that "in force for this work / use type" is an
    indexed query. ``source_message`` optionally keeps the raw message bytes.
    """

    __tablename__: ClassVar[Any] = "ledger_grant"
    __table_args__ = (
        sa.UniqueConstraint("source_message_id", name="uq_ledger_grant_source"),
        sa.CheckConstraint(_in_values("status", GrantStatus), name="ck_ledger_grant_status"),
        sa.Index("ix_ledger_grant_licence", "licence_id", "effective_at"),
        sa.Index("ix_ledger_grant_licensee", "licensee"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    effective_at: datetime = Field(sa_type=UTCDateTime())
    territories: str = Field(sa_type=sa.Text())
    excluded_territories: str = Field(sa_type=sa.Text())
    source_message: bytes | None = Field(default=None, sa_type=sa.LargeBinary())
    content_hash: str = Field(sa_type=sa.String(64))
    recorded_at: datetime = Field(sa_type=UTCDateTime())


class GrantUseType(SQLModel, table=True):
    """Table ``ledger_grant_use_type``: the use types a grant event permits."""

    __tablename__: ClassVar[Any] = "ledger_grant_use_type"
    __table_args__ = (sa.Index("ix_ledger_grant_use_type", "use_type"),)

    grant_id: int = Field(primary_key=True, foreign_key="ledger_grant.id", sa_type=ID_TYPE)
    use_type: str = Field(primary_key=True, sa_type=sa.String(64))


class GrantWork(SQLModel, table=True):
    """Table ``ledger_grant_work``: the works a grant event lists (none when all works)."""

    __tablename__: ClassVar[Any] = "ledger_grant_work"
    __table_args__ = (sa.Index("ix_ledger_grant_work", "work_id"),)

    grant_id: int = Field(primary_key=True, foreign_key="ledger_grant.id", sa_type=ID_TYPE)
    work_id: str = Field(primary_key=True, sa_type=sa.String(KEY_LENGTH))


class GrantPublic(GrantEventBase):
    """A grant event as the API returns it (the raw message is fetched separately)."""

    id: int
    effective_at: datetime
    """When the state takes effect: ``issued_at``, except for an Expired state issued before
    its term is over, which takes effect when the term ends (see :mod:`airex.ledger.grants`)."""
    use_types: list[str]
    work_ids: list[str]
    territories: list[str]
    excluded_territories: list[str]
    recorded_at: datetime

    def covers(self, *, work_id: str | None = None, use_type: str | None = None) -> bool:
        """Whether the terms include ``work_id`` and ``use_type`` (each when given)."""
        if use_type is not None and use_type not in self.use_types:
            return False
        return work_id is None or self.all_works or work_id in self.work_ids


def ledger_tables() -> list[sa.Table]:
    """The ledger's tables in creation order (parents before children)."""
    return [
        table(model)
        for model in (
            Account,
            Entry,
            Posting,
            Balance,
            BalanceDay,
            GrantEvent,
            GrantUseType,
            GrantWork,
        )
    ]


def table(model: type[SQLModel]) -> sa.Table:
    """The SQLAlchemy ``Table`` of a SQLModel table class (typed for Core statements)."""
    result = model.__table__  # type: ignore[attr-defined]
    assert isinstance(result, sa.Table)
    return result
