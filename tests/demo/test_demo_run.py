"""`airex demo` end to end: the real command, its worker and watcher processes, the embedded
default (SQLite, the file-system broker), and everything it leaves on disk checked afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import airex
from airex.db import DatabaseConfig, create_engine
from airex.demo import Cast, DemoError, run_demo
from airex.ledger import AccountKind, Journal, check_ledger
from airex.messages import (
    AcknowledgementMessage,
    InvoiceMessage,
    LicenceMessage,
    PaymentNotificationMessage,
    RoyaltyStatementMessage,
)

RECORDS = 1_500


def _inbox(folder: Path, party: str) -> list[airex.AirexMessage]:
    """Every message in ``party``'s inbox, parsed (each one must be valid)."""
    found = []
    for path in sorted((folder / "exchange" / "parties" / party / "inbox").glob("*.xml")):
        data = path.read_bytes()
        assert airex.check(data).errors == [], path.name
        found.append(airex.parse(data))
    return found


def _of(messages: list[airex.AirexMessage], kind: type) -> list:  # type: ignore[type-arg]
    return [m for m in messages if isinstance(m, kind)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One run of the real command (`python -m airex demo`), shared by the tests below."""
    folder = tmp_path_factory.mktemp("demo") / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIREX_")}
    run = subprocess.run(
        [sys.executable, "-m", "airex", "demo", "--records", str(RECORDS), "--out", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    return folder, run


def test_the_command_completes_and_reports(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Exit 0; every step reported; balances, statements and the ledger check printed."""
    folder, run = demo
    assert run.returncode == 0, run.stdout + run.stderr
    output = run.stdout + run.stderr
    for step in ("declarations", "licence", "usage report", "payment and royalties"):
        assert f"✓ {step}" in output, step
    assert "Ledger balances" in output
    assert "Royalty statements" in output
    assert "ledger check: OK" in output
    assert str(folder) in output


def test_every_party_received_what_the_cycle_sends(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The developer holds the licence, the invoice and accepted acknowledgements; each
    rightsholder a statement and a payout of exactly its net; the payouts and the statements
    add up to the developer's payment less the CMO's fee."""
    folder, _ = demo
    cast = Cast.default()
    developer = _inbox(folder, cast.developer.party_id)
    (licence,) = _of(developer, LicenceMessage)
    (invoice,) = _of(developer, InvoiceMessage)
    assert invoice.invoice.licence_id == licence.licence.licence_id
    acks = _of(developer, AcknowledgementMessage)
    statuses = {ack.message_status.value for a in acks for ack in a.acknowledgements}
    assert statuses == {"MessageAccepted"}
    paid_out = Decimal(0)
    for rightsholder in cast.rightsholders:
        received = _inbox(folder, rightsholder.party_id)
        (statement,) = _of(received, RoyaltyStatementMessage)
        (payout,) = _of(received, PaymentNotificationMessage)
        net = statement.royalty_statement.statement_total.net_amount
        assert net > 0
        assert payout.payment.paid_amount.value == net
        assert payout.payment.settled_documents[0].document_id == (
            statement.royalty_statement.statement_id
        )
        paid_out += net
    engine = create_engine(DatabaseConfig(url=f"sqlite:///{folder / 'airex.db'}"))
    try:
        balances = [(row.account.kind, row.balance) for row in Journal(engine).balances()]
        fee = -sum(b for kind, b in balances if kind is AccountKind.ADMIN_FEE_REVENUE)
        assert fee > 0
        assert paid_out + fee == invoice.invoice.total_amount.value
        payable = [b for kind, b in balances if kind is AccountKind.RIGHTSHOLDER_PAYABLE]
        assert len(payable) == 2
        assert all(b == 0 for b in payable)
        assert check_ledger(engine).ok
    finally:
        engine.dispose()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIREX_")}
    return subprocess.run(
        [sys.executable, "-m", "airex", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _held(folder: Path) -> list[tuple[str, str]]:
    """(file:line, reason) of every record `airex royalties held` lists for the demo's report."""
    run = _cli("royalties", "held", REPORT_ID, "--database", f"sqlite:///{folder / 'airex.db'}")
    assert run.returncode == 0, run.stderr
    return [(line.split()[0], line.split()[1]) for line in run.stdout.splitlines() if line]


REPORT_ID = "LOOM-UR-2026-Q1-2026"


def test_held_records_are_reported_with_their_reasons(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The run says how many records were held back, their share and reasons (the numbers
    `airex royalties held` lists), and points to `airex royalties held` and `airex show`."""
    folder, run = demo
    output = run.stdout + run.stderr
    held = _held(folder)
    assert held
    assert f"{len(held):,} of {RECORDS:,} usage records ({len(held) / RECORDS:.1%})" in output
    for reason in {r for _, r in held}:
        count = sum(1 for _, r in held if r == reason)
        assert any(reason in line and f"{count:,}" in line for line in output.splitlines())
    assert f"airex royalties held {REPORT_ID}" in output
    shown = [
        line.split("airex show ", 1)[1] for line in output.splitlines() if "airex show " in line
    ]
    assert shown
    assert Path(shown[0].strip()).is_file()


def test_the_registry_check_agrees_with_pricing(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """One clock: `airex registry check` on the demo's own report finds its licence in force
    for the quarter, and refuses exactly the records pricing held back, for the same reasons."""
    folder, _ = demo
    report = (
        folder
        / "exchange"
        / "parties"
        / "PADPIDA2026AURORA"
        / "inbox"
        / "PADPIDA2026LOOMAI_LOOM-MSG-UR-2026.xml"
    )
    run = _cli("registry", "check", "--database", f"sqlite:///{folder / 'airex.db'}", str(report))
    assert run.returncode in (0, 1), run.stderr  # 1: some records are not permitted
    refused = {
        int(fields[1]): fields[4]
        for line in run.stdout.splitlines()[1:]
        if (fields := line.split("\t"))[5] == "no"
    }
    held = {int(place.rsplit(":", 1)[1]): reason for place, reason in _held(folder)}
    assert refused == held
    assert "LicenceNotInForce" not in run.stdout


def test_the_folder_has_a_guide_naming_real_files(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """README.txt names each party's statement, the invoice and the acknowledgements by
    their real paths, every one of which exists, and the commands to look at them."""
    folder, _ = demo
    guide = (folder / "README.txt").read_text(encoding="utf-8")
    named = [
        folder / token
        for line in guide.splitlines()
        for token in line.split()
        if token.startswith("exchange/parties/") and token.endswith(".xml")
    ]
    assert len(named) >= 10
    assert all(path.is_file() for path in named), [p for p in named if not p.is_file()]
    for what in ("royalty statement", "the invoice", "acknowledgement", "the licence"):
        assert what in guide
    for holder in Cast.default().rightsholders:
        assert f"{holder.party_id}'s royalty statement" in guide
    assert f"airex ledger balances --database sqlite:///{folder / 'airex.db'}" in guide
    assert f"airex royalties held {REPORT_ID}" in guide
    assert "airex show " in guide


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    """The demo never writes into a folder that holds something."""
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(DemoError, match="not empty"):
        run_demo(tmp_path, records=10)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_the_flat_report_form_is_priced_as_the_xml_one(
    demo: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """``--report-form flat``: the same report as a gzip flat file, split into 3 parts (a
    small part size stands in for 1 M records), goes through the exchange part by part and is
    priced into the same invoice, with the same held warnings, as the XML run."""
    folder, run = demo
    assert run.returncode == 0, run.stdout + run.stderr
    (xml_invoice,) = _of(_inbox(folder, Cast.default().developer.party_id), InvoiceMessage)
    result = run_demo(
        tmp_path / "flat", records=RECORDS, report_form="flat", split_records=RECORDS // 3
    )
    reports = [path for what, path in result.files if what == "the developer's usage report"]
    assert [p.name.rsplit("_", 1)[-1] for p in reports] == [f"{n}of3.tsv.gz" for n in (1, 2, 3)]
    assert all(p.is_file() for p in reports)
    assert result.invoice_total == xml_invoice.invoice.total_amount.value
    xml_acks = [
        m
        for m in _of(_inbox(folder, Cast.default().developer.party_id), AcknowledgementMessage)
        if any(a.errors for a in m.acknowledgements)
    ]
    assert result.held_warnings == sum(len(a.errors) for m in xml_acks for a in m.acknowledgements)
    assert result.ledger_ok
