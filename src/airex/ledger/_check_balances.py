"""The kept balances, for :func:`airex.ledger.check_ledger`: every account's balance and
posting count, and its movement per effective date, equal the sums of its postings.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.ledger._check_report import CheckReport, Figure, as_int, exact, figure
from airex.ledger.models import Account, Balance, BalanceDay, Entry, Posting, table

__all__ = ["check_balances"]

_ACCOUNT = table(Account)
_ENTRY = table(Entry)
_POSTING = table(Posting)
_BALANCE = table(Balance)
_DAY = table(BalanceDay)


def check_balances(connection: Connection, report: CheckReport) -> None:
    labels: dict[int, str] = {}
    currency: dict[int, str] = {}
    for row in connection.execute(sa.select(_ACCOUNT)):
        tail = f"/{row.licence_id}" if row.licence_id else ""
        labels[row.id] = f"account {row.id} ({row.party}/{row.kind}/{row.currency}{tail})"
        currency[row.id] = row.currency
    posted: dict[int, tuple[Figure, Figure]] = {
        account_id: (exact(total), as_int(n))
        for account_id, total, n in connection.execute(
            sa.select(
                _POSTING.c.account_id,
                sa.func.sum(_POSTING.c.amount_minor),
                sa.func.count(),
            ).group_by(_POSTING.c.account_id)
        )
    }
    kept: dict[int, tuple[Figure, Figure]] = {
        account_id: (exact(total), exact(n))
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
                f"balance {figure(got[0], cur)} over {got[1]} posting(s), but its postings sum "
                f"to {figure(want[0], cur)} over {want[1]}",
            )
    # An outer join: postings whose entry is missing are summed on no day (None), so that
    # they cannot vanish from this invariant as they would from an inner join.
    posted_days: dict[tuple[int, date | None], tuple[Figure, Figure]] = {
        (account_id, day): (exact(total), as_int(n))
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
        (account_id, day): (exact(total), exact(n))
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
                f"movement {figure(got[0], cur)} over {got[1]} posting(s), but that day's "
                f"postings sum to {figure(want[0], cur)} over {want[1]}",
            )
