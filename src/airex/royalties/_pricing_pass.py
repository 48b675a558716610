"""The one streaming pass over a report's records: decisions, running totals, held records.

The hot loop of pricing (see :mod:`airex.royalties.pricing`): per record one lookup of its
work and one exact running-total update, found through arrays, never hashing a (work, use
type). :mod:`airex.royalties._parallel` runs it over byte ranges and merges the passes.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from typing import Any

from airex.formats.usage import UsageRow, WorkRef
from airex.registry import Reason
from airex.royalties._pricing_terms import (
    EXACT,
    HELD_REASONS,
    NO_TARIFF,
    REVENUE_NOT_REPORTED,
    UNIT_INDEX,
    USE_TYPE_INDEX,
    ZERO,
    UsageCheck,
)
from airex.royalties._types import USE_TYPES, HeldRecord

__all__ = ["PricingPass"]

_UNSET = 0
_PERMITTED = 1
_UNSET_SLOTS = bytes(8)
_NO_AGGREGATES = array("i", [-1] * 8)
_HELD_CODE = {reason: index + 1 for index, reason in enumerate(HELD_REASONS)}
"""Held reason → its code in a held aggregate (0 = priced); a slot's decision is code + 1."""
_USE_TYPE_NOT_LICENSED = str(Reason.USE_TYPE_NOT_LICENSED)


class PricingPass:
    """The one pass over the records: decisions, running totals, held records.

    Works get positions in order of first appearance; a *slot* is a work position × 8 + use
    type, decided once (``decisions``); an *aggregate* is a slot and a unit, with its running
    total (``totals``, a list indexed by aggregate) and whether its records are priced or
    held (``held_code``). ``first_aggregate[slot]`` finds a slot's aggregate without hashing
    (a second unit in the same slot, rare, goes through ``more_aggregates``).
    """

    def __init__(
        self,
        checker: UsageCheck,
        permitted_mask: int,
        covered: bytearray,
        on_held: Callable[[HeldRecord], None],
    ) -> None:
        self.checker = checker
        self.permitted_mask = permitted_mask
        self.covered = covered
        self.on_held = on_held
        self.positions: dict[WorkRef | str, int] = {}
        """The works by first WorkId (a merged pass: by its flat text)."""
        self.keys: list[int | None] = []
        self.more_ids: dict[int, tuple[WorkRef, ...] | tuple[str, ...]] = {}
        self.decisions = bytearray()
        self.first_aggregate = array("i")  # 32 bits: fewer than 2**31 aggregates
        self.work_aggregates = array("i")
        """Per work position: its last aggregate (-1: none); ``next_aggregate`` chains the
        work's earlier ones, so the aggregates are walked work by work without a sort."""
        self.next_aggregate = array("i")
        self.more_aggregates: dict[int, int] = {}
        self.aggregate_unit = bytearray()
        self.aggregate_key = array("q")
        self.held_code = bytearray()
        self.totals: list[Any] = []  # Decimals (int micro-units: ``micro_totals``)
        self.shares: dict[int, Any] = {}
        self.records = 0
        self.held = 0
        self.held_by_reason: dict[str, int] = {}
        self.odd_decisions: dict[int, tuple[WorkRef, ...]] | None = None
        """When a dict: the slots decided on a record naming its work by other ids than the
        work's first record did, with those ids (a pass over part of a report keeps them, so
        that the parts can be merged only when they decided alike)."""
        self.micro_totals = False
        """``totals`` and ``shares`` hold int micro-units, not Decimals (a merged pass)."""

    def run(self, rows: Iterable[UsageRow]) -> None:
        """Read every record once (the hot loop: indexing beats attribute access here)."""
        position_of = self.positions.get
        first_aggregate = self.first_aggregate
        aggregate_unit = self.aggregate_unit
        held_code = self.held_code
        totals = self.totals
        shares = self.shares
        share_of = shares.get
        use_type_index = USE_TYPE_INDEX.get
        unit_index = UNIT_INDEX.get
        add = EXACT.add
        zero = ZERO
        count = 0
        try:
            for row in rows:
                count += 1
                ids = row[0]
                position = position_of(ids[0])
                if position is None:
                    position = self._new_work(ids)
                use_type = use_type_index(row[1])
                unit = unit_index(row[3])
                if use_type is None or unit is None:
                    self._hold(row, _USE_TYPE_NOT_LICENSED if use_type is None else NO_TARIFF)
                    continue
                slot = position * 8 + use_type
                aggregate = first_aggregate[slot]
                if aggregate < 0 or aggregate_unit[aggregate] != unit:
                    aggregate = self._aggregate(row, slot, unit)
                totals[aggregate] = add(totals[aggregate], row[2])
                share = row[4]
                if share is not None:
                    shares[aggregate] = add(share_of(aggregate, zero), share)
                code = held_code[aggregate]
                if code:
                    self._hold(row, HELD_REASONS[code - 1])
        finally:
            self.records += count

    def _new_work(self, ids: tuple[WorkRef, ...]) -> int:
        position = len(self.keys)
        self.positions[ids[0]] = position
        self.keys.append(None)
        if len(ids) > 1:
            self.more_ids[position] = ids
        self.decisions.extend(_UNSET_SLOTS)
        self.first_aggregate.extend(_NO_AGGREGATES)
        self.work_aggregates.append(-1)
        return position

    def _aggregate(self, row: UsageRow, slot: int, unit: int) -> int:
        """The aggregate of ``slot`` and ``unit``, made (and its slot decided) on first use."""
        key = slot * 8 + unit
        found = self.first_aggregate[slot]
        if found >= 0:
            more = self.more_aggregates.get(key)
            if more is not None:
                return more
        decision = self.decisions[slot]
        if decision == _UNSET:
            decision = self._decide(row, slot)
        use_type = slot & 7
        if decision != _PERMITTED:
            code = decision - 1
        else:
            coverage = self.covered[use_type * 8 + unit]
            code = (
                0
                if coverage == 1
                else _HELD_CODE[NO_TARIFF if not coverage else REVENUE_NOT_REPORTED]
            )
        aggregate = len(self.totals)
        position = slot >> 3
        self.next_aggregate.append(self.work_aggregates[position])
        self.work_aggregates[position] = aggregate
        self.totals.append(ZERO)
        self.aggregate_unit.append(unit)
        self.aggregate_key.append(key)
        self.held_code.append(code)
        if found < 0:
            self.first_aggregate[slot] = aggregate
        else:
            self.more_aggregates[key] = aggregate
        return aggregate

    def _decide(self, row: UsageRow, slot: int) -> int:
        ids: tuple[WorkRef, ...] = row[0]
        position, use_type = divmod(slot, 8)
        name = USE_TYPES[use_type]
        decision = self.checker.check(ids[0], name)
        for ref in ids[1:]:  # a record names one work: the first id the registry knows
            if decision.work_key is not None:
                break
            other = self.checker.check(ref, name)
            if other.work_key is not None:
                decision = other
        reason = decision.reason
        if not (self.permitted_mask >> use_type) & 1:
            reason = Reason.USE_TYPE_NOT_LICENSED  # whatever the checker says
        if decision.work_key is not None and self.keys[position] is None:
            self.keys[position] = decision.work_key
        odd = self.odd_decisions
        if odd is not None and ids != self.more_ids.get(position, ids[:1]):
            odd[slot] = ids
        code = _PERMITTED if reason.permitted else _HELD_CODE[str(reason)] + 1
        self.decisions[slot] = code
        return code

    def _hold(self, row: UsageRow, reason: str) -> None:
        self.held += 1
        self.held_by_reason[reason] = self.held_by_reason.get(reason, 0) + 1
        self.on_held(
            HeldRecord(
                file=row[7],
                line=row[6],
                work_ids=tuple(str(ref) for ref in row[0]),
                use_type=str(row[1]),
                quantity=row[2],
                unit=str(row[3]),
                reason=reason,
            )
        )

    def ids_of(self, position: int, ref: WorkRef | str) -> tuple[str, ...]:
        more = self.more_ids.get(position)
        if more is None:
            return (str(ref),)
        return tuple(str(r) for r in more)
