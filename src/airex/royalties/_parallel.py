"""Pricing a large flat file on several cores: byte ranges priced apart, then merged.

Pricing is one streaming pass (:func:`airex.royalties.pricing.price_report`), CPU-bound in
one Python process: on a 10 M-record file most of its minute goes to reading the records
and adding them up. :func:`price_in_parts` cuts a report of one plain (not gzip) flat file
into byte ranges at line starts (by default as many as there are cores, at most
:attr:`ParallelPricing.processes`), has each range read and priced by a fresh Python process
of its own (which builds its own database engine and registry checker from the database's
URL: nothing is inherited from the parent, see :func:`_run`) and merges what they found as if
one pass had read the whole:

* works are numbered in order of first appearance in the file: the first range's in its
  order, then each later range's new works in theirs;
* a (work, use type) is decided by the registry on its first record in the file. A later
  range decided it again on its own first record; the two decisions are the same when both
  records name the work by the same identifiers (the usual case: a work is always reported
  alike). When they name it otherwise and the decisions could differ, the merge gives up;
* running totals are exact (int micro-units: a Quantity has at most 6 fraction digits) and
  addition does not care about order, so totals and AttributionShare sums add up exactly;
* held records are spooled by each range to a file of its own and handed to ``on_held`` in
  file order after the merge, their line numbers moved by the lines of the ranges before;
* the file's end checks (FOOT, line and record counts) are made on the whole once every
  range is read (:meth:`FlatUsageReader.finish_ranges`), with the errors a single reading
  gives.

Whenever the parts cannot promise the single pass's result — a range finds the report
invalid (a strict reader stops at the first error; which one comes first is only known
reading in order), a line too long to split around, a FOOT before the last range, decisions
that could differ, a child that fails — :func:`price_in_parts` returns ``None`` and the
caller makes the single pass, the reference. ``ParallelPricing.last`` says what happened.

It pays for a large file only: each process starts Python (1.3 s of imports) and loads the
registry's tables, and the merge walks every work again; measured on the 2-core machine, a
1 M-record file (74 MB) took 6.8 s in two parts against 6.7 s in one pass, a 10 M-record file
(745 MB, 1 M works) 52.6 s against 73.1 s. Below :data:`DEFAULT_MIN_BYTES` the single pass
is used.
"""

from __future__ import annotations

import itertools
import logging
import marshal
import os
import pickle
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from airex.errors import MessageInvalidError
from airex.formats.usage import FlatUsageReader, RangeScan, UsageRow
from airex.registry import LicenceScope, RegistrySettings
from airex.royalties._types import HeldRecord

__all__ = ["DEFAULT_MIN_BYTES", "ParallelPricing", "RegistryChecker", "price_in_parts"]

_log = logging.getLogger(__name__)

DEFAULT_MIN_BYTES = 128 * 2**20
"""Files smaller than this (about 1.7 M records) are priced in one pass."""
_SEEK = 1 << 20  # how far past a cut the next line start is looked for


@dataclass(frozen=True, slots=True)
class RegistryChecker:
    """Builds the registry's checker in a child process: its own engine from the URL."""

    url: str
    settings: RegistrySettings
    scope: LicenceScope
    start: date
    end: date

    def __call__(self) -> Any:
        from airex.db import DatabaseConfig, create_engine
        from airex.registry import Registry

        engine = create_engine(DatabaseConfig(url=self.url))
        registry = Registry(engine, self.settings, check_schema=False)
        return registry.checker(self.scope, self.start, self.end, cache=False)


@dataclass(slots=True)
class ParallelPricing:
    """How to price a large flat file in parts (see the module doc).

    ``checker`` is called in each child process for the registry's checker (it must pickle:
    :class:`RegistryChecker`). Files under ``min_bytes`` are priced in one pass, as are all
    when the machine has one core. ``processes``: at most this many parts. ``cuts``: byte
    offsets to cut at (each moved to the next line start; for tests), instead of equal
    parts. ``last`` says how the last report was priced: ``"parallel: N parts"`` or
    ``"serial: <why>"``.
    """

    checker: Callable[[], Any]
    min_bytes: int = DEFAULT_MIN_BYTES
    processes: int = 2
    cuts: Sequence[int] | None = None
    last: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class _Task:
    path: str
    start: int
    stop: int | None
    checker: Callable[[], Any]
    permitted: int
    covered: bytes
    held_path: str


@dataclass(slots=True)
class _PartResult:
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


def _cuts(path: str, size: int, parts: int, wanted: Sequence[int] | None) -> list[int] | None:
    """The line starts to cut ``path`` at (``None``: it cannot be cut so)."""
    targets = list(wanted) if wanted is not None else [size * k // parts for k in range(1, parts)]
    cuts: list[int] = []
    with open(path, "rb") as stream:
        for target in targets:
            if target <= 0:
                return None
            stream.seek(target - 1)
            found = stream.read(_SEEK).find(b"\n")
            if found < 0:
                return None
            cut = target + found
            if cut >= size or (cuts and cut <= cuts[-1]):
                return None
            cuts.append(cut)
    return cuts


def _eligible(rows: Iterable[UsageRow], parallel: ParallelPricing) -> tuple[str, int] | str:
    """``(path, parts)`` when ``rows`` can be priced in parts, else why not."""
    if not isinstance(rows, FlatUsageReader):
        return "not a flat-file reader"
    if rows.started:
        return "the reader was read before"
    if len(rows.paths) != 1 or rows.paths[0].endswith(".gz"):
        return "not one plain (uncompressed) file"
    rows.header  # noqa: B018 - reads the HEAD: the report is one file, or several
    if len(rows.files) != 1:
        return "a report of several files"
    cores = os.cpu_count() or 1
    parts = min(parallel.processes, cores)
    if parts < 2:
        return "one core"
    size = os.path.getsize(rows.files[0])
    if size < parallel.min_bytes:
        return f"{size:,} bytes, under {parallel.min_bytes:,}"
    if parallel.cuts is not None:
        parts = len(parallel.cuts) + 1
    return rows.files[0], parts


def price_in_parts(
    rows: Iterable[UsageRow],
    parallel: ParallelPricing,
    permitted: int,
    covered: bytearray,
    on_held: Callable[[HeldRecord], None],
) -> Any:
    """The pricing pass over ``rows`` made in parts and merged (a ``pricing._Pass``), or
    ``None`` when the caller must make the single pass (``parallel.last`` says why)."""
    found = _eligible(rows, parallel)
    if isinstance(found, str):
        parallel.last = f"serial: {found}"
        return None
    assert isinstance(rows, FlatUsageReader)
    path, parts = found
    size = os.path.getsize(path)
    cuts = _cuts(path, size, parts, parallel.cuts)
    if cuts is None:
        parallel.last = "serial: no line start to cut at"
        return None
    bounds: list[int | None] = [0, *cuts, None]
    with tempfile.TemporaryDirectory(prefix="airex-pricing-") as folder:
        tasks = [
            _Task(
                path,
                start,
                stop,
                parallel.checker,
                permitted,
                bytes(covered),
                os.path.join(folder, f"held-{number}"),
            )
            for number, (start, stop) in enumerate(itertools.pairwise(bounds))
            if start is not None
        ]
        try:
            began = time.perf_counter()
            results = _run(tasks, folder)
            ran = time.perf_counter()
        except Exception as exc:  # the single pass says what is wrong, if anything is
            _log.warning("pricing %s in parts failed (%s); pricing it in one pass", path, exc)
            parallel.last = f"serial: a part failed ({exc})"
            return None
        why = _unmergeable(results)
        if why is not None:
            parallel.last = f"serial: {why}"
            return None
        state = _merge(results)
        if state is None:
            parallel.last = "serial: the parts decided a work differently"
            return None
        offset = 0
        for task, result in zip(tasks, results, strict=True):
            _replay(task.held_path, path, offset, result.held, on_held)
            assert result.scan is not None
            offset += result.scan.lineno
    parallel.last = f"parallel: {len(tasks)} parts"
    _log.info(
        "priced %s in %d parts: %.1f s in the parts (reading, columns: %s), %.1f s to merge "
        "them and hand on their held records",
        path,
        len(tasks),
        ran - began,
        ", ".join(f"{r.seconds[0]:.1f} s + {r.seconds[1]:.1f} s" for r in results),
        time.perf_counter() - ran,
    )
    rows.finish_ranges([r.scan for r in results if r.scan is not None], state.records)
    return state


def _run(tasks: Sequence[_Task], folder: str) -> list[_PartResult]:
    """Run each task in a fresh Python process (``python -m
    airex.royalties._parallel_worker``) and return what they found, in order.

    A fresh interpreter, not ``multiprocessing``: a forked child would share its parent's
    database connections and locks, and a ``spawn`` child runs the parent's main script
    again (every statement of a script without a ``__main__`` guard). The task goes in as a
    pickle on standard input, the result comes back as a pickle in a file; the children are
    killed if the parent stops waiting for them.
    """
    import airex

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(airex.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    processes: list[tuple[subprocess.Popen[bytes], str, str]] = []
    try:
        for number, task in enumerate(tasks):
            result_path = os.path.join(folder, f"result-{number}")
            log_path = os.path.join(folder, f"log-{number}")
            with open(log_path, "wb") as log:
                process = subprocess.Popen(  # noqa: S603 - this interpreter, our module
                    [sys.executable, "-m", "airex.royalties._parallel_worker", result_path],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    env=env,
                )
            assert process.stdin is not None
            process.stdin.write(pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL))
            process.stdin.close()
            processes.append((process, result_path, log_path))
        results = []
        for number, (process, result_path, log_path) in enumerate(processes, start=1):
            code = process.wait()
            if code != 0:
                with open(log_path, "rb") as log:
                    said = log.read()[-2000:].decode("utf-8", "replace").strip()
                raise RuntimeError(f"part {number} exited with status {code}: {said}")
            with open(result_path, "rb") as stream:
                results.append(pickle.load(stream))  # noqa: S301 - our own child's file
        return results
    finally:
        for process, _, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def work(task_bytes: bytes, result_path: str) -> None:
    """The child's side of :func:`_run`: price the pickled task, pickle the result."""
    task = pickle.loads(task_bytes)  # noqa: S301 - from our own parent
    result = _price_part(task)
    with open(result_path, "wb") as stream:
        pickle.dump(result, stream, protocol=pickle.HIGHEST_PROTOCOL)


def _unmergeable(results: Sequence[_PartResult]) -> str | None:
    for number, result in enumerate(results, start=1):
        if result.fallback is not None:
            return f"part {number}: {result.fallback}"
        scan = result.scan
        assert scan is not None
        if number < len(results) and (
            scan.foot is not None or not scan.head_seen or scan.after_foot or scan.broken
        ):
            return f"part {number} ends past the FOOT or before the HEAD"
    return None


def _replay(
    held_path: str, path: str, offset: int, count: int, on_held: Callable[[HeldRecord], None]
) -> None:
    """Hand a range's held records to ``on_held``, line numbers counted from the file's start."""
    load = marshal.load
    with open(held_path, "rb") as stream:
        for _ in range(count):
            line, ids, use_type, quantity, unit, reason = load(stream)
            on_held(HeldRecord(path, line + offset, ids, use_type, Decimal(quantity), unit, reason))


def _price_part(task: _Task) -> _PartResult:
    """In a child process: price the byte range of ``task`` and return its findings."""
    import gc

    from airex.royalties.pricing import _EXACT, _Pass

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
        state = _Pass(task.checker(), task.permitted, bytearray(task.covered), hold)
        state.odd_decisions = {}
        try:
            state.run(reader.range_rows(task.start, task.stop))
        except MessageInvalidError as exc:
            return _PartResult(fallback=f"the report is invalid ({exc.errors[0].code})")
    read = time.perf_counter()
    scan = reader.range_scan
    assert scan is not None
    if scan.fallback is not None:
        return _PartResult(fallback=scan.fallback)
    state.checker = None  # type: ignore[assignment]  # the registry's tables go
    more = {p: tuple(str(r) for r in ids) for p, ids in state.more_ids.items()}
    odd = {slot: tuple(str(r) for r in ids) for slot, ids in state.odd_decisions.items()}
    ids = [str(ref) for ref in state.positions]
    state.positions.clear()
    scaleb = _EXACT.scaleb
    totals = [int(scaleb(total, 6)) for total in state.totals]
    state.totals.clear()
    shares = {a: int(scaleb(share, 6)) for a, share in state.shares.items()}
    return _PartResult(
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


def _merge(results: Sequence[_PartResult]) -> Any:
    """One ``_Pass`` holding what the ranges found, as one pass over the file would have;
    ``None`` when a (work, use type) decided in two ranges may have been decided otherwise."""
    from airex.royalties.pricing import RefuseAll, _Pass

    state = _Pass(RefuseAll(), 0, bytearray(), _no_hold)
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
