"""Pricing a flat file in parts, one process each, gives exactly the single pass's result.

The single pass (``parallel=None``) is the reference: every test prices the same file both
ways, with the real registry, and compares everything pricing hands on — the priced lines
with their basis rows, the works, the usage, the counts, the warnings and notes, the content
hash — and every held record with its file, line and order. The parts are forced with a low
size threshold and explicit cut offsets, so small files are split where the test wants.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from _pricing_support import (
    CMO,
    INDEX,
    INPUT,
    LICENCE,
    MINING,
    TRAIN,
    declare,
    engine,
    grant_licence,
    header,
    isrc,
    migrated,
    per_unit,
    per_work,
    pricing_pg_url,
    row,
    sqlite_engine,
    terms,
    write_report,
)
from sqlalchemy.engine import Engine

from airex.errors import MessageInvalidError
from airex.formats.usage import FlatUsageReader, UsageRow, open_report
from airex.messages.terms import LicenceTerms
from airex.registry import LicenceScope, Registry, RegistrySettings
from airex.royalties import HeldRecord, InvoiceService, RoyaltySettings
from airex.royalties._parallel import ParallelPricing, RegistryChecker, _cuts
from airex.royalties.pricing import price_report

__all__ = ["engine", "pricing_pg_url", "sqlite_engine"]  # fixtures, imported for pytest

TERMS = terms(
    per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN),
    per_unit("T-RET", "0.50", "Retrieval", 1_000, INPUT),
    per_work("T-WORK", "0.01", TRAIN),
)
DECLARED = 150  # works 1..150 declared (opted in for training); 151..180 are not
OPTED_OUT = {7, 70, 140}


def _records(count: int, seed: int = 7) -> list[UsageRow]:
    """Records over 180 works: priced training, held (unknown, opted out, no preference,
    not licensed, no tariff), a few with AttributionShares and several ids."""
    pick = random.Random(seed)
    rows = []
    for _ in range(count):
        n = pick.randint(1, 180)
        use = pick.choice((TRAIN, TRAIN, TRAIN, INPUT, MINING, INDEX))
        unit = {TRAIN: "Token", INPUT: "Retrieval", MINING: "Byte", INDEX: "Request"}[use]
        if use == TRAIN and pick.random() < 0.05:
            unit = "Byte"  # a second aggregate in the slot (priced by the PerWork tariff)
        quantity = f"{pick.randint(1, 10**6)}.{pick.randint(0, 999999):06d}"
        share = f"0.{pick.randint(0, 999999):06d}" if pick.random() < 0.2 else None
        work: str | list[str] = isrc(n)
        if n % 25 == 0:
            work = [f"ISRC::{isrc(n)}", f"ISWC::T-000.000.{n:03d}-{_iswc_check(n)}"]
        rows.append(row(work, use, quantity, unit, share))
    return rows


def _iswc_check(n: int) -> int:
    digits = f"000000{n:03d}"
    return (10 - (1 + sum(int(d) * (i + 1) for i, d in enumerate(digits))) % 10) % 10


def _setup(db: Engine, licence_terms: LicenceTerms = TERMS) -> None:
    opted_in = [isrc(n) for n in range(1, DECLARED + 1) if n not in OPTED_OUT]
    declare(db, opted_in=opted_in, opted_out=[isrc(n) for n in sorted(OPTED_OUT)])
    grant_licence(db, licence_terms)


def _report(tmp_path: Path, rows: Sequence[UsageRow], name: str = "q1.tsv") -> Path:
    return write_report(tmp_path / name, header(), rows)


def _line_starts(path: Path) -> list[int]:
    data = path.read_bytes()
    ends = [i + 1 for i, byte in enumerate(data) if byte == 10]
    return [0, *ends[:-1]]


def _price(
    db: Engine, path: Path, parallel: ParallelPricing | None
) -> tuple[object, list[HeldRecord], FlatUsageReader]:
    report_header = header()
    scope = LicenceScope.from_terms(LICENCE, "Granted", TERMS)
    start, end = report_header.reporting_period.start_date, report_header.reporting_period.end_date
    checker = Registry(db, RegistrySettings()).checker(scope, start, end, cache=False)
    reader = open_report(path)
    assert isinstance(reader, FlatUsageReader)
    held: list[HeldRecord] = []
    priced = price_report(
        reader.header, reader, TERMS, checker, on_held=held.append, parallel=parallel
    )
    return priced, held, reader


def _parallel(db: Engine, cuts: Sequence[int] | None) -> ParallelPricing:
    report_header = header()
    period = report_header.reporting_period
    url = db.url.render_as_string(hide_password=False)
    scope = LicenceScope.from_terms(LICENCE, "Granted", TERMS)
    factory = RegistryChecker(url, RegistrySettings(), scope, period.start_date, period.end_date)
    return ParallelPricing(factory, min_bytes=1, cuts=cuts)


def _both(
    db: Engine, path: Path, cuts: Sequence[int] | None
) -> tuple[object, list[HeldRecord], ParallelPricing]:
    """Price ``path`` in one pass and in parts; assert the results equal; the parts' result."""
    serial, serial_held, serial_reader = _price(db, path, None)
    parallel = _parallel(db, cuts)
    split, split_held, split_reader = _price(db, path, parallel)
    assert split == serial
    assert split_held == serial_held
    assert split_reader.records == serial_reader.records
    assert split_reader.errors == serial_reader.errors == []
    assert split_reader.header.number_of_records == serial_reader.header.number_of_records
    assert split_reader.bytes_read == serial_reader.bytes_read
    return split, split_held, parallel


def test_two_parts_cut_inside_a_line_price_exactly_as_one_pass(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The cut falls inside a record: it moves to the next line start; held records of both
    halves come back in file order with their own line numbers."""
    _setup(sqlite_engine)
    path = _report(tmp_path, _records(4000))
    middle = path.stat().st_size // 2
    starts = _line_starts(path)
    assert middle not in starts  # inside a line
    priced, held, parallel = _both(sqlite_engine, path, [middle])
    assert parallel.last == "parallel: 2 parts"
    cut_line = next(i for i, start in enumerate(starts, start=1) if start > middle)
    lines = [record.line for record in held]
    assert lines == sorted(lines)
    assert min(lines) < cut_line < max(lines)  # held records in both halves
    assert {record.reason for record in held} >= {
        "OptedOut",
        "UnknownWork",
        "NoPreferenceOptInRegime",
    }
    assert priced.lines  # type: ignore[attr-defined]
    assert priced.records == 4000  # type: ignore[attr-defined]


def test_a_cut_exactly_at_a_line_start_splits_no_record(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A cut at a line start stays there: the first part ends with the line before."""
    _setup(sqlite_engine)
    path = _report(tmp_path, _records(3000, seed=11))
    starts = _line_starts(path)
    cut = starts[len(starts) // 2]
    size = path.stat().st_size
    assert _cuts(str(path), size, 2, [cut]) == [cut]  # stays at the line start
    assert _cuts(str(path), size, 2, [cut + 1]) == [starts[len(starts) // 2 + 1]]
    _, held, parallel = _both(sqlite_engine, path, [cut])
    assert parallel.last == "parallel: 2 parts"
    lines = [record.line for record in held]
    assert min(lines) <= len(starts) // 2 < max(lines)  # held records on both sides


def test_three_parts_merge_in_file_order(sqlite_engine: Engine, tmp_path: Path) -> None:
    """Works first seen in the last part are numbered after those of the parts before."""
    _setup(sqlite_engine)
    rows = _records(1500, seed=3)
    # Works 161..170 appear only in the last third, 171..180 only in the middle one.
    rows = [r for r in rows if r.work.value not in {isrc(n) for n in range(161, 181)}]
    third = len(rows) // 3
    rows[third + 5 : third + 5] = [row(isrc(n), TRAIN, "10") for n in range(171, 181)]
    rows += [row(isrc(n), INPUT, "3", "Retrieval") for n in range(161, 171)]
    path = _report(tmp_path, rows)
    size = path.stat().st_size
    _, _, parallel = _both(sqlite_engine, path, [size // 3, 2 * size // 3])
    assert parallel.last == "parallel: 3 parts"


def test_a_work_named_otherwise_in_a_later_part_is_priced_in_one_pass(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """An undeclared first id, and a declared second id only in the second half: the second
    half would decide the work otherwise, so the merge gives up and one pass prices it."""
    _setup(sqlite_engine)
    unknown = isrc(179)
    rows = [r for r in _records(2000, seed=5) if r.work.value != unknown]
    rows.insert(10, row(unknown, TRAIN, "5"))
    rows.append(row([f"ISRC::{unknown}", f"ISRC::{isrc(1)}"], TRAIN, "6"))
    path = _report(tmp_path, rows)
    _, _, parallel = _both(sqlite_engine, path, [path.stat().st_size // 2])
    assert parallel.last == "serial: the parts decided a work differently"


def test_a_work_named_otherwise_for_another_use_type_merges(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """Other ids for a use type the first half never decided: the second half decides it
    as one pass would (on its own first record), and the parts merge."""
    _setup(sqlite_engine)
    rows = [r for r in _records(2000, seed=9) if r.work.value != isrc(178)]
    rows.insert(10, row(isrc(178), TRAIN, "5"))
    rows.append(row([f"ISRC::{isrc(178)}", f"ISRC::{isrc(2)}"], INPUT, "6", "Retrieval"))
    path = _report(tmp_path, rows)
    _, _, parallel = _both(sqlite_engine, path, [path.stat().st_size // 2])
    assert parallel.last == "parallel: 2 parts"


def test_an_invalid_record_in_the_second_half_fails_as_one_pass_does(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    _setup(sqlite_engine)
    path = _report(tmp_path, _records(2000))
    lines = path.read_bytes().split(b"\n")
    lines[-20] = lines[-20].replace(b"Token", b"Tokens").replace(b"Retrieval", b"Retrievals")
    lines[-20] = lines[-20].replace(b"Byte", b"Bytes").replace(b"Request", b"Requests")
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(MessageInvalidError) as serial:
        _price(sqlite_engine, path, None)
    parallel = _parallel(sqlite_engine, [path.stat().st_size // 2])
    with pytest.raises(MessageInvalidError) as split:
        _price(sqlite_engine, path, parallel)
    assert split.value.errors == serial.value.errors
    assert parallel.last.startswith("serial: part 2: the report is invalid")


def test_a_wrong_line_count_is_found_on_the_whole_file(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The FOOT is checked once both parts are read, against the whole file's lines."""
    _setup(sqlite_engine)
    path = _report(tmp_path, _records(2000))
    text = path.read_text()
    head, _, foot = text.rstrip("\n").rpartition("\n")
    cells = foot.split("\t")
    cells[1] = str(int(cells[1]) + 1)
    path.write_text(head + "\n" + "\t".join(cells) + "\n")
    with pytest.raises(MessageInvalidError) as serial:
        _price(sqlite_engine, path, None)
    parallel = _parallel(sqlite_engine, [path.stat().st_size // 2])
    with pytest.raises(MessageInvalidError) as split:
        _price(sqlite_engine, path, parallel)
    assert [e.code for e in split.value.errors] == ["LineCountMismatch"]
    assert split.value.errors == serial.value.errors
    assert parallel.last == "parallel: 2 parts"


def test_small_files_and_gzip_are_priced_in_one_pass(sqlite_engine: Engine, tmp_path: Path) -> None:
    _setup(sqlite_engine)
    rows = _records(300)
    path = _report(tmp_path, rows)
    parallel = _parallel(sqlite_engine, None)
    parallel.min_bytes = path.stat().st_size + 1
    _price(sqlite_engine, path, parallel)
    assert parallel.last.startswith("serial: ")
    assert "under" in parallel.last
    gz = _report(tmp_path, rows, "q1.tsv.gz")
    parallel = _parallel(sqlite_engine, None)
    _price(sqlite_engine, gz, parallel)
    assert parallel.last == "serial: not one plain (uncompressed) file"


def _stored(db: Engine) -> dict[str, list[tuple[object, ...]]]:
    """What pricing stored, without ids, times and generated message ids."""
    queries = {
        "report": "SELECT report_id, content_hash, total_minor, records, held_records, notes "
        "FROM royalties_report",
        "lines": "SELECT line_number, tariff_id, amount_minor, quantity, unit_price "
        "FROM royalties_report_line ORDER BY line_number",
        "held": "SELECT file, line, work_ids, use_type, quantity, unit, reason "
        "FROM royalties_held ORDER BY id",
        "invoice_lines": "SELECT line_number, tariff_id, description, amount_minor, quantity, "
        "unit_price FROM royalties_invoice_line ORDER BY line_number",
    }
    with db.connect() as connection:
        return {
            name: [tuple(r) for r in connection.execute(sa.text(query))]
            for name, query in queries.items()
        }


def test_the_service_stores_the_same_rows_and_warnings_both_ways(
    engine: Engine, tmp_path: Path
) -> None:
    """InvoiceService on two databases alike, one pricing in one pass (SQLite), one in parts
    (SQLite, then PostgreSQL): the stored report, lines, held records and invoice lines, and
    the warnings, are the same."""
    path = _report(tmp_path, _records(3000))
    second = migrated(f"sqlite:///{tmp_path / 'serial.db'}")
    results = []
    try:
        for db, minimum in ((second, None), (engine, 1)):
            _setup(db)
            service = InvoiceService(
                db,
                RoyaltySettings(CMO),
                Registry(db, RegistrySettings()),
                parallel_min_bytes=minimum,
            )
            result = service.invoice(open_report(path), today=date(2026, 4, 20))
            assert service.last_pricing == (
                "serial: not asked" if minimum is None else "parallel: 2 parts"
            )
            results.append((result, _stored(db)))
    finally:
        second.dispose()
    (serial, serial_rows), (split, split_rows) = results
    assert split_rows == serial_rows
    assert len(split_rows["held"]) > 100
    assert split.warnings == serial.warnings
    assert split.held_by_reason == serial.held_by_reason
    assert split.lines == serial.lines
    assert [d.total_minor for d in split.documents] == [d.total_minor for d in serial.documents]
