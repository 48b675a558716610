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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from airex.formats.usage import FlatUsageReader, UsageRow
from airex.registry import LicenceScope, RegistrySettings
from airex.royalties._parallel_merge import merge_parts
from airex.royalties._parallel_part import PartResult, PartTask
from airex.royalties._pricing_pass import PricingPass
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
) -> PricingPass | None:
    """The pricing pass over ``rows`` made in parts and merged (a :class:`PricingPass`), or
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
            PartTask(
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
        state = merge_parts(results)
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


def _run(tasks: Sequence[PartTask], folder: str) -> list[PartResult]:
    """Run each task in a fresh Python process (``python -m
    airex.royalties._parallel_worker``, which calls
    :func:`~airex.royalties._parallel_part.work`) and return what they found, in order.

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


def _unmergeable(results: Sequence[PartResult]) -> str | None:
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
