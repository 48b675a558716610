"""`airex royalties invoice` refusing a report: a resend answered only when it is the same
report, an acknowledgement whenever the MessageHeader was read whole, refusals as
``file: CODE: message``, and nothing stored, written or posted."""

from __future__ import annotations

import os
import random
import re
import sqlite3
from pathlib import Path

import _pricing_support as support
import pytest
from _pricing_support import sqlite_engine
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

import airex
from airex.cli._app import app
from airex.formats.usage import UsageRow
from airex.messages import AcknowledgementMessage

__all__ = ["sqlite_engine"]  # a fixture, imported for pytest

W1, W2, W3 = support.isrc(1), support.isrc(2), support.isrc(3)
MESSAGE_ID = "MSG-CAD-UR-2026-Q1"


def run(*args: str) -> Result:
    """Invoke ``airex <args>`` in process."""
    environment: dict[str, str | None] = {
        "AIREX_DATABASE_URL": None,
        "AIREX_CMO_PARTY_ID": support.CMO,
        "AIREX_PREFERENCE_REGIME": None,
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, list(args), env=environment)


def _records(count: int) -> list[UsageRow]:
    """``count`` records of generative training, over the three works in turn."""
    works = [W1, W2, W3]
    return support.numbered(
        [support.row(works[i % 3], support.TRAIN, 1_000_000 + i) for i in range(count)]
    )


@pytest.fixture
def setup(sqlite_engine: Engine, tmp_path: Path) -> tuple[str, Path, Path]:
    """A database with the licence and three declared works, and a report of 40 records;
    its URL, the report's path and the database file."""
    support.grant_licence(
        sqlite_engine,
        support.terms(
            support.per_unit("T-TOK", "2.00", "Token", 1_000_000, support.TRAIN),
            support.flat("T-FLAT", "300.00"),
        ),
    )
    support.declare(sqlite_engine, opted_in=[W1, W3], opted_out=[W2])
    rows = [*_records(40), *support.numbered([support.row(W1, support.INPUT, 2, "Retrieval")], 60)]
    path = support.write_report(tmp_path / "q1.xml", support.header(), rows)
    return str(sqlite_engine.url), path, tmp_path / "airex.db"


def _database(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the SQLite file, sorted: the whole database, to compare."""
    with sqlite3.connect(path) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"'), key=repr)
            for table in tables
        }


def _refusal(folder: Path) -> AcknowledgementMessage:
    """The one file in ``folder``: the acknowledgement of a refusal."""
    (name,) = os.listdir(folder)
    assert name == f"ACK_{MESSAGE_ID}.xml"
    assert airex.check(folder / name).errors == []
    ack = airex.parse(folder / name)
    assert isinstance(ack, AcknowledgementMessage)
    (entry,) = ack.acknowledgements
    assert entry.acknowledged_message_id == MESSAGE_ID
    assert str(entry.message_status) != "MessageAccepted"
    return ack


def test_a_resend_is_answered_from_the_stored_result_only_when_it_is_the_same_report(
    setup: tuple[str, Path, Path], tmp_path: Path
) -> None:
    """Under a MessageId priced before: a copy cut short (after 1500 bytes, after a record)
    or a whole header followed by other bytes is refused as damaged, with ``file:line:
    XmlNotWellFormed``; a whole report with other records is ``ReportConflict``; each exits
    1 with only the ACK_ of its refusal written and the database unchanged. The identical
    file, sent again, is still answered with the stored result."""
    url, whole, database = setup
    first = run("royalties", "invoice", str(whole), "--out", str(tmp_path / "first"),
                "--database", url)  # fmt: skip
    assert first.exit_code == 0, first.output
    text = whole.read_bytes()
    assert len(text) > 2000
    summary_end = text.index(b"</UsageSummary>") + len(b"</UsageSummary>")
    noise = random.Random(11).randbytes(3000)
    damaged = {
        "cut-1500.xml": text[:1500],
        "cut-after-record.xml": text[: text.index(b"</UsageRecord>", 2000) + 14],
        "header-and-noise.xml": text[:summary_end] + noise,
        "header-and-text.xml": text[:summary_end] + b"\n<UsageRecord>garbage",
    }
    other = text.replace(b">1000005<", b">1000099<", 1)
    assert other != text
    folder = tmp_path / "in"
    folder.mkdir()
    before = _database(database)
    for name, data in {**damaged, "other.xml": other}.items():
        path = folder / name
        path.write_bytes(data)
        out = tmp_path / f"out-{name}"
        result = run("royalties", "invoice", str(path), "--out", str(out), "--database", url)
        assert result.exit_code == 1, (name, result.output)
        assert "already priced" not in result.output, name
        assert "Traceback" not in result.output, name
        code = (
            "ReportConflict"
            if name == "other.xml"
            else "[A-Za-z]+"  # not well-formed, or content the schema does not allow there
            if name.startswith("header-and")
            else "XmlNotWellFormed"
        )
        line = "" if name == "other.xml" else r":\d+"
        said = re.search(rf"^{re.escape(str(path))}{line}: ({code}): ", result.stderr, re.MULTILINE)
        assert said, (name, result.stderr)
        ack = _refusal(out)
        assert ack.acknowledgements[0].errors[0].error_code == said.group(1), name
        assert _database(database) == before, name

    copy = folder / "copy.xml"
    copy.write_bytes(text)
    again = run("royalties", "invoice", str(copy), "--out", str(tmp_path / "again"),
                "--database", url)  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "already priced (nothing new posted)" in again.stdout
    assert sorted(os.listdir(tmp_path / "again")) == sorted(os.listdir(tmp_path / "first"))
    assert _database(database) == before


def test_a_report_cut_after_its_message_header_is_acknowledged(
    setup: tuple[str, Path, Path], tmp_path: Path
) -> None:
    """A report cut after ``</MessageHeader>`` but before its own fields: its sender and
    MessageId are whole, so the refusal is acknowledged to that sender (ACK_ with
    XmlNotWellFormed and the line); nothing stored. Cut inside the MessageHeader, there is
    no one to answer: no ACK_, and the output folder is not made."""
    url, whole, database = setup
    text = whole.read_bytes()
    header_end = text.index(b"</MessageHeader>") + len(b"</MessageHeader>")
    before = _database(database)
    for name, data, acknowledged in [
        ("after-header.xml", text[: header_end + 20], True),
        ("just-after-header.xml", text[:header_end], True),
        ("in-header.xml", text[: header_end - 5], False),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        out = tmp_path / f"out-{name}"
        result = run("royalties", "invoice", str(path), "--out", str(out), "--database", url)
        assert result.exit_code == 1, (name, result.output)
        assert re.search(
            rf"^{re.escape(str(path))}:\d+: XmlNotWellFormed: ", result.stderr, re.MULTILINE
        ), (name, result.stderr)
        assert "Traceback" not in result.output
        assert _database(database) == before, name
        if not acknowledged:
            assert not out.exists(), name
            assert "names no one to send it to" in result.stderr, name
            continue
        assert "names no one" not in result.stderr, name
        ack = _refusal(out)
        (entry,) = ack.acknowledgements
        assert str(entry.message_status) == "XmlNotWellFormed"
        assert entry.errors[0].line_number is not None
        assert ack.message_header.message_recipients[0].party_id == "PADPIDA2026CADENZA"
        assert f"wrote {out / f'ACK_{MESSAGE_ID}.xml'}" in result.stderr


def test_an_unknown_licence_is_refused_as_file_code_message(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A report under a licence never granted: ``file: UnknownLicence: message`` on stderr
    (one line, no line number: it is the report's, not a record's), exit 1, the ACK_."""
    path = support.write_report(
        tmp_path / "q1.xml", support.header(), support.numbered([support.row(W1)])
    )
    out = tmp_path / "outbox"
    result = run(
        "royalties", "invoice", str(path), "--out", str(out), "--database", str(sqlite_engine.url)
    )
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{path}: UnknownLicence: "), result.stderr
    assert "no state in the grant register" in first
    assert _refusal(out).acknowledgements[0].errors[0].error_code == "UnknownLicence"
