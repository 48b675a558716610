"""Posting a stored distribution to the ledger: balanced entries of at most
``parties_per_entry`` rightsholders each, keyed by the distribution (idempotent), and the
summary of a stored distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import read_transaction, run_write
from airex.royalties import _distribution_store as store
from airex.royalties._distribution_types import DistributionSummary
from airex.royalties._payments import now
from airex.royalties.errors import DistributionError

if TYPE_CHECKING:
    from airex.ledger import Journal, NewEntry

__all__ = ["ledger_entries", "post_distribution", "summary_of"]


def post_distribution(
    engine: Engine,
    journal: Journal,
    stored: sa.RowMapping,
    payment: sa.RowMapping,
    per_entry: int,
) -> None:
    """Post the stored distribution's entries (again: they are idempotent), mark it posted."""
    with read_transaction(engine) as connection:
        nets = [
            (party, int(net))
            for party, net in connection.execute(
                sa.select(store.PARTY.c.party, store.PARTY.c.net_minor)
                .where(store.PARTY.c.distribution == stored["id"])
                .order_by(store.PARTY.c.party)
            )
        ]
    entries = ledger_entries(stored, payment, nets, per_entry)
    if len(entries) != stored["entries"]:
        raise DistributionError(
            f"distribution {stored['id']}: stored with {stored['entries']} ledger entries "
            f"but its rows make {len(entries)}; it was stored by another setting of "
            "parties_per_entry"
        )
    journal.post_many(entries, batch_size=max(1, len(entries)))

    def mark(connection: Connection) -> None:
        connection.execute(
            store.DISTRIBUTION.update()
            .where(
                store.DISTRIBUTION.c.id == stored["id"],
                store.DISTRIBUTION.c.posted_at.is_(None),
            )
            .values(posted_at=now())
        )

    run_write(engine, mark)


def ledger_entries(
    stored: sa.RowMapping,
    payment: sa.RowMapping,
    nets: Sequence[tuple[str, int]],
    per_entry: int,
) -> list[NewEntry]:
    """The balanced entries that post a stored distribution (see the module doc)."""
    from airex.ledger import AccountKey, AccountKind, Money, NewEntry, PostingLine

    currency = stored["currency"]
    licensor = stored["licensor"]
    pool = AccountKey(licensor, AccountKind.DISTRIBUTABLE_POOL, currency, stored["licence_id"])
    key = stored["ledger_key"]
    day = stored["payment_date"]
    what = f"payment {payment['payment_id']} of invoice {stored['invoice_id']}"
    paying = [(party, net) for party, net in nets if net]
    entries = []
    fee = int(stored["fee_minor"])
    suspense = int(stored["suspense_minor"])
    if fee or suspense:
        lines = [PostingLine(pool, Money(fee + suspense, currency))]
        if fee:
            revenue = AccountKey(licensor, AccountKind.ADMIN_FEE_REVENUE, currency)
            lines.append(PostingLine(revenue, Money(-fee, currency)))
        if suspense:
            held = AccountKey(licensor, AccountKind.SUSPENSE, currency)
            lines.append(PostingLine(held, Money(-suspense, currency)))
        entries.append(
            NewEntry(
                f"{key}:0", day, lines, f"Distribution of {what}: administration fee, suspense"
            )
        )
    parts = -(-len(paying) // per_entry)
    for part in range(parts):
        chunk = paying[part * per_entry : (part + 1) * per_entry]
        lines = [PostingLine(pool, Money(sum(net for _, net in chunk), currency))]
        lines.extend(
            PostingLine(
                AccountKey(party, AccountKind.RIGHTSHOLDER_PAYABLE, currency), Money(-net, currency)
            )
            for party, net in chunk
        )
        entries.append(
            NewEntry(
                f"{key}:{part + 1}",
                day,
                lines,
                f"Distribution of {what}: rightsholders, part {part + 1} of {parts}",
            )
        )
    return entries


def summary_of(
    stored: sa.RowMapping, payment: sa.RowMapping, *, created: bool
) -> DistributionSummary:
    return DistributionSummary(
        distribution_id=int(stored["id"]),
        payer=payment["payer"],
        payment_id=payment["payment_id"],
        invoice_id=stored["invoice_id"],
        licence_id=stored["licence_id"],
        licensor=stored["licensor"],
        currency=stored["currency"],
        payment_date=stored["payment_date"],
        paid_minor=int(stored["paid_minor"]),
        gross_minor=int(stored["gross_minor"]),
        fee_minor=int(stored["fee_minor"]),
        net_minor=int(stored["net_minor"]),
        suspense_minor=int(stored["suspense_minor"]),
        parties=int(stored["parties"]),
        lines=int(stored["lines"]),
        created=created,
    )
