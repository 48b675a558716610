"""After the pass: the report's content hash, its priced usage and works (columnar), and the
basis rows of a line (:func:`line_basis`, the same rule at pricing and when an invoice is
loaded back).
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Sequence

from airex.formats.usage import ReportHeader, WorkRef
from airex.royalties._pricing_pass import PricingPass
from airex.royalties._pricing_terms import EXACT, ZERO
from airex.royalties._types import Basis, ReportUsage, ReportWorks

__all__ = ["collect", "column", "line_basis"]


def column(values: list[int]) -> Sequence[int]:
    """An ``array('q')`` when every value fits 64 bits (compact), else the list itself."""
    if not values or (max(values) < 2**63 and min(values) >= 0):
        return array("q", values)
    return values


def line_basis(
    usage: ReportUsage, basis: Basis, mask: int, unit_index: int | None
) -> tuple[array[int], array[int], Sequence[int], Sequence[int]]:
    """The basis rows of a line: ``(work_index, use_type_index, weight, units_micro)``.

    The usage rows a line covers are those whose use type is in ``mask`` (and, for a PerUnit
    line, whose unit is ``unit_index``). :attr:`~Basis.UNITS` and :attr:`~Basis.ATTRIBUTION`
    lines get one row per (work, use type), weighted by its units (all covered units summed)
    or by its AttributionShares (micro). :attr:`~Basis.EQUAL` lines get one row per *work*
    (weight 1, so the money is shared equally over works, not over uses), named by the
    work's first covered use type in :data:`USE_TYPES` order, with that use type's units.
    Rows come in work order. The same rule builds the lines at pricing and when an invoice
    is loaded back, so the two agree by construction.
    """
    positions = usage.work_position
    use_types = usage.use_type_index
    units_of = usage.unit_index
    units = usage.units_micro
    shares = usage.attribution_micro
    out_work: list[int] = []
    out_use: list[int] = []
    out_weight: list[int] = []
    out_units: list[int] = []
    last_work = last_use = -1
    equal = basis is Basis.EQUAL
    by_share = basis is Basis.ATTRIBUTION
    for i in range(len(positions)):
        use_type = use_types[i]
        if not (mask >> use_type) & 1 or (unit_index is not None and units_of[i] != unit_index):
            continue
        work = positions[i]
        if work == last_work:
            if use_type == last_use:
                out_units[-1] += units[i]
                if not equal:
                    out_weight[-1] += shares[i] if by_share else units[i]
                continue
            if equal:
                continue
        out_work.append(work)
        out_use.append(use_type)
        out_units.append(units[i])
        out_weight.append(1 if equal else shares[i] if by_share else units[i])
        last_work, last_use = work, use_type
    return array("q", out_work), array("b", out_use), column(out_weight), column(out_units)


def collect(header: ReportHeader, state: PricingPass) -> tuple[str, ReportUsage, ReportWorks]:
    """After the pass: the content hash, the priced usage (sorted, works renumbered to the
    works with priced usage) and those works, in one walk over the works and their
    aggregates in key order that frees each running total and WorkRef as it goes.

    The hash is the SHA-256 of what the report says, whatever was decided about it: header
    fields and the record count, then per work (in order of first appearance) its identifiers
    and per (use type, unit) its exact total and AttributionShare total. Moving a record after
    the first appearance of its work changes nothing; any other change of content changes it.
    """
    digest = hashlib.sha256()
    revenues = sorted(
        (r.currency, f"{r.value.normalize(EXACT):f}", str(r.revenue_type))
        for r in header.reported_revenues
    )
    period = header.reporting_period
    head = [
        header.report_id,
        header.licence_id,
        period.start_date.isoformat(),
        period.end_date.isoformat(),
        header.correction_of_report_id or "",
        repr(revenues),
        str(state.records),
    ]
    digest.update(json.dumps(head).encode())
    refs: list[WorkRef | str | None] = list(state.positions)
    state.positions.clear()
    totals = state.totals
    share_of = state.shares.get
    held_code = state.held_code
    work_keys = state.keys
    usage = ReportUsage()
    positions = usage.work_position
    use_types = usage.use_type_index
    units_of = usage.unit_index
    units: list[int] = []
    shares: list[int] = []
    works = ReportWorks()
    # The hash is fed in chunks: identifiers, then keys, totals and shares of the chunk.
    ids_text: list[str] = []
    chunk_keys = array("q")
    chunk_units: list[int] = []
    chunk_shares: list[int] = []

    def feed() -> None:
        for segment in (
            "\x1f".join(ids_text).encode(),
            chunk_keys.tobytes(),
            "\x1f".join(map(str, chunk_units)).encode(),
            "\x1f".join(map(str, chunk_shares)).encode(),
        ):  # each segment after its length: the stream says where each one ends
            digest.update(len(segment).to_bytes(8, "big"))
            digest.update(segment)
        ids_text.clear()
        del chunk_keys[:]
        chunk_units.clear()
        chunk_shares.clear()

    scaleb = EXACT.scaleb
    in_micro = state.micro_totals
    key_of = state.aggregate_key
    last_aggregate = state.work_aggregates
    earlier = state.next_aggregate
    for position, ref in enumerate(refs):
        # The work's aggregates (usually one or two), in key order: use type, then unit.
        found: list[int] = []
        aggregate = last_aggregate[position]
        while aggregate >= 0:
            found.append(aggregate)
            aggregate = earlier[aggregate]
        if not found or ref is None:
            continue
        if len(found) > 1:
            found.sort(key=key_of.__getitem__)
        ids = state.ids_of(position, ref)
        refs[position] = None  # the WorkRef goes as its strings come
        ids_text.append("|".join(ids))
        new = -1
        for aggregate in found:
            key = key_of[aggregate]
            total = totals[aggregate]
            share = share_of(aggregate)
            if in_micro:
                micro = int(total)
                share_micro = int(share) if share is not None else -1
            else:
                micro = int(scaleb(total, 6))
                share_micro = int(scaleb(share, 6)) if share is not None else -1
            totals[aggregate] = ZERO  # freed as we go
            chunk_keys.append(key)
            chunk_units.append(micro)
            chunk_shares.append(share_micro)
            if len(chunk_units) >= 65536:
                feed()
            if held_code[aggregate]:
                continue
            if new < 0:
                new = len(works.keys)
                works.keys.append(work_keys[position])
                works.ids.append(ids)
            positions.append(new)
            use_types.append((key >> 3) & 7)
            units_of.append(key & 7)
            units.append(micro)
            shares.append(share_micro if share_micro > 0 else 0)
    feed()
    usage.units_micro = column(units)
    usage.attribution_micro = column(shares)
    return digest.hexdigest(), usage, works
