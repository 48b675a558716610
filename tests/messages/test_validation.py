"""Validation edge cases found in review: prefixes, comments inside values, error caps, files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import airex
from airex.messages._api import MAX_ERRORS

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
INVOICE = (SAMPLES / "invoice" / "music-cadenza-q1-2026.xml").read_bytes()
USAGE = (SAMPLES / "usage-report" / "music-cadenza-q1-2026.xml").read_bytes()


def codes(xml: bytes) -> list[str]:
    return [e.code for e in airex.check(xml).errors]


def test_foreign_prefixed_element_is_reported_not_crashed_on() -> None:
    """A stray element in another namespace, with a prefix, is an UnexpectedElement at its path."""
    xml = INVOICE.replace(
        b"<InvoiceId>", b'<ext:Note xmlns:ext="urn:example">hi</ext:Note><InvoiceId>', 1
    )
    (error,) = airex.check(xml).errors
    assert (error.code, error.path) == ("UnexpectedElement", "/InvoiceMessage/Invoice/Note")


def test_message_written_with_a_namespace_prefix_is_located_by_local_names() -> None:
    """The same invoice with an ``a:`` prefix on every element gets the same, prefix-free path."""
    prefixed = re.sub(rb"<(/?)([A-Z]\w*)", rb"<\1a:\2", INVOICE)
    prefixed = prefixed.replace(b'xmlns="urn:airex:xml:1"', b'xmlns:a="urn:airex:xml:1"')
    assert codes(prefixed) == []
    broken = prefixed.replace(b"<a:LineNumber>1<", b"<a:LineNumber>one<", 1)
    (error,) = airex.check(broken).errors
    assert error.code == "InvalidValue"
    assert error.path == "/InvoiceMessage/Invoice/InvoiceLine[1]/LineNumber"


def test_comment_inside_a_value_cannot_hide_a_wrong_total() -> None:
    """``25000.00<!-- -->9`` is the value 25000.009 for the rules as for the XSD."""
    xml = INVOICE.replace(b">25000.00</TotalAmount>", b">25000.00<!-- -->9</TotalAmount>")
    assert codes(xml) == ["TotalMismatch"]


def test_processing_instruction_inside_a_value_is_joined_like_a_comment() -> None:
    """A PI inside a MessageId leaves the full id to check and to parse."""
    xml = INVOICE.replace(b"<MessageId>HARM-", b"<MessageId>HA<?x y?>RM-", 1)
    assert codes(xml) == []
    assert airex.parse(xml).message_id.startswith("HARM-")


def test_errors_are_capped_with_a_final_too_many_errors() -> None:
    """A report failing on 1 500 records lists the first MAX_ERRORS errors, then TooManyErrors."""
    head = USAGE[: USAGE.index(b"<UsageRecord>")]
    tail = USAGE[USAGE.index(b"</UsageRecordList>") :]
    record = (
        b'<UsageRecord><WorkId Type="ISRC">NOT-AN-ISRC</WorkId>'
        b"<UseType>UseForTrainingGenerativeAI</UseType>"
        b'<Quantity Unit="Token">1</Quantity></UsageRecord>\n'
    )
    head = head.replace(b">12</NumberOfRecords>", b">1500</NumberOfRecords>")
    errors = airex.check(head + record * 1500 + tail).errors
    assert len(errors) == MAX_ERRORS + 1
    assert {e.code for e in errors[:MAX_ERRORS]} == {"InvalidISRC"}
    assert errors[499].path == (
        "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord[500]/WorkId"
    )
    assert errors[-1].code == "TooManyErrors"


def test_unreadable_file_is_an_error_not_an_exception(tmp_path: Path) -> None:
    """check() on a missing file reports FileUnreadable (status InternalError) and names it."""
    missing = tmp_path / "nowhere.xml"
    (error,) = airex.check(missing).errors
    assert error.code == "FileUnreadable"
    assert error.status is airex.MessageStatus.INTERNAL_ERROR
    assert str(missing) in error.message


def test_namespace_errors_point_at_the_attribute() -> None:
    """A Namespace on an ISRC WorkId is reported at the WorkId's @Namespace."""
    xml = USAGE.replace(b'<WorkId Type="ISRC">', b'<WorkId Type="ISRC" Namespace="x">', 1)
    (error,) = airex.check(xml).errors
    assert error.code == "NamespaceNotAllowed"
    assert error.path is not None
    assert re.fullmatch(
        r"/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord\[\d+\]"
        r"/WorkId(\[\d+\])?/@Namespace",
        error.path,
    )


MANIFEST = (SAMPLES / "manifest" / "music-cmo-batch-to-cadenza.xml").read_bytes()
FIRST_URL = re.search(rb"<URL>(.*?)</URL>", MANIFEST)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (b"..\\outside.xml", ["PatternMismatch"]),  # backslash separator
        (b"C:/outside.xml", ["PatternMismatch"]),  # drive letter
        (b"https://evil.example/x.xml", ["PatternMismatch"]),  # a URL, not a relative path
        (b"/etc/passwd", ["PatternMismatch"]),  # absolute
        (b"a//b.xml", ["PatternMismatch"]),  # empty segment
        (b"a/", ["PatternMismatch"]),  # names a folder
        (b"a/../../b.xml", ["InvalidBatchUrl"]),  # climbs out of the batch folder
        (b"usage/2026 Q1/report.xml", []),  # spaces inside a name are fine
    ],
)
def test_manifest_url_must_stay_inside_the_batch_folder(url: bytes, expected: list[str]) -> None:
    """A MessageInBatch URL is a relative path inside the batch folder, and nothing else."""
    assert FIRST_URL is not None
    xml = MANIFEST.replace(FIRST_URL.group(0), b"<URL>" + url + b"</URL>", 1)
    assert codes(xml) == expected


def test_xsi_type_cannot_substitute_a_richer_type() -> None:
    """xsi:type on an Amount cannot smuggle in ReportedRevenue's RevenueType attribute."""
    xml = INVOICE.replace(
        b'<TotalAmount Currency="EUR">',
        b'<TotalAmount xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        b'xsi:type="ReportedRevenue" RevenueType="API" Currency="EUR">',
        1,
    )
    assert codes(xml) != []


def test_counts_are_bounded_machine_integers() -> None:
    """A NumberOfRecords of 5 000 digits is out of range, reported, not a crash."""
    xml = USAGE.replace(b">12</NumberOfRecords>", b">1" + b"0" * 5000 + b"</NumberOfRecords>")
    assert codes(xml) == ["ValueOutOfRange"]


def test_proprietary_namespace_may_be_any_token() -> None:
    """A Namespace such as "Bluebird catalogue" (a token, not an id) is accepted, per the spec."""
    declarations = sorted((SAMPLES / "work-declaration").glob("*.xml"))
    xml = next(p.read_bytes() for p in declarations if b"Namespace=" in p.read_bytes())
    edited = re.sub(rb'Namespace="[^"]*"', b'Namespace="Bluebird catalogue"', xml, count=1)
    assert edited != xml
    assert codes(edited) == []
