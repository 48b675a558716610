"""Merging what the byte ranges found into one pricing pass, as one pass over the whole file
would have found it (see :mod:`airex.royalties._parallel` for the rules)."""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from airex.royalties._parallel_part import PartResult
from airex.royalties._pricing_pass import PricingPass
from airex.royalties._pricing_terms import RefuseAll
from airex.royalties._types import HeldRecord

__all__ = ["merge_parts"]


def merge_parts(results: Sequence[PartResult]) -> PricingPass | None:
    """One ``PricingPass`` holding what the ranges found, as one pass over the file would have;
    ``None`` when a (work, use type) decided in two ranges may have been decided otherwise."""
    state = PricingPass(RefuseAll(), 0, bytearray(), _no_hold)
    state.micro_totals = True
    positions = state.positions
    position_of = positions.get
    keys = state.keys
    more_ids = state.more_ids
    decisions = state.decisions
    odd: dict[int, tuple[str, ...]] = {}
    odd_works: set[int] = set()
    work_aggregates = state.work_aggregates
    next_aggregate = state.next_aggregate
    aggregate_key = state.aggregate_key
    held_code = state.held_code
    totals = state.totals
    shares = state.shares
    for result in results:
        state.records += result.records
        state.held += result.held
        for reason, count in result.held_by_reason.items():
            state.held_by_reason[reason] = state.held_by_reason.get(reason, 0) + count
        if not keys:  # the first range: its numbering is the file's, taken as it is
            positions.update(zip(result.ids, range(len(result.ids)), strict=True))
            keys.extend(result.keys)
            more_ids.update(result.more)
            decisions.extend(result.decisions)
            odd.update(result.odd)
            odd_works.update(slot >> 3 for slot in result.odd)
            work_aggregates.extend(result.work_aggregates)
            next_aggregate.extend(result.next_aggregate)
            aggregate_key.extend(result.aggregate_key)
            held_code.extend(result.held_code)
            totals.extend(result.totals)
            shares.update(result.shares)
            continue
        before = len(keys)
        mapping = array("q", bytes(8 * len(result.ids)))
        part_more = result.more
        part_odd_works = {slot >> 3 for slot in result.odd}
        part_decisions = result.decisions
        part_keys = result.keys
        for p, text in enumerate(result.ids):
            m = position_of(text)
            if m is None:
                m = len(keys)
                positions[text] = m
                keys.append(part_keys[p])
                more = part_more.get(p)
                if more is not None:
                    more_ids[m] = more
                decisions += part_decisions[p * 8 : p * 8 + 8]
                work_aggregates.append(-1)
                if p in part_odd_works:
                    odd_works.add(m)
                    for use_type in range(8):
                        ids = result.odd.get(p * 8 + use_type)
                        if ids is not None:
                            odd[m * 8 + use_type] = ids
            else:
                if keys[m] is None:
                    keys[m] = part_keys[p]
                mine = part_decisions[p * 8 : p * 8 + 8]
                known = decisions[m * 8 : m * 8 + 8]
                if mine != known:
                    for use_type in range(8):
                        if mine[use_type] and known[use_type] and mine[use_type] != known[use_type]:
                            return None
                if p in part_more or m in more_ids or p in part_odd_works or m in odd_works:
                    theirs = tuple(map(str, more_ids.get(m, (text,))))
                    own = part_more.get(p, (text,))
                    for use_type in range(8):
                        if not mine[use_type]:
                            continue
                        if known[use_type]:
                            if odd.get(m * 8 + use_type, theirs) != result.odd.get(
                                p * 8 + use_type, own
                            ):
                                return None
                        elif (p * 8 + use_type) in result.odd or own != theirs:
                            odd_works.add(m)
                            odd[m * 8 + use_type] = result.odd.get(p * 8 + use_type, own)
                for use_type in range(8):
                    if mine[use_type] and not known[use_type]:
                        decisions[m * 8 + use_type] = mine[use_type]
            mapping[p] = m
        part_codes = result.held_code
        part_totals = result.totals
        part_share = result.shares.get
        for aggregate, key in enumerate(result.aggregate_key):
            m = mapping[key >> 6]
            new_key = (m << 6) | (key & 63)
            found = -1
            if m < before:
                other = work_aggregates[m]
                while other >= 0:
                    if aggregate_key[other] == new_key:
                        found = other
                        break
                    other = next_aggregate[other]
            share = part_share(aggregate)
            if found >= 0:
                if held_code[found] != part_codes[aggregate]:
                    return None
                totals[found] += part_totals[aggregate]
                if share is not None:
                    shares[found] = shares.get(found, 0) + share
                continue
            found = len(totals)
            next_aggregate.append(work_aggregates[m])
            work_aggregates[m] = found
            totals.append(part_totals[aggregate])
            aggregate_key.append(new_key)
            held_code.append(part_codes[aggregate])
            if share is not None:
                shares[found] = share
    return state


def _no_hold(record: HeldRecord) -> None:  # pragma: no cover - a merged pass reads no records
    raise AssertionError("a merged pricing pass holds no records itself")
