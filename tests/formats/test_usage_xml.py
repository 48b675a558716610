"""The XML form of huge usage reports: the streaming writer and the streaming reader."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import airex
from airex.errors import MessageInvalidError, MessageStatus, ReportWriteError
from airex.formats.usage import ReportHeader, UsageRow, WorkRef, XmlUsageReader
from airex.formats.usage._generate import generate_report, synthetic_header
from airex.formats.usage._xml_writer import XmlUsageWriter
from airex.messages.usage import UsageReportMessage
from strategies import usage_report_messages

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
RECORD_PATH = "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord"


def _row(
    work: str | WorkRef = "GBAAA2600001",
    quantity: str = "100",
    *,
    use_type: str = "UseForTrainingGenerativeAI",
    unit: str = "Token",
    share: str | None = None,
    model_id: str | None = "MODEL-1",
    more: tuple[WorkRef, ...] = (),
) -> UsageRow:
    first = work if isinstance(work, WorkRef) else WorkRef("ISRC", work)
    return UsageRow(
        (first, *more),
        use_type,
        Decimal(quantity),
        unit,
        Decimal(share) if share is not None else None,
        model_id,
        0,
        "",
    )


def _rows(n: int) -> list[UsageRow]:
    return [_row(f"GBAAA26{i:05d}", str(i + 1)) for i in range(n)]


def _fields(row: UsageRow) -> tuple[object, ...]:
    """What a record says, without where it was read from."""
    return tuple(row[:6])


def _write(path: Path, rows: list[UsageRow], header: ReportHeader | None = None) -> Path:
    header = header or synthetic_header(len(rows), seed=0)
    with XmlUsageWriter(path, header, number_of_records=len(rows)) as writer:
        writer.write_all(rows)
    return path


def _split(message: UsageReportMessage) -> tuple[ReportHeader, list[UsageRow]]:
    """A whole-message model as a streaming writer's input: header and rows."""
    report = message.usage_report
    header = ReportHeader(
        message_header=message.message_header,
        report_id=report.report_id,
        licence_id=report.licence_id,
        reporting_period=report.reporting_period,
        number_of_records=report.usage_summary.number_of_records,
        correction_of_report_id=report.correction_of_report_id,
        models=report.models,
        reported_revenues=report.usage_summary.reported_revenues,
        language_and_script_code=message.language_and_script_code,
    )
    rows = [
        UsageRow(
            tuple(WorkRef(str(w.type), w.value, w.namespace) for w in record.work_ids),
            str(record.use_type),
            record.quantity.value,
            str(record.quantity.unit),
            record.attribution_share,
            record.model_id,
            0,
            "",
        )
        for record in report.usage_record_list.usage_records
    ]
    return header, rows


def _errors(path: Path) -> tuple[list[UsageRow], XmlUsageReader]:
    """Read ``path`` leniently: the rows yielded and the reader (for its errors)."""
    reader = XmlUsageReader(path, strict=False)
    return list(reader), reader


def _report_text(tmp_path: Path, n: int = 10) -> str:
    return _write(tmp_path / "valid.xml", _rows(n)).read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- writer -----------------------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=usage_report_messages())
def test_written_report_is_valid_and_reads_back_the_same(
    tmp_path: Path, message: UsageReportMessage
) -> None:
    """Whatever a valid report holds, written in streaming it validates and reads back equal."""
    header, rows = _split(message)
    path = _write(tmp_path / "report.xml", rows, header)
    assert airex.check(path).errors == []
    reader = XmlUsageReader(path)
    assert reader.header == header
    assert [_fields(row) for row in reader] == [_fields(row) for row in rows]
    assert reader.errors == []


def test_gzip_report_round_trips(tmp_path: Path) -> None:
    """A ``.xml.gz`` name writes gzip, which the reader reads back and which validates."""
    rows = _rows(25)
    path = _write(tmp_path / "report.xml.gz", rows)
    data = path.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert airex.check(gzip.decompress(data)).errors == []
    assert [_fields(row) for row in XmlUsageReader(path)] == [_fields(row) for row in rows]


def test_output_is_lean_and_in_the_standard_namespace(tmp_path: Path) -> None:
    """Declaration, one namespace declaration, pretty header, one line per record, no .part."""
    path = _write(tmp_path / "report.xml", _rows(3))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<?xml version='1.0' encoding='UTF-8'?>\n<UsageReportMessage ")
    assert text.count("xmlns") == 1
    assert 'xmlns="urn:airex:xml:1" SchemaVersion="1.0" LanguageAndScriptCode="en"' in text
    assert "<NumberOfRecords>3</NumberOfRecords>" in text
    records = [line for line in text.splitlines() if "<UsageRecord>" in line]
    assert len(records) == 3
    assert all(line.strip().endswith("</UsageRecord>") for line in records)
    assert text.endswith("</UsageRecordList>\n  </UsageReport>\n</UsageReportMessage>\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]


def test_special_characters_are_escaped(tmp_path: Path) -> None:
    """Markup characters and quotes in values and attributes survive, and the report validates."""
    odd = WorkRef("Proprietary", "Katalog <Bände 1 & 2> \"x\" 'y'\tz", "ns\"&<>'")
    url = WorkRef("URL", "https://example.com/a?b=1&c=<2>")
    rows = [_row(odd), _row(url, more=(WorkRef("DOI", "10.1000/a&b<c>"),))]
    path = _write(tmp_path / "report.xml", rows)
    assert airex.check(path).errors == []
    assert [_fields(row) for row in XmlUsageReader(path)] == [_fields(row) for row in rows]


@pytest.mark.parametrize(
    ("quantity", "written"),
    [("1E+3", "1000"), ("-0", "0"), ("1.5000000", "1.5000000"), ("0E-9", "0.000000000")],
)
def test_quantities_are_written_in_fixed_point(tmp_path: Path, quantity: str, written: str) -> None:
    """xs:decimal has no exponent and no sign for zero: every Decimal is written fixed-point."""
    path = _write(tmp_path / "report.xml", [_row(quantity=quantity)])
    assert f'<Quantity Unit="Token">{written}</Quantity>' in path.read_text(encoding="utf-8")
    assert airex.check(path).errors == []


def test_fewer_records_than_announced_leave_no_file(tmp_path: Path) -> None:
    """Closing with a record count that disagrees raises, and nothing is left behind."""
    path = tmp_path / "report.xml"
    writer = XmlUsageWriter(path, synthetic_header(3, seed=0), number_of_records=3)
    writer.write_all(_rows(2))
    with pytest.raises(ReportWriteError, match="2 records written, 3 announced"):
        writer.close()
    assert list(tmp_path.iterdir()) == []


def test_more_records_than_announced_are_refused(tmp_path: Path) -> None:
    """A record beyond the announced count raises; the context manager then discards all."""
    path = tmp_path / "report.xml.gz"
    with (
        pytest.raises(ReportWriteError, match="more than the 2 records"),
        XmlUsageWriter(path, synthetic_header(2, seed=0), number_of_records=2) as writer,
    ):
        writer.write_all(_rows(3))
    assert list(tmp_path.iterdir()) == []


def test_an_exception_while_writing_discards_the_output(tmp_path: Path) -> None:
    """Any exception inside the ``with`` block leaves neither the report nor its .part file."""

    def write_then_fail() -> None:
        header = synthetic_header(5, seed=0)
        with XmlUsageWriter(tmp_path / "r.xml", header, number_of_records=5) as writer:
            writer.write_all(_rows(4))
            raise RuntimeError("the source failed")

    with pytest.raises(RuntimeError, match="the source failed"):
        write_then_fail()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (_row("GB-AAA-26-00001"), "without hyphens"),
        (_row(quantity="-5"), "Quantity -5 is not at least 0"),
        (_row(quantity="1.1234567"), "more than 6 fraction digits"),
        (_row(quantity="NaN"), "not a number"),
        (_row(share="1.5"), "AttributionShare 1.5 is not 0 to 1"),
        (_row(use_type="UseForEverything"), "not a UseType"),
        (_row(unit="Furlong"), "not a Unit"),
        (_row(model_id="model one"), "not an identifier"),
        (_row(WorkRef("Proprietary", "a\x00b", "ns")), "non-XML character"),
        (_row(WorkRef("Proprietary", "line\nbreak", "ns")), "line break"),
        (_row(WorkRef("Proprietary", "x")), "needs a Namespace"),
    ],
)
def test_values_that_would_make_the_report_invalid_are_refused(
    tmp_path: Path, row: UsageRow, reason: str
) -> None:
    """The writer refuses a value the report cannot be valid with, and discards its output."""
    writer = XmlUsageWriter(tmp_path / "r.xml", synthetic_header(2, seed=0), number_of_records=2)
    writer.write(_row())
    with pytest.raises(ReportWriteError, match=re.escape(reason)):
        writer.write(row)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ReportWriteError, match="closed"):
        writer.write(_row())


def test_an_invalid_header_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """A header the models reject (a ReportId with a space) raises at once, with no file."""
    header = synthetic_header(1, seed=0)
    header.report_id = "not an id"
    with pytest.raises(ReportWriteError, match="header is not valid"):
        XmlUsageWriter(tmp_path / "r.xml", header, number_of_records=1)
    assert list(tmp_path.iterdir()) == []


# --- reader: good input -----------------------------------------------------------------------


def test_reader_gives_the_header_before_the_records(tmp_path: Path) -> None:
    """The header, with its declared count, is there before the first record is read."""
    path = _write(tmp_path / "report.xml", _rows(4))
    reader = XmlUsageReader(path)
    assert reader.header.number_of_records == 4
    assert reader.records == 0
    rows = list(reader)
    assert reader.records == 4
    assert [row.line for row in rows] == [
        _line_of(path.read_text(), "<UsageRecord>") + i for i in range(4)
    ]
    assert {row.file for row in rows} == {str(path)}


def test_reader_reads_the_sample_report() -> None:
    """The music sample's twelve records read with their ids, shares and models."""
    reader = XmlUsageReader(SAMPLES / "usage-report" / "music-cadenza-q1-2026.xml")
    rows = list(reader)
    assert len(rows) == reader.header.number_of_records == 12
    assert rows[0].work_ids[1] == WorkRef("ISCC", "ISCC:AAA7KMJHV5EXTYEQ")
    assert rows[0].attribution_share == Decimal("0.031250")
    assert rows[-1].model_id is None


# --- reader: bad input ------------------------------------------------------------------------


def test_truncated_report_is_not_well_formed_with_a_line(tmp_path: Path) -> None:
    """A report cut in the middle of a record is XmlNotWellFormed, with the line of the cut."""
    text = _report_text(tmp_path)
    cut = text.index("<UsageRecord>", len(text) // 2) + len("<UsageRecord><WorkId Ty")
    path = tmp_path / "cut.xml"
    path.write_text(text[:cut], encoding="utf-8")
    rows, reader = _errors(path)
    assert len(rows) < 10
    assert reader.errors[0].code == "XmlNotWellFormed"
    assert reader.errors[0].status == MessageStatus.XML_NOT_WELL_FORMED
    assert reader.errors[0].line == text[:cut].count("\n") + 1


def test_report_cut_after_its_last_record_is_not_well_formed(tmp_path: Path) -> None:
    """Losing only the closing tags is still a truncated document, never a valid report."""
    text = _report_text(tmp_path)
    path = tmp_path / "cut.xml"
    path.write_text(text[: text.rindex("</UsageRecordList>")], encoding="utf-8")
    _, reader = _errors(path)
    assert [error.code for error in reader.errors] == ["XmlNotWellFormed"]


def test_bad_identifier_is_reported_with_the_record_line_and_path(tmp_path: Path) -> None:
    """An ISRC with hyphens in record 4 is InvalidISRC at that record's line and path."""
    text = _report_text(tmp_path).replace("GBAAA2600003", "GB-AAA-26-00003")
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    rows, reader = _errors(path)
    (error,) = reader.errors
    assert error.code == "InvalidISRC"
    assert error.status == MessageStatus.BUSINESS_RULE_VIOLATION
    assert error.line == _line_of(text, "GB-AAA-26-00003")
    assert error.path == f"{RECORD_PATH}[4]/WorkId"
    assert error.file == str(path)
    assert len(rows) == 9
    assert WorkRef("ISRC", "GB-AAA-26-00003") not in {row.work for row in rows}


def test_negative_quantity_is_a_schema_error_with_a_line(tmp_path: Path) -> None:
    """A negative Quantity breaks the XSD: ValueOutOfRange, SchemaInvalid, with its line."""
    text = _report_text(tmp_path).replace('Unit="Token">7<', 'Unit="Token">-7<')
    path = tmp_path / "negative.xml"
    path.write_text(text, encoding="utf-8")
    _, reader = _errors(path)
    error = reader.errors[0]
    assert error.code == "ValueOutOfRange"
    assert error.status == MessageStatus.SCHEMA_INVALID
    assert error.line == _line_of(text, ">-7<")


def test_record_count_that_disagrees_is_reported(tmp_path: Path) -> None:
    """NumberOfRecords 11 over 10 records: RecordCountMismatch, after all 10 were read."""
    text = _report_text(tmp_path).replace("<NumberOfRecords>10<", "<NumberOfRecords>11<")
    path = tmp_path / "count.xml"
    path.write_text(text, encoding="utf-8")
    rows, reader = _errors(path)
    assert len(rows) == 10
    assert [error.code for error in reader.errors] == ["RecordCountMismatch"]
    assert reader.errors[0].path == "/UsageReportMessage/UsageReport/UsageSummary/NumberOfRecords"
    with pytest.raises(MessageInvalidError, match="RecordCountMismatch"):
        list(XmlUsageReader(path))


def test_doctype_is_refused(tmp_path: Path) -> None:
    """A DOCTYPE, however harmless, is DoctypeForbidden and no record is yielded."""
    text = _report_text(tmp_path).replace("?>\n", "?>\n<!DOCTYPE UsageReportMessage>\n", 1)
    path = tmp_path / "doctype.xml"
    path.write_text(text, encoding="utf-8")
    rows, reader = _errors(path)
    assert rows == []
    assert [error.code for error in reader.errors] == ["DoctypeForbidden"]
    assert reader.errors[0].status == MessageStatus.XML_NOT_WELL_FORMED


def test_a_message_of_another_family_is_not_a_usage_report() -> None:
    """A (valid) licence is UnknownMessageType to the usage reader, and yields nothing."""
    rows, reader = _errors(SAMPLES / "licence" / "music-cmo-grants-cadenza.xml")
    assert rows == []
    assert [error.code for error in reader.errors] == ["UnknownMessageType"]
    with pytest.raises(MessageInvalidError, match="UnknownMessageType"):
        _ = XmlUsageReader(SAMPLES / "licence" / "music-cmo-grants-cadenza.xml").header


def _two_bad_records(tmp_path: Path) -> Path:
    text = _report_text(tmp_path)
    text = text.replace("GBAAA2600003", "GBAAA260003").replace("GBAAA2600007", "gbaaa2600007")
    path = tmp_path / "two-bad.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_strict_reader_raises_at_the_first_error_before_the_bad_record(tmp_path: Path) -> None:
    """Strict (the default): the three good records come, then the error, never record 4."""
    reader = XmlUsageReader(_two_bad_records(tmp_path))
    seen: list[UsageRow] = []
    with pytest.raises(MessageInvalidError) as raised:
        seen.extend(reader)
    assert [row.work.value for row in seen] == ["GBAAA2600000", "GBAAA2600001", "GBAAA2600002"]
    assert [error.code for error in raised.value.errors] == ["InvalidISRC"]
    assert not reader.valid


def test_lenient_reader_yields_only_good_records_and_lists_every_error(tmp_path: Path) -> None:
    """Lenient: the eight good records, and both errors with their record paths."""
    rows, reader = _errors(_two_bad_records(tmp_path))
    assert len(rows) == 8
    assert {row.work.value for row in rows}.isdisjoint({"GBAAA260003", "gbaaa2600007"})
    assert [(e.code, e.path) for e in reader.errors] == [
        ("InvalidISRC", f"{RECORD_PATH}[4]/WorkId"),
        ("InvalidISRC", f"{RECORD_PATH}[8]/WorkId"),
    ]
    assert not reader.valid


# --- reader: memory ---------------------------------------------------------------------------

# Peak RSS of the child's own address space: /proc's VmHWM. (getrusage's ru_maxrss would not
# do: Linux carries it over exec from the forking parent, here the whole pytest process.)
_MEASURE = """
import json, sys
from airex.formats.usage import XmlUsageReader
reader = XmlUsageReader(sys.argv[1])
records = sum(1 for _ in reader)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"records": records, "errors": len(reader.errors), "peak": peak * 1024}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_reading_a_large_report_takes_constant_memory(tmp_path: Path) -> None:
    """300 000 records (~60 MB of XML) are read in a fresh process whose peak RSS stays small."""
    path = tmp_path / "large.xml"
    generate_report(path, 300_000, seed=7)
    assert path.stat().st_size > 50_000_000
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    measured = json.loads(result.stdout)
    assert measured["records"] == 300_000
    assert measured["errors"] == 0
    assert measured["peak"] < 120 * 1024 * 1024
