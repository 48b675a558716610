"""The money ledger: balanced entries, idempotency keys, reversals, balances, exactness."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from airex.ledger import (
    AccountKey,
    AccountKind,
    IdempotencyConflictError,
    InvalidAmountError,
    Journal,
    Money,
    NewEntry,
    PostingLine,
    ReversalError,
    SchemaNotCurrentError,
    UnbalancedEntryError,
    UnknownEntryError,
    credit,
    debit,
)
from parties import CMO01 as CMO
from parties import DEV01 as DEV

if TYPE_CHECKING:
    from conftest import Backend

RECEIVABLE = AccountKey(DEV, AccountKind.LICENSEE_RECEIVABLE, "EUR")
POOL = AccountKey(CMO, AccountKind.DISTRIBUTABLE_POOL, "EUR", "LIC-1")
CASH = AccountKey(CMO, AccountKind.CASH, "EUR")
FEE = AccountKey(CMO, AccountKind.ADMIN_FEE_REVENUE, "EUR")
CASH_USD = AccountKey(CMO, AccountKind.CASH, "USD")
RECEIVABLE_USD = AccountKey(DEV, AccountKind.LICENSEE_RECEIVABLE, "USD")
CASH_JPY = AccountKey(CMO, AccountKind.CASH, "JPY")

APRIL = date(2026, 4, 1)


def invoice(key: str = "INV-1", amount: str = "625.00", on: date = APRIL) -> NewEntry:
    """Invoice a licensee: receivable up, the licence's pool credited."""
    return NewEntry(key, on, [debit(RECEIVABLE, amount), credit(POOL, amount)], f"Invoice {key}")


def test_post_creates_an_entry_with_its_postings(backend: Backend) -> None:
    """A posted entry comes back with its id, key, date, description and signed postings."""
    result = backend.journal().post(invoice())
    assert result.created is True
    entry = result.entry
    assert (entry.idempotency_key, entry.effective_on, entry.description) == (
        "INV-1",
        APRIL,
        "Invoice INV-1",
    )
    assert [(p.account.label(), p.amount, p.side) for p in entry.postings] == [
        (f"{DEV}/licensee_receivable/EUR", Decimal("625.00"), "debit"),
        (f"{CMO}/distributable_pool/EUR/LIC-1", Decimal("-625.00"), "credit"),
    ]


def test_same_key_same_content_returns_the_first_entry(backend: Backend) -> None:
    """Posting a key again (postings in another order) posts nothing and returns the first."""
    journal = backend.journal()
    first = journal.post(invoice())
    again = journal.post(
        NewEntry("INV-1", APRIL, [credit(POOL, "625"), debit(RECEIVABLE, "625")], "Invoice INV-1")
    )
    assert (again.created, again.entry.id) == (False, first.entry.id)
    assert len(journal.entries()) == 1
    assert journal.balance(POOL) == Money.of("-625.00", "EUR")


def test_same_key_different_content_is_an_error(backend: Backend) -> None:
    """A key reused for different content raises, naming the key and the stored entry."""
    journal = backend.journal()
    first = journal.post(invoice())
    with pytest.raises(IdempotencyConflictError, match="'INV-1' was posted before") as caught:
        journal.post(invoice(amount="625.01"))
    assert (caught.value.key, caught.value.existing_id) == ("INV-1", first.entry.id)
    assert journal.balance(POOL) == Money.of("-625.00", "EUR")


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        ([debit(RECEIVABLE, "10")], "has 1 posting"),
        ([debit(RECEIVABLE, "10"), credit(POOL, "9.99")], "sum to 0.01 EUR"),
        ([debit(CASH, "10"), credit(RECEIVABLE_USD, "10")], "-10.00 USD"),
    ],
)
def test_unbalanced_entries_never_reach_the_database(lines: list[PostingLine], match: str) -> None:
    """Fewer than two postings, or sums other than zero per currency, are refused up front."""
    with pytest.raises(UnbalancedEntryError, match=match):
        NewEntry("K", APRIL, lines)


def test_an_entry_may_balance_in_several_currencies(backend: Backend) -> None:
    """Four postings, two currencies, each summing to zero: one valid entry."""
    entry = NewEntry(
        "FX-1",
        APRIL,
        [
            debit(CASH, "90"),
            credit(RECEIVABLE, "90"),
            debit(CASH_USD, "100"),
            credit(RECEIVABLE_USD, "100"),
        ],
    )
    backend.journal().post(entry)
    assert backend.journal().balance(CASH_USD) == Money.of("100", "USD")


def test_postings_are_refused_when_they_cannot_be_right() -> None:
    """Zero, negative or wrong-currency postings, and a pool without its licence, are refused."""
    with pytest.raises(InvalidAmountError, match="positive amount"):
        debit(CASH, "-5")
    with pytest.raises(InvalidAmountError, match="positive amount"):
        credit(CASH, "0")
    with pytest.raises(UnbalancedEntryError, match="currency is not the account's"):
        PostingLine(CASH, Money.of("1", "USD"))
    with pytest.raises(UnbalancedEntryError, match="per licence; give its licence_id"):
        AccountKey(CMO, AccountKind.DISTRIBUTABLE_POOL, "EUR")
    with pytest.raises(UnbalancedEntryError, match="surrounding white space"):
        AccountKey(" x", AccountKind.CASH, "EUR")
    with pytest.raises(UnbalancedEntryError, match="idempotency key is empty"):
        NewEntry("", APRIL, [debit(CASH, "1"), credit(FEE, "1")])


def test_four_decimals_in_a_zero_decimal_currency_are_refused() -> None:
    """1.2345 JPY does not fit JPY's minor unit (the yen): refused, never rounded."""
    with pytest.raises(
        InvalidAmountError, match=r"1\.2345 JPY has 4 fraction digits but JPY has 0"
    ):
        debit(CASH_JPY, "1.2345")
    assert debit(CASH_JPY, "1250").amount == Money(1250, "JPY")


def test_amounts_are_exact_over_ten_thousand_entries(backend: Backend) -> None:
    """0.1 + 0.2, posted 10 000 times, is exactly 3000.00 (as floats it would not be)."""
    assert sum([0.1] * 10_000) + sum([0.2] * 10_000) != 3000.0  # why the ledger avoids floats
    journal = backend.journal()
    entries = [
        NewEntry(
            f"E{i}", APRIL, [debit(CASH, "0.1"), debit(RECEIVABLE, "0.2"), credit(POOL, "0.3")]
        )
        for i in range(10_000)
    ]
    refs = journal.post_many(entries, batch_size=2500)
    assert sum(ref.created for ref in refs) == 10_000
    assert journal.balance(CASH) == Money.of("1000.00", "EUR")
    assert journal.balance(RECEIVABLE) == Money.of("2000.00", "EUR")
    assert journal.balance(POOL).amount == Decimal("-3000.00")
    assert journal.balance(POOL, as_of=APRIL).minor == -300_000
    with backend.engine.connect() as connection:
        column = (
            "typeof(amount_minor)" if backend.name == "sqlite" else "pg_typeof(amount_minor)::text"
        )
        types = (
            connection.execute(sa.text(f"SELECT DISTINCT {column} FROM ledger_posting"))
            .scalars()
            .all()
        )
        total = connection.execute(sa.text("SELECT SUM(amount_minor) FROM ledger_posting")).scalar()
    assert types == (["integer"] if backend.name == "sqlite" else ["bigint"])
    assert total == 0


def test_balances_as_of_dates_follow_effective_dates(backend: Backend) -> None:
    """A balance as of a day counts the entries effective on or before it, in any post order."""
    journal = backend.journal()
    journal.post(invoice("INV-2", "50.00", date(2026, 5, 1)))
    journal.post(invoice("INV-1", "100.00", date(2026, 4, 1)))
    journal.post(
        NewEntry("PAY-1", date(2026, 4, 15), [debit(CASH, "100"), credit(RECEIVABLE, "100")])
    )
    assert journal.balance(RECEIVABLE, as_of=date(2026, 3, 31)) == Money.zero("EUR")
    assert journal.balance(RECEIVABLE, as_of=date(2026, 4, 1)) == Money.of("100", "EUR")
    assert journal.balance(RECEIVABLE, as_of=date(2026, 4, 15)) == Money.zero("EUR")
    assert journal.balance(RECEIVABLE, as_of=date(2026, 5, 1)) == Money.of("50", "EUR")
    assert journal.balance(RECEIVABLE) == Money.of("50", "EUR")
    by_account = {
        b.account.label(): (b.balance, b.posting_count)
        for b in journal.balances(as_of=date(2026, 4, 30))
    }
    assert by_account == {
        f"{CMO}/cash/EUR": (Decimal("100.00"), 1),
        f"{CMO}/distributable_pool/EUR/LIC-1": (Decimal("-100.00"), 1),
        f"{DEV}/licensee_receivable/EUR": (Decimal("0.00"), 2),
    }
    assert [b.account.kind for b in journal.balances(party=DEV)] == [
        AccountKind.LICENSEE_RECEIVABLE
    ]
    assert journal.balance(FEE) == Money.zero("EUR")  # never used: zero, not an error


def test_reversal_negates_an_entry_from_its_date(backend: Backend) -> None:
    """A reversal posts every posting negated; balances before its date still show the original."""
    journal = backend.journal()
    original = journal.post(invoice()).entry
    reversal = journal.reverse(original.id, effective_on=date(2026, 6, 1)).entry
    assert reversal.reverses_entry_id == original.id
    assert [p.amount for p in reversal.postings] == [-p.amount for p in original.postings]
    assert journal.balance(POOL) == Money.zero("EUR")
    assert journal.balance(POOL, as_of=date(2026, 5, 31)) == Money.of("-625", "EUR")


def test_reversing_again_returns_the_first_reversal(backend: Backend) -> None:
    """The default reversal key is per entry: a retried reversal reverses once."""
    journal = backend.journal()
    original = journal.post(invoice()).entry
    first = journal.reverse(original.id, effective_on=APRIL)
    again = journal.reverse(original.id, effective_on=APRIL)
    assert (again.created, again.entry.id) == (False, first.entry.id)
    assert journal.balance(POOL) == Money.zero("EUR")


def test_reversals_that_make_no_sense_are_refused(backend: Backend) -> None:
    """Unknown entries, reversals of reversals and second reversals under another key."""
    journal = backend.journal()
    original = journal.post(invoice()).entry
    reversal = journal.reverse(original.id, effective_on=APRIL).entry
    with pytest.raises(ReversalError, match="no such entry"):
        journal.reverse(999_999, effective_on=APRIL)
    with pytest.raises(ReversalError, match="is itself the reversal of entry"):
        journal.reverse(reversal.id, effective_on=APRIL)
    with pytest.raises(ReversalError, match=f"was reversed already by entry {reversal.id}"):
        journal.reverse(original.id, effective_on=APRIL, idempotency_key="ANOTHER")
    with pytest.raises(UnknownEntryError):
        journal.entry(999_999)


def test_a_batch_is_all_or_nothing(backend: Backend) -> None:
    """A conflict anywhere in a batch rolls back the whole batch, and says which key."""
    journal = backend.journal()
    journal.post(invoice("INV-1"))
    batch = [invoice("INV-2"), invoice("INV-3"), invoice("INV-1", "1.00")]
    with pytest.raises(IdempotencyConflictError, match="INV-1"):
        journal.post_many(batch)
    assert [e.idempotency_key for e in journal.entries()] == ["INV-1"]
    assert journal.balance(POOL) == Money.of("-625", "EUR")


def test_a_batch_may_repeat_a_key_with_the_same_content(backend: Backend) -> None:
    """Duplicates inside one batch post once; the same key with other content does not pass."""
    journal = backend.journal()
    refs = journal.post_many([invoice("A"), invoice("B"), invoice("A")])
    assert [(r.idempotency_key, r.created) for r in refs] == [
        ("A", True),
        ("B", True),
        ("A", False),
    ]
    assert refs[0].entry_id == refs[2].entry_id
    with pytest.raises(IdempotencyConflictError, match="twice in the batch"):
        journal.post_many([invoice("C"), invoice("C", "2.00")])


def test_entries_can_be_listed_per_party(backend: Backend) -> None:
    """The journal lists all entries, those touching a party, or the newest N."""
    journal = backend.journal()
    journal.post(invoice("INV-1"))
    journal.post(NewEntry("FEE-1", APRIL, [debit(CASH, "1"), credit(FEE, "1")]))
    journal.post(invoice("INV-2"))
    assert [e.idempotency_key for e in journal.entries()] == ["INV-1", "FEE-1", "INV-2"]
    assert [e.idempotency_key for e in journal.entries(party=DEV)] == ["INV-1", "INV-2"]
    assert [e.idempotency_key for e in journal.entries(limit=2)] == ["FEE-1", "INV-2"]
    assert journal.entry_by_key("FEE-1") is not None
    assert journal.entry_by_key("nope") is None
    assert [a.label() for a in journal.accounts(party=CMO)] == [
        f"{CMO}/admin_fee_revenue/EUR",
        f"{CMO}/cash/EUR",
        f"{CMO}/distributable_pool/EUR/LIC-1",
    ]


def test_a_database_without_the_schema_is_refused(empty_backend: Backend) -> None:
    """Opening the journal on an unmigrated database says to run airex db upgrade."""
    with pytest.raises(SchemaNotCurrentError, match="run `airex db upgrade`"):
        Journal(empty_backend.engine)
