"""The journal's reading side: entries with their postings, accounts, balances now and as of
a date (what :class:`airex.ledger.Journal`'s reading methods return)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import chunked, read_transaction
from airex.ledger._entries import AccountKey
from airex.ledger.models import (
    Account,
    AccountKind,
    AccountPublic,
    Balance,
    BalanceDay,
    BalancePublic,
    EntryPublic,
    Posting,
    PostingPublic,
    table,
)
from airex.ledger.money import Money, stored_minor

__all__ = [
    "account_public",
    "accounts",
    "balance",
    "balances",
    "load_entries",
    "require_day",
]

_ACCOUNT = table(Account)
_POSTING = table(Posting)
_BALANCE = table(Balance)
_DAY = table(BalanceDay)


def load_entries(engine: Engine, query: sa.Select[Any]) -> list[EntryPublic]:
    """The entries ``query`` selects (rows of ``ledger_entry``), with their postings."""
    with read_transaction(engine) as connection:
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
                        account=account_public(p),
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


def accounts(engine: Engine, *, party: str | None = None) -> list[AccountPublic]:
    """Every account (or ``party``'s), ordered by party, kind, currency and licence."""
    query = sa.select(_ACCOUNT).order_by(
        _ACCOUNT.c.party, _ACCOUNT.c.kind, _ACCOUNT.c.currency, _ACCOUNT.c.licence_id
    )
    if party is not None:
        query = query.where(_ACCOUNT.c.party == party)
    with read_transaction(engine) as connection:
        return [account_public(row) for row in connection.execute(query).mappings()]


def balance(
    engine: Engine,
    known: dict[AccountKey, int],
    account: AccountKey,
    *,
    as_of: date | None = None,
) -> Money:
    """``account``'s balance (debit > 0) now, or at the end of day ``as_of``.

    An account that never moved has a zero balance. Costs one indexed lookup (now) or a
    sum over the days the account moved (as of a date), never a scan of the postings.
    """
    require_day(as_of)
    with read_transaction(engine) as connection:
        account_id = known.get(account)
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
            query = sa.select(_BALANCE.c.balance_minor).where(_BALANCE.c.account_id == account_id)
        else:
            query = sa.select(sa.func.sum(_DAY.c.delta_minor)).where(
                _DAY.c.account_id == account_id, _DAY.c.day <= as_of
            )
        minor = connection.execute(query).scalar()
    return Money(stored_minor(minor, f"balance of {account.label()}"), account.currency)


def balances(
    engine: Engine, *, party: str | None = None, as_of: date | None = None
) -> list[BalancePublic]:
    """The balance of every account (or ``party``'s), now or at the end of day ``as_of``."""
    require_day(as_of)
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
    with read_transaction(engine) as connection:
        rows = connection.execute(query).mappings().all()
    result = []
    for row in rows:
        money = Money(
            stored_minor(row["balance_minor"], f"balance of account {row['id']}"),
            row["currency"],
        )
        result.append(
            BalancePublic(
                account=account_public(row),
                balance=money.amount,
                balance_minor=money.minor,
                posting_count=stored_minor(row["posting_count"], "posting count"),
                as_of=as_of,
            )
        )
    return result


def require_day(as_of: object) -> None:
    if as_of is not None and (isinstance(as_of, datetime) or not isinstance(as_of, date)):
        raise TypeError(f"as_of takes a date (balances are by effective date), not {as_of!r}")


def account_public(row: Any) -> AccountPublic:
    return AccountPublic(
        id=row["id"],
        party=row["party"],
        kind=AccountKind(row["kind"]),
        currency=row["currency"],
        licence_id=row["licence_id"],
    )
