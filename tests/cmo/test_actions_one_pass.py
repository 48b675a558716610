"""One pass over a usage report the CMO prices: the exchange reaches its verdict on the
header, the pricing's strict reading validates every record, and the report is never read
twice when it is valid, nor whole when it is not.

Each test runs on the embedded default (SQLite). Reading is counted on the readers' own
iterators (``XmlUsageReader.__iter__``, ``FlatUsageReader.__iter__``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from actions_support import (
    acknowledged,
    cast,
    effect_counts,
    flat_report,
    licensed,
    send,
    sent_by_cmo,
    usage_report,
)
from exchange_support import CMO, DEV, Env

from airex.demo import Scenario
from airex.exchange import Exchange, NoActions
from airex.exchange.store import MessageStore, sha256_of
from airex.formats.usage import FlatUsageReader, XmlUsageReader

RECORDS = 90


class Passes:
    """Counts the full readings of reports by the readers of one form."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, reader: type[Any]) -> None:
        self.count = 0
        original = reader.__iter__

        def counted(this: Any) -> Any:
            self.count += 1
            return original(this)

        monkeypatch.setattr(reader, "__iter__", counted)


def _never_whole(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Make reading ``data``'s stored bytes into memory fail the test."""
    forbidden = sha256_of(data)
    original = MessageStore.get

    def get(store: MessageStore, sha: str) -> bytes:
        assert sha != forbidden, "the usage report was read whole"
        return original(store, sha)

    monkeypatch.setattr(MessageStore, "get", get)


def test_a_valid_xml_report_is_read_once(
    embedded: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records of a valid XML report are read once (by pricing), never whole; it is
    priced and accepted with its held warnings."""
    exchange, scenario, licence_id = licensed(embedded, RECORDS)
    report = usage_report(scenario, licence_id, tmp_path)
    passes = Passes(monkeypatch, XmlUsageReader)
    _never_whole(monkeypatch, report)
    received_id = send(exchange, report, DEV, "q1.xml")
    status, codes = acknowledged(exchange, received_id)
    assert status == "MessageAccepted"
    assert codes  # held usage: warnings, as before
    assert passes.count == 1
    assert len(sent_by_cmo(exchange, "InvoiceMessage")) == 1


def test_a_valid_flat_report_is_read_once(
    embedded: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a split flat report: its parts' records are read once, by pricing."""
    exchange, scenario, licence_id = licensed(embedded, RECORDS)
    paths = flat_report(scenario, licence_id, tmp_path / "q1.tsv.gz", split=RECORDS // 2)
    passes = Passes(monkeypatch, FlatUsageReader)
    ids = [send(exchange, p.read_bytes(), DEV, p.name) for p in paths]
    set_id = exchange.received_message(ids[-1]).parent_id
    assert set_id is not None
    assert acknowledged(exchange, set_id)[0] == "MessageAccepted"
    assert passes.count == 1
    assert len(sent_by_cmo(exchange, "InvoiceMessage")) == 1


def _miscounted(report: bytes) -> bytes:
    count = f"<NumberOfRecords>{RECORDS}<".encode()
    assert count in report
    return report.replace(count, f"<NumberOfRecords>{RECORDS + 1}<".encode())


def test_an_invalid_report_is_refused_with_no_effect_and_never_read_whole(
    embedded: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report the pricing's reading finds invalid (its record count lies) is refused with
    the stream's errors: nothing priced, posted or sent, never read whole, not recorded
    under its MessageId (the corrected report, resent under it, is priced)."""
    exchange, scenario, licence_id = licensed(embedded, RECORDS)
    report = usage_report(scenario, licence_id, tmp_path)
    bad = _miscounted(report)
    before = effect_counts(exchange.engine)
    _never_whole(monkeypatch, bad)
    refused = send(exchange, bad, DEV, "q1.xml")
    assert acknowledged(exchange, refused) == ("BusinessRuleViolation", ["RecordCountMismatch"])
    assert effect_counts(exchange.engine) == before
    assert sent_by_cmo(exchange, "InvoiceMessage") == []
    assert not any(name.endswith("q1.xml") for name in embedded.inbox_files(CMO))
    corrected = send(exchange, report, DEV, "q1.xml")
    assert acknowledged(exchange, corrected)[0] == "MessageAccepted"
    assert len(sent_by_cmo(exchange, "InvoiceMessage")) == 1


def test_an_invalid_report_refused_on_its_header_is_refused_as_invalid(
    embedded: Env, tmp_path: Path
) -> None:
    """A report whose licence is unknown (the pricing refuses it on the header, reading no
    record) and whose record count lies is refused for what validation finds, as it was
    when every report was validated first."""
    exchange, scenario, _ = licensed(embedded, RECORDS)
    bad = _miscounted(usage_report(scenario, "LIC-UNKNOWN", tmp_path))
    received_id = send(exchange, bad, DEV, "q1.xml")
    assert acknowledged(exchange, received_id) == (
        "BusinessRuleViolation",
        ["RecordCountMismatch"],
    )
    valid = usage_report(scenario, "LIC-UNKNOWN", tmp_path)
    again = send(exchange, valid, DEV, "q1.xml")
    assert acknowledged(exchange, again)[0] == "UnknownReference"


def test_without_validating_actions_a_report_is_validated_before_acting(
    embedded: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Actions that do not read reports through (here: the routing-only default) get
    reports validated by the exchange first: an invalid one is refused and never acted on."""
    calls: list[str] = []

    class Watching(NoActions):
        def act(self, message: Any, *args: Any) -> Any:
            calls.append(message.message_type)
            return super().act(message, *args)

    exchange: Exchange = embedded.exchange(actions=Watching())
    scenario = Scenario(RECORDS, seed=5, cast=cast())
    bad = _miscounted(usage_report(scenario, "LIC-1", tmp_path))
    received_id = send(exchange, bad, DEV, "q1.xml")
    assert acknowledged(exchange, received_id)[0] == "BusinessRuleViolation"
    assert calls == []
    good = send(exchange, usage_report(scenario, "LIC-1", tmp_path), DEV, "q1.xml")
    assert acknowledged(exchange, good) == ("MessageAccepted", [])
    assert calls == ["UsageReportMessage"]
