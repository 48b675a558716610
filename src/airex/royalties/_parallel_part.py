"""One byte range of a flat file priced in a child process (:mod:`airex.royalties._parallel`):
the task it is given and the findings it returns, in plain picklable columns.
"""

from __future__ import annotations

import marshal
import pickle
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airex.errors import MessageInvalidError
from airex.formats.usage import FlatUsageReader, RangeScan
from airex.royalties._pricing_pass import PricingPass
from airex.royalties._pricing_terms import EXACT
from airex.royalties._types import HeldRecord

__all__ = ["PartResult", "PartTask", "price_part", "work"]


@dataclass(frozen=True, slots=True)
class PartTask:
    path: str
    start: int
    stop: int | None
    checker: Callable[[], Any]
    permitted: int
    covered: bytes
    held_path: str


@dataclass(slots=True)
class PartResult:
    """What one range found, in plain picklable columns (positions are the range's own)."""

    fallback: str | None = None
    ids: list[str] = field(default_factory=list)
    more: dict[int, tuple[str, ...]] = field(default_factory=dict)
    keys: list[int | None] = field(default_factory=list)
    decisions: bytes = b""
    odd: dict[int, tuple[str, ...]] = field(default_factory=dict)
    aggregate_key: array[int] = field(default_factory=lambda: array("q"))
    work_aggregates: array[int] = field(default_factory=lambda: array("i"))
    next_aggregate: array[int] = field(default_factory=lambda: array("i"))
    held_code: bytes = b""
    totals: list[int] = field(default_factory=list)
    shares: dict[int, int] = field(default_factory=dict)
    records: int = 0
    held: int = 0
    held_by_reason: dict[str, int] = field(default_factory=dict)
    scan: RangeScan | None = None
    seconds: tuple[float, float] = (0.0, 0.0)
    """Reading and pricing the range; turning the findings into columns."""


def work(task_bytes: bytes, result_path: str) -> None:
    """The child's side of :func:`_run`: price the pickled task, pickle the result."""
    task = pickle.loads(task_bytes)  # noqa: S301 - from our own parent
    result = price_part(task)
    with open(result_path, "wb") as stream:
        pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)


def price_part(task: PartTask) -> PartResult:
    """In a child process: price the byte range of ``task`` and return its findings."""
    import gc

    gc.disable()
    reader = FlatUsageReader(task.path, strict=True)
    with open(task.held_path, "wb") as spool:
        dump = marshal.dump

        def hold(record: HeldRecord) -> None:
            dump(
                (
                    record.line,
                    record.work_ids,
                    record.use_type,
                    str(record.quantity),
                    record.unit,
                    record.reason,
                ),
                spool,
            )

        began = time.perf_counter()
        state = PricingPass(task.checker(), task.permitted, bytearray(task.covered), hold)
        state.odd_decisions = {}
        try:
            state.run(reader.range_rows(task.start, task.stop))
        except MessageInvalidError as exc:
            return PartResult(fallback=f"the report is invalid ({exc.errors[0].code})")
    read = time.perf_counter()
    scan = reader.range_scan
    assert scan is not None
    if scan.fallback is not None:
        return PartResult(fallback=scan.fallback)
    state.checker = None  # type: ignore[assignment]  # the registry's tables go
    more = {p: tuple(str(r) for r in ids) for p, ids in state.more_ids.items()}
    odd = {slot: tuple(str(r) for r in ids) for slot, ids in state.odd_decisions.items()}
    ids = [str(ref) for ref in state.positions]
    state.positions.clear()
    scaleb = EXACT.scaleb
    totals = [int(scaleb(total, 6)) for total in state.totals]
    state.totals.clear()
    shares = {a: int(scaleb(share, 6)) for a, share in state.shares.items()}
    return PartResult(
        ids=ids,
        more=more,
        keys=state.keys,
        decisions=bytes(state.decisions),
        odd=odd,
        aggregate_key=state.aggregate_key,
        work_aggregates=state.work_aggregates,
        next_aggregate=state.next_aggregate,
        held_code=bytes(state.held_code),
        totals=totals,
        shares=shares,
        records=state.records,
        held=state.held,
        held_by_reason=state.held_by_reason,
        scan=scan,
        seconds=(read - began, time.perf_counter() - read),
    )
