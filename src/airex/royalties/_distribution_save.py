"""Storing a computed distribution: its row, rightsholder totals, suspense and the columns
of its rightsholder lines (:mod:`airex.royalties._distribution_store`), in one transaction.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from itertools import repeat

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import run_write
from airex.royalties import _distribution_store as store
from airex.royalties._distribution_result import Distribution
from airex.royalties._payments import now
from airex.royalties._types import Basis

__all__ = ["distribution_key", "entry_count", "save_distribution"]


def distribution_key(payer: str, payment_id: str, invoice_id: str) -> str:
    return f"distribution:{payer}:{payment_id}:{invoice_id}"


def save_distribution(
    engine: Engine, payment: sa.RowMapping, result: Distribution, per_entry: int
) -> int:
    """Store ``result``, the distribution of ``payment``; returns its row id."""
    invoice = result.invoice
    priced = invoice.report.lines
    holders = list(result.totals())
    key = distribution_key(payment["payer"], payment["payment_id"], payment["document_id"])
    columns = _line_columns(result)
    works = invoice.report.works
    columns["work_keys"] = store.encode_column([-1 if k is None else k for k in works.keys])
    columns["work_ids"] = store.encode_texts(works.ids)
    lines_meta = store.invoice_lines_json(
        [
            {
                "line_number": line.line_number,
                "tariff_id": line.tariff_id,
                "tariff_type": line.tariff_type,
                "basis": str(line.basis),
                "amount_minor": line.amount_minor,
                "money_minor": money,
            }
            for line, money in zip(priced, result.line_money, strict=True)
        ]
    )
    suspense_rows = [
        (
            seq,
            item.line_number,
            item.tariff_id,
            item.use_type,
            None if item.work_position is None else works.keys[item.work_position],
            None if item.work_position is None else "|".join(works.ids[item.work_position]),
            item.amount_minor,
            item.reason,
        )
        for seq, item in enumerate(result.suspense)
    ]
    entries = entry_count(
        [gross - fee for _, _, gross, fee, _ in holders],
        result.fee_minor,
        result.suspense_minor,
        per_entry,
    )

    def save(connection: Connection) -> int:
        earlier = connection.execute(
            sa.select(sa.func.count())
            .select_from(store.DISTRIBUTION)
            .where(store.DISTRIBUTION.c.invoice_id == invoice.invoice_id)
        ).scalar_one()
        inserted = connection.execute(
            store.DISTRIBUTION.insert().values(
                payment=payment["id"],
                invoice_id=invoice.invoice_id,
                licence_id=invoice.licence_id,
                licensor=invoice.licensor,
                licensee=invoice.licensee,
                currency=result.currency,
                payment_date=payment["payment_date"],
                shares_on=invoice.period_end,
                paid_minor=result.paid_minor,
                gross_minor=result.gross_minor,
                fee_minor=result.fee_minor,
                net_minor=result.net_minor,
                suspense_minor=result.suspense_minor,
                admin_fee_percent=str(result.admin_fee_percent),
                parties=len(holders),
                lines=result.line_count,
                units_shown=not earlier,
                invoice_lines=lines_meta,
                ledger_key=key,
                entries=entries,
                created_at=now(),
                posted_at=None,
            )
        )
        (distribution_id,) = inserted.inserted_primary_key or (None,)
        assert distribution_id is not None
        store.insert_rows(
            connection,
            store.PARTY,
            (
                "distribution",
                "party",
                "position",
                "gross_minor",
                "fee_minor",
                "net_minor",
                "lines",
            ),
            [
                (distribution_id, party, index, gross, fee, gross - fee, count)
                for index, party, gross, fee, count in holders
            ],
        )
        store.insert_rows(
            connection,
            store.SUSPENSE,
            (
                "distribution",
                "seq",
                "line_number",
                "tariff_id",
                "use_type",
                "work_key",
                "work_ids",
                "amount_minor",
                "reason",
            ),
            [(distribution_id, *item) for item in suspense_rows],
        )
        store.save_blocks(connection, int(distribution_id), columns)
        return int(distribution_id)

    return run_write(engine, save)


def _line_columns(result: Distribution) -> dict[str, list[bytes]]:
    """The stored columns of the rightsholder lines: ``party`` (an index into the party rows'
    ``position``), ``line`` (the invoice line's index), ``work`` (the work's position in the
    invoice's works), ``use_type`` (into :data:`~airex.royalties._types.USE_TYPES`),
    ``share`` (hundredths of a percent), ``gross``, ``fee`` (minor units) and ``units`` (the
    row's units in millionths on a per-unit line, ``-1`` on others)."""
    priced = result.invoice.report.lines
    line_index = result.line_index
    line_row = result.line_row
    work = array("q")
    use_type = array("q")
    units: list[int] = []
    start = 0
    count = len(line_index)
    while start < count:  # lines come ordered by invoice line: one slice per invoice line
        index = line_index[start]
        end = bisect_right(line_index, index, start, count)
        line = priced[index]
        rows = line_row[start:end]
        work.extend(map(line.work_index.__getitem__, rows))
        use_type.extend(map(line.use_type_index.__getitem__, rows))
        if line.basis is Basis.UNITS:
            units.extend(map(line.units_micro.__getitem__, rows))
        else:
            units.extend(repeat(-1, end - start))
        start = end
    columns = {
        "party": store.encode_column(result.line_party),
        "line": store.encode_column(line_index),
        "work": store.encode_column(work),
        "use_type": store.encode_column(use_type),
        "share": store.encode_column(result.line_share),
        "gross": store.encode_column(result.line_gross),
        "fee": store.encode_column(result.line_fee),
    }
    columns.update(store.encode_units(units))
    return columns


def entry_count(nets: Sequence[int], fee: int, suspense: int, per_entry: int) -> int:
    paying = sum(1 for net in nets if net)
    return (1 if fee or suspense else 0) + -(-paying // per_entry)
