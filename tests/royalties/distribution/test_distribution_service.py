"""Recording payments and distributing them: ledger postings, idempotency, refusals, recovery.

Every test runs on SQLite and on PostgreSQL (``db`` fixture), with invoices and shares given
in memory (the pricing store and the registry are tested on their own).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from _distribution_support import (
    CMO,
    DEV,
    LICENCE,
    FakeInvoices,
    FakeShares,
    invoice,
    line,
    post_invoice,
)
from sqlalchemy.engine import Engine

from airex.ledger import AccountKey, AccountKind, Journal, check_ledger
from airex.messages import PaymentNotificationMessage
from airex.messages.common import Amount, MessageHeader, Party
from airex.messages.payment import Payment, SettledDocument
from airex.royalties import _distribution_store as store
from airex.royalties._types import Basis, PricedInvoice
from airex.royalties.distribution import (
    DistributionSettings,
    Distributor,
    OverpaymentError,
    PaymentError,
    PeriodSpec,
    UnknownSettledDocumentError,
)
from parties import PUB01 as P1
from parties import PUB02 as P2

SHARES = {1: ((P1, 5000), (P2, 5000)), 2: ((P1, 10000),)}


def q1_invoice(invoice_id: str = "HARM-INV-2026-Q1", currency: str = "EUR") -> PricedInvoice:
    """Per-unit EUR 30.00 over two works (1 000 : 3 000 units) and an MG top-up of EUR 10.00
    over them and an unknown work."""
    return invoice(
        [
            line(1, 3000, Basis.UNITS, [0, 1], [1000, 3000], tariff="T-TOKENS"),
            line(2, 1000, Basis.EQUAL, [0, 1, 2], tariff="T-MG"),
        ],
        [1, 2, None],
        invoice_id=invoice_id,
        currency=currency,
    )


def payment(
    amount: str,
    *,
    payment_id: str = "PAY-1",
    invoice_id: str = "HARM-INV-2026-Q1",
    currency: str = "EUR",
    day: date = date(2026, 5, 2),
    payer: str = DEV,
    document_type: str = "Invoice",
) -> PaymentNotificationMessage:
    """A PaymentNotificationMessage settling one document."""
    return PaymentNotificationMessage(
        message_header=MessageHeader.build(payer, CMO),
        payment=Payment(
            payment_id=payment_id,
            payer=Party(party_id=payer),
            payee=Party(party_id=CMO),
            paid_amount=Amount.of(amount, currency),
            payment_date=day,
            settled_documents=[
                SettledDocument(
                    document_type=document_type,  # type: ignore[arg-type]
                    document_id=invoice_id,
                    applied_amount=Amount.of(amount, currency),
                )
            ],
        ),
    )


def make(engine: Engine, *invoices: PricedInvoice, per_entry: int = 10_000) -> Distributor:
    """A distributor over the invoices (posted in the ledger as pricing would)."""
    for priced in invoices:
        post_invoice(engine, priced)
    return Distributor(
        engine,
        DistributionSettings(Decimal(15), parties_per_entry=per_entry),
        invoices=FakeInvoices(*invoices),
        shares=FakeShares(SHARES),
    )


def balance(
    engine: Engine, party: str, kind: AccountKind, licence: str = "", ccy: str = "EUR"
) -> int:
    """An account's balance in minor units (debit positive)."""
    return Journal(engine).balance(AccountKey(party, kind, ccy, licence)).minor


def entry_count(engine: Engine) -> int:
    """How many journal entries there are."""
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM ledger_entry")).scalar_one())


def test_a_full_payment_is_recorded_distributed_and_posted(db: Engine) -> None:
    """Cash in, receivable and pool cleared, each rightsholder credited its net, fee and
    suspense to the CMO; the ledger checks clean."""
    distributor = make(db, q1_invoice())
    (recorded,) = distributor.record_payment(payment("40.00"))
    assert recorded.created
    assert recorded.applied_minor == 4000
    summary = recorded.distribution
    assert summary is not None
    # T-TOKENS: 750 (work 1, 50/50) + 2250 (work 2, P1); T-MG: 334 (work 1) + 333 + 333 (unknown)
    assert (summary.paid_minor, summary.gross_minor, summary.suspense_minor) == (4000, 3667, 333)
    # P1: 375 + 167 + 2250 + 333 = 3125, fees 56 + 25 + 338 + 50 = 469
    # P2: 375 + 167 = 542, fees 56 + 25 = 81
    assert (summary.fee_minor, summary.net_minor) == (550, 3117)
    assert balance(db, P1, AccountKind.RIGHTSHOLDER_PAYABLE) == -(3125 - 469)
    assert balance(db, P2, AccountKind.RIGHTSHOLDER_PAYABLE) == -(542 - 81)
    assert balance(db, CMO, AccountKind.ADMIN_FEE_REVENUE) == -550
    assert balance(db, CMO, AccountKind.SUSPENSE) == -333
    assert balance(db, CMO, AccountKind.CASH) == 4000
    assert balance(db, CMO, AccountKind.DISTRIBUTABLE_POOL, LICENCE) == 0
    assert balance(db, DEV, AccountKind.LICENSEE_RECEIVABLE, LICENCE) == 0
    assert check_ledger(db).ok


def test_recording_and_distributing_again_posts_nothing(db: Engine) -> None:
    """The same message again, and distribute_pending, change nothing in the ledger."""
    distributor = make(db, q1_invoice())
    distributor.record_payment(payment("40.00"))
    before = entry_count(db)
    (again,) = distributor.record_payment(payment("40.00"))
    assert not again.created
    assert again.distribution is not None
    assert not again.distribution.created
    assert distributor.distribute_pending() == []
    assert distributor.distribute_pending(PeriodSpec.parse("2026")) == []
    assert entry_count(db) == before


def test_partial_payments_distribute_what_was_paid(db: Engine) -> None:
    """Two instalments clear the invoice exactly; a third is an over-payment, refused."""
    distributor = make(db, q1_invoice())
    (first,) = distributor.record_payment(payment("25.00"))
    (second,) = distributor.record_payment(payment("15.00", payment_id="PAY-2"))
    assert first.distribution is not None
    assert second.distribution is not None
    assert first.distribution.paid_minor + second.distribution.paid_minor == 4000
    assert balance(db, DEV, AccountKind.LICENSEE_RECEIVABLE, LICENCE) == 0
    assert balance(db, CMO, AccountKind.DISTRIBUTABLE_POOL, LICENCE) == 0
    with pytest.raises(OverpaymentError, match="only 0 of the invoice's 4000"):
        distributor.record_payment(payment("0.01", payment_id="PAY-3"))
    assert check_ledger(db).ok


def test_payments_that_cannot_be_recorded_are_refused_saying_why(db: Engine) -> None:
    """Unknown invoice, wrong payer, royalty statement, other currency, the same invoice twice
    in one payment, a changed amount: each refused, nothing recorded."""
    distributor = make(db, q1_invoice(), q1_invoice("HARM-INV-JPY", currency="JPY"))
    with pytest.raises(
        UnknownSettledDocumentError, match="SettledDocument NOPE-1: no invoice NOPE-1"
    ):
        distributor.record_payment(payment("1.00", invoice_id="NOPE-1"))
    with pytest.raises(PaymentError, match="issued by PADPIDA2026HARMONIA to PADPIDA2026CADENZA"):
        distributor.record_payment(payment("1.00", payer="PADPIDA2026OTHER"))
    with pytest.raises(PaymentError, match="settles a RoyaltyStatement"):
        distributor.record_payment(payment("1.00", document_type="RoyaltyStatement"))
    with pytest.raises(PaymentError, match="applied in EUR, but invoice HARM-INV-JPY is in JPY"):
        distributor.record_payment(payment("1.00", invoice_id="HARM-INV-JPY"))
    twice = payment("2.00")
    twice.payment.settled_documents = [twice.payment.settled_documents[0]] * 2
    twice.payment.paid_amount = Amount.of("4.00", "EUR")
    with pytest.raises(PaymentError, match="settled twice in one payment"):
        distributor.record_payment(twice)
    distributor.record_payment(payment("1.00"))
    with pytest.raises(PaymentError, match="recorded before with 100 minor units"):
        distributor.record_payment(payment("2.00"))
    assert payment_rows(db) == 1


def payment_rows(engine: Engine) -> int:
    """How many payment rows are recorded."""
    with engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(store.PAYMENT)).scalar_one()
        )


def test_distribution_can_be_deferred_to_distribute_pending(db: Engine) -> None:
    """Payments recorded without distributing are distributed by period, once."""
    distributor = make(db, q1_invoice(), q1_invoice("HARM-INV-2026-Q2"))
    distributor.record_payment(payment("40.00"), distribute=False)
    distributor.record_payment(
        payment("40.00", payment_id="PAY-9", invoice_id="HARM-INV-2026-Q2", day=date(2026, 8, 1)),
        distribute=False,
    )
    assert balance(db, CMO, AccountKind.SUSPENSE) == 0
    done = distributor.distribute_pending(PeriodSpec.parse("2026-Q2"))
    assert [(d.invoice_id, d.created) for d in done] == [("HARM-INV-2026-Q1", True)]
    assert balance(db, CMO, AccountKind.SUSPENSE) == -333
    assert distributor.distribute_pending(PeriodSpec.parse("2026-Q2")) == []
    later = distributor.distribute_pending()
    assert [d.invoice_id for d in later] == ["HARM-INV-2026-Q2"]
    assert [d.invoice_id for d in distributor.distributions(PeriodSpec.parse("2026"))] == [
        "HARM-INV-2026-Q1",
        "HARM-INV-2026-Q2",
    ]


def test_a_distribution_stored_but_not_posted_is_finished_by_the_next_run(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stops between storing and posting leaves it to distribute_pending, which
    posts the same entries once."""
    distributor = make(db, q1_invoice(), per_entry=1)

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("power cut")

    posted_before = entry_count(db)
    with monkeypatch.context() as patch:
        patch.setattr(distributor.journal, "post_many", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            distributor.record_payment(payment("40.00"))
    assert entry_count(db) == posted_before  # nothing posted, not even the cash
    distributor.record_payment(payment("40.00"))  # the retry of the message: cash, then the rest
    (finished,) = distributor.distributions()
    assert not finished.created
    assert balance(db, CMO, AccountKind.DISTRIBUTABLE_POOL, LICENCE) == 0
    # 1 cash + fee/suspense + 2 rightsholder entries (one party each)
    assert entry_count(db) == posted_before + 4
    assert distributor.distribute_pending() == []
    assert check_ledger(db).ok


def test_shares_are_taken_on_the_invoice_period_end_for_the_licence_territory(db: Engine) -> None:
    """The registry is asked once, for the last day of the invoice period and its territory."""
    distributor = make(db, q1_invoice())
    distributor.record_payment(payment("40.00"))
    source = distributor._shares
    assert isinstance(source, FakeShares)
    assert source.asked == [(date(2026, 3, 31), ("Worldwide",))]


def test_a_zero_payment_is_recorded_and_posts_nothing(db: Engine) -> None:
    """An AppliedAmount of 0.00 is recorded and distributed as nothing: no ledger entry."""
    distributor = make(db, q1_invoice())
    before = entry_count(db)
    (recorded,) = distributor.record_payment(payment("0.00"))
    assert recorded.created
    assert recorded.distribution is not None
    assert recorded.distribution.paid_minor == 0
    assert recorded.distribution.parties == 0
    assert entry_count(db) == before
    assert distributor.distribute_pending() == []
