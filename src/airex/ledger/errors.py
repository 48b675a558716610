"""Every exception the ledger raises, under :class:`airex.AirexError`.

::

    AirexError
    └── LedgerError
        ├── InvalidAmountError (ValueError)       an amount that is not exact in its currency,
        │                                         a float, an unknown currency, out of range
        ├── UnbalancedEntryError (ValueError)     postings that do not sum to zero per currency,
        │                                         fewer than two postings, a zero posting
        ├── InvalidGrantError (ValueError)        a grant record that cannot be right
        ├── IdempotencyConflictError (ValueError) a key (or source message id) seen before with
        │                                         different content
        ├── ReversalError (ValueError)            reversing an unknown entry, a reversal, or an
        │                                         entry already reversed
        └── UnknownEntryError (LookupError)       no journal entry has that id

The database's own errors (:class:`~airex.db.DatabaseConfigError`,
:class:`~airex.db.SchemaNotCurrentError`, :class:`LedgerBusyError`, which is
:class:`~airex.db.DatabaseBusyError`) sit under :class:`airex.db.DatabaseError`, shared by every
stateful part, and are re-exported here.

Each error says what was refused and where (the idempotency key, the account, the licence id),
so that a log line alone is enough to find the offending input.
"""

from __future__ import annotations

from airex.db import DatabaseBusyError, DatabaseConfigError, SchemaNotCurrentError
from airex.errors import AirexError

__all__ = [
    "DatabaseConfigError",
    "IdempotencyConflictError",
    "InvalidAmountError",
    "InvalidGrantError",
    "LedgerBusyError",
    "LedgerError",
    "ReversalError",
    "SchemaNotCurrentError",
    "UnbalancedEntryError",
    "UnknownEntryError",
]


class LedgerError(AirexError):
    """Root of the ledger's errors (grant register and money ledger)."""


class InvalidAmountError(LedgerError, ValueError):
    """An amount the ledger cannot store exactly.

    Raised for a ``float`` (binary fractions are not money), an amount with more fraction digits
    than its currency's ISO 4217 minor unit (``1.2345 JPY``: the ledger never rounds silently),
    an unknown currency code, or a magnitude beyond :data:`airex.ledger.MAX_MINOR_UNITS`.
    """


class UnbalancedEntryError(LedgerError, ValueError):
    """A journal entry whose postings cannot form a double entry (see the message for why)."""


class InvalidGrantError(LedgerError, ValueError):
    """A grant record with impossible terms (no use type, term ending before it starts...)."""


class AlreadyGrantedError(LedgerError, ValueError):
    """A first grant of a licence that another message granted already (``source_message_id``
    says which): two requests raced, and only the first may grant."""

    def __init__(self, message: str, *, licence_id: str, source_message_id: str) -> None:
        super().__init__(message)
        self.licence_id = licence_id
        self.source_message_id = source_message_id


class IdempotencyConflictError(LedgerError, ValueError):
    """The idempotency key was posted before with different content.

    ``key`` is the key, ``existing_id`` the id of the row stored under it (``None`` when the
    clash is inside one batch). Posting the *same* content again is not an error: it returns
    the stored row.
    """

    def __init__(self, message: str, *, key: str, existing_id: int | None) -> None:
        super().__init__(message)
        self.key = key
        self.existing_id = existing_id


class ReversalError(LedgerError, ValueError):
    """The entry cannot be reversed: unknown, itself a reversal, or reversed already."""


class UnknownEntryError(LedgerError, LookupError):
    """No journal entry has the id asked for."""


LedgerBusyError = DatabaseBusyError
"""The ledger's name for :class:`airex.db.DatabaseBusyError`."""
