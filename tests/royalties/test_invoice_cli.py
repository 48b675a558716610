"""`airex royalties invoice` and `airex royalties held`: files written, summary, exit codes."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pytest
from _pricing_support import (
    CMO,
    INPUT,
    TRAIN,
    declare,
    flat,
    grant_licence,
    header,
    isrc,
    numbered,
    per_unit,
    row,
    sqlite_engine,
    terms,
    write_report,
)
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

import airex
from airex.cli._app import app
from airex.formats.usage import open_report
from airex.messages import AcknowledgementMessage, InvoiceMessage

__all__ = ["sqlite_engine"]  # a fixture, imported for pytest

W1, W2, W3 = isrc(1), isrc(2), isrc(3)


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Invoke ``airex <args>`` in process."""
    environment: dict[str, str | None] = {
        "AIREX_DATABASE_URL": None,
        "AIREX_CMO_PARTY_ID": CMO,
        "AIREX_PREFERENCE_REGIME": None,
        "COLUMNS": "200",
    }
    environment.update(env or {})
    return CliRunner().invoke(app, list(args), env=environment)


@pytest.fixture
def setup(sqlite_engine: Engine, tmp_path: Path) -> tuple[str, Path]:
    """A database with the licence (per-unit tokens + a flat fee) and three declared works
    (W2 opted out), and a report of 4 records (one of them by W2); its URL and path."""
    grant_licence(
        sqlite_engine,
        terms(per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN), flat("T-FLAT", "300.00")),
    )
    declare(sqlite_engine, opted_in=[W1, W3], opted_out=[W2])
    rows = numbered(
        [
            row(W1, TRAIN, 1_000_000),
            row(W2, TRAIN, 5_000_000),
            row(W3, TRAIN, 500_000),
            row(W1, INPUT, 2, "Retrieval"),
        ]
    )
    path = write_report(tmp_path / "q1.xml", header(), rows)
    return str(sqlite_engine.url), path


def test_invoice_writes_the_invoice_and_the_acknowledgement(
    setup: tuple[str, Path], tmp_path: Path
) -> None:
    """The invoice (3.00 + 300.00) and the acknowledgement (two records held) are written
    to --out and validate; the summary names lines, held records and the document."""
    url, path = setup
    out = tmp_path / "outbox"
    result = run(
        "royalties", "invoice", str(path), "--out", str(out), "--today", "2026-04-20",
        "--database", url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    invoice_file = out / "INV-CAD-UR-2026-Q1.xml"
    message = airex.parse(invoice_file.read_bytes())
    assert isinstance(message, InvoiceMessage)
    assert str(message.invoice.total_amount.value) == "303.00"
    assert str(message.invoice.due_date) == "2026-05-20"
    ack = airex.parse((out / "ACK_MSG-CAD-UR-2026-Q1.xml").read_bytes())
    assert isinstance(ack, AcknowledgementMessage)
    assert [e.error_code for e in ack.acknowledgements[0].errors] == [
        "OptedOut",
        "NoPreferenceOptInRegime",
    ]
    assert ack.acknowledgements[0].acknowledged_file_name == "q1.xml"
    output = result.stdout
    assert "records: 4 read, 2 priced, 2 held" in output
    assert "Invoice INV-CAD-UR-2026-Q1: 303.00 EUR, due 2026-05-20" in output
    assert "T-TOK" in output
    assert "T-FLAT" in output

    again = run("royalties", "invoice", str(path), "--out", str(out), "--database", url)
    assert again.exit_code == 0, again.output
    assert "already priced (nothing new posted)" in again.stdout
    assert (out / "INV-CAD-UR-2026-Q1.xml").read_bytes() == invoice_file.read_bytes()


def test_held_lists_the_records_held_back(setup: tuple[str, Path], tmp_path: Path) -> None:
    """`held` lists each held record with file, line and reason; --json and --reason too."""
    url, path = setup
    priced = run("royalties", "invoice", str(path), "--out", str(tmp_path), "--database", url)
    assert priced.exit_code == 0, priced.output
    listed = run("royalties", "held", "CAD-UR-2026-Q1", "--database", url)
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert " OptedOut " in lines[0]
    assert f"ISRC::{W2}" in lines[0]
    assert lines[0].startswith(f"{path}:")
    as_json = run(
        "royalties", "held", "CAD-UR-2026-Q1", "--json", "--reason", "NoPreferenceOptInRegime",
        "--database", url,
    )  # fmt: skip
    (record,) = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert (record["reason"], record["unit"], record["quantity"]) == (
        "NoPreferenceOptInRegime",
        "Retrieval",
        "2",
    )


def test_a_refused_report_exits_1_saying_why(sqlite_engine: Engine, tmp_path: Path) -> None:
    """A report under a licence never granted: exit 1, the reason on stderr, nothing written."""
    path = write_report(tmp_path / "q1.xml", header(), numbered([row(W1)]))
    out = tmp_path / "outbox"
    result = run(
        "royalties", "invoice", str(path), "--out", str(out), "--database", str(sqlite_engine.url)
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}: UnknownLicence: report CAD-UR-2026-Q1 ")
    assert "no state in the grant register" in result.stderr
    message_id = open_report(path).header.message_header.message_id
    (ack_file,) = out.iterdir()  # the acknowledgement of the refusal, and nothing else
    assert ack_file.name == f"ACK_{message_id}.xml"
    assert f"wrote {ack_file}" in result.stderr
    assert airex.check(ack_file).errors == []
    ack = airex.parse(ack_file)
    assert isinstance(ack, AcknowledgementMessage)
    (entry,) = ack.acknowledgements
    assert str(entry.message_status) == "UnknownReference"
    assert [e.error_code for e in entry.errors] == ["UnknownLicence"]
    assert "no state in the grant register" in str(entry.errors[0].error_text)
    assert entry.acknowledged_file_name == "q1.xml"
    assert entry.acknowledged_message_id == message_id


def test_usage_errors_exit_2(sqlite_engine: Engine, tmp_path: Path) -> None:
    """A missing report file, or a CMO party id that is not one: exit 2."""
    missing = run("royalties", "invoice", str(tmp_path / "nope.xml"))
    assert missing.exit_code == 2
    assert "airex:" in missing.stderr
    path = write_report(tmp_path / "q1.xml", header(), numbered([row(W1)]))
    bad = run(
        "royalties", "invoice", str(path), "--database", str(sqlite_engine.url),
        env={"AIREX_CMO_PARTY_ID": "not-a-party"},
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "is not a DDEX party id" in bad.stderr


def test_help_shows_examples() -> None:
    """Both commands explain themselves with examples."""
    for command in ("invoice", "held"):
        result = run("royalties", command, "--help")
        assert result.exit_code == 0
        assert "Examples:" in result.stdout


def _dump(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as text, sorted: the whole database, to compare."""
    import sqlalchemy as sa

    with engine.connect() as connection:
        return {
            table: sorted(
                repr(tuple(row)) for row in connection.execute(sa.text(f'SELECT * FROM "{table}"'))
            )
            for table in sa.inspect(engine).get_table_names()
        }


def _files(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_a_damaged_report_is_refused_nothing_stored_posted_or_invoiced(
    setup: tuple[str, Path], sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A report cut short at several points or in its gzip stream: exit 1, its
    ``file:line: XmlNotWellFormed`` error on stderr, the database unchanged (nothing stored
    nor posted), no invoice, only the ACK_ of the refusal; a file with no readable header (no
    one to answer) leaves the output folder empty. Never a traceback."""
    url, whole = setup
    text = whole.read_text(encoding="utf-8")
    second = text.index("<UsageRecord>", text.index("<UsageRecord>") + 1)
    damaged = {
        "in-record.xml": text[: second + len("<UsageRecord><WorkId Ty")].encode(),
        "in-quantity.xml": text[: text.index("<Quantity", second) + 30].encode(),
        "after-record.xml": text[: text.index("</UsageRecord>", second) + 14].encode(),
        "after-list.xml": text[: text.rindex("</UsageRecordList>") + 18].encode(),
        "no-end.xml": text[: text.rindex("</UsageReportMessage>")].encode(),
    }
    headerless = {  # (a gzip stream this small is refused at its first read: no header)
        "cut.xml.gz": gzip.compress(text.encode())[:-30],
        "garbage.xml": b"\x00\x01 garbage \xff" * 40,
        "empty.xml": b"",
    }
    folder = tmp_path / "in"
    folder.mkdir()
    before = _dump(sqlite_engine)
    for name, data in {**damaged, **headerless}.items():
        path = folder / name
        path.write_bytes(data)
        out = tmp_path / f"out-{name}"
        result = run(
            "royalties", "invoice", str(path), "--out", str(out), "--today", "2026-04-20",
            "--database", url,
        )  # fmt: skip
        assert result.exit_code == 1, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        assert re.search(
            rf"^{re.escape(str(path))}:\d+: XmlNotWellFormed: ", result.stderr, re.MULTILINE
        ), (name, result.stderr)
        assert "Traceback" not in result.output
        assert _dump(sqlite_engine) == before, name
        if name in headerless:
            assert _files(out) == [], name
            continue
        (ack_file,) = _files(out)
        assert ack_file.startswith("ACK_"), name
        ack = airex.parse(out / ack_file)
        assert isinstance(ack, AcknowledgementMessage)
        (entry,) = ack.acknowledgements
        assert str(entry.message_status) == "XmlNotWellFormed", name
        assert entry.errors[0].error_code == "XmlNotWellFormed"
        assert entry.errors[0].line_number is not None


def test_file_errors_are_phrased_one_way(sqlite_engine: Engine, tmp_path: Path) -> None:
    """A folder or a missing file given to invoice or pay: exit 2, ``airex: PARAM: path:
    cannot read the file: it is a folder`` / ``no such file``; never ``[Errno`` nor ``:0:``."""
    folder = tmp_path / "q1.xml"
    folder.mkdir()
    missing = tmp_path / "none.xml"
    url = str(sqlite_engine.url)
    cases = [
        (
            ("royalties", "invoice", str(folder)),
            f"airex: {folder}: " + "cannot read the file: it is a folder",
        ),
        (("royalties", "invoice", str(missing)), f"airex: {missing}: no such file"),
        (
            ("royalties", "pay", str(folder)),
            f"airex: {folder}: " + "cannot read the file: it is a folder",
        ),
        (("royalties", "pay", str(missing)), f"airex: {missing}: no such file"),
    ]
    for args, said in cases:
        result = run(*args, "--database", url)
        assert (result.exit_code, result.stderr) == (2, said + "\n"), args


def test_pay_prints_errors_without_a_made_up_line(sqlite_engine: Engine, tmp_path: Path) -> None:
    """An error without a line (an empty file) is ``file: CODE: message``, never ``file:0:``."""
    path = tmp_path / "payment.xml"
    path.write_bytes(b"")
    result = run("royalties", "pay", str(path), "--database", str(sqlite_engine.url))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:1: XmlNotWellFormed: ") or (
        result.stderr.startswith(f"{path}: ")
    )
    assert ":0:" not in result.stderr
