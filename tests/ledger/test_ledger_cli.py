"""`airex ledger ...` and `airex db upgrade`: output, JSON, exit codes, database choice."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner, Result

from airex.cli._ledger import db_app, ledger_app
from airex.ledger import AccountKey, AccountKind, GrantRecord, NewEntry, credit, debit
from parties import CMO01 as CMO
from parties import DEV01 as DEV

if TYPE_CHECKING:
    from conftest import Backend

RECEIVABLE = AccountKey(DEV, AccountKind.LICENSEE_RECEIVABLE, "EUR")
POOL = AccountKey(CMO, AccountKind.DISTRIBUTABLE_POOL, "EUR", "LIC-1")
CASH = AccountKey(CMO, AccountKind.CASH, "EUR")

APP = typer.Typer()
APP.add_typer(ledger_app, name="ledger")
APP.add_typer(db_app, name="db")


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Invoke ``airex <args>`` in process (the two sub-apps on a bare Typer app)."""
    environment: dict[str, str | None] = {"AIREX_DATABASE_URL": None, "COLUMNS": "200"}
    environment.update(env or {})
    return CliRunner().invoke(APP, list(args), env=environment)


def populate(backend: Backend) -> None:
    """An invoice, a payment and a grant."""
    journal = backend.journal()
    journal.post(
        NewEntry("INV-1", date(2026, 4, 1), [debit(RECEIVABLE, "625"), credit(POOL, "625")], "Q1")
    )
    journal.post(
        NewEntry("PAY-1", date(2026, 5, 2), [debit(CASH, "600.5"), credit(RECEIVABLE, "600.5")])
    )
    backend.register().record(
        GrantRecord(
            "LIC-1",
            "Granted",
            CMO,
            DEV,
            datetime(2026, 1, 5, 9, tzinfo=UTC),
            date(2026, 1, 1),
            date(2026, 12, 31),
            use_types=["UseForTrainingGenerativeAI"],
            work_ids=["ISRC::SEABC2600001"],
            source_message_id="M1",
        )
    )


def test_db_upgrade_creates_then_reports_current(empty_backend: Backend) -> None:
    """The first upgrade creates the schema; the second says it is current."""
    first = run("db", "upgrade", "--database", empty_backend.url)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[0].endswith("upgraded ledger schema from nothing to 0001")
    second = run("db", "upgrade", "--database", empty_backend.url)
    assert "already at ledger schema revision 0001 (head 0001)" in second.stdout


def test_db_upgrade_defaults_to_airex_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --database or AIREX_DATABASE_URL, the ledger is ./airex.db."""
    monkeypatch.chdir(tmp_path)
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "airex.db").is_file()
    assert str(tmp_path / "airex.db") in result.stdout


def test_the_environment_names_the_database(backend: Backend) -> None:
    """AIREX_DATABASE_URL is used when --database is not given."""
    populate(backend)
    result = run("ledger", "accounts", env={"AIREX_DATABASE_URL": backend.url})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "ID  PARTY             KIND                 CURRENCY  LICENCE",
        f" 3  {CMO}  cash                 EUR       -",
        f" 1  {CMO}  distributable_pool   EUR       LIC-1",
        f" 2  {DEV}  licensee_receivable  EUR       -",
    ]


def test_balances_now_and_as_of_a_date(backend: Backend) -> None:
    """Balances are signed with their side; --as-of counts entries effective by that day."""
    populate(backend)
    now = run("ledger", "balances", "--database", backend.url)
    assert now.stdout.splitlines() == [
        "PARTY             KIND                 LICENCE  CURRENCY  BALANCE  SIDE  POSTINGS",
        f"{CMO}  cash                 -        EUR        600.50  Dr           1",
        f"{CMO}  distributable_pool   LIC-1    EUR       -625.00  Cr           1",
        f"{DEV}  licensee_receivable  -        EUR         24.50  Dr           2",
    ]
    april = run("ledger", "balances", "--database", backend.url, "--as-of", "2026-04-30", "--json")
    rows = [json.loads(line) for line in april.stdout.splitlines()]
    assert [(r["account"]["kind"], r["balance"], r["balance_minor"]) for r in rows] == [
        ("cash", "0.00", 0),
        ("distributable_pool", "-625.00", -62500),
        ("licensee_receivable", "625.00", 62500),
    ]
    assert {r["as_of"] for r in rows} == {"2026-04-30"}
    mine = run("ledger", "balances", "--database", backend.url, "--party", DEV)
    assert len(mine.stdout.splitlines()) == 2


def test_journal_lists_entries_with_their_postings(backend: Backend) -> None:
    """Each entry line is followed by its postings, Dr or Cr, with the account and amount."""
    populate(backend)
    result = run("ledger", "journal", "--database", backend.url, "--party", CMO)
    assert result.stdout.splitlines() == [
        "#1 2026-04-01 INV-1 Q1",
        f"    Dr {DEV}/licensee_receivable/EUR 625.00 EUR",
        f"    Cr {CMO}/distributable_pool/EUR/LIC-1 625.00 EUR",
        "#2 2026-05-02 PAY-1",
        f"    Dr {CMO}/cash/EUR 600.50 EUR",
        f"    Cr {DEV}/licensee_receivable/EUR 600.50 EUR",
    ]
    as_json = run("ledger", "journal", "--database", backend.url, "--json", "--limit", "1")
    (entry,) = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert entry["idempotency_key"] == "PAY-1"
    assert [p["amount"] for p in entry["postings"]] == ["600.50", "-600.50"]


def test_grants_history_and_in_force(backend: Backend) -> None:
    """The register's history, and the licences in force on a date for a work."""
    populate(backend)
    history = run("ledger", "grants", "--database", backend.url, "--licence", "LIC-1")
    assert history.stdout.splitlines()[1].split() == [
        "LIC-1",
        "Granted",
        "2026-01-05T09:00:00Z",
        DEV,
        "2026-01-01..2026-12-31",
        "UseForTrainingGenerativeAI",
        "1",
        "work(s)",
        "Worldwide",
    ]
    args = ["ledger", "grants", "--database", backend.url, "--json", "--in-force-on"]
    assert run(*args, "2026-02-01", "--work", "ISRC::SEABC2600001").stdout.count("\n") == 1
    assert run(*args, "2026-02-01", "--work", "ISRC::OTHER000001").stdout == ""
    assert run(*args, "2027-01-01").stdout == ""


def test_check_exits_0_when_sound_and_1_with_a_report(backend: Backend) -> None:
    """A sound ledger passes; a drifted balance fails with the invariant, place and figures."""
    populate(backend)
    ok = run("ledger", "check", "--database", backend.url)
    assert ok.exit_code == 0
    assert ok.stderr.startswith("ledger check: OK, 14 invariants hold (2 entries, 4 postings")
    with backend.engine.begin() as connection:
        connection.execute(sa.text("UPDATE ledger_balance SET balance_minor = balance_minor + 1"))
    bad = run("ledger", "check", "--database", backend.url)
    assert bad.exit_code == 1
    assert bad.stdout.splitlines()[1] == (
        f"balance-equals-postings: account 2 ({DEV}/licensee_receivable/EUR): balance "
        "24.51 EUR over 2 posting(s), but its postings sum to 24.50 EUR over 2"
    )
    assert "FAILED, 3 violation(s) of 1 invariant(s): balance-equals-postings" in bad.stderr
    as_json = json.loads(run("ledger", "check", "--database", backend.url, "--json").stdout)
    assert (as_json["ok"], as_json["broken"]) == (False, ["balance-equals-postings"])


def test_an_unmigrated_database_exits_2_saying_what_to_do(empty_backend: Backend) -> None:
    """Reading commands on an empty database exit 2 and point at `airex db upgrade`."""
    for command in ("accounts", "balances", "journal", "grants"):
        result = run("ledger", command, "--database", empty_backend.url)
        assert result.exit_code == 2
        assert "run `airex db upgrade`" in result.stderr
    check = run("ledger", "check", "--database", empty_backend.url)
    assert check.exit_code == 2  # like every command on a database that is not upgraded
    assert "run `airex db upgrade`" in check.stderr
    assert check.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ledger", "balances", "--as-of", "31/12/2026"], "does not match the formats"),
        (["ledger", "grants", "--work", "W"], "--licensee, --work and --use-type go with"),
        (["ledger", "accounts", "--database", "mysql://x@y/z"], "'mysql' is not supported"),
        (
            ["ledger", "accounts", "--database", "postgresql://nobody@127.0.0.1:1/none"],
            "cannot use the database",
        ),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    """Bad dates, misplaced filters, unsupported or unreachable databases: exit 2, and why."""
    result = run(*args, env={"AIREX_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert result.exit_code == 2
    assert message in result.stderr


def test_help_shows_examples() -> None:
    """Every command's help carries examples."""
    for command in ("accounts", "balances", "journal", "grants", "check"):
        assert "Examples:" in run("ledger", command, "--help").stdout
    assert "airex db upgrade" in run("db", "upgrade", "--help").stdout


def test_accounts_help_names_every_account_kind() -> None:
    """The kinds listed in `ledger accounts --help` are exactly the AccountKind values."""
    text = run("ledger", "accounts", "--help").stdout
    assert all(str(kind) in text for kind in AccountKind)


def test_importing_the_cli_module_does_not_import_the_ledger() -> None:
    """airex's other commands do not pay for SQLAlchemy and Alembic at start-up."""
    code = "import sys, airex.cli._ledger; print('airex.ledger' in sys.modules)"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout == "False\n"
