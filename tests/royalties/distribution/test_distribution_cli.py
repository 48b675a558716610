"""End to end through the command line: a report priced into an invoice, the licensee's
payment recorded and distributed (`pay`), `distribute` idempotent, `statements` written."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import airex
from airex.cli._app import app
from airex.db import DatabaseConfig, create_engine, schema_histories
from airex.formats.usage import ReportHeader, UsageRow, WorkRef, open_writer
from airex.ledger import AccountKey, AccountKind, GrantRecord, GrantRegister, Journal
from airex.messages import serialise
from airex.messages.common import Amount, MessageHeader, Party, Period, Territory
from airex.messages.licence import Licence, LicenceMessage
from airex.messages.payment import Payment, PaymentNotificationMessage, SettledDocument
from airex.messages.terms import LicenceTerms, Repertoire, ReportingObligation, Tariff, Term
from airex.registry import DeclaredWork, Registry, Share
from parties import CMO, DEV
from parties import PUB01 as P1
from parties import PUB02 as P2

LICENCE = "HARM-LIC-2026-0042"
TRAIN = "UseForTrainingGenerativeAI"
W1, W2, W3 = "GBAAA2600001", "GBAAA2600002", "GBAAA2600003"


def run(*args: str) -> Result:
    """``airex <args>`` in process, with the CMO's settings (opt-out regime: money of works
    the registry does not know goes to suspense)."""
    env: dict[str, str | None] = {
        "AIREX_DATABASE_URL": None,
        "AIREX_CMO_PARTY_ID": CMO,
        "AIREX_PREFERENCE_REGIME": "opt-out",
        "AIREX_ADMIN_FEE_PERCENT": "15",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, list(args), env=env)


def licence() -> LicenceMessage:
    """Tokens at EUR 2.00 per million for generative training, and a one-off fee of 300.00."""
    terms = LicenceTerms(
        repertoire=Repertoire.all_works(),
        permitted_use_types=[TRAIN],
        territory=Territory(territory_codes=["Worldwide"]),
        term=Term(start_date=date(2026, 1, 1), end_date=date(2027, 12, 31)),
        tariffs=[
            Tariff(
                tariff_id="T-TOK",
                tariff_type="PerUnit",
                amount=Amount.of("2.00", "EUR"),
                unit="Token",
                per_quantity=1_000_000,
            ),
            Tariff(
                tariff_id="T-FLAT",
                tariff_type="FlatFee",
                amount=Amount.of("300.00", "EUR"),
                billing_period="OneOff",
            ),
        ],
        reporting_obligation=ReportingObligation(
            frequency="Quarterly", due_days=30, report_formats=["Xml"]
        ),
    )
    return LicenceMessage(
        message_header=MessageHeader.build(CMO, DEV),
        licence=Licence(
            licence_id=LICENCE,
            licensor=Party(party_id=CMO),
            licensee=Party(party_id=DEV),
            licence_status="Granted",
            issued_date_time=datetime(2025, 12, 12, 9, 0, tzinfo=UTC),
            licence_terms=terms,
        ),
    )


@pytest.fixture
def priced(tmp_path: Path) -> tuple[str, Path]:
    """A database with the licence granted, W1 (P1 and P2, half each) and W2 (P1) declared,
    and the Q1 report (W1 1 M tokens, W2 3 M, W3 — unknown — 1 M) priced by the CLI."""
    url = f"sqlite:///{tmp_path / 'airex.db'}"
    engine = create_engine(DatabaseConfig(url=url))
    for history in schema_histories():
        history.upgrade(engine)
    message = licence()
    terms = message.licence.licence_terms
    GrantRegister(engine).record(
        GrantRecord(
            licence_id=LICENCE,
            status="Granted",
            licensor=CMO,
            licensee=DEV,
            issued_at=message.licence.issued_date_time,
            term_start=terms.term.start_date,
            term_end=terms.term.end_date,
            use_types=[TRAIN],
            all_works=True,
            territories=["Worldwide"],
            excluded_territories=[],
            source_message_id=f"{CMO}:{message.message_id}",
            source_message=serialise(message),
        )
    )
    Registry(engine).import_works(
        [
            DeclaredWork(
                work_ids=[("ISRC", W1, None)],
                title="One",
                work_type="SoundRecording",
                shares=[Share(P1, Decimal(50)), Share(P2, Decimal(50))],
            ),
            DeclaredWork(
                work_ids=[("ISRC", W2, None)],
                title="Two",
                work_type="SoundRecording",
                shares=[Share(P1, Decimal(100))],
            ),
        ],
        declared_by=P1,
        source="test-works",
        effective_from=date(2025, 1, 1),
    )
    engine.dispose()
    header = ReportHeader(
        message_header=MessageHeader(
            message_id="MSG-CAD-UR-2026-Q1",
            message_sender=Party(party_id=DEV),
            message_recipients=[Party(party_id=CMO)],
            message_created_date_time=datetime(2026, 4, 2, 9, 0, tzinfo=UTC),
        ),
        report_id="CAD-UR-2026-Q1",
        licence_id=LICENCE,
        reporting_period=Period(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)),
        number_of_records=3,
    )
    rows = [
        UsageRow((WorkRef("ISRC", work),), TRAIN, Decimal(tokens), "Token", None, None, n, "q1")
        for n, (work, tokens) in enumerate([(W1, 1_000_000), (W2, 3_000_000), (W3, 1_000_000)])
    ]
    report = tmp_path / "q1.xml"
    with open_writer(report, header, number_of_records=len(rows)) as writer:
        writer.write_all(rows)
    result = run(
        "royalties", "invoice", str(report), "--out", str(tmp_path / "outbox"),
        "--today", "2026-04-20", "--database", url,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return url, tmp_path


def payment_file(folder: Path, amount: str, payment_id: str = "PAY-1") -> Path:
    """The licensee's PaymentNotificationMessage of the Q1 invoice, written to a file."""
    message = PaymentNotificationMessage(
        message_header=MessageHeader.build(DEV, CMO),
        payment=Payment(
            payment_id=payment_id,
            payer=Party(party_id=DEV),
            payee=Party(party_id=CMO),
            paid_amount=Amount.of(amount, "EUR"),
            payment_date=date(2026, 5, 2),
            settled_documents=[
                SettledDocument(
                    document_type="Invoice",  # type: ignore[arg-type]
                    document_id="INV-CAD-UR-2026-Q1",
                    applied_amount=Amount.of(amount, "EUR"),
                )
            ],
        ),
    )
    path = folder / f"{payment_id}.xml"
    path.write_bytes(serialise(message))
    return path


def test_pay_distribute_and_write_statements(priced: tuple[str, Path]) -> None:
    """Paying the invoice (10.00 tokens + 300.00 flat) distributes it at once: W3's money to
    suspense, P1 and P2 credited, statements that validate and agree with the ledger."""
    url, folder = priced
    paid = run("royalties", "pay", str(payment_file(folder, "310.00")), "--database", url)
    assert paid.exit_code == 0, paid.output
    assert "recorded: PAY-1 from PADPIDA2026CADENZA, 310.00 EUR on invoice INV-CAD-UR-2026-Q1" in (
        paid.stdout
    )
    # tokens 10.00: W1 2.00, W2 6.00, W3 2.00; flat 300.00 over W1..W3: 100.00 each.
    # suspense: W3 102.00; P1 1.00 + 50.00 + 6.00 + 100.00, P2 1.00 + 50.00.
    assert "to 2 rightsholders 208.00 EUR" in paid.stdout
    assert "suspense 102.00 EUR" in paid.stdout
    again = run("royalties", "distribute", "--period", "2026-Q2", "--database", url)
    assert again.exit_code == 0, again.output
    assert "nothing to distribute" in again.stdout
    out = folder / "statements"
    written = run(
        "royalties", "statements", "--period", "2026-Q2", "--out", str(out), "--database", url
    )
    assert written.exit_code == 0, written.output
    assert "2 statements (6 lines) from 1 distributions" in written.stdout
    engine = create_engine(DatabaseConfig(url=url))
    journal = Journal(engine)
    for party in (P1, P2):
        path = out / f"RS-2026Q2-EUR-{party[7:]}.xml"
        assert airex.check(path).errors == []
        statement = airex.parse(path).royalty_statement  # type: ignore[attr-defined]
        owed = journal.balance(AccountKey(party, AccountKind.RIGHTSHOLDER_PAYABLE, "EUR"))
        assert statement.statement_total.net_amount == -owed.amount
    engine.dispose()
    check = run("ledger", "check", "--database", url)
    assert check.exit_code == 0, check.output


def test_deferred_distribution_json_and_refusals(priced: tuple[str, Path]) -> None:
    """--no-distribute records only; distribute --json shares it out once; an over-payment
    and a bad period are refused with exit status 2."""
    url, folder = priced
    recorded = run(
        "royalties", "pay", "--no-distribute", str(payment_file(folder, "100.00")),
        "--database", url,
    )  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    done = run("royalties", "distribute", "--period", "2026-05", "--json", "--database", url)
    assert done.exit_code == 0, done.output
    (summary,) = [json.loads(text) for text in done.stdout.splitlines()]
    assert summary["paid"] == "100.00"
    assert summary["new"] is True
    assert Decimal(summary["to_rightsholders"]) + Decimal(summary["suspense"]) == Decimal(100)
    assert (
        run("royalties", "distribute", "--period", "2026-05", "--json", "--database", url).stdout
        == ""
    )
    over = run("royalties", "pay", str(payment_file(folder, "210.01", "PAY-2")), "--database", url)
    assert over.exit_code == 1  # input refused (exit 2 is for usage and environment errors)
    assert "only 21000 of the invoice's 31000 are still open" in over.stderr
    bad = run("royalties", "distribute", "--period", "2026-Q5", "--database", url)
    assert bad.exit_code == 2
    assert "2026-Q5" in bad.stderr
