"""Invoicing usage reports end to end: licence → pricing → stored report → InvoiceMessage →
ledger, on SQLite and on PostgreSQL; corrections, idempotency, refusals, held usage."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from _pricing_support import (
    CMO,
    DEV,
    INPUT,
    LICENCE,
    TRAIN,
    FakeChecker,
    FakeRegistry,
    declare,
    engine,
    flat,
    guarantee,
    header,
    isrc,
    licence_message,
    numbered,
    per_unit,
    per_work,
    pricing_pg_url,
    record_licence,
    revenue,
    row,
    terms,
    write_report,
)
from sqlalchemy.engine import Engine

import airex
from airex.formats.usage import ReportHeader, UsageRow, open_report
from airex.ledger import AccountKey, AccountKind, Journal, Money, check_ledger
from airex.messages import AcknowledgementMessage, InvoiceMessage
from airex.messages.terms import LicenceTerms
from airex.registry import Reason
from airex.royalties import (
    InvoiceResult,
    InvoiceService,
    NotLicenseeError,
    ReportConflictError,
    ReportRefusedError,
    RoyaltySettings,
    UnknownLicenceError,
    UnknownReportError,
    held_records,
    invoices_for_period,
    load_priced_invoice,
    price_report,
)

__all__ = ["engine", "pricing_pg_url"]  # fixtures, imported for pytest

TODAY = date(2026, 4, 20)
W1, W2, W3 = isrc(1), isrc(2), isrc(3)
TOKENS = terms(per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN))


def receivable(currency: str = "EUR") -> AccountKey:
    """The licensee's receivable for the licence."""
    return AccountKey(DEV, AccountKind.LICENSEE_RECEIVABLE, currency, LICENCE)


def pool(currency: str = "EUR") -> AccountKey:
    """The licence's distributable pool."""
    return AccountKey(CMO, AccountKind.DISTRIBUTABLE_POOL, currency, LICENCE)


def grant(db: Engine, licence_terms: LicenceTerms = TOKENS, **kwargs: object) -> None:
    """Record the licence (Granted) in the grant register."""
    record_licence(db, licence_message(licence_terms, **kwargs))  # type: ignore[arg-type]


def invoice(
    db: Engine,
    tmp_path: Path,
    report_header: ReportHeader,
    rows: list[UsageRow],
    *,
    registry: FakeRegistry | None = None,
    settings: RoyaltySettings | None = None,
    name: str | None = None,
) -> InvoiceResult:
    """Write the report as XML and invoice it."""
    path = write_report(tmp_path / (name or f"{report_header.report_id}.xml"), report_header, rows)
    service = InvoiceService(db, settings or RoyaltySettings(CMO), registry or FakeRegistry())
    return service.invoice(open_report(path), today=TODAY)


def tokens(*quantities: int) -> list[UsageRow]:
    """Training records of W1, W2, W3... with these token counts."""
    return numbered(row(isrc(i + 1), TRAIN, q) for i, q in enumerate(quantities))


def parsed(document: bytes) -> InvoiceMessage:
    """A document, validated (XSD and business rules) and parsed."""
    assert airex.check(document).errors == []
    message = airex.parse(document)
    assert isinstance(message, InvoiceMessage)
    return message


def balance(db: Engine, account: AccountKey) -> Decimal:
    """An account's balance as a decimal (debit positive)."""
    return Journal(db).balance(account).amount


# --- an original report ------------------------------------------------------------------------


def test_a_report_is_priced_invoiced_stored_and_posted(engine: Engine, tmp_path: Path) -> None:
    """300 M + 200 M tokens at EUR 2.00 per 10^6 = 1 000.00, topped up by the quarter's
    minimum guarantee (10 000.00 a year → 2 500.00) with a 1 500.00 line: an invoice of
    2 500.00 that validates, due 30 days after issue, posted receivable against the pool."""
    grant(
        engine,
        terms(
            per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN),
            guarantee("T-MG", "10000.00", "Annually"),
        ),
    )
    result = invoice(engine, tmp_path, header(), tokens(300_000_000, 200_000_000))
    assert result.created
    (document,) = result.documents
    assert (document.invoice_id, document.invoice_type, document.total) == (
        "INV-CAD-UR-2026-Q1",
        "Invoice",
        Decimal("2500.00"),
    )
    message = parsed(document.message)
    body = message.invoice
    assert (body.issue_date, body.due_date, body.usage_report_id) == (
        TODAY,
        date(2026, 5, 20),
        "CAD-UR-2026-Q1",
    )
    assert message.message_header.message_sender.party_id == CMO
    assert [
        (line.tariff_id, line.quantity, line.line_amount.value) for line in body.invoice_lines
    ] == [("T-TOK", Decimal(500), Decimal("1000.00")), ("T-MG", None, Decimal("1500.00"))]
    assert body.total_amount.value == Decimal("2500.00")
    assert balance(engine, receivable()) == Decimal("2500.00")
    assert balance(engine, pool()) == Decimal("-2500.00")
    entry = Journal(engine).entry_by_key("invoice:INV-CAD-UR-2026-Q1")
    assert entry is not None
    assert entry.effective_on == TODAY
    assert check_ledger(engine).ok


def test_the_stored_invoice_loads_back_with_its_basis_rows(engine: Engine, tmp_path: Path) -> None:
    """load_priced_invoice gives the invoice's lines with the same basis rows pricing made,
    the works with their keys and ids, and the licence's parties and territory."""
    grant(engine, terms(per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN), flat("F", "90")))
    rows = tokens(300_000_000, 200_000_000, 7)
    result = invoice(engine, tmp_path, header(), rows)
    assert result.invoice is not None
    loaded = load_priced_invoice(engine, result.invoice.invoice_id)
    direct = price_report(
        header(),
        rows,
        terms(per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN), flat("F", "90")),
        FakeChecker(),
        on_held=lambda h: None,
    )
    assert (loaded.licensor, loaded.licensee, loaded.territories) == (CMO, DEV, ("Worldwide",))
    assert (loaded.period_start, loaded.period_end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert loaded.report.works == direct.works
    assert [
        (
            line.tariff_id,
            line.amount_minor,
            line.basis,
            list(line.work_index),
            list(line.weight),
            list(line.units_micro),
        )
        for line in loaded.report.lines
    ] == [
        (
            line.tariff_id,
            line.amount_minor,
            line.basis,
            list(line.work_index),
            list(line.weight),
            list(line.units_micro),
        )
        for line in direct.lines
    ]
    assert loaded.report.total_minor == result.invoice.total_minor == 100000 + 9000


def test_usage_totals_beyond_64_bits_are_stored_exactly(engine: Engine, tmp_path: Path) -> None:
    """10^13 + 0.5 tokens of one work are 10^19 + 500 000 micro-units (beyond BIGINT): they
    go to the database and come back exact."""
    grant(engine, TOKENS)
    rows = numbered([row(W1, TRAIN, "10000000000000.5"), row(W2, TRAIN, 1)])
    result = invoice(engine, tmp_path, header(), rows)
    assert result.invoice is not None
    loaded = load_priced_invoice(engine, result.invoice.invoice_id)
    assert list(loaded.report.lines[0].units_micro) == [10**19 + 500_000, 10**6]
    # 10 000 000.0000015 × 2.00 = 20 000 000.000003 → 20 000 000.00
    assert result.invoice.total == Decimal("20000000.00")


# --- idempotency -------------------------------------------------------------------------------


def test_pricing_the_same_message_again_posts_nothing_new(engine: Engine, tmp_path: Path) -> None:
    """The same sender and MessageId again: the stored invoice, byte for byte; no new entry."""
    grant(engine)
    first = invoice(engine, tmp_path, header(), tokens(1_000_000))
    entries = len(Journal(engine).entries())
    again = invoice(engine, tmp_path, header(), tokens(1_000_000))
    assert (first.created, again.created) == (True, False)
    assert again.documents == first.documents
    assert len(Journal(engine).entries()) == entries
    assert balance(engine, receivable()) == Decimal("2.00")


def test_a_resent_report_with_a_new_message_id_is_recognised(
    engine: Engine, tmp_path: Path
) -> None:
    """The same ReportId and content under a new MessageId returns the stored invoice; with
    other content (and no CorrectionOfReportId) it is refused, saying how to correct."""
    grant(engine)
    first = invoice(engine, tmp_path, header(), tokens(1_000_000))
    again = invoice(engine, tmp_path, header(message_id="MSG-RESENT"), tokens(1_000_000))
    assert not again.created
    assert again.documents == first.documents
    with pytest.raises(ReportConflictError, match="CorrectionOfReportId CAD-UR-2026-Q1"):
        invoice(engine, tmp_path, header(message_id="MSG-OTHER"), tokens(2_000_000))
    assert balance(engine, receivable()) == Decimal("2.00")


def test_a_message_id_reused_for_another_report_is_refused(engine: Engine, tmp_path: Path) -> None:
    """A MessageId already priced as one report cannot bring another ReportId."""
    grant(engine)
    invoice(engine, tmp_path, header(message_id="MSG-1"), tokens(1_000_000))
    with pytest.raises(ReportConflictError, match="needs a new MessageId"):
        invoice(engine, tmp_path, header("OTHER-REPORT", message_id="MSG-1"), tokens(5))


# --- corrections -------------------------------------------------------------------------------


def test_corrections_invoice_or_credit_the_difference_never_twice(
    engine: Engine, tmp_path: Path
) -> None:
    """R: 300 M tokens → 600.00. C1 corrects R: 450 M → 900.00, an invoice of the 300.00
    difference. C2 corrects R again (so the version in force, C1): 250 M → 500.00, a credit
    note of 400.00. The receivable ends at 500.00, what the report in force says."""
    grant(engine)
    original = invoice(engine, tmp_path, header("R"), tokens(300_000_000))
    assert original.invoice is not None
    assert original.invoice.total == Decimal("600.00")

    up = invoice(engine, tmp_path, header("C1", correction_of="R"), tokens(450_000_000))
    assert (up.replaced_report_id, up.total_minor) == ("R", 90000)
    (more,) = up.documents
    assert (more.invoice_id, more.invoice_type, more.total) == (
        "INV-C1",
        "Invoice",
        Decimal("300.00"),
    )
    (line,) = parsed(more.message).invoice.invoice_lines
    assert (line.quantity, line.unit_price, line.line_amount.value) == (
        None,
        None,
        Decimal("300.00"),
    )
    assert balance(engine, receivable()) == Decimal("900.00")

    down = invoice(engine, tmp_path, header("C2", correction_of="R"), tokens(250_000_000))
    assert down.replaced_report_id == "C1"
    (back,) = down.documents
    assert (back.invoice_id, back.invoice_type, back.total) == (
        "CN-C2",
        "CreditNote",
        Decimal("400.00"),
    )
    note = parsed(back.message).invoice
    assert str(note.invoice_type) == "CreditNote"
    assert balance(engine, receivable()) == Decimal("500.00")
    assert balance(engine, pool()) == Decimal("-500.00")
    # The credit note's basis rows are those of the version it takes money back from (C1).
    loaded = load_priced_invoice(engine, "CN-C2")
    assert loaded.invoice_type == "CreditNote"
    assert loaded.report.report_id == "C1"
    assert list(loaded.report.lines[0].units_micro) == [450_000_000 * 10**6]
    with engine.connect() as connection:
        states = dict(
            connection.execute(sa.text("SELECT report_id, status FROM royalties_report")).all()
        )
    assert states == {"R": "superseded", "C1": "superseded", "C2": "current"}
    assert check_ledger(engine).ok


def test_a_correction_that_raises_one_tariff_and_lowers_another_issues_both(
    engine: Engine, tmp_path: Path
) -> None:
    """Per-unit fees rise 2.00 → 6.00, per-work fees fall 3 works → 1 (15.00 → 5.00): an
    invoice of 4.00 and a credit note of 10.00, each with only its own lines."""
    grant(
        engine,
        terms(per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN), per_work("T-W", "5.00", INPUT)),
    )
    rows = [row(W1, TRAIN, 1_000_000)] + [row(w, INPUT, 1, "Retrieval") for w in (W1, W2, W3)]
    invoice(engine, tmp_path, header("R"), numbered(rows))
    new_rows = [row(W1, TRAIN, 3_000_000), row(W1, INPUT, 3, "Retrieval")]
    result = invoice(engine, tmp_path, header("C", correction_of="R"), numbered(new_rows))
    assert [(d.invoice_id, d.invoice_type, d.total) for d in result.documents] == [
        ("INV-C", "Invoice", Decimal("4.00")),
        ("CN-C", "CreditNote", Decimal("10.00")),
    ]
    assert [
        line.tariff_id for line in parsed(result.documents[0].message).invoice.invoice_lines
    ] == ["T-TOK"]
    assert balance(engine, receivable()) == Decimal("11.00")  # 6.00 + 5.00


def test_a_correction_of_an_unknown_report_is_refused(engine: Engine, tmp_path: Path) -> None:
    """CorrectionOfReportId naming a report never priced: refused, nothing stored."""
    grant(engine)
    with pytest.raises(UnknownReportError, match="corrects report NOPE"):
        invoice(engine, tmp_path, header("C", correction_of="NOPE"), tokens(5))
    assert Journal(engine).entries() == []


def test_an_unchanged_correction_issues_nothing(engine: Engine, tmp_path: Path) -> None:
    """A correction that prices the same as the version it replaces: no document, no entry."""
    grant(engine)
    invoice(engine, tmp_path, header("R"), tokens(1_000_000))
    same = invoice(engine, tmp_path, header("C", correction_of="R"), tokens(1_000_000))
    assert same.documents == []
    assert len(Journal(engine).entries()) == 1


# --- the licence -------------------------------------------------------------------------------


def test_usage_under_a_revoked_licence_is_held_and_warned(engine: Engine, tmp_path: Path) -> None:
    """Revoked before the period's end: nothing priced, no invoice, every record held as
    LicenceNotInForce and listed in the acknowledgement with its line."""
    grant(engine, terms(flat("F", "900.00")))
    record_licence(
        engine,
        licence_message(
            terms(flat("F", "900.00")),
            status="Revoked",
            issued=datetime(2026, 2, 1, tzinfo=UTC),
        ),
    )
    result = invoice(engine, tmp_path, header(), tokens(10, 20))
    assert result.documents == []
    assert result.held_by_reason == {"LicenceNotInForce": 2}
    ack = result.acknowledgement(file_name="CAD-UR-2026-Q1.xml")
    ack_bytes = airex.serialise(ack)
    assert airex.check(ack_bytes).errors == []
    (entry,) = ack.acknowledgements
    assert str(entry.message_status) == "MessageAccepted"
    assert [e.error_code for e in entry.errors] == ["LicenceNotInForce"] * 2
    text = (tmp_path / "CAD-UR-2026-Q1.xml").read_text().splitlines()
    for error, tokens_used in zip(entry.errors, ("10", "20"), strict=True):
        assert error.line_number is not None
        record = "".join(text[error.line_number - 1 : error.line_number + 4])
        assert "<UsageRecord>" in record
        assert f">{tokens_used}</Quantity>" in record


def test_reports_under_unknown_or_foreign_licences_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    """No licence, a sender who is not the licensee, a licence of another CMO: refused."""
    with pytest.raises(UnknownLicenceError, match="no state in the grant register"):
        invoice(engine, tmp_path, header(), tokens(5))
    grant(engine)
    with pytest.raises(NotLicenseeError, match="granted to PADPIDA2026CADENZA"):
        invoice(engine, tmp_path, header(sender="PADPIDA2026INTRUDER"), tokens(5))
    with pytest.raises(ReportRefusedError, match="not by this CMO"):
        invoice(engine, tmp_path, header(), tokens(5), settings=RoyaltySettings("PADPIDA2026X"))


def test_a_one_off_fee_is_charged_on_the_first_report_only(engine: Engine, tmp_path: Path) -> None:
    """Q1 pays the one-off fee of 5 000.00; Q2 does not; a correction of Q1 keeps it."""
    grant(engine, terms(flat("T-ONCE", "5000.00", "OneOff")))
    q1 = invoice(engine, tmp_path, header("Q1"), tokens(5))
    q2 = invoice(
        engine, tmp_path, header("Q2", period=(date(2026, 4, 1), date(2026, 6, 30))), tokens(5)
    )
    fixed = invoice(engine, tmp_path, header("Q1-C", correction_of="Q1"), tokens(6))
    assert q1.invoice is not None
    assert q1.invoice.total == Decimal("5000.00")
    assert (q2.documents, fixed.documents) == ([], [])
    assert any("one-off fee" in note for note in q2.notes)
    assert balance(engine, receivable()) == Decimal("5000.00")


# --- held usage and warnings -------------------------------------------------------------------


def test_warnings_list_a_thousand_held_records_then_say_where_the_rest_are(
    engine: Engine, tmp_path: Path
) -> None:
    """1 005 opted-out records: the acknowledgement lists 1 000, then MoreHeldRecords saying
    5 more are kept; `held_records` gives all 1 005 back, in line order."""
    grant(engine)
    opted = [isrc(100 + i) for i in range(1005)]
    registry = FakeRegistry(FakeChecker(reasons=dict.fromkeys(opted, Reason.OPTED_OUT)))
    rows = numbered([row(W1, TRAIN, 1_000_000)] + [row(w, TRAIN, 3) for w in opted])
    result = invoice(engine, tmp_path, header(), rows, registry=registry)
    codes = [w.code for w in result.warnings]
    assert codes == ["OptedOut"] * 1000 + ["MoreHeldRecords"]
    assert "5 more held records" in result.warnings[-1].message
    first = result.warnings[0]
    assert first.line is not None
    assert first.file is not None
    lines = Path(first.file).read_text().splitlines()
    assert opted[0] in "".join(lines[first.line - 1 : first.line + 2])
    ack = airex.serialise(result.acknowledgement())
    assert airex.check(ack).errors == []
    assert isinstance(airex.parse(ack), AcknowledgementMessage)
    kept = list(held_records(engine, "CAD-UR-2026-Q1"))
    assert [h.work_ids for h in kept] == [(f"ISRC::{w}",) for w in opted]
    assert [h.line for h in kept] == sorted(h.line for h in kept)
    assert {h.reason for h in kept} == {"OptedOut"}
    assert result.invoice is not None
    assert result.invoice.total == Decimal("2.00")


def test_a_flat_file_report_cannot_price_a_revenue_share(engine: Engine, tmp_path: Path) -> None:
    """A gzip flat file split in two parts: per-unit usage is invoiced, the revenue share is
    not (flat files carry no revenue): a RevenueNotReported warning, its usage held."""
    grant(
        engine,
        terms(per_unit("T-TOK", "2.00", "Token", 1_000_000, TRAIN), revenue("T-REV", "10", INPUT)),
    )
    rows = numbered(
        [row(W1, TRAIN, 1_000_000), row(W2, INPUT, 4, "Retrieval"), row(W3, TRAIN, 500_000)]
    )
    from airex.formats.usage import open_writer

    report = header()
    with open_writer(
        tmp_path / "q1.tsv.gz", report, number_of_records=len(rows), split_records=2
    ) as writer:
        writer.write_all(rows)
    service = InvoiceService(engine, RoyaltySettings(CMO), FakeRegistry())
    result = service.invoice(open_report(writer.paths[0]), today=TODAY)
    assert result.invoice is not None
    assert result.invoice.total == Decimal("3.00")
    assert [w.code for w in result.warnings] == ["RevenueNotReported", "RevenueNotReported"]
    assert result.held_by_reason == {"RevenueNotReported": 1}
    assert result.warnings[1].file is not None
    assert "q1_" in result.warnings[1].file


def test_a_zero_total_issues_no_invoice(engine: Engine, tmp_path: Path) -> None:
    """Usage that prices to 0.00 (3 tokens at 0.01 per 10^6): stored, nothing invoiced."""
    grant(engine, terms(per_unit("T", "0.01", "Token", 1_000_000)))
    result = invoice(engine, tmp_path, header(), tokens(3))
    assert (result.documents, result.total_minor, [ln.amount_minor for ln in result.lines]) == (
        [],
        0,
        [0],
    )
    assert Journal(engine).entries() == []


def test_invoices_for_period_lists_documents_by_period_end(engine: Engine, tmp_path: Path) -> None:
    """Q1's invoice and correction documents end in Q1; Q2's in Q2."""
    grant(engine)
    invoice(engine, tmp_path, header("Q1"), tokens(1_000_000))
    invoice(engine, tmp_path, header("Q1-C", correction_of="Q1"), tokens(500_000))
    invoice(
        engine,
        tmp_path,
        header("Q2", period=(date(2026, 4, 1), date(2026, 6, 30))),
        tokens(2_000_000),
    )
    q1 = invoices_for_period(engine, date(2026, 1, 1), date(2026, 3, 31))
    assert [(s.invoice_id, s.invoice_type, s.total_minor, s.report_id) for s in q1] == [
        ("CN-Q1-C", "CreditNote", 100, "Q1-C"),
        ("INV-Q1", "Invoice", 200, "Q1"),
    ]
    q2 = invoices_for_period(engine, date(2026, 4, 1), date(2026, 6, 30), invoice_type="Invoice")
    assert [s.invoice_id for s in q2] == ["INV-Q2"]
    assert Money(q2[0].total_minor, "EUR").amount == Decimal("4.00")


def test_the_real_registry_decides_what_is_priced(engine: Engine, tmp_path: Path) -> None:
    """With the registry (opt-in regime): the opted-in work is priced with its work key, the
    opted-out one and the undeclared one are held with their reasons."""
    from airex.registry import Registry, RegistrySettings

    declare(engine, opted_in=[W1], opted_out=[W2])
    grant(engine)
    registry = Registry(engine, RegistrySettings())
    path = write_report(tmp_path / "q1.xml", header(), tokens(1_000_000, 2_000_000, 3_000_000))
    result = InvoiceService(engine, RoyaltySettings(CMO), registry).invoice(
        open_report(path), today=TODAY
    )
    assert result.held_by_reason == {"OptedOut": 1, "UnknownWork": 1}
    assert result.invoice is not None
    assert result.invoice.total == Decimal("2.00")
    loaded = load_priced_invoice(engine, result.invoice.invoice_id)
    assert loaded.report.works.ids == [(f"ISRC::{W1}",)]
    assert registry.resolve([("ISRC", W1)]) == {("ISRC", W1): loaded.report.works.keys[0]}


def test_a_report_id_too_long_for_an_invoice_id_gets_a_hashed_one(
    engine: Engine, tmp_path: Path
) -> None:
    """A 64-character ReportId cannot take the INV- prefix: the InvoiceId becomes INV- and
    40 hex digits, still a valid Identifier of at most 64 characters, and stable."""
    grant(engine)
    report_id = "R" * 64
    report = header(report_id, message_id="MSG-LONG")
    result = invoice(engine, tmp_path, report, tokens(1_000_000), name="long.xml")
    assert result.invoice is not None
    invoice_id = result.invoice.invoice_id
    assert len(invoice_id) == 44
    assert invoice_id.startswith("INV-")
    assert int(invoice_id[4:], 16) >= 0
    assert parsed(result.invoice.message).invoice.invoice_id == invoice_id
    again = invoice(engine, tmp_path, report, tokens(1_000_000), name="long.xml")
    assert again.invoice == result.invoice
