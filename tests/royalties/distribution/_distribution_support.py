"""Shared helpers of the distribution and statement tests: invoices built by hand, fake
sources, and a migrated database on SQLite and on PostgreSQL.

The database fixtures are in ``conftest.py`` beside this file.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, create_engine
from airex.ledger import AccountKey, AccountKind, Journal, Money, NewEntry, PostingLine
from airex.ledger import upgrade as ledger_upgrade
from airex.royalties import PayableInvoice
from airex.royalties._types import (
    USE_TYPES,
    Basis,
    PricedInvoice,
    PricedLine,
    PricedReport,
    ReportWorks,
)
from airex.royalties.schema import upgrade as royalties_upgrade
from parties import CMO, DEV

LICENCE = "HARM-LIC-2026-0042"


def line(
    number: int,
    amount: int,
    basis: Basis,
    works: Sequence[int],
    weights: Sequence[int] | None = None,
    *,
    tariff: str | None = None,
    use_type: str = "UseForTrainingGenerativeAI",
    units: Sequence[int] | None = None,
    tariff_type: str | None = None,
) -> PricedLine:
    """A priced line over ``works`` (positions) with ``weights`` (default: all 1)."""
    count = len(works)
    weight = list(weights) if weights is not None else [1] * count
    return PricedLine(
        line_number=number,
        tariff_id=tariff or f"T-{number}",
        tariff_type=tariff_type
        or {"units": "PerUnit", "equal": "FlatFee"}.get(basis, "RevenueShare"),
        description=f"line {number}",
        amount_minor=amount,
        basis=basis,
        work_index=array("q", works),
        use_type_index=array("q", [USE_TYPES.index(use_type)] * count),
        weight=weight,
        units_micro=list(units) if units is not None else list(weight),
    )


def invoice(
    lines: Sequence[PricedLine],
    keys: Sequence[int | None],
    *,
    currency: str = "EUR",
    invoice_id: str = "HARM-INV-2026-Q1",
    ids: Sequence[tuple[str, ...]] | None = None,
    invoice_type: str = "Invoice",
    licensor: str = CMO,
    licensee: str = DEV,
    licence_id: str = LICENCE,
) -> PricedInvoice:
    """An invoice of ``lines`` over works with registry ``keys`` (``None``: unknown)."""
    work_ids = (
        list(ids)
        if ids is not None
        else [(f"ISRC::GBAAA26{position:05d}",) for position in range(len(keys))]
    )
    report = PricedReport(
        report_id=f"UR-{invoice_id}",
        licence_id=licence_id,
        currency=currency,
        works=ReportWorks(list(keys), work_ids),
        lines=list(lines),
    )
    return PricedInvoice(
        invoice_id=invoice_id,
        invoice_type=invoice_type,
        licence_id=licence_id,
        licensor=licensor,
        licensee=licensee,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 3, 31),
        territories=("Worldwide",),
        report=report,
    )


class FakeInvoices:
    """An :class:`~airex.royalties.distribution.InvoiceSource` over invoices held in memory."""

    def __init__(self, *invoices: PricedInvoice) -> None:
        self.invoices = {inv.invoice_id: inv for inv in invoices}
        self.loads = 0

    def add(self, priced: PricedInvoice) -> None:
        """Issue one more invoice."""
        self.invoices[priced.invoice_id] = priced

    def summary(self, invoice_id: str) -> PayableInvoice | None:
        """The invoice's summary, or None."""
        priced = self.invoices.get(invoice_id)
        if priced is None:
            return None
        return PayableInvoice(
            priced.invoice_id,
            priced.invoice_type,
            priced.licence_id,
            priced.licensor,
            priced.licensee,
            priced.report.currency,
            priced.report.total_minor,
        )

    def load(self, invoice_id: str) -> PricedInvoice:
        """The invoice (counting loads)."""
        self.loads += 1
        return self.invoices[invoice_id]


@dataclass
class FakeShares:
    """A shares source over a dict (records the days and territories asked for)."""

    table: Mapping[int, tuple[tuple[str, int], ...]]

    def __post_init__(self) -> None:
        self.asked: list[tuple[date, tuple[str, ...]]] = []

    def __call__(
        self, work_keys: Sequence[int], on: date, territories: Sequence[str]
    ) -> dict[int, tuple[tuple[str, int], ...]]:
        """The shares of the keys asked for."""
        self.asked.append((on, tuple(territories)))
        return {key: self.table.get(key, ()) for key in work_keys}


def post_invoice(engine: Engine, priced: PricedInvoice) -> None:
    """Post the invoice as pricing does: debit the licensee's receivable, credit the pool."""
    currency = priced.report.currency
    total = priced.report.total_minor
    receivable = AccountKey(
        priced.licensee, AccountKind.LICENSEE_RECEIVABLE, currency, priced.licence_id
    )
    pool = AccountKey(priced.licensor, AccountKind.DISTRIBUTABLE_POOL, currency, priced.licence_id)
    Journal(engine).post(
        NewEntry(
            f"test-invoice:{priced.invoice_id}",
            date(2026, 4, 5),
            [
                PostingLine(receivable, Money(total, currency)),
                PostingLine(pool, Money(-total, currency)),
            ],
        )
    )


def migrated_engine(url: str) -> Engine:
    """An engine on ``url`` with the ledger and royalties schemas at head."""
    engine = create_engine(DatabaseConfig(url=url))
    ledger_upgrade(engine)
    royalties_upgrade(engine)
    return engine
