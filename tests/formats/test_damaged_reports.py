"""A damaged report is never read as a whole one, whatever the libxml2 version.

A document that ends early, anywhere (in a tag, in a record, after a record, after the record
list, without only its last end tag, in a comment, a gzip stream cut short), is XmlNotWellFormed
with its file and a line, from the streaming reader and from the whole-document parser alike;
``airex usage stats`` and ``airex usage convert`` exit 1 saying so, write nothing, never crash.
"""

from __future__ import annotations

import gzip
import os
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from airex.cli import app
from airex.errors import MessageStatus, XmlSyntaxError
from airex.formats.usage import UsageRow, UsageTotals, WorkRef, XmlUsageReader, open_report
from airex.formats.usage._generate import synthetic_header
from airex.formats.usage._xml_writer import XmlUsageWriter
from airex.xml import parse_xml, stream_element_batches
from airex.xml._ending import TAIL_BYTES

NS = "{urn:airex:xml:1}"


def _rows(n: int) -> list[UsageRow]:
    return [
        UsageRow(
            (WorkRef("ISRC", f"GBAAA26{i:05d}"),),
            "UseForTrainingGenerativeAI",
            Decimal(i + 1),
            "Token",
            None,
            "MODEL-1",
            0,
            "",
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def report_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A valid 3-record XML usage report, as text."""
    path = tmp_path_factory.mktemp("damaged") / "valid.xml"
    rows = _rows(3)
    with XmlUsageWriter(path, synthetic_header(3, seed=0), number_of_records=3) as writer:
        writer.write_all(rows)
    return path.read_text(encoding="utf-8")


def _read(path: Path) -> tuple[list[UsageRow], XmlUsageReader]:
    reader = XmlUsageReader(path, strict=False)
    rows = list(reader)
    return rows, reader


def _last_line(text: str) -> int:
    return text.count("\n") + 1


def _named_cuts(text: str) -> dict[str, int]:
    second = text.index("<UsageRecord>", text.index("<UsageRecord>") + 1)
    return {
        "in the XML declaration": 10,
        "in the root's start tag": text.index("<UsageReportMessage") + 8,
        "in the header": text.index("<MessageHeader>") + 40,
        "in a start tag of a record": second + len("<UsageRecord><WorkId Ty"),
        "in a record's text": text.index(">", text.index("<Quantity", second)) + 2,
        "after a record": text.index("</UsageRecord>", second) + len("</UsageRecord>"),
        "after the record list": text.rindex("</UsageRecordList>") + len("</UsageRecordList>"),
        "before the root's end tag": text.rindex("</UsageReportMessage>"),
        "in the root's end tag": text.rindex("</UsageReportMessage>") + 10,
        "one byte short": text.rindex(">"),
    }


@pytest.mark.parametrize(
    "where",
    [
        "in the XML declaration",
        "in the root's start tag",
        "in the header",
        "in a start tag of a record",
        "in a record's text",
        "after a record",
        "after the record list",
        "before the root's end tag",
        "in the root's end tag",
        "one byte short",
    ],
)
def test_a_report_cut_anywhere_is_not_well_formed_with_the_last_line(
    report_text: str, tmp_path: Path, where: str
) -> None:
    """Each cut is one XmlNotWellFormed error at the cut's line, and no record of it is
    yielded beyond those whose end tag is in the text."""
    cut = _named_cuts(report_text)[where]
    text = report_text[:cut]
    path = tmp_path / "cut.xml"
    path.write_text(text, encoding="utf-8")
    rows, reader = _read(path)
    assert [(e.code, e.status, e.file) for e in reader.errors] == [
        ("XmlNotWellFormed", MessageStatus.XML_NOT_WELL_FORMED, str(path))
    ]
    assert reader.errors[0].line == _last_line(text)
    assert len(rows) <= text.count("</UsageRecord>")
    totals = UsageTotals()
    totals.add_all(rows)  # never an IndexError on a made-up record
    assert totals.records == len(rows)


def test_every_cut_of_a_report_is_refused(report_text: str, tmp_path: Path) -> None:
    """Cutting the report at every 7th byte: each cut is refused as XmlNotWellFormed with a
    line, both by the streaming reader and by parse_xml; the whole report is accepted."""
    path = tmp_path / "cut.xml"
    data = report_text.encode()
    end = data.rindex(b">")  # the report ends with its root's ">" and a line end
    for cut in [*range(1, end, 7), end]:
        path.write_bytes(data[:cut])
        _, reader = _read(path)
        codes = [(e.code, e.line is not None) for e in reader.errors]
        assert codes == [("XmlNotWellFormed", True)], (cut, reader.errors)
        with pytest.raises(XmlSyntaxError) as refused:
            parse_xml(data[:cut], filename="cut.xml")
        assert refused.value.errors[0].line is not None, cut
    path.write_bytes(data)
    rows, reader = _read(path)
    assert (len(rows), reader.errors) == (3, [])


@pytest.mark.parametrize(
    "ending",
    ["\n", "\n\n  \t\n", "<!-- end -->\n", "\n<?airex done?>\n<!---->", "<!-- </x> -->"],
)
def test_white_space_comments_and_pis_after_the_root_are_accepted(
    report_text: str, tmp_path: Path, ending: str
) -> None:
    """What may follow the root's end tag does not make a report damaged."""
    path = tmp_path / "tail.xml"
    path.write_text(report_text.rstrip() + ending, encoding="utf-8")
    rows, reader = _read(path)
    assert (len(rows), reader.errors) == (3, [])
    parse_xml((report_text.rstrip() + ending).encode())


@pytest.mark.parametrize(
    "ending",
    [
        "\n<",
        "\n<?pi unfinished",
        "\n<!-- unfinished",
        "\n<!-- broken -- comment -->",
        "junk",
        "\n<UsageReportMessage/>",
    ],
)
def test_anything_else_after_the_root_is_not_well_formed(
    report_text: str, tmp_path: Path, ending: str
) -> None:
    """Text, a second element or an unfinished comment or PI after the root: refused."""
    text = report_text.rstrip() + ending
    path = tmp_path / "tail.xml"
    path.write_text(text, encoding="utf-8")
    _, reader = _read(path)
    assert [e.code for e in reader.errors] == ["XmlNotWellFormed"]
    assert reader.errors[0].line is not None
    with pytest.raises(XmlSyntaxError):
        parse_xml(text.encode())


@pytest.mark.parametrize(
    "hidden",
    [
        "<!-- </UsageReportMessage>",  # the end tag inside an unfinished comment
        "<![CDATA[</UsageReportMessage>",  # ... a CDATA section
        "<?pi </UsageReportMessage>",  # ... a processing instruction
        '<Note x="</UsageReportMessage>',  # ... an attribute value
    ],
)
def test_an_end_tag_inside_an_unfinished_construct_is_not_the_end(
    report_text: str, tmp_path: Path, hidden: str
) -> None:
    """A cut document whose last bytes spell the root's end tag inside a comment, CDATA, PI or
    attribute is still refused: the end tag must have been parsed as one."""
    text = report_text[: report_text.rindex("</UsageRecordList>")] + hidden
    path = tmp_path / "hidden.xml"
    path.write_text(text, encoding="utf-8")
    _, reader = _read(path)
    assert [e.code for e in reader.errors] == ["XmlNotWellFormed"]
    with pytest.raises(XmlSyntaxError):
        parse_xml(text.encode())


def test_the_partial_record_libxml2_closes_is_never_handed_out() -> None:
    """stream_element_batches raises before yielding what close() produced: the records of
    a cut document are only those whose end tag was read."""
    document = b"<r><i>1</i><i>2</i><i>3"
    got: list[str | None] = []

    def read() -> None:
        """Read every batch, keeping the texts of the elements yielded."""
        for batch in stream_element_batches([document], ["i"], root="r", name="cut.xml"):
            got.extend(element.text for element in batch)

    with pytest.raises(XmlSyntaxError) as refused:
        read()
    assert got == ["1", "2"]
    assert refused.value.errors[0].line == 1
    assert "before its r is closed" in refused.value.errors[0].message


def test_trailing_comments_up_to_a_mebibyte_are_accepted_longer_ones_refused() -> None:
    """Comments after the root are allowed: a 300 kB one is read as any other; one starting
    more than the kept tail (1 MiB) before the end is refused with a fixed message saying the
    document cannot be checked, never accepted unchecked."""

    def chunked(document: bytes) -> list[bytes]:
        return [document[i : i + 65536] for i in range(0, len(document), 65536)]

    body = b"<r><i>1</i></r>"
    commented = chunked(body + b"<!--" + b"x" * 300_000 + b"-->\n")
    kept = [e.text for batch in stream_element_batches(commented, ["i"], root="r") for e in batch]
    assert kept == ["1"]
    huge = body + b"<!--" + b"x" * (TAIL_BYTES + 70_000) + b"-->"
    with pytest.raises(XmlSyntaxError) as refused:
        for _ in stream_element_batches(chunked(huge), ["i"], root="r"):
            pass
    message = refused.value.errors[0].message
    assert message.endswith(
        "start more than 1 MiB before its end: that its r is complete cannot be checked"
    )


def test_content_after_the_root_is_named_as_such() -> None:
    """Text or a second element after the root's end tag: the error says content follows the
    root, not that its end tag is missing."""
    for document in (b"<r><i>1</i></r>junk", b"<r><i>1</i></r><r/>"):
        with pytest.raises(XmlSyntaxError) as refused:
            for _ in stream_element_batches([document], ["i"], root="r"):
                pass
        message = refused.value.errors[0].message
        assert "content after the end of its r" in message or "Extra content" in message, message


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_documents_are_checked_too(codec: str) -> None:
    """The end check reads UTF-16 documents as such: whole ones pass, cut ones do not."""
    declaration = '<?xml version="1.0" encoding="UTF-16"?>'
    whole = (declaration + "<r><i>1</i><!-- c --></r>\n<!-- after -->").encode(codec)
    assert parse_xml(whole).getroot().tag == "r"
    assert [len(b) for b in stream_element_batches([whole[:7], whole[7:]], ["i"], root="r")]
    cut = (declaration + "<r><i>1</i><!-- </r>").encode(codec)
    with pytest.raises(XmlSyntaxError):
        parse_xml(cut)


def test_a_cut_gzip_report_is_not_well_formed_with_a_line(report_text: str, tmp_path: Path) -> None:
    """A .xml.gz whose compressed stream is cut short, or that is not gzip at all."""
    data = gzip.compress(report_text.encode())
    for name, content in [("cut.xml.gz", data[: len(data) // 2]), ("bad.xml.gz", b"\x1f\x8bxx")]:
        path = tmp_path / name
        path.write_bytes(content)
        rows, reader = _read(path)
        assert rows == []
        assert [(e.code, e.file) for e in reader.errors] == [("XmlNotWellFormed", str(path))]
        assert reader.errors[0].line is not None
        assert "gzip" in reader.errors[0].message or "decompress" in reader.errors[0].message


def test_open_report_of_an_unnamed_damaged_gzip_is_a_value_error(tmp_path: Path) -> None:
    """A report whose form must be sniffed from a damaged gzip stream is not a crash."""
    path = tmp_path / "report.gz"
    path.write_bytes(gzip.compress(b"<UsageReportMessage")[:12])
    with pytest.raises(ValueError, match="cannot tell the report's form"):
        open_report(path)


# --- airex usage stats | convert ---------------------------------------------------------------


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _damaged_files(report_text: str, folder: Path) -> dict[str, Path]:
    """One file per kind of damage, in ``folder``."""
    folder.mkdir()
    cuts = _named_cuts(report_text)
    files: dict[str, Path] = {}
    for label in ("in a start tag of a record", "after a record", "after the record list"):
        files[label] = folder / f"{label.replace(' ', '-')}.xml"
        files[label].write_text(report_text[: cuts[label]], encoding="utf-8")
    files["without its root's end tag"] = folder / "no-end.xml"
    files["without its root's end tag"].write_text(
        report_text[: cuts["before the root's end tag"]], encoding="utf-8"
    )
    data = gzip.compress(report_text.encode())
    files["cut gzip"] = folder / "cut.xml.gz"
    files["cut gzip"].write_bytes(data[: len(data) * 2 // 3])
    files["garbage"] = folder / "garbage.xml"
    files["garbage"].write_bytes(b"\x00\x01\xfe garbage \xff" * 50)
    files["empty"] = folder / "empty.xml"
    files["empty"].write_bytes(b"")
    return files


def _listing(folder: Path) -> dict[str, bytes]:
    return {
        os.path.relpath(os.path.join(root, name), folder): Path(root, name).read_bytes()
        for root, _, names in os.walk(folder)
        for name in names
    }


def test_usage_stats_and_convert_refuse_every_damaged_report(
    report_text: str, tmp_path: Path
) -> None:
    """stats: exit 1, ``file:line: XmlNotWellFormed: ...`` on stdout, no traceback; convert:
    exit 1, the same lines, and nothing left in the output folder (no file, no temporary)."""
    files = _damaged_files(report_text, tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    for label, path in files.items():
        for args in (["stats"], ["stats", "--json"]):
            result = run("usage", *args, path)
            assert result.exit_code == 1, (label, args, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit)
            if args == ["stats"]:
                assert f"{path}:" in result.stdout, (label, result.stdout)
                assert ": XmlNotWellFormed: " in result.stdout, (label, result.stdout)
        for target in ("report.tsv", "report.tsv.gz", "report.xml"):
            result = run("usage", "convert", path, out / target)
            assert result.exit_code == 1, (label, target, result.output)
            assert result.exception is None or isinstance(result.exception, SystemExit)
            assert ": XmlNotWellFormed: " in result.stdout, (label, result.stdout)
            assert f"{path}:" in result.stdout
            assert "nothing written" in result.stderr
            assert _listing(out) == {}, (label, target)


def test_usage_stats_and_convert_say_one_thing_of_a_folder_or_a_missing_file(
    tmp_path: Path,
) -> None:
    """A folder given as the report, or a file that is not there: exit 2, one phrasing."""
    folder = tmp_path / "q1.xml"
    folder.mkdir()
    missing = tmp_path / "missing.xml"
    for args in [["stats", folder], ["convert", folder, tmp_path / "o.tsv"]]:
        result = run("usage", *args)
        assert result.exit_code == 2, result.output
        assert f"airex: {folder}: cannot read the file: it is a folder\n" == result.stderr
    for args in [["stats", missing], ["convert", missing, tmp_path / "o.tsv"]]:
        result = run("usage", *args)
        assert result.exit_code == 2, result.output
        assert f"airex: {missing}: no such file\n" == result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q1.xml"]


def test_damaged_flat_reports_are_refused_with_file_and_line(tmp_path: Path) -> None:
    """A flat file cut short, without its FOOT, a cut gzip, a split report missing a part:
    stats and convert exit 1 with ``file:line: CODE`` lines, and convert writes nothing."""
    from airex.formats.usage import FlatUsageWriter

    source = tmp_path / "src"
    source.mkdir()
    header = synthetic_header(6, seed=0)
    with FlatUsageWriter(source / "r.tsv", header, number_of_records=6) as writer:
        writer.write_all(_rows(6))
    with FlatUsageWriter(source / "s.tsv", header, number_of_records=6, split_records=2) as writer:
        writer.write_all(_rows(6))
    data = (source / "r.tsv").read_bytes()
    cases = {
        "cut.tsv": data[: len(data) - 30],
        "nofoot.tsv": data[: data.rindex(b"FOOT")],
        "cut.tsv.gz": gzip.compress(data)[:-20],
    }
    for name, content in cases.items():
        (source / name).write_bytes(content)
    (source / "s_2of3.tsv").unlink()
    out = tmp_path / "out"
    out.mkdir()
    for name in [*cases, "s_1of3.tsv"]:
        path = source / name
        stats = run("usage", "stats", path)
        assert stats.exit_code == 1, (name, stats.output)
        lines = [line for line in stats.stdout.splitlines() if line.startswith(str(source))]
        assert lines, (name, stats.stdout)
        assert all(line.split(":")[1].isdigit() for line in lines), lines
        converted = run("usage", "convert", path, out / "r.xml")
        assert converted.exit_code == 1, (name, converted.output)
        assert _listing(out) == {}


def test_a_record_the_schema_did_not_stop_is_reported_never_a_crash(
    report_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a record without a WorkId or with a Quantity that is not a number ever get past
    the schema (here: no schema at all), it is an error of that record, never an IndexError
    downstream nor a decimal exception."""
    from airex.formats.usage import _xml

    monkeypatch.setattr(_xml, "xml_schema", lambda: None)
    first = report_text.index("<WorkId")
    text = report_text[:first] + report_text[report_text.index("</WorkId>") + 9 :]
    text = text.replace('Unit="Token">2<', 'Unit="Token">two<', 1)
    path = tmp_path / "odd.xml"
    path.write_text(text, encoding="utf-8")
    rows, reader = _read(path)
    assert [(e.code, e.path) for e in reader.errors] == [
        ("MissingElement", "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord[1]"),
        ("MissingElement", "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord[2]"),
    ]
    assert all(e.line for e in reader.errors)
    assert len(rows) == 1
    UsageTotals().add_all(rows)
