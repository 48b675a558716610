"""Flat-file usage reports through the exchange: dropped or sent as ``.tsv``, ``.tsv.gz``, a set
of split parts arriving one by one, or inside a batch, a flat report is validated as a stream,
priced into the same invoice as its XML twin, and acknowledged with the same held warnings; a
damaged one is refused with its file and line; a set missing a part waits, is reported, and is
never priced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from actions_support import (
    acknowledged,
    cast,
    flat_report,
    licensed,
    parsed,
    run_pending,
    send,
    sent_by_cmo,
    usage_report,
)
from exchange_support import CMO, DEV, Env

from airex.batch import pack
from airex.demo import TIMELINE, Scenario
from airex.exchange import Exchange
from airex.exchange.settings import write_clock
from airex.exchange.watcher import serve
from airex.messages import InvoiceMessage

ACCEPTED = "MessageAccepted"
RECORDS = 120


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Env]:
    """A second, independent SQLite exchange (for the XML twin)."""
    env = Env.make(tmp_path / "twin" / "home", f"sqlite:///{tmp_path / 'twin.db'}")
    try:
        yield env
    finally:
        env.close()


def _licensed(env: Env) -> tuple[Exchange, Scenario, str]:
    return licensed(env, RECORDS)


def _flat(scenario: Scenario, licence_id: str, path: Path, split: int | None = None) -> list[Path]:
    return flat_report(scenario, licence_id, path, split)


def _invoice(exchange: Exchange) -> tuple[str, list[tuple[str, str, str]]]:
    (data,) = sent_by_cmo(exchange, "InvoiceMessage")
    return _invoice_of(data)


def _invoice_of(data: bytes) -> tuple[str, list[tuple[str, str, str]]]:
    invoice = parsed(data)
    assert isinstance(invoice, InvoiceMessage)
    body = invoice.invoice
    lines = [
        (line.tariff_id, str(line.line_amount.value), str(line.quantity))
        for line in body.invoice_lines
    ]
    return str(body.total_amount.value), lines


def _xml_twin(
    env: Env, tmp_path: Path
) -> tuple[tuple[str, list[tuple[str, str, str]]], tuple[str, list[str]]]:
    exchange, scenario, licence_id = _licensed(env)
    report = usage_report(scenario, licence_id, tmp_path)
    received_id = send(exchange, report, DEV, "q1.xml")
    return _invoice(exchange), acknowledged(exchange, received_id)


@pytest.mark.parametrize("form", ["tsv", "tsv.gz"])
def test_single_flat_file_is_priced_as_its_xml_twin(
    embedded: Env, fresh: Env, tmp_path: Path, form: str
) -> None:
    """A flat report handed in as one file (plain or gzip) is priced into the same invoice as
    its XML twin and acknowledged with the same held warnings."""
    expected_invoice, expected_ack = _xml_twin(fresh, tmp_path)
    assert expected_ack[0] == ACCEPTED
    assert {"OptedOut", "UseTypeNotLicensed"} <= set(expected_ack[1])
    exchange, scenario, licence_id = _licensed(embedded)
    (path,) = _flat(scenario, licence_id, tmp_path / f"q1.{form}")
    received_id = send(exchange, path.read_bytes(), DEV, path.name)
    assert acknowledged(exchange, received_id) == expected_ack
    assert _invoice(exchange) == expected_invoice


def test_split_report_arriving_part_by_part_is_priced_when_whole(
    embedded: Env, fresh: Env, tmp_path: Path
) -> None:
    """A report split in 3 parts handed in one by one: the first two wait (nothing priced,
    nothing acknowledged, the status counts them), the third completes the set, which is
    priced into the XML twin's invoice with the same held warnings; a resent set is a
    duplicate."""
    expected_invoice, expected_ack = _xml_twin(fresh, tmp_path)
    exchange, scenario, licence_id = _licensed(embedded)
    paths = _flat(scenario, licence_id, tmp_path / "q1.tsv.gz", split=RECORDS // 3 + 1)
    assert [p.name for p in paths] == [f"q1_{n}of3.tsv.gz" for n in (1, 2, 3)]
    first, second = (send(exchange, p.read_bytes(), DEV, p.name) for p in paths[:2])
    assert exchange.status().states.get("waiting") == 2
    assert sent_by_cmo(exchange, "InvoiceMessage") == []
    assert exchange.acknowledgement_of(received_id=first) is None
    last = send(exchange, paths[2].read_bytes(), DEV, paths[2].name)
    assert "waiting" not in exchange.status().states
    parents = {exchange.received_message(i).parent_id for i in (first, second, last)}
    (set_id,) = parents
    assert set_id is not None
    assert acknowledged(exchange, set_id) == expected_ack
    assert _invoice(exchange) == expected_invoice
    message_id = scenario.usage_header(licence_id).message_header.message_id
    delivered = embedded.inbox_files(CMO)
    assert all(f"{DEV}_{message_id}_{n}of3.tsv.gz" in delivered for n in (1, 2, 3))
    again = [send(exchange, p.read_bytes(), DEV, p.name) for p in reversed(paths)]
    resent = exchange.received_message(again[0]).parent_id
    assert resent is not None
    assert acknowledged(exchange, resent)[0] == "DuplicateMessage"
    assert len(sent_by_cmo(exchange, "InvoiceMessage")) == 1


def test_set_with_a_missing_part_is_never_priced(embedded: Env, tmp_path: Path) -> None:
    """Parts 1 and 3 of 3: they wait, are counted by the exchange's status, and nothing is
    priced or acknowledged."""
    exchange, scenario, licence_id = _licensed(embedded)
    paths = _flat(scenario, licence_id, tmp_path / "q1.tsv", split=RECORDS // 3 + 1)
    ids = [send(exchange, p.read_bytes(), DEV, p.name) for p in (paths[0], paths[2])]
    assert exchange.status().states.get("waiting") == 2
    assert all(exchange.received_message(i).parent_id is None for i in ids)
    assert all(exchange.acknowledgement_of(received_id=i) is None for i in ids)
    assert sent_by_cmo(exchange, "InvoiceMessage") == []


def test_a_set_that_never_completes_is_refused_after_the_timeout(
    backend: Env, tmp_path: Path
) -> None:
    """Parts 1 and 3 of 3, and part 2 never comes: before the timeout (a day after the last
    part) nothing happens; after it both parts are refused, the sender gets one
    acknowledgement naming file 2 of 3 as missing, nothing is priced or left waiting; part 2
    arriving later starts a set of its own, which waits."""
    exchange, scenario, licence_id = _licensed(backend)
    paths = _flat(scenario, licence_id, tmp_path / "q1.tsv", split=RECORDS // 3 + 1)
    ids = [send(exchange, p.read_bytes(), DEV, p.name) for p in (paths[0], paths[2])]
    assert backend.settings.clock_file is not None
    clock = backend.settings.clock_file
    write_clock(clock, TIMELINE["usage report"] + timedelta(hours=23))
    assert exchange.expire_parts() == []
    assert exchange.status().states.get("waiting") == 2
    write_clock(clock, TIMELINE["usage report"] + timedelta(hours=25))
    serve(exchange, once=True, watch=False)  # `airex serve` looks for them
    assert exchange.expire_parts() == []
    assert "waiting" not in exchange.status().states
    records = [exchange.received_message(i) for i in ids]
    assert {str(r.status) for r in records} == {"BusinessRuleViolation"}
    assert exchange.acknowledgement_of(received_id=ids[1]) is None
    assert acknowledged(exchange, ids[0]) == ("BusinessRuleViolation", ["ReportPartMissing"])
    found = exchange.acknowledgement_of(received_id=ids[0])
    assert found is not None
    (item,) = parsed(found[1]).acknowledgements
    assert "file(s) 2 of 3" in item.errors[0].error_text
    message_id = scenario.usage_header(licence_id).message_header.message_id
    assert any(name.startswith(f"ACK_{message_id}") for name in backend.inbox_files(DEV))
    assert sent_by_cmo(exchange, "InvoiceMessage") == []
    late = send(exchange, paths[1].read_bytes(), DEV, paths[1].name)
    assert exchange.received_message(late).parent_id is None
    assert exchange.status().states.get("waiting") == 1


def test_damaged_flat_report_is_refused_with_file_and_line(embedded: Env, tmp_path: Path) -> None:
    """A flat report with a bad Quantity on one record and a FOOT that lies about the count is
    refused: each error names the file and the line, and nothing is priced."""
    exchange, scenario, licence_id = _licensed(embedded)
    (path,) = _flat(scenario, licence_id, tmp_path / "q1.tsv")
    lines = path.read_text().split("\n")
    record = next(n for n, line in enumerate(lines) if line.startswith("UR01"))
    cells = lines[record].split("\t")
    cells[3] = "-1.5"
    lines[record] = "\t".join(cells)
    received_id = send(exchange, "\n".join(lines).encode(), DEV, "damaged.tsv")
    found = exchange.acknowledgement_of(received_id=received_id)
    assert found is not None
    (item,) = parsed(found[1]).acknowledgements
    assert str(item.message_status) in {"SchemaInvalid", "BusinessRuleViolation"}
    assert item.errors
    first = item.errors[0]
    assert first.line_number == record + 1
    assert "damaged.tsv" in first.error_text
    assert sent_by_cmo(exchange, "InvoiceMessage") == []


def test_flat_report_inside_a_batch_is_priced(embedded: Env, fresh: Env, tmp_path: Path) -> None:
    """A flat report as a batch entry is priced like one handed in alone."""
    expected_invoice, expected_ack = _xml_twin(fresh, tmp_path)
    exchange, scenario, licence_id = _licensed(embedded)
    (path,) = _flat(scenario, licence_id, tmp_path / "q1.tsv")
    batch = pack([path.read_bytes()], tmp_path / "batches", sender=DEV, recipients=[CMO])
    intake = exchange.receive_path(batch.path, arrival_party=DEV, publish=False)
    run_pending(exchange)
    found = exchange.acknowledgement_of(batch_row_id=intake.batch_row_id)
    assert found is not None
    (item,) = [
        a
        for a in parsed(found[1]).acknowledgements
        if a.acknowledged_message_id == scenario.usage_header(licence_id).message_header.message_id
    ]
    assert (str(item.message_status), [e.error_code for e in item.errors]) == expected_ack
    assert _invoice(exchange) == expected_invoice


def _batch_ack(exchange: Exchange, batch_row_id: int | None) -> list[tuple[str, str, list[str]]]:
    assert batch_row_id is not None
    found = exchange.acknowledgement_of(batch_row_id=batch_row_id)
    assert found is not None
    return [
        (
            str(a.acknowledged_message_id),
            str(a.message_status),
            [e.error_code for e in a.errors],
        )
        for a in parsed(found[1]).acknowledgements
    ]


def test_split_report_whole_inside_a_batch_is_one_entry(
    embedded: Env, fresh: Env, tmp_path: Path
) -> None:
    """The three parts of a split report packed in one batch (in any order, beside another
    message) are joined when the batch is taken in: one entry of the batch's ACK, with the
    XML twin's status and warnings; the same invoice; no part left waiting or refused."""
    expected_invoice, expected_ack = _xml_twin(fresh, tmp_path)
    exchange, scenario, licence_id = _licensed(embedded)
    paths = _flat(scenario, licence_id, tmp_path / "q1.tsv.gz", split=RECORDS // 3 + 1)
    other = usage_report(Scenario(3, seed=9, cast=cast()), licence_id, tmp_path)
    batch = pack(
        [paths[2].read_bytes(), other, paths[0].read_bytes(), paths[1].read_bytes()],
        tmp_path / "batches",
        sender=DEV,
        recipients=[CMO],
    )
    assert sorted(p.name for p in batch.path.iterdir() if "of3" in p.name) == [
        f"{scenario.usage_header(licence_id).message_header.message_id}_{n}of3.tsv.gz"
        for n in (1, 2, 3)
    ]
    intake = exchange.receive_path(batch.path, arrival_party=DEV, publish=False)
    run_pending(exchange)
    message_id = scenario.usage_header(licence_id).message_header.message_id
    entries = _batch_ack(exchange, intake.batch_row_id)
    assert [(m, s, e) for m, s, e in entries if m == message_id] == [(message_id, *expected_ack)]
    assert len(entries) == 2
    assert "waiting" not in exchange.status().states
    invoices = [_invoice_of(data) for data in sent_by_cmo(exchange, "InvoiceMessage")]
    assert expected_invoice in invoices  # the other report has its own invoice


def test_split_report_not_whole_inside_a_batch_is_refused(embedded: Env, tmp_path: Path) -> None:
    """A batch holding parts 1 and 2 of 3 answers at once: each part refused with
    ReportPartMissing in the batch's ACK, nothing priced, nothing left waiting."""
    exchange, scenario, licence_id = _licensed(embedded)
    paths = _flat(scenario, licence_id, tmp_path / "q1.tsv", split=RECORDS // 3 + 1)
    batch = pack(
        [p.read_bytes() for p in paths[:2]], tmp_path / "batches", sender=DEV, recipients=[CMO]
    )
    intake = exchange.receive_path(batch.path, arrival_party=DEV, publish=False)
    run_pending(exchange)
    entries = _batch_ack(exchange, intake.batch_row_id)
    assert len(entries) == 2
    assert all(status != ACCEPTED and "ReportPartMissing" in codes for _, status, codes in entries)
    assert "waiting" not in exchange.status().states
    assert sent_by_cmo(exchange, "InvoiceMessage") == []


def test_a_hostile_flat_report_costs_bounded_errors(embedded: Env, tmp_path: Path) -> None:
    """A flat report whose every record is bad is refused after at most 1000 errors (the
    reading stops there: memory and time stay bounded)."""
    exchange = embedded.exchange()
    scenario = Scenario(1500, seed=5, cast=cast())
    (path,) = _flat(scenario, "LIC-1", tmp_path / "bad.tsv")
    lines = [
        "\t".join([*line.split("\t")[:3], "x", *line.split("\t")[4:]])
        if line.startswith("UR01")
        else line
        for line in path.read_text().split("\n")
    ]
    received_id = send(exchange, "\n".join(lines).encode(), DEV, "bad.tsv")
    record = exchange.received_message(received_id)
    assert record.status is not None
    assert str(record.status) != ACCEPTED
    assert 0 < len(record.errors) <= 1000
    assert {e.file for e in record.errors} == {"bad.tsv"}
