"""`airex registry import | check | works`: output, exit codes, licences from the register."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _registry_data import CMO, DECLARATIONS, MINING, SAMPLES, TRAINING
from typer.testing import CliRunner, Result

import airex
from airex.cli._app import app
from airex.formats.usage import FlatUsageWriter, ReportHeader, UsageRow, WorkRef
from airex.ledger import GrantRecord, GrantRegister
from airex.messages import MessageHeader, Period
from parties import DEV

if TYPE_CHECKING:
    from conftest import Db

LICENCE_FILE = SAMPLES / "licence" / "music-cmo-grants-cadenza.xml"
LICENCE = "HARM-LIC-2026-0042"
RECORDS = [
    # (work ids, use type): hand-checked against the samples under the Harmonia licence
    ((WorkRef("ISRC", "GBLFR2500101"),), TRAINING),  # label opted in: OptedIn
    ((WorkRef("ISRC", "GBLFR2500101"),), MINING),  # label opted out from 2026-01-01
    ((WorkRef("ISWC", "T9173142206"),), MINING),  # publisher: no mining preference
    ((WorkRef("ISRC", "ZZXXX2600001"),), TRAINING),  # unknown work
    ((WorkRef("ISRC", "ZZXXX2600002"), WorkRef("ISWC", "T-917.314.231-9")), TRAINING),  # known 2nd
    ((WorkRef("ISRC", "GBLFR2600007"),), "UseAsAIInput"),  # not permitted by the licence
]


def run(db: Db, *args: str) -> Result:
    """``airex registry ARGS --database URL``."""
    return CliRunner().invoke(app, ["registry", *args, "--database", db.url])


def report(path: Path, start: date = date(2026, 1, 1), end: date = date(2026, 3, 31)) -> Path:
    """A flat-file usage report of RECORDS under the Harmonia licence."""
    header = ReportHeader(
        message_header=MessageHeader.build(DEV, CMO),
        report_id="CAD-UR-TEST",
        licence_id=LICENCE,
        reporting_period=Period(start_date=start, end_date=end),
        number_of_records=len(RECORDS),
    )
    with FlatUsageWriter(path, header, number_of_records=len(RECORDS)) as writer:
        for line, (ids, use_type) in enumerate(RECORDS, start=1):
            writer.write(UsageRow(ids, use_type, Decimal(1000), "Token", None, None, line, ""))
    return path


@pytest.fixture
def imported(sqlite_db: Db) -> Db:
    """The database with the sample declarations imported through the command."""
    result = run(sqlite_db, "import", *map(str, DECLARATIONS))
    assert result.exit_code == 0, result.output
    return sqlite_db


def test_import_prints_each_file_and_a_summary(sqlite_db: Db) -> None:
    """One line per file with its counts; the totals on standard error; exit 0."""
    result = run(sqlite_db, "import", *map(str, DECLARATIONS))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{DECLARATIONS[0]}: 3 works: 3 new works, 3 new versions, 0 unchanged, 0 conflicts",
        f"{DECLARATIONS[1]}: 3 works: 3 new works, 3 new versions, 0 unchanged, 0 conflicts",
        f"{DECLARATIONS[2]}: 4 works: 4 new works, 4 new versions, 0 unchanged, 0 conflicts",
    ]
    assert "imported 3 files (10 works: 10 new works" in result.stderr
    again = run(sqlite_db, "import", str(DECLARATIONS[0]))
    assert again.stdout.strip().endswith("3 unchanged, 0 conflicts (imported before)")


def test_import_reports_invalid_files_and_skips_them(sqlite_db: Db, tmp_path: Path) -> None:
    """An invalid file is FILE:LINE: CODE and skipped; another family is refused; exit 1."""
    bad = tmp_path / "bad.xml"
    bad.write_bytes(DECLARATIONS[0].read_bytes().replace(b"GBLFR2500101", b"GB-LFR-25"))
    result = run(sqlite_db, "import", str(bad), str(LICENCE_FILE), str(DECLARATIONS[1]))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bad}:26: InvalidISRC /WorkDeclarationMessage/WorkList/Work[1]")
    assert lines[1] == f"{LICENCE_FILE}: a LicenceMessage, not a WorkDeclarationMessage; skipped"
    assert lines[2].startswith(f"{DECLARATIONS[1]}: 3 works: 3 new works")
    assert "imported 1 file (3 works" in result.stderr
    assert "2 failed" in result.stderr


def test_import_reports_conflicts_and_refused_reuse(sqlite_db: Db, tmp_path: Path) -> None:
    """A conflict is printed under its file; a reused MessageId is refused with exit 1."""
    raw = DECLARATIONS[0].read_bytes()
    rival = tmp_path / "rival.xml"
    rival.write_bytes(raw.replace(b"PADPIDA2026LANTERNFISH", b"PADPIDA2026RIVAL"))
    reused = tmp_path / "reused.xml"
    reused.write_bytes(raw.replace(b"Salt Roads", b"Salt Roads (Remastered)"))
    result = run(sqlite_db, "import", str(DECLARATIONS[0]), str(rival), str(reused))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1].startswith(f"{rival}: 3 works: 3 new works, 3 new versions, 0 unchanged, 5")
    assert lines[2] == (
        f"{rival}: conflict: work #1 (LF-REC-01): ISRC::GBLFR2500101 belongs to work 1 of "
        "PADPIDA2026LANTERNFISH; recorded for work 4, the identifier still resolves to work 1"
    )
    assert lines[-1] == (
        f"{reused}: source 'PADPIDA2026LANTERNFISH:LFR-MSG-2025-000981' was imported before "
        "with different content; a MessageId is never reused for other content (send the "
        "change as a new message)"
    )


def test_import_needs_a_migrated_database(tmp_path: Path) -> None:
    """Without `airex db upgrade` the command says so and exits 2."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = CliRunner().invoke(
        app, ["registry", "import", str(DECLARATIONS[0]), "--database", url]
    )
    assert result.exit_code == 2
    assert "run `airex db upgrade`" in result.stderr


def test_check_with_a_licence_file_writes_one_line_per_record(imported: Db, tmp_path: Path) -> None:
    """Each record's decision as TSV, the counts per reason on stderr, exit 1 (some refused)."""
    path = report(tmp_path / "q1.tsv")
    result = run(imported, "check", "--licence-file", str(LICENCE_FILE), str(path))
    assert result.exit_code == 1, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["file", "line", "work_id", "use_type", "reason", "permitted"]
    assert [(r[1], r[2], r[4], r[5]) for r in rows[1:]] == [
        ("5", "ISRC::GBLFR2500101", "OptedIn", "yes"),
        ("6", "ISRC::GBLFR2500101", "OptedOut", "no"),
        ("7", "ISWC::T9173142206", "NoPreferenceOptInRegime", "no"),
        ("8", "ISRC::ZZXXX2600001", "UnknownWork", "no"),
        ("9", "ISRC::ZZXXX2600002", "OptedIn", "yes"),
        ("10", "ISRC::GBLFR2600007", "UseTypeNotLicensed", "no"),
    ]
    assert {r[0] for r in rows[1:]} == {str(path)}
    assert f"6 records under licence {LICENCE}, 2026-01-01 to 2026-03-31 (opt-in regime): " in (
        result.stderr
    )
    assert "2 permitted, 4 not permitted" in result.stderr
    assert "OptedOut                            1  not permitted" in result.stderr


def test_check_under_the_opt_out_regime_permits_the_silent(imported: Db, tmp_path: Path) -> None:
    """--regime opt-out: works without preference and unknown works are permitted."""
    path = report(tmp_path / "q1.tsv")
    out = tmp_path / "decisions.jsonl"
    result = run(
        imported,
        "check",
        "--licence-file",
        str(LICENCE_FILE),
        "--regime",
        "opt-out",
        "--json",
        "--out",
        str(out),
        str(path),
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    decisions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(d["reason"], d["permitted"]) for d in decisions] == [
        ("OptedIn", True),
        ("OptedOut", False),
        ("NoPreferenceOptOutRegime", True),
        ("UnknownWorkOptOutRegime", True),
        ("OptedIn", True),
        ("UseTypeNotLicensed", False),
    ]
    assert decisions[0]["work_key"] == 1
    assert decisions[3]["work_key"] is None
    bad = run(imported, "check", "--licence-file", str(LICENCE_FILE), "--regime", "x", str(path))
    assert bad.exit_code == 2
    assert "not one of opt-in, opt-out" in bad.stderr


def test_check_takes_the_licence_from_the_grant_register(imported: Db, tmp_path: Path) -> None:
    """The licence's terms come from its recorded message; a suspension in the period counts."""
    raw = LICENCE_FILE.read_bytes()
    licence = airex.parse(raw).licence  # type: ignore[attr-defined]
    register = GrantRegister(imported.engine)

    def record(status: str, issued: datetime, message_id: str) -> None:
        """Record a state of the licence with the sample's message."""
        register.record(
            GrantRecord(
                licence_id=LICENCE,
                status=status,
                licensor=CMO,
                licensee=DEV,
                issued_at=issued,
                term_start=licence.licence_terms.term.start_date,
                term_end=licence.licence_terms.term.end_date,
                use_types=[str(u) for u in licence.licence_terms.permitted_use_types],
                all_works=True,
                source_message_id=message_id,
                source_message=raw,
            )
        )

    path = report(tmp_path / "q1.tsv")
    missing = run(imported, "check", str(path))  # --licence defaults to the report's
    assert missing.exit_code == 2
    assert f"licence {LICENCE} is not in the grant register" in missing.stderr
    record("Granted", datetime(2025, 12, 12, 9, tzinfo=UTC), "M1")
    granted = run(imported, "check", "--licence", LICENCE, str(path))
    assert [line.split("\t")[4] for line in granted.stdout.splitlines()[1:3]] == [
        "OptedIn",
        "OptedOut",
    ]
    record("Suspended", datetime(2026, 2, 1, tzinfo=UTC), "M2")
    record("Granted", datetime(2026, 2, 10, tzinfo=UTC), "M3")
    suspended = run(imported, "check", str(path))
    reasons = {line.split("\t")[4] for line in suspended.stdout.splitlines()[1:]}
    assert reasons == {"LicenceNotInForce"}
    april = report(tmp_path / "april.tsv", date(2026, 4, 1), date(2026, 4, 30))
    later = run(imported, "check", str(april))
    assert later.stdout.splitlines()[1].split("\t")[4] == "OptedIn"


def test_check_warns_when_the_licence_is_not_the_reports(imported: Db, tmp_path: Path) -> None:
    """--licence other than the report's LicenceId is checked, with a warning."""
    path = report(tmp_path / "q1.tsv")
    result = run(
        imported, "check", "--licence", "OTHER-1", "--licence-file", str(LICENCE_FILE), str(path)
    )
    assert result.exit_code == 2
    assert "the report is for licence HARM-LIC-2026-0042; checking it against OTHER-1" in (
        result.stderr
    )
    assert "is licence HARM-LIC-2026-0042, not OTHER-1" in result.stderr


def test_check_reports_errors_of_the_report(imported: Db, tmp_path: Path) -> None:
    """A report with a bad record: its error with file and line, the rest checked, exit 1."""
    path = report(tmp_path / "q1.tsv")
    text = path.read_text().replace("ZZXXX2600001", "zz-bad")
    path.write_text(text)
    result = run(imported, "check", "--licence-file", str(LICENCE_FILE), str(path))
    assert result.exit_code == 1
    assert f"{path}:8: InvalidISRC" in result.stderr
    assert len(result.stdout.splitlines()) == 1 + 5


def test_works_lists_every_work_as_a_table_and_as_json(imported: Db) -> None:
    """`works` shows each work with ids, shares and preferences; --json one object a line."""
    table = run(imported, "works")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "KEY", "OWNER", "TYPE", "TITLE", "IDS", "SHARES", "PREFERENCES", "VERSIONS",
    ]  # fmt: skip
    assert len(lines) == 11
    assert "PADPIDA2026BLUEBIRD 75%, PADPIDA2026NORTHQUAY 25%" in table.stdout
    as_json = run(imported, "works", "--json", "--on", "2026-03-31")
    works = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [w["key"] for w in works] == list(range(1, 11))
    first = works[0]
    assert first["ids"][0] == {
        "type": "ISRC",
        "value": "GBLFR2500101",
        "namespace": None,
        "key": "ISRC::GBLFR2500101",
        "resolves": True,
    }
    assert first["shares"] == [
        {
            "party_id": "PADPIDA2026LANTERNFISH",
            "percentage": "100",
            "territories": ["Worldwide"],
            "excluded": [],
        }
    ]
    assert first["preferences"] == [  # stored in a canonical order: by use type
        {
            "use_type": MINING,
            "preference": "OptOut",
            "effective_date": "2026-01-01",
            "territories": ["Worldwide"],
            "excluded": [],
        },
        {
            "use_type": TRAINING,
            "preference": "OptIn",
            "effective_date": None,
            "territories": ["Worldwide"],
            "excluded": [],
        },
    ]
    assert (first["versions"], first["source"]) == (1, "PADPIDA2026LANTERNFISH:LFR-MSG-2025-000981")


def test_registry_help_shows_examples() -> None:
    """`airex registry --help` lists the commands and examples."""
    result = CliRunner().invoke(app, ["registry", "--help"])
    assert result.exit_code == 0
    for word in ("import", "check", "works", "airex registry check --licence"):
        assert word in result.stdout


def _xml_report(path: Path) -> Path:
    """RECORDS as an XML usage report under the Harmonia licence."""
    from airex.formats.usage import XmlUsageWriter

    header = ReportHeader(
        message_header=MessageHeader.build(DEV, CMO),
        report_id="CAD-UR-TEST",
        licence_id=LICENCE,
        reporting_period=Period(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)),
        number_of_records=len(RECORDS),
    )
    with XmlUsageWriter(path, header, number_of_records=len(RECORDS)) as writer:
        for line, (ids, use_type) in enumerate(RECORDS, start=1):
            writer.write(UsageRow(ids, use_type, Decimal(1000), "Token", None, None, line, ""))
    return path


def _dump(db: Db) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the database."""
    import sqlalchemy as sa

    tables = sa.inspect(db.engine).get_table_names()
    with db.engine.connect() as connection:
        return {
            table: sorted(
                map(tuple, connection.execute(sa.text(f'SELECT * FROM "{table}"'))), key=repr
            )
            for table in tables
        }


def test_check_refuses_a_damaged_report_writing_nothing(imported: Db, tmp_path: Path) -> None:
    """A report cut short (after a record, in a record, before its last end tag), a cut gzip,
    garbage or an empty file: exit 1, ``file:line: XmlNotWellFormed`` on stderr, no decisions
    file (nor its temporary) in the output folder, the database unchanged; no traceback."""
    import gzip

    text = _xml_report(tmp_path / "whole.xml").read_text(encoding="utf-8")
    second = text.index("<UsageRecord>", text.index("<UsageRecord>") + 1)
    cuts = {
        "after-record.xml": text[: text.index("</UsageRecord>", second) + 14].encode(),
        "in-record.xml": text[: second + 20].encode(),
        "no-end.xml": text[: text.rindex("</UsageReportMessage>")].encode(),
        "cut.xml.gz": gzip.compress(text.encode())[:-40],
        "garbage.xml": b"\x00\x01 not xml \xff" * 20,
        "empty.xml": b"",
    }
    folder = tmp_path / "in"
    folder.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    before = _dump(imported)
    for name, data in cuts.items():
        path = folder / name
        path.write_bytes(data)
        result = run(
            imported, "check", "--licence-file", str(LICENCE_FILE), "--out", str(out / "d.tsv"),
            str(path),
        )  # fmt: skip
        assert result.exit_code == 1, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        assert re.search(
            rf"^{re.escape(str(path))}:\d+: XmlNotWellFormed: ", result.stderr, re.M
        ), (
            name,
            result.stderr,
        )
        assert list(out.iterdir()) == [], name
    assert _dump(imported) == before


def test_check_says_one_thing_of_a_folder_or_a_missing_file(imported: Db, tmp_path: Path) -> None:
    """A folder given as the report, or no such file: exit 2, the one phrasing."""
    folder = tmp_path / "q1.xml"
    folder.mkdir()
    result = run(imported, "check", str(folder))
    assert (result.exit_code, result.stderr) == (
        2,
        f"airex: {folder}: cannot read the file: it is a folder\n",
    )
    result = run(imported, "check", str(tmp_path / "none.xml"))
    assert (result.exit_code, result.stderr) == (
        2,
        f"airex: {tmp_path / 'none.xml'}: no such file\n",
    )
