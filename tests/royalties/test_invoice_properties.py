"""Invariants of invoicing over corrections (hypothesis, on SQLite): never double-counted."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from pathlib import Path

from _pricing_support import (
    CMO,
    DEV,
    TRAIN,
    FakeRegistry,
    header,
    isrc,
    licence_message,
    numbered,
    per_unit,
    record_licence,
    row,
    sqlite_engine,
    terms,
    write_report,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from airex.formats.usage import open_report
from airex.ledger import AccountKey, AccountKind, Journal, check_ledger
from airex.royalties import InvoiceService, RoyaltySettings, invoices_for_period

__all__ = ["sqlite_engine"]  # a fixture, imported for pytest

_RUN = itertools.count()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    versions=st.lists(
        st.tuples(
            st.lists(st.integers(0, 3_000_000_000), min_size=1, max_size=4),
            st.booleans(),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_after_any_corrections_the_licensee_owes_what_the_current_version_says(
    sqlite_engine: Engine, tmp_path: Path, versions: list[tuple[list[int], bool]]
) -> None:
    """A report, then corrections (each of the original or of the latest correction, both
    meaning the version in force): after each, the receivable, the pool and Σ invoices −
    Σ credit notes all equal the current version's price; re-pricing any of them changes
    nothing."""
    run = next(_RUN)
    licence = f"LIC-P{run}"
    record_licence(
        sqlite_engine,
        licence_message(terms(per_unit("T", "2.00", "Token", 1_000_000, TRAIN)), licence=licence),
    )
    service = InvoiceService(sqlite_engine, RoyaltySettings(CMO), FakeRegistry())
    receivable = AccountKey(DEV, AccountKind.LICENSEE_RECEIVABLE, "EUR", licence)
    pool = AccountKey(CMO, AccountKind.DISTRIBUTABLE_POOL, "EUR", licence)
    journal = Journal(sqlite_engine)
    paths = []
    for index, (quantities, of_original) in enumerate(versions):
        report_id = f"R{run}-{index}"
        correction_of = None
        if index:
            correction_of = f"R{run}-0" if of_original else f"R{run}-{index - 1}"
        report = header(report_id, licence=licence, correction_of=correction_of)
        rows = numbered(row(isrc(i + 1), TRAIN, q) for i, q in enumerate(quantities))
        path = write_report(tmp_path / f"{report_id}.xml", report, rows)
        paths.append(path)
        service.invoice(open_report(path), today=date(2026, 4, 20))
        # 2.00 per 10^6 tokens, half-up to the cent
        expected = (Decimal(sum(quantities)) * 2 / 10**6).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        assert journal.balance(receivable).amount == expected
        assert journal.balance(pool).amount == -expected
        documents = invoices_for_period(
            sqlite_engine, date(2026, 1, 1), date(2026, 3, 31), licence_id=licence
        )
        net = sum(
            d.total_minor if d.invoice_type == "Invoice" else -d.total_minor for d in documents
        )
        assert Decimal(net) / 100 == expected
    entries = len(journal.entries())
    for path in paths:
        assert not service.invoice(open_report(path), today=date(2026, 4, 20)).created
    assert len(journal.entries()) == entries
    assert check_ledger(sqlite_engine).ok
