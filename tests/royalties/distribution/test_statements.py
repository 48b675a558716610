"""Royalty statements: the lean XML writer, statements from stored distributions, and the
ledger agreeing with them."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _distribution_support import (
    CMO,
    DEV,
    FakeInvoices,
    FakeShares,
    invoice,
    line,
    migrated_engine,
    post_invoice,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

import airex
from airex.ledger import AccountKind, Journal, check_ledger
from airex.messages import PaymentNotificationMessage
from airex.messages.common import Amount, MessageHeader, Party
from airex.messages.payment import Payment, SettledDocument
from airex.royalties._distribution_xml import (
    StatementHead,
    StatementLineData,
    render_statement,
    statement_model,
    units_text,
    work_ids_xml,
)
from airex.royalties._types import USE_TYPES, Basis, PricedInvoice
from airex.royalties.distribution import DistributionSettings, Distributor, PeriodSpec
from airex.royalties.statements import build_statements, statement_id, write_statements
from parties import PUB01 as P1
from parties import PUB02 as P2

CREATED = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)

# --- the writer ---------------------------------------------------------------------------

_XML_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cs",),
        exclude_characters="\x00\ufffe\uffff",
    ).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20),
    min_size=1,
    max_size=20,
)
_IDENT = st.text(alphabet="ABCXYZabc0189._:-", min_size=1, max_size=20)


@st.composite
def flat_ids(draw: st.DrawFn) -> list[str]:
    """Work identifiers in the flat form, with values that need escaping."""
    ids = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["ISRC", "URL", "DOI", "Proprietary"]))
        value = draw(_XML_TEXT.filter(lambda v: "::" not in v and not v.startswith(":")))
        if kind == "Proprietary":
            ids.append(f"Proprietary::{draw(_IDENT.filter(lambda v: ':' not in v))}::{value}")
        else:
            ids.append(f"{kind}::{value}")
    return ids


@st.composite
def statement_lines(draw: st.DrawFn) -> list[StatementLineData]:
    """One to five statement lines with random figures."""
    lines = []
    for _ in range(draw(st.integers(1, 5))):
        gross = draw(st.integers(0, 10**15))
        lines.append(
            StatementLineData(
                draw(_IDENT),
                f"PADPIDA{draw(st.text(alphabet='ABC123', min_size=1, max_size=10))}",
                work_ids_xml(draw(flat_ids())),
                draw(st.sampled_from(USE_TYPES)),
                draw(_IDENT),
                draw(st.one_of(st.none(), st.integers(0, 10**20))),
                gross,
                draw(st.integers(1, 10000)),
                draw(st.integers(0, gross)),
            )
        )
    return lines


@settings(max_examples=150, deadline=None)
@given(statement_lines(), st.sampled_from([("EUR", 2), ("JPY", 0), ("KWD", 3), ("CLF", 4)]))
def test_the_lean_writer_writes_what_serialise_writes(
    lines: list[StatementLineData], currency: tuple[str, int]
) -> None:
    """The string-built XML is byte for byte airex.serialise of the same statement model."""
    head = StatementHead(
        "RS-2026Q2-EUR-2026PUB01", CMO, P1, date(2026, 4, 1), date(2026, 6, 30), *currency, CREATED
    )
    xml = render_statement(head, lines)
    message_id = xml.split(b"<MessageId>")[1].split(b"</MessageId>")[0].decode()
    assert xml == airex.serialise(statement_model(head, lines, message_id))


def test_written_statements_are_valid_messages() -> None:
    """A statement with real identifiers passes the XSD and the business rules."""
    period = (date(2026, 1, 1), date(2026, 3, 31))
    head = StatementHead("RS-1", CMO, P1, *period, "EUR", 2, CREATED)
    lines = [
        StatementLineData(
            "LIC-1",
            DEV,
            work_ids_xml(["ISWC::T-034.524.680-1", "URL::https://example.org/a?b=1&c=2"]),
            "UseForTrainingGenerativeAI",
            "T-TOKENS",
            1_245_882_310_000_000,
            171309,
            5000,
            25696,
        ),
        StatementLineData(
            "LIC-1",
            DEV,
            work_ids_xml(["ISRC::GBAYE2600001"]),
            "UseAsAIInput",
            "T-MG",
            None,
            1,
            3333,
            0,
        ),
    ]
    result = airex.check(render_statement(head, lines))
    assert result.errors == []


def test_units_are_rounded_half_up_to_four_places() -> None:
    """Millionths become at most 4 fraction digits, half-up, trailing zeros dropped."""
    assert units_text(1_245_882_310_000_000) == "1245882310"
    assert units_text(12_345_650) == "12.3457"
    assert units_text(12_345_649) == "12.3456"
    assert units_text(500_000) == "0.5"
    assert units_text(49) == "0"
    assert units_text(50) == "0.0001"


def test_statement_ids_are_short_and_deterministic() -> None:
    """RS-<period>-<currency>-<party without PADPIDA>; a digest when that passes 64 characters."""
    q2 = PeriodSpec.parse("2026-Q2")
    assert statement_id(q2, "EUR", "PADPIDA2026BLUEBIRD") == "RS-2026Q2-EUR-2026BLUEBIRD"
    long_party = "PADPIDA" + "X" * 57
    long_id = statement_id(q2, "EUR", long_party)
    assert len(long_id) <= 64
    assert long_id == statement_id(q2, "EUR", long_party)
    assert long_id != statement_id(q2, "EUR", long_party[:-1] + "Y")


@pytest.mark.parametrize(
    ("text", "start", "end", "token"),
    [
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "2026Q1"),
        ("2026-q4", date(2026, 10, 1), date(2026, 12, 31), "2026Q4"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "202402"),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "2026"),
        ("2026-01-15..2026-02-14", date(2026, 1, 15), date(2026, 2, 14), "20260115-20260214"),
    ],
)
def test_periods_are_parsed(text: str, start: date, end: date, token: str) -> None:
    """Quarters, months, years and day ranges, with the token StatementIds use."""
    assert PeriodSpec.parse(text) == PeriodSpec(start, end, token)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "26", "2026-03-01..2026-02-01", "Q1"])
def test_bad_periods_are_refused(text: str) -> None:
    """A period that is not one of the four forms, or ends before it starts, is an error."""
    with pytest.raises(ValueError, match="period"):
        PeriodSpec.parse(text)


# --- statements from distributions --------------------------------------------------------


def pay(
    amount: str, invoice_id: str, payment_id: str, day: date, currency: str = "EUR"
) -> PaymentNotificationMessage:
    """A licensee's payment of one invoice."""
    return PaymentNotificationMessage(
        message_header=MessageHeader.build(DEV, CMO),
        payment=Payment(
            payment_id=payment_id,
            payer=Party(party_id=DEV),
            payee=Party(party_id=CMO),
            paid_amount=Amount.of(amount, currency),
            payment_date=day,
            settled_documents=[
                SettledDocument(
                    document_type="Invoice",  # type: ignore[arg-type]
                    document_id=invoice_id,
                    applied_amount=Amount.of(amount, currency),
                )
            ],
        ),
    )


def tokens_invoice(invoice_id: str, currency: str = "EUR") -> PricedInvoice:
    """Per-unit EUR 30.00 over two works (1.5 and 4.5 million tokens) and an MG of 10.00."""
    return invoice(
        [
            line(
                1,
                3000,
                Basis.UNITS,
                [0, 1],
                [1_500_000, 4_500_000],
                tariff="T-TOKENS",
                units=[1_500_000_000_000, 4_500_000_000_000],
            ),
            line(2, 1000, Basis.EQUAL, [0, 1], tariff="T-MG"),
        ],
        [1, 2],
        invoice_id=invoice_id,
        currency=currency,
        ids=[("ISRC::GBAYE2600001", "ISWC::T-034.524.680-1"), ("ISRC::GBAYE2600002",)],
    )


def payables(engine: Engine) -> dict[tuple[str, str], int]:
    """(party, currency) → what the ledger says the CMO owes the rightsholder (credit balance)."""
    return {
        (b.account.party, b.account.currency): -b.balance_minor
        for b in Journal(engine).balances()
        if b.account.kind is AccountKind.RIGHTSHOLDER_PAYABLE and b.balance_minor
    }


def statement_nets(directory: Path) -> dict[tuple[str, str], int]:
    """(payee, currency) → the statements' NetAmount totals in ``directory``, in minor units."""
    nets: dict[tuple[str, str], int] = {}
    for path in sorted(directory.rglob("*.xml")):
        message = airex.parse(path.read_bytes())
        statement = message.royalty_statement  # type: ignore[attr-defined]
        exponent = {"EUR": 2, "JPY": 0, "KWD": 3}[statement.currency]
        key = (statement.payee.party_id, statement.currency)
        minor = int(statement.statement_total.net_amount.scaleb(exponent))
        nets[key] = nets.get(key, 0) + minor
    return nets


def test_statements_of_a_quarter(db: Engine, tmp_path: Path) -> None:
    """One valid statement per rightsholder; instalments in the quarter are added up per line,
    Units appear once; the NetAmount totals are what the ledger credited."""
    first = tokens_invoice("INV-1")
    distributor = Distributor(
        db,
        DistributionSettings(Decimal(15)),
        invoices=FakeInvoices(first),
        shares=FakeShares({1: ((P1, 5000), (P2, 5000)), 2: ((P1, 10000),)}),
    )
    post_invoice(db, first)
    distributor.record_payment(pay("30.00", "INV-1", "PAY-1", date(2026, 4, 20)))
    distributor.record_payment(pay("10.00", "INV-1", "PAY-2", date(2026, 5, 20)))
    out = tmp_path / "statements"
    result = write_statements(db, PeriodSpec.parse("2026-Q2"), out, created=CREATED)
    assert result.count == 2
    assert sorted(p.name for p in out.iterdir()) == [
        "RS-2026Q2-EUR-2026PUB01.xml",
        "RS-2026Q2-EUR-2026PUB02.xml",
    ]
    for path in out.iterdir():
        assert airex.check(path).errors == []
    message = airex.parse(out / "RS-2026Q2-EUR-2026PUB02.xml")
    statement = message.royalty_statement  # type: ignore[attr-defined]
    assert [
        (str(ln.work_ids[0]), ln.tariff_id, ln.units, ln.gross_amount, ln.administration_fee)
        for ln in statement.statement_lines
    ] == [
        # PAY-1 30.00: lines 22.50 / 7.50; tokens 22.50 over 1 : 3 = 5.63 (tie, to the first
        # work) / 16.87, work 1 shared 50/50 = 2.82 / 2.81 (P2); MG 3.75 each, 1.88 / 1.87.
        # PAY-2 10.00: lines 7.50 / 2.50; tokens 1.88 / 5.62, work 1: 0.94 / 0.94; MG 1.25
        # each, 0.63 / 0.62. P2: tokens 2.81 + 0.94 = 3.75, fees 0.42 + 0.14 (14.1 → 14);
        # MG 1.87 + 0.62 = 2.49, fees 0.28 (28.05) + 0.09 (9.3) = 0.37.
        ("ISRC::GBAYE2600001", "T-TOKENS", Decimal(1500000), Decimal("3.75"), Decimal("0.56")),
        ("ISRC::GBAYE2600001", "T-MG", None, Decimal("2.49"), Decimal("0.37")),
    ]
    assert statement_nets(out) == payables(db)
    assert result.net_minor == {"EUR": sum(payables(db).values())}
    assert check_ledger(db).ok
    # Written again with the same creation time: the same bytes (and MessageIds).
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    write_statements(db, PeriodSpec.parse("2026-Q2"), out, created=CREATED)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_second_currency_makes_a_second_statement(db: Engine, tmp_path: Path) -> None:
    """A rightsholder paid in EUR and JPY gets one statement per currency."""
    eur, jpy = tokens_invoice("INV-EUR"), tokens_invoice("INV-JPY", currency="JPY")
    distributor = Distributor(
        db,
        invoices=FakeInvoices(eur, jpy),
        shares=FakeShares({1: ((P1, 10000),), 2: ((P1, 10000),)}),
    )
    post_invoice(db, eur)
    post_invoice(db, jpy)
    distributor.record_payment(pay("40.00", "INV-EUR", "PAY-E", date(2026, 4, 2)))
    distributor.record_payment(pay("4000", "INV-JPY", "PAY-J", date(2026, 4, 3), "JPY"))
    out = tmp_path / "statements"
    write_statements(db, PeriodSpec.parse("2026-04"), out, created=CREATED)
    assert sorted(p.name for p in out.iterdir()) == [
        "RS-202604-EUR-2026PUB01.xml",
        "RS-202604-JPY-2026PUB01.xml",
    ]
    assert statement_nets(out) == payables(db)


def test_statements_written_from_columns_are_the_statement_models_xml(
    db: Engine, tmp_path: Path
) -> None:
    """The fast path of write_statements writes the bytes Statement.xml() renders from lines
    (which the writer test proves equal to airex.serialise)."""
    priced = invoice(
        [
            line(
                1,
                987654,
                Basis.UNITS,
                [0, 1, 2],
                [5, 7, 11],
                tariff="T-TOKENS",
                units=[1_234_567, 10**13, 5],
            ),
            line(2, 3333, Basis.EQUAL, [0, 1, 2], tariff="T-MG"),
            line(
                3,
                1000,
                Basis.ATTRIBUTION,
                [2, 0],
                [600000, 400000],
                tariff="T-REV",
                use_type="UseAsAIInput",
            ),
        ],
        [1, 2, 3],
        ids=[
            ("ISRC::GBAYE2600001", "URL::https://example.org/w?a=1&b=<2>"),
            ('Proprietary::PADPIDA2026NS::a"b',),
            ("DOI::10.1000/xyz",),
        ],
    )
    distributor = Distributor(
        db,
        invoices=FakeInvoices(priced),
        shares=FakeShares(
            {
                1: ((P1, 3334), (P2, 3333), ("PADPIDA2026PUB03", 3333)),
                2: ((P2, 10000),),
                3: ((P1, 2550), (P2, 7450)),
            }
        ),
    )
    post_invoice(db, priced)
    distributor.record_payment(pay("9919.87", priced.invoice_id, "PAY-1", date(2026, 4, 2)))
    out = tmp_path / "statements"
    result = write_statements(db, PeriodSpec.parse("2026-Q2"), out, created=CREATED)
    expected = {
        f"{s.head.statement_id}.xml": s.xml()
        for s in build_statements(db, PeriodSpec.parse("2026-Q2"), created=CREATED)
    }
    assert result.count == 3
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected
    assert statement_nets(out) == payables(db)


def test_a_file_that_cannot_be_written_is_an_error(db: Engine, tmp_path: Path) -> None:
    """An OS error while writing a statement (here: a folder in the file's place) is raised,
    not lost on the writer threads."""
    priced = tokens_invoice("INV-1")
    distributor = Distributor(
        db, invoices=FakeInvoices(priced), shares=FakeShares({1: ((P1, 10000),)})
    )
    post_invoice(db, priced)
    distributor.record_payment(pay("40.00", "INV-1", "PAY-1", date(2026, 4, 20)))
    out = tmp_path / "statements"
    (out / "RS-2026Q2-EUR-2026PUB01.xml" / "occupied").mkdir(parents=True)
    with pytest.raises(OSError, match="RS-2026Q2-EUR-2026PUB01"):
        write_statements(db, PeriodSpec.parse("2026-Q2"), out)


def test_no_distributions_no_statements(db: Engine, tmp_path: Path) -> None:
    """A period without posted distributions writes nothing."""
    result = write_statements(db, PeriodSpec.parse("2026-Q3"), tmp_path / "out")
    assert result.count == 0
    assert list((tmp_path / "out").iterdir()) == []
    assert list(build_statements(db, PeriodSpec.parse("2026"))) == []


PARTIES = [f"PADPIDA2026RH{n}" for n in range(5)]


@st.composite
def payment_plans(
    draw: st.DrawFn,
) -> tuple[
    list[PricedInvoice], dict[int, tuple[tuple[str, int], ...]], list[tuple[str, int, date]]
]:
    """Invoices, shares and a plan of (invoice, minor units, day) instalments that never
    exceed what is open."""
    shares: dict[int, tuple[tuple[str, int], ...]] = {}
    for key in range(1, 7):
        holders = draw(st.lists(st.sampled_from(PARTIES), max_size=3, unique=True))
        if holders:
            cut = [draw(st.integers(1, 9999)) for _ in holders[1:]]
            bounds = [0, *sorted(set(cut)), 10000]
            holders = holders[: len(bounds) - 1]
            shares[key] = tuple((p, bounds[i + 1] - bounds[i]) for i, p in enumerate(holders))
    invoices = []
    plan = []
    for number in range(draw(st.integers(1, 3))):
        currency = draw(st.sampled_from(["EUR", "JPY", "KWD"]))
        keys = [draw(st.one_of(st.none(), st.integers(1, 6))) for _ in range(4)]
        lines = [
            line(
                1,
                draw(st.integers(1, 10**7)),
                Basis.UNITS,
                [0, 1, 2, 3],
                [draw(st.integers(0, 10**9)) for _ in range(4)],
                tariff="T-A",
            ),
            line(2, draw(st.integers(0, 10**6)), Basis.EQUAL, [1, 3], tariff="T-B"),
        ]
        if not sum(lines[0].weight):
            lines[0].weight[0] = 1
        priced = invoice(lines, keys, invoice_id=f"INV-{number}", currency=currency)
        invoices.append(priced)
        open_minor = priced.report.total_minor
        for _ in range(draw(st.integers(1, 3))):
            amount = draw(st.integers(0, open_minor))
            day = date(2026, draw(st.integers(1, 12)), draw(st.integers(1, 28)))
            plan.append((priced.invoice_id, amount, day))
            open_minor -= amount
    return invoices, shares, plan


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payment_plans())
def test_statements_sum_to_what_the_ledger_owes_each_rightsholder(
    case: tuple[
        list[PricedInvoice], dict[int, tuple[tuple[str, int], ...]], list[tuple[str, int, date]]
    ],
) -> None:
    """Over the quarters of the year, the statements' NetAmount totals per rightsholder and
    currency are exactly the ledger's RIGHTSHOLDER_PAYABLE balances; re-running posts nothing."""
    invoices, shares, plan = case
    with tempfile.TemporaryDirectory() as folder:
        engine = migrated_engine(f"sqlite:///{Path(folder) / 'airex.db'}")
        try:
            distributor = Distributor(
                engine, invoices=FakeInvoices(*invoices), shares=FakeShares(shares)
            )
            for priced in invoices:
                post_invoice(engine, priced)
            exponent = {"EUR": 2, "JPY": 0, "KWD": 3}
            currency_of = {inv.invoice_id: inv.report.currency for inv in invoices}
            for n, (invoice_id, amount, day) in enumerate(plan):
                ccy = currency_of[invoice_id]
                text = str(Decimal(amount).scaleb(-exponent[ccy]))
                distributor.record_payment(pay(text, invoice_id, f"PAY-{n}", day, ccy))
            out = Path(folder) / "statements"
            for quarter in range(1, 5):
                write_statements(engine, PeriodSpec.parse(f"2026-Q{quarter}"), out / f"q{quarter}")
            assert statement_nets(out) == payables(engine)
            entries = len(Journal(engine).entries())
            assert distributor.distribute_pending() == []
            for n, (invoice_id, amount, day) in enumerate(plan):
                ccy = currency_of[invoice_id]
                text = str(Decimal(amount).scaleb(-exponent[ccy]))
                distributor.record_payment(pay(text, invoice_id, f"PAY-{n}", day, ccy))
            assert len(Journal(engine).entries()) == entries
            assert check_ledger(engine).ok
        finally:
            engine.dispose()
