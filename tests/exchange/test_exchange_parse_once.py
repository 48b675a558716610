"""Parse once: a usage report is validated as a stream from the stored file and never
materialised; its verdict is the one the whole-document check gives; its header can be read
alone (a deferred inspection, for the pass that prices it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airex.exchange.hooks import Accepted
from airex.exchange.models import PartyRecord
from airex.exchange.store import MessageStore
from airex.exchange.verdict import (
    inspect,
    inspect_stored,
    judge,
    stored_header,
    streamed_family,
)
from airex.formats.usage import generate_report

DEV = "PADPIDA2026NORTHWIND"
CMO = "PADPIDA2026SONORA"
PARTIES = {
    DEV: PartyRecord(DEV, "Northwind", "AIDeveloper", None, False),
    CMO: PartyRecord(CMO, "Sonora", "CollectiveManagementOrganisation", None, False),
}


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A generated 200-record XML usage report."""
    path = tmp_path / "report.xml"
    generate_report(path, 200)
    return path


def test_a_usage_report_is_validated_as_a_stream_with_the_same_header(report: Path) -> None:
    """The streamed inspection finds no error and reads the header the whole-document check
    reads (line numbers included); the verdict keeps no document and builds no model."""
    streamed = inspect_stored(report)
    whole = inspect(report.read_bytes())
    assert streamed is not None
    assert (streamed.errors, whole.errors) == ([], [])
    assert streamed.header == whole.header
    verdict = judge(streamed, PARTIES, arrival_party=DEV)
    assert verdict.accepted
    assert (verdict.tree, verdict.message) == (None, None)


def test_the_hook_gets_the_stored_file_and_no_model_of_a_report(report: Path) -> None:
    """What the actions receive for a report: its header and its stored file; asking for a
    model is refused (a report of any size is never materialised)."""
    streamed = inspect_stored(report)
    assert streamed is not None
    verdict = judge(streamed, PARTIES, arrival_party=DEV)
    accepted = Accepted(streamed.header, report, verdict=verdict)
    assert (accepted.message_type, accepted.path, accepted.materialised) == (
        "UsageReportMessage",
        report,
        False,
    )
    with pytest.raises(Exception, match="not materialised"):
        accepted.model()


def test_an_invalid_report_is_refused_by_the_stream(report: Path) -> None:
    """A report that fails the stream (here: its record count is wrong) is refused with the
    stream's errors (the code the whole-document check gives, where, the file as it was
    handed in), never read whole: its memory stays bounded whatever its size."""
    text = report.read_text(encoding="utf-8")
    bad = report.with_name("bad.xml")
    bad.write_text(
        text.replace("<NumberOfRecords>200<", "<NumberOfRecords>201<"),
        encoding="utf-8",
    )
    streamed = inspect_stored(bad, "q1.xml")
    assert streamed is not None
    whole = inspect(bad.read_bytes())
    assert [e.code for e in streamed.errors] == ["RecordCountMismatch"]
    assert "RecordCountMismatch" in {e.code for e in whole.errors}
    (error,) = streamed.errors
    assert error.path is not None
    assert error.path.endswith("/NumberOfRecords")
    assert error.file == "q1.xml"
    assert streamed.header.message_id == whole.header.message_id
    assert streamed.header.sender == whole.header.sender


def test_a_report_s_header_alone_is_a_deferred_inspection(report: Path) -> None:
    """stored_header reads the header only (the records are left to the pass that prices
    them): the same header as the whole check, marked deferred, and so is the verdict."""
    deferred = stored_header(report)
    whole = inspect(report.read_bytes())
    assert deferred is not None
    assert deferred.deferred
    assert deferred.header == whole.header
    assert judge(deferred, PARTIES, arrival_party=DEV).deferred


def test_only_usage_reports_are_streamed(tmp_path: Path, report: Path) -> None:
    """The family is told from the root element; other messages are read whole."""
    other = tmp_path / "other.xml"
    other.write_bytes(b"<?xml version='1.0'?>\n<!-- x -->\n<LicenceRequestMessage/>")
    assert (streamed_family(report), streamed_family(other)) == ("UsageReportMessage", None)
    assert inspect_stored(other) is None


def test_the_store_verifies_a_file_as_a_stream(tmp_path: Path) -> None:
    """verify() checks the stored bytes against their hash without holding them."""
    store = MessageStore(tmp_path)
    sha = store.put(b"<x/>")
    assert store.verify(sha) == store.path(sha)
    store.path(sha).write_bytes(b"<y/>")
    with pytest.raises(Exception, match="no longer hash"):
        store.verify(sha)
