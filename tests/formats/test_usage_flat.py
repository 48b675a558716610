"""The flat-file form of UsageReportMessage: writer → reader round trips, split reports, and
every error the reader reports, each from a small hand-made or damaged file."""

from __future__ import annotations

import gzip
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airex.errors import MessageInvalidError, MessageStatus, ReportWriteError
from airex.formats.usage import (
    FlatUsageReader,
    FlatUsageWriter,
    flat_file_names,
)
from airex.formats.usage._records import ReportHeader, UsageRow, WorkRef
from airex.messages.codes import Unit, UseType
from airex.messages.common import MessageHeader, Party, Period
from airex.messages.error_codes import CODES
from airex.messages.usage import Model, ReportedRevenue
from strategies import aware_datetimes, fixed_decimals, identifiers, party_ids, work_ids

ROUND_TRIP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ISRC = "GBLFR2500101"
HEAD = [
    "HEAD",
    "airex/1.0",
    "MSG-1",
    "R-1",
    "L-1",
    "PADPIDA2025AIDEV",
    "PADPIDA2025CMO",
    "2026-01-01",
    "2026-03-31",
    "2026-04-02T08:00:00Z",
    "1",
    "1",
]
HEADING = "#UR01\tWorkIds\tUseType\tQuantity\tUnit\tAttributionShare\tModelId"


# --- helpers ------------------------------------------------------------------------------------


def make_header(**changes: object) -> ReportHeader:
    """A plain report header (what the flat form carries, nothing more), with ``changes``."""
    fields: dict[str, object] = {
        "message_header": MessageHeader(
            message_id="MSG-1",
            message_sender=Party(party_id="PADPIDA2025AIDEV"),
            message_recipients=[Party(party_id="PADPIDA2025CMO")],
            message_created_date_time=datetime(2026, 4, 2, 8, 0, tzinfo=UTC),
        ),
        "report_id": "R-1",
        "licence_id": "L-1",
        "reporting_period": Period(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)),
        "number_of_records": None,
    }
    fields.update(changes)
    return ReportHeader(**fields)  # type: ignore[arg-type]


def make_row(
    *ids: WorkRef,
    use: str = "UseAsAIInput",
    quantity: str = "12",
    unit: str = "Token",
    share: str | None = None,
    model: str | None = None,
) -> UsageRow:
    """A usage row (of ISRC GBLFR2500101 unless ids are given), from nowhere in particular."""
    return UsageRow(
        ids or (WorkRef("ISRC", ISRC),),
        use,
        Decimal(quantity),
        unit,
        Decimal(share) if share is not None else None,
        model,
        0,
        "",
    )


def rows_of(count: int) -> list[UsageRow]:
    """``count`` distinct valid rows."""
    return [make_row(WorkRef("ISRC", f"GBLFR25{i:05d}"), quantity=str(i + 1)) for i in range(count)]


def write(path: Path, rows: list[UsageRow], split: int | None = None) -> list[str]:
    """Write ``rows`` as a flat report at ``path``; the files written."""
    with FlatUsageWriter(
        path, make_header(), number_of_records=len(rows), split_records=split
    ) as w:
        w.write_all(rows)
    return w.paths


def bare(row: UsageRow) -> UsageRow:
    """The row without its origin (file and line)."""
    return row._replace(line=0, file="")


def hand_made(records: list[str], *, head: list[str] | None = None) -> list[str]:
    """The lines of a one-file report: HEAD, a heading, ``records``, a FOOT that is right."""
    lines = ["\t".join(head or HEAD), HEADING, *records]
    return [*lines, f"FOOT\t{len(lines) + 1}\t{len(records)}"]


def record(
    ids: str = f"ISRC::{ISRC}",
    use: str = "UseAsAIInput",
    quantity: str = "12",
    unit: str = "Token",
    share: str = "",
    model: str = "",
) -> str:
    """A UR01 line."""
    return "\t".join(("UR01", ids, use, quantity, unit, share, model))


def save(path: Path, lines: list[str], *, end: str = "\n") -> Path:
    """Write ``lines`` to ``path`` (gzip when it ends in .gz), each ended by ``end``."""
    data = "".join(line + end for line in lines).encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def load(path: str | Path) -> list[str]:
    """The lines of a flat file (plain or gzip)."""
    data = Path(path).read_bytes()
    if str(path).endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8").split("\n")[:-1]


def edit(path: str | Path, change: Callable[[list[str]], None]) -> None:
    """Apply ``change`` to the lines of the file at ``path``."""
    lines = load(path)
    change(lines)
    save(Path(path), lines)


def read_all(*paths: str | Path, strict: bool = False) -> tuple[FlatUsageReader, list[UsageRow]]:
    """A reader of ``paths`` and every row it yields."""
    reader = FlatUsageReader([str(p) for p in paths], strict=strict)
    return reader, list(reader)


def where(reader: FlatUsageReader) -> list[tuple[str, str | None, int | None]]:
    """(code, file name, line) of each error the reader reported."""
    return [(e.code, e.file and os.path.basename(e.file), e.line) for e in reader.errors]


# --- round trips --------------------------------------------------------------------------------


def _carriable(ref: WorkRef) -> bool:
    values = [ref.value] if ref.namespace is None else [ref.value, ref.namespace]
    if any(c in v for v in values for c in "\t\n\r|"):
        return False
    return ref.namespace is None or not ("::" in ref.namespace or ref.namespace.endswith(":"))


work_refs = work_ids.map(lambda w: WorkRef(str(w.type), w.value, w.namespace)).filter(_carriable)

rows = st.builds(
    lambda ids, use, quantity, unit, share, model: UsageRow(
        tuple(ids), use, quantity, unit, share, model, 0, ""
    ),
    st.lists(work_refs, min_size=1, max_size=3),
    st.sampled_from([u.value for u in UseType]),
    fixed_decimals(6, 0, 10**12),
    st.sampled_from([u.value for u in Unit]),
    st.none() | fixed_decimals(6, 0, 1),
    st.none() | identifiers,
)


@ROUND_TRIP
@given(
    report=st.lists(rows, min_size=1, max_size=12),
    split=st.none() | st.integers(1, 5),
    compressed=st.booleans(),
)
def test_write_then_read_gives_the_same_rows(
    tmp_path: Path, report: list[UsageRow], split: int | None, compressed: bool
) -> None:
    """Rows written (any WorkId type, 0-6 fraction digits, optional cells or not) read back."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    paths = write(folder / ("r.tsv.gz" if compressed else "r.tsv"), report, split)
    reader, read = read_all(paths[-1])
    assert reader.errors == []
    assert [bare(r) for r in read] == report
    assert [r.quantity.as_tuple() for r in read] == [r.quantity.as_tuple() for r in report]
    assert reader.files == paths
    assert reader.header.number_of_records == len(report)


@ROUND_TRIP
@given(
    message_id=identifiers,
    report_id=identifiers,
    licence_id=identifiers,
    sender=party_ids,
    recipient=party_ids,
    created=aware_datetimes,
    start=st.dates(),
    days=st.integers(0, 400),
)
def test_header_fields_read_back_equal(
    tmp_path: Path,
    message_id: str,
    report_id: str,
    licence_id: str,
    sender: str,
    recipient: str,
    created: datetime,
    start: date,
    days: int,
) -> None:
    """Every header field the flat form carries reads back equal, whatever its value."""
    end = date.fromordinal(min(start.toordinal() + days, date.max.toordinal()))
    header = make_header(
        message_header=MessageHeader(
            message_id=message_id,
            message_sender=Party(party_id=sender),
            message_recipients=[Party(party_id=recipient)],
            message_created_date_time=created,
        ),
        report_id=report_id,
        licence_id=licence_id,
        reporting_period=Period(start_date=start, end_date=end),
    )
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "r.tsv"
    with FlatUsageWriter(path, header, number_of_records=1) as writer:
        writer.write(make_row())
    reader = FlatUsageReader(path)
    read = reader.header
    assert read.message_header.message_id == message_id
    assert read.message_header.message_sender.party_id == sender
    assert [p.party_id for p in read.message_header.message_recipients] == [recipient]
    assert read.message_header.message_created_date_time == created
    assert (read.report_id, read.licence_id) == (report_id, licence_id)
    assert read.reporting_period == header.reporting_period
    assert read.number_of_records is None
    assert len(list(reader)) == 1
    assert read.number_of_records == 1


@pytest.mark.parametrize("suffix", [".tsv", ".tsv.gz"])
def test_split_report_is_found_from_any_one_file_name(tmp_path: Path, suffix: str) -> None:
    """A report split in 3 is read whole, in order, from the name of its second file."""
    report = rows_of(7)
    paths = write(tmp_path / f"report{suffix}", report, split=3)
    assert [os.path.basename(p) for p in paths] == [
        f"report_1of3{suffix}",
        f"report_2of3{suffix}",
        f"report_3of3{suffix}",
    ]
    reader, read = read_all(paths[1])
    assert reader.errors == []
    assert [bare(r) for r in read] == report
    assert [(os.path.basename(r.file), r.line) for r in read][2:4] == [
        (f"report_1of3{suffix}", 7),
        (f"report_2of3{suffix}", 5),
    ]
    assert reader.files == paths
    assert reader.bytes_read == reader.total_bytes == sum(os.path.getsize(p) for p in paths)


@pytest.mark.parametrize("suffix", [".tsv", ".tsv.gz"])
def test_split_report_given_as_shuffled_list_is_read_in_file_order(
    tmp_path: Path, suffix: str
) -> None:
    """Files passed in any order are read in FileNumber order."""
    report = rows_of(9)
    paths = write(tmp_path / f"report{suffix}", report, split=3)
    shuffled = [paths[2], paths[0], paths[1]]
    reader, read = read_all(*shuffled)
    assert reader.errors == []
    assert [bare(r) for r in read] == report
    assert reader.files == paths


def test_split_files_each_have_head_headings_and_foot(tmp_path: Path) -> None:
    """Every file repeats HEAD and headings; only the last FOOT counts the report's records."""
    paths = write(tmp_path / "report.tsv", rows_of(5), split=2)
    first, last = load(paths[0]), load(paths[2])
    assert first[0].split("\t")[-2:] == ["1", "3"]
    assert [line.split("\t")[0] for line in first[1:4]] == ["#HEAD", "#UR01", "#FOOT"]
    assert first[-1] == "FOOT\t7"
    assert last[-1] == "FOOT\t6\t5"
    assert flat_file_names("out/report.tsv.gz", 2) == [
        os.path.join("out", "report_1of2.tsv.gz"),
        os.path.join("out", "report_2of2.tsv.gz"),
    ]
    assert flat_file_names("report.tsv", 1) == ["report.tsv"]


@pytest.mark.parametrize("trailer", [[], ["# trailing heading"]])
@pytest.mark.parametrize("leader", [[], ["#generated by hand"]])
def test_reader_accepts_crlf_headings_anywhere_bom_and_no_last_line_end(
    tmp_path: Path, leader: list[str], trailer: list[str]
) -> None:
    """CRLF line ends, headings before HEAD and after FOOT, a BOM, no line end after the last."""
    lines = [*leader, "\t".join(HEAD), record(), "# a note", record(quantity="3")]
    lines += [f"FOOT\t{len(lines) + 1 + len(trailer)}\t2", *trailer]
    path = tmp_path / "crlf.tsv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines)).encode("utf-8"))
    reader, read = read_all(path)
    assert where(reader) == []
    assert [r.quantity for r in read] == [Decimal(12), Decimal(3)]
    assert [r.line for r in read] == [2 + len(leader), 4 + len(leader)]


def test_only_a_line_feed_ends_a_line(tmp_path: Path) -> None:
    """Characters str.splitlines() would split on stay inside a proprietary id."""
    ref = WorkRef("Proprietary", "a\x85b\u2028c\x0bd\x1ce", "PADPIDA2025X")
    paths = write(tmp_path / "r.tsv", [make_row(ref)])
    reader, read = read_all(paths[0])
    assert reader.errors == []
    assert read[0].work_ids == (ref,)


def test_accepted_decimal_forms(tmp_path: Path) -> None:
    """Trailing zeros beyond 6 digits, a sign, a bare fraction: valid xs:decimal values."""
    quantities = ["1.5000000", "+3", "-0", ".5", "7."]
    lines = hand_made([record(quantity=q, share="1.000000") for q in quantities])
    reader, read = read_all(save(tmp_path / "r.tsv", lines))
    assert where(reader) == []
    assert [r.quantity for r in read] == [Decimal(q) for q in quantities]


# --- errors, each from a small broken file ------------------------------------------------------

RECORD_ERRORS = [
    ({"ids": "ISRC::GB-LFR-25-00101"}, "InvalidISRC"),
    ({"ids": f"ISRC::{ISRC}|ISWC::T-034.524.680-2"}, "InvalidISWC"),
    ({"ids": "ISRC"}, "FlatFileInvalid"),
    ({"ids": ""}, "FlatFileInvalid"),
    ({"ids": "Proprietary::no-namespace"}, "FlatFileInvalid"),
    ({"ids": "Bogus::x"}, "ValueNotAllowed"),
    ({"use": "Training"}, "ValueNotAllowed"),
    ({"quantity": "-1"}, "ValueOutOfRange"),
    ({"quantity": "1.1234567"}, "TooManyFractionDigits"),
    ({"quantity": "1e5"}, "InvalidValue"),
    ({"quantity": ""}, "InvalidValue"),
    ({"quantity": "١٢"}, "InvalidValue"),
    ({"unit": "Tokens"}, "ValueNotAllowed"),
    ({"share": "1.5"}, "ValueOutOfRange"),
    ({"share": "0.1234567"}, "TooManyFractionDigits"),
    ({"share": "half"}, "InvalidValue"),
    ({"model": "model one"}, "InvalidIdentifier"),
]


@pytest.mark.parametrize(("cells", "code"), RECORD_ERRORS)
def test_bad_record_is_reported_at_its_line_and_skipped(
    tmp_path: Path, cells: dict[str, str], code: str
) -> None:
    """A record with one bad cell: its code, file and line; the other records still come."""
    lines = hand_made([record(), record(**cells), record(quantity="5")])
    path = save(tmp_path / "bad.tsv", lines)
    reader, read = read_all(path)
    assert where(reader) == [(code, "bad.tsv", 4)]
    assert reader.errors[0].status is CODES[code].status
    assert [r.line for r in read] == [3, 5]


def test_six_cells_instead_of_seven(tmp_path: Path) -> None:
    """A UR01 line with 6 cells is FlatFileInvalid, saying how many it has."""
    lines = hand_made([record(), "\t".join(record().split("\t")[:6])])
    reader, read = read_all(save(tmp_path / "short.tsv", lines))
    assert where(reader) == [("FlatFileInvalid", "short.tsv", 4)]
    assert "6 cells, expected 7" in reader.errors[0].message
    assert len(read) == 1


HEAD_ERRORS = [
    (2, "bad id!", "InvalidIdentifier"),
    (3, "", "InvalidIdentifier"),
    (4, "x" * 65, "InvalidIdentifier"),
    (5, "AIDEV", "InvalidPartyId"),
    (6, "PADPIDA" + "9" * 58, "InvalidPartyId"),
    (7, "2026-13-01", "InvalidValue"),
    (8, "31.03.2026", "InvalidValue"),
    (8, "2025-12-31", "PeriodEndBeforeStart"),
    (9, "2026-04-02T08:00:00", "DateTimeWithoutZone"),
    (9, "yesterday", "InvalidValue"),
    (10, "0", "ValueOutOfRange"),
    (11, "three", "InvalidValue"),
    (1, "airex/2.0", "UnsupportedMessageVersion"),
]


@pytest.mark.parametrize(("index", "value", "code"), HEAD_ERRORS)
def test_bad_head_cell_is_reported_at_the_head_line(
    tmp_path: Path, index: int, value: str, code: str
) -> None:
    """A HEAD with one bad cell: its code, on the HEAD's line, in lenient and strict mode."""
    head = HEAD.copy()
    head[index] = value
    path = save(tmp_path / "head.tsv", ["#a heading first", *hand_made([record()], head=head)])
    reader, _ = read_all(path)
    assert where(reader)[0] == (code, "head.tsv", 2)
    with pytest.raises(MessageInvalidError) as caught:
        FlatUsageReader(path).header  # noqa: B018 - reading the header is the test
    assert caught.value.errors[0].code == code


def test_version_airex_2_is_not_read(tmp_path: Path) -> None:
    """A HEAD of MessageVersion airex/2.0 is refused and none of its records is yielded."""
    head = HEAD.copy()
    head[1] = "airex/2.0"
    reader, read = read_all(save(tmp_path / "v2.tsv", hand_made([record()], head=head)))
    assert where(reader) == [("UnsupportedMessageVersion", "v2.tsv", 1)]
    assert read == []


def _set(index: int, value: str) -> Callable[[list[str]], None]:
    return lambda lines: lines.__setitem__(index, value)


def _insert(index: int, value: str) -> Callable[[list[str]], None]:
    return lambda lines: lines.insert(index, value)


# The file: HEAD (1), heading (2), two records (3, 4), FOOT (5).
STRUCTURE_ERRORS: list[tuple[str, Callable[[list[str]], None], list[tuple[str, int]]]] = [
    ("records before HEAD", _insert(0, record()), [("HeadMissing", 1)]),
    ("empty file", lambda lines: lines.clear(), [("HeadMissing", 1)]),
    ("HEAD of 11 cells", _set(0, "\t".join(HEAD[:-1])), [("FlatFileInvalid", 1)]),
    (
        "unknown record type",
        _insert(3, "UR02\tx"),
        [("FlatFileInvalid", 4), ("LineCountMismatch", 6)],
    ),
    (
        "a second HEAD",
        _insert(2, "\t".join(HEAD)),
        [("FlatFileInvalid", 3), ("LineCountMismatch", 6)],
    ),
    ("an empty line", _insert(2, ""), [("FlatFileInvalid", 3), ("LineCountMismatch", 6)]),
    (
        "a record after FOOT",
        _insert(5, record()),
        [("FlatFileInvalid", 6), ("LineCountMismatch", 5)],
    ),
    ("FOOT line count wrong", _set(4, "FOOT\t9\t2"), [("LineCountMismatch", 5)]),
    ("FOOT line count not a number", _set(4, "FOOT\tfive\t2"), [("InvalidValue", 5)]),
    ("records in report wrong", _set(4, "FOOT\t5\t3"), [("RecordCountMismatch", 5)]),
    ("last FOOT without records count", _set(4, "FOOT\t5"), [("FlatFileInvalid", 5)]),
    ("no FOOT", lambda lines: lines.pop(), [("FootMissing", 4)]),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [case[1:] for case in STRUCTURE_ERRORS],
    ids=[case[0] for case in STRUCTURE_ERRORS],
)
def test_broken_file_structure(
    tmp_path: Path, change: Callable[[list[str]], None], expected: list[tuple[str, int]]
) -> None:
    """Each way of breaking a file's structure is reported with its code, file and line."""
    lines = hand_made([record(), record(quantity="2")])
    change(lines)
    reader, _ = read_all(save(tmp_path / "broken.tsv", lines))
    assert where(reader) == [(code, "broken.tsv", line) for code, line in expected]


def test_truncated_file_without_foot(tmp_path: Path) -> None:
    """A file cut inside a record: that line is cut short (never yielded), then no FOOT."""
    paths = write(tmp_path / "report.tsv", rows_of(4))
    data = Path(paths[0]).read_bytes()
    Path(paths[0]).write_bytes(data[: data.index(b"GBLFR2500003")])
    reader, read = read_all(paths[0])
    assert where(reader) == [("FlatFileInvalid", "report.tsv", 8), ("FootMissing", "report.tsv", 8)]
    assert "cut short" in reader.errors[0].message
    assert [r.line for r in read] == [5, 6, 7]


def test_truncated_gzip_is_foot_missing(tmp_path: Path) -> None:
    """A gzip stream cut short: FootMissing, saying the compressed stream is cut short."""
    paths = write(tmp_path / "report.tsv.gz", list(_varied_rows(20_000)))
    data = Path(paths[0]).read_bytes()
    Path(paths[0]).write_bytes(data[: len(data) // 2])
    reader, read = read_all(paths[0])
    assert [(code, name) for code, name, _ in where(reader)] == [("FootMissing", "report.tsv.gz")]
    error = reader.errors[0]
    assert "compressed stream is cut short" in error.message
    assert 0 < len(read) < 20_000
    assert error.line == read[-1].line  # the last whole line read, a record here


def test_missing_part_2_of_3(tmp_path: Path) -> None:
    """Part 2 of 3 missing: ReportPartMissing names it and its expected file name."""
    paths = write(tmp_path / "report.tsv", rows_of(6), split=2)
    os.remove(paths[1])
    reader, read = read_all(paths[0])
    assert where(reader) == [("ReportPartMissing", "report_1of3.tsv", 1)]
    assert "file 2 of 3" in reader.errors[0].message
    assert paths[1] in reader.errors[0].message
    assert len(read) == 4
    with pytest.raises(MessageInvalidError, match="ReportPartMissing"):
        FlatUsageReader(paths[2]).header  # noqa: B018 - reading the header is the test


def test_missing_part_of_an_explicit_list(tmp_path: Path) -> None:
    """Two of three files given: the third is missing (no look-up by name for a list)."""
    paths = write(tmp_path / "report.tsv.gz", rows_of(6), split=2)
    reader, _ = read_all(paths[2], paths[0])
    assert where(reader) == [("ReportPartMissing", "report_1of3.tsv.gz", 1)]
    assert paths[1] in reader.errors[0].message


def test_part_2_with_another_report_id(tmp_path: Path) -> None:
    """The HEAD of part 2 names another ReportId: ReportPartsDisagree names the cell and values."""
    paths = write(tmp_path / "report.tsv", rows_of(6), split=2)
    edit(paths[1], lambda lines: lines.__setitem__(0, lines[0].replace("\tR-1\t", "\tR-2\t")))
    reader, _ = read_all(paths[0])
    assert where(reader) == [("ReportPartsDisagree", "report_2of3.tsv", 1)]
    message = reader.errors[0].message
    assert "ReportId" in message
    assert "'R-2'" in message
    assert "'R-1'" in message
    assert reader.errors[0].path == "HEAD/ReportId"


def test_duplicate_and_out_of_range_file_numbers(tmp_path: Path) -> None:
    """The same FileNumber twice, or one beyond NumberOfFiles: ReportPartsDisagree."""
    paths = write(tmp_path / "report.tsv", rows_of(4), split=2)
    copy = tmp_path / "copy.tsv"
    copy.write_bytes(Path(paths[1]).read_bytes())
    reader, read = read_all(paths[0], paths[1], copy)
    assert where(reader) == [("ReportPartsDisagree", "copy.tsv", 1)]
    assert "twice" in reader.errors[0].message
    assert len(read) == 4
    edit(copy, lambda lines: lines.__setitem__(0, lines[0].replace("\t2\t2", "\t3\t2")))
    reader, _ = read_all(paths[0], paths[1], copy)
    assert where(reader) == [("ReportPartsDisagree", "copy.tsv", 1)]
    assert "beyond" in reader.errors[0].message


def test_records_in_report_wrong_in_split_report(tmp_path: Path) -> None:
    """NumberOfRecordsInReport of the last file counts the records of all files."""
    paths = write(tmp_path / "report.tsv.gz", rows_of(5), split=2)
    edit(paths[2], lambda lines: lines.__setitem__(-1, "FOOT\t6\t4"))
    reader, _ = read_all(paths[0])
    assert where(reader) == [("RecordCountMismatch", "report_3of3.tsv.gz", 6)]
    assert reader.header.number_of_records == 4


def test_foot_of_a_middle_file_takes_no_records_count(tmp_path: Path) -> None:
    """A FOOT but the last one carries only NumberOfLinesInFile."""
    paths = write(tmp_path / "report.tsv", rows_of(4), split=2)
    edit(paths[0], lambda lines: lines.__setitem__(-1, "FOOT\t7\t4"))
    reader, _ = read_all(paths[0])
    assert where(reader) == [("FlatFileInvalid", "report_1of2.tsv", 7)]


def test_line_that_is_not_utf8(tmp_path: Path) -> None:
    """A line that is not UTF-8 is FlatFileInvalid at its line; the others are read."""
    lines = hand_made([record(), "UR01\tProprietary::N::\udcff", record(quantity="3")])
    data = "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogateescape")
    path = tmp_path / "latin.tsv"
    path.write_bytes(data)
    reader, read = read_all(path)
    assert where(reader) == [
        ("FlatFileInvalid", "latin.tsv", 4),
        ("RecordCountMismatch", "latin.tsv", 6),
    ]
    assert [r.line for r in read] == [3, 5]


def test_every_error_has_file_and_line(tmp_path: Path) -> None:
    """Errors of many kinds at once all name their file and line."""
    head = HEAD.copy()
    head[9] = "2026-04-02T08:00:00"
    lines = hand_made([record(ids="ISRC::x"), record(quantity="-2"), record(unit="")], head=head)
    lines[-1] = "FOOT\t1\t1"
    reader, read = read_all(save(tmp_path / "many.tsv", lines))
    assert read == []
    assert len(reader.errors) == 6
    assert all(e.file == str(tmp_path / "many.tsv") and e.line for e in reader.errors)
    assert {e.status for e in reader.errors} <= set(MessageStatus)


# --- strict and lenient ---------------------------------------------------------------------------


def test_strict_mode_raises_at_the_first_error_and_never_yields_that_record(tmp_path: Path) -> None:
    """Strict: rows before the bad one come, then MessageInvalidError; the bad row never comes."""
    lines = hand_made([record(), record(ids="ISRC::bad"), record(quantity="-1")])
    reader = FlatUsageReader(save(tmp_path / "strict.tsv", lines))
    seen: list[UsageRow] = []
    with pytest.raises(MessageInvalidError) as caught:
        seen.extend(reader)
    assert [r.line for r in seen] == [3]
    assert [(e.code, e.line) for e in caught.value.errors] == [("InvalidISRC", 4)]
    assert reader.records == 1


def test_lenient_mode_reports_all_and_yields_only_good_rows(tmp_path: Path) -> None:
    """Lenient: every bad record is reported, every good one yielded, valid is False."""
    lines = hand_made(
        [record(), record(ids="ISRC::bad", use="Nope"), record(quantity="2"), record(share="2")]
    )
    reader, read = read_all(save(tmp_path / "lenient.tsv", lines))
    assert [(e.code, e.line) for e in reader.errors] == [
        ("InvalidISRC", 4),
        ("ValueNotAllowed", 4),
        ("ValueOutOfRange", 6),
    ]
    assert [r.line for r in read] == [3, 5]
    assert not reader.valid
    assert reader.records == 2


def test_header_needs_a_readable_head(tmp_path: Path) -> None:
    """A file with no HEAD has no header: reading it raises with the HeadMissing error."""
    path = save(tmp_path / "nohead.tsv", [record()])
    reader = FlatUsageReader(path, strict=False)
    with pytest.raises(MessageInvalidError, match="HeadMissing"):
        reader.header  # noqa: B018 - reading the header is the test
    assert list(reader) == []


# --- writer -------------------------------------------------------------------------------------


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_too_few_records_raise_at_close_and_leave_no_file(tmp_path: Path) -> None:
    """Fewer records than announced: close raises ReportWriteError and nothing is left."""
    writer = FlatUsageWriter(
        tmp_path / "r.tsv", make_header(), number_of_records=3, split_records=1
    )
    writer.write_all(rows_of(2))
    with pytest.raises(ReportWriteError, match="2 records written, 3 announced"):
        writer.close()
    assert _listing(tmp_path) == []


def test_one_record_too_many_raises_and_leaves_no_file(tmp_path: Path) -> None:
    """A record beyond the announced count raises ReportWriteError and nothing is left."""
    writer = FlatUsageWriter(
        tmp_path / "r.tsv", make_header(), number_of_records=3, split_records=1
    )
    writer.write_all(rows_of(3))
    with pytest.raises(ReportWriteError, match="more than the 3 records announced"):
        writer.write(make_row())
    assert _listing(tmp_path) == []


REFUSED = [
    (make_row(WorkRef("ISRC", "GBLFR\t2500101")), "tab"),
    (make_row(WorkRef("Proprietary", "a|b", "PADPIDA2025X")), "'|'"),
    (make_row(WorkRef("Proprietary", "line\nbreak", "PADPIDA2025X")), "'\\n'"),
    (make_row(WorkRef("Proprietary", "v", "ns::x")), "::"),
    (make_row(WorkRef("Proprietary", "v", "ns:")), "::"),
    (make_row(WorkRef("Proprietary", "v")), "Type::Value"),
    (make_row(model="m|1"), "ModelId"),
    (make_row(use="Use\tAsAIInput"), "UseType"),
]


@pytest.mark.parametrize(("row", "said"), REFUSED)
def test_value_the_form_cannot_carry_is_refused(tmp_path: Path, row: UsageRow, said: str) -> None:
    """A tab, line end or | in a WorkId or ModelId, a Namespace with '::': refused, no file left."""
    row = row._replace(file="source.xml", line=42)
    writer = FlatUsageWriter(tmp_path / "r.tsv", make_header(), number_of_records=2)
    writer.write(make_row())
    with pytest.raises(ReportWriteError) as caught:
        writer.write(row)
    message = str(caught.value).replace("\\t", "tab")
    assert said in message
    assert "source.xml, line 42" in message
    assert _listing(tmp_path) == []


def test_part_files_never_remain(tmp_path: Path) -> None:
    """While writing only .part files exist; close renames them all; abort removes them."""
    writer = FlatUsageWriter(
        tmp_path / "r.tsv.gz", make_header(), number_of_records=4, split_records=2
    )
    for row in rows_of(3):
        writer.write(row)
    assert _listing(tmp_path) == ["r_1of2.tsv.gz.part", "r_2of2.tsv.gz.part"]
    writer.write(rows_of(4)[3])
    writer.close()
    assert _listing(tmp_path) == ["r_1of2.tsv.gz", "r_2of2.tsv.gz"]
    assert writer.paths == [str(tmp_path / n) for n in _listing(tmp_path)]

    other = tmp_path / "other"
    other.mkdir()
    writer = FlatUsageWriter(other / "r.tsv", make_header(), number_of_records=4, split_records=2)
    writer.write_all(rows_of(3))
    writer.abort()
    assert _listing(other) == []
    with pytest.raises(RuntimeError, match="source failed"):
        _write_then_fail(other / "r.tsv")
    assert _listing(other) == []


def _write_then_fail(path: Path) -> None:
    with FlatUsageWriter(path, make_header(), number_of_records=4) as writer:
        writer.write_all(rows_of(2))
        raise RuntimeError("the source failed")


def test_dropped_fields_lists_what_the_flat_form_loses() -> None:
    """Models, revenues, a correction, recipients, names are listed; a plain header loses none."""
    assert FlatUsageWriter.dropped_fields(make_header()) == []
    header = make_header(
        message_header=MessageHeader(
            message_thread_id="T-1",
            message_id="MSG-1",
            message_sender=Party(party_id="PADPIDA2025AIDEV", party_name="Dev Ltd"),
            message_recipients=[Party(party_id="PADPIDA2025CMO"), Party(party_id="PADPIDA2025CC")],
        ),
        correction_of_report_id="R-0",
        models=[Model(model_id="M-1", model_name="One")],
        reported_revenues=[
            ReportedRevenue(revenue_type="API", currency="EUR", value=Decimal("10.00"))
        ],
    )
    dropped = " | ".join(FlatUsageWriter.dropped_fields(header))
    for word in ("Model", "M-1", "ReportedRevenue", "CorrectionOfReportId R-0", "MessageThreadId",
                 "PADPIDA2025CC", "PartyName"):  # fmt: skip
        assert word in dropped


def test_writer_refuses_bad_split_and_closed_use(tmp_path: Path) -> None:
    """split_records below 1 is refused; writing after close is refused."""
    with pytest.raises(ReportWriteError):
        FlatUsageWriter(tmp_path / "r.tsv", make_header(), number_of_records=1, split_records=0)
    writer = FlatUsageWriter(tmp_path / "r.tsv", make_header(), number_of_records=1)
    writer.write(make_row())
    writer.close()
    with pytest.raises(ReportWriteError):
        writer.write(make_row())


# --- progress -----------------------------------------------------------------------------------


def test_progress_counts_bytes_of_the_files(tmp_path: Path) -> None:
    """bytes_read grows to total_bytes (the files' sizes, compressed) as records are read."""
    paths = write(tmp_path / "r.tsv.gz", list(_varied_rows(40_000)), split=15_000)
    reader = FlatUsageReader(paths[0])
    assert reader.header.report_id == "R-1"
    seen = []
    for index, _ in enumerate(reader):
        if index % 5_000 == 0:
            seen.append(reader.bytes_read)
    assert seen == sorted(seen)
    assert 0 < seen[1] < reader.total_bytes
    assert reader.bytes_read == reader.total_bytes == sum(os.path.getsize(p) for p in paths)
    assert reader.records == 40_000


def _varied_rows(count: int) -> Iterator[UsageRow]:
    rng = random.Random(7)
    for _ in range(count):
        yield make_row(
            WorkRef("ISRC", f"GBLFR25{rng.randrange(10**5):05d}"),
            quantity=f"{rng.randrange(10**9)}.{rng.randrange(100)}",
        )


def test_a_line_too_long_stops_the_file(tmp_path: Path) -> None:
    """A line far longer than 1 MiB is refused without being held; the file is read no further."""
    lines = hand_made([record(), record(ids="Proprietary::N::" + "x" * (2 << 20)), record()])
    reader, read = read_all(save(tmp_path / "long.tsv", lines))
    assert where(reader) == [("FlatFileInvalid", "long.tsv", 4), ("FootMissing", "long.tsv", 4)]
    assert [r.line for r in read] == [3]


def test_the_files_are_read_once(tmp_path: Path) -> None:
    """A reader is a stream: a second pass yields nothing and reports nothing again."""
    reader, read = read_all(*write(tmp_path / "r.tsv", rows_of(3)))
    assert len(read) == 3
    assert list(reader) == []
    assert reader.errors == []
