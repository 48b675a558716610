"""The ledger: the grant register and the double-entry money ledger, exact and crash-safe.

Two registers on one database (SQLite file by default, PostgreSQL by URL), both append-only:

* :class:`GrantRegister` — every state of every licence (Granted, Suspended, Revoked,
  Expired) with its terms and source message; which licences were in force on any date.
* :class:`Journal` — accounts (party, kind, currency), balanced journal entries with
  idempotency keys, reversals instead of edits, balances now and as of any date, all in exact
  minor units (:class:`Money`).

Getting started::

    from airex.ledger import DatabaseConfig, Journal, create_engine, upgrade

    engine = create_engine(DatabaseConfig.from_env())   # AIREX_DATABASE_URL or ./airex.db
    upgrade(engine)                                     # what `airex db upgrade` does
    journal = Journal(engine)

:func:`check_ledger` verifies every invariant over the whole database (``airex ledger check``).
The ledger depends on nothing else of airex but the ISO 4217 table and the error root: the
layers above convert messages into its plain data.
"""

from airex.db import (
    DEFAULT_SQLITE_FILE,
    ENV_DATABASE_URL,
    DatabaseConfig,
    create_engine,
)
from airex.ledger.check import INVARIANTS, CheckReport, Violation, check_ledger
from airex.ledger.errors import (
    AlreadyGrantedError,
    DatabaseConfigError,
    IdempotencyConflictError,
    InvalidAmountError,
    InvalidGrantError,
    LedgerBusyError,
    LedgerError,
    ReversalError,
    SchemaNotCurrentError,
    UnbalancedEntryError,
    UnknownEntryError,
)
from airex.ledger.grants import WORLDWIDE, GrantRecord, GrantRegister, GrantResult
from airex.ledger.journal import (
    DEFAULT_BATCH_SIZE,
    AccountKey,
    Journal,
    NewEntry,
    PostedRef,
    PostingLine,
    PostResult,
    credit,
    debit,
)
from airex.ledger.models import (
    AccountKind,
    AccountPublic,
    BalancePublic,
    EntryPublic,
    GrantPublic,
    GrantStatus,
    PostingPublic,
)
from airex.ledger.money import MAX_MINOR_UNITS, Money
from airex.ledger.schema import current_revision, head_revision, require_current, upgrade

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SQLITE_FILE",
    "ENV_DATABASE_URL",
    "INVARIANTS",
    "MAX_MINOR_UNITS",
    "WORLDWIDE",
    "AccountKey",
    "AccountKind",
    "AccountPublic",
    "AlreadyGrantedError",
    "BalancePublic",
    "CheckReport",
    "DatabaseConfig",
    "DatabaseConfigError",
    "EntryPublic",
    "GrantPublic",
    "GrantRecord",
    "GrantRegister",
    "GrantResult",
    "GrantStatus",
    "IdempotencyConflictError",
    "InvalidAmountError",
    "InvalidGrantError",
    "Journal",
    "LedgerBusyError",
    "LedgerError",
    "Money",
    "NewEntry",
    "PostResult",
    "PostedRef",
    "PostingLine",
    "PostingPublic",
    "ReversalError",
    "SchemaNotCurrentError",
    "UnbalancedEntryError",
    "UnknownEntryError",
    "Violation",
    "check_ledger",
    "create_engine",
    "credit",
    "current_revision",
    "debit",
    "head_revision",
    "require_current",
    "upgrade",
]
