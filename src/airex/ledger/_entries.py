"""What callers write to the journal and what posting returns: accounts' keys, postings,
entries (checked to balance before anything reaches the database), their content hash.

The public names are exported by :mod:`airex.ledger.journal` and :mod:`airex.ledger`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from airex.ledger.errors import InvalidAmountError, UnbalancedEntryError
from airex.ledger.models import KEY_LENGTH, PARTY_LENGTH, AccountKind, EntryPublic
from airex.ledger.money import MAX_MINOR_UNITS, Money, currency_exponent

__all__ = [
    "AccountKey",
    "Draft",
    "LineTuple",
    "NewEntry",
    "PostResult",
    "PostedRef",
    "PostingLine",
    "content_hash",
    "credit",
    "debit",
    "line_tuples",
    "to_draft",
]


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
            content_hash(self.effective_on, self.description, None, line_tuples(lines)),
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


LineTuple = tuple[str, str, str, str, int]  # party, kind, currency, licence id, minor


def line_tuples(lines: Iterable[PostingLine]) -> list[LineTuple]:
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
    lines: Iterable[LineTuple],
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


class Draft(NamedTuple):
    """An entry ready to be written: a checked :class:`NewEntry`, or a reversal."""

    key: str
    effective_on: date
    description: str
    reverses_entry_id: int | None
    lines: tuple[PostingLine, ...]
    content_hash: str


def to_draft(entry: NewEntry) -> Draft:
    if not isinstance(entry, NewEntry):
        raise TypeError(f"post takes NewEntry objects, not {type(entry).__name__}")
    return Draft(
        entry.idempotency_key,
        entry.effective_on,
        entry.description,
        None,
        tuple(entry.lines),
        entry.content_hash,
    )
