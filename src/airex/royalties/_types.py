"""What pricing hands to distribution, and what distribution hands to statements: plain data.

The contract between :mod:`airex.royalties.pricing` and :mod:`airex.royalties.distribution`.

* Money is always an ``int`` count of the currency's minor units (``1250`` = EUR 12.50); the
  currency travels beside it.
* Weights are non-negative ``int``s, so that every split is exact integer arithmetic with
  largest-remainder rounding. Units are ``int`` micro-units (a usage Quantity has at most 6
  fraction digits, so ``units_micro = Quantity × 10⁶`` exactly).
* A report names up to millions of works, so the per-work parts are columnar (parallel
  sequences indexed by the work's position in :class:`ReportWorks`), never one object per
  work: this is what keeps a 10-million-record report inside the memory budget.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from airex.errors import MessageError

__all__ = [
    "UNITS",
    "USE_TYPES",
    "Basis",
    "HeldRecord",
    "PricedInvoice",
    "PricedLine",
    "PricedReport",
    "ReportUsage",
    "ReportWorks",
]

USE_TYPES: tuple[str, ...] = (
    "UseForTrainingGenerativeAI",
    "UseForTrainingNonGenerativeAI",
    "UseForDataMining",
    "UseAsAIInput",
    "UseForAISearchIndexing",
)
"""Use types by index (``use_type_index`` values point here)."""

UNITS: tuple[str, ...] = ("Work", "Token", "Retrieval", "Output", "Request", "Byte", "Second")
"""Units by index (``unit_index`` values of :class:`ReportUsage` point here)."""


class Basis(StrEnum):
    """How a priced line's money is shared among the works it covers."""

    UNITS = "units"
    """Pro rata to the units reported (PerUnit; RevenueShare where no AttributionShare)."""
    EQUAL = "equal"
    """Equally over the works used (FlatFee, MinimumGuarantee, PerWork)."""
    ATTRIBUTION = "attribution"
    """Pro rata to the reported AttributionShare (RevenueShare where reported)."""


@dataclass(slots=True)
class ReportWorks:
    """The distinct works a report's permitted usage names, by position.

    ``keys[i]`` is the registry's key of work ``i`` (``None``: the registry does not know it,
    its money goes to suspense); ``ids[i]`` its identifiers as reported, in the flat form
    (``ISRC::GBLFR2500101``), for statements and suspense follow-up.
    """

    keys: list[int | None] = field(default_factory=list)
    ids: list[tuple[str, ...]] = field(default_factory=list)


@dataclass(slots=True)
class PricedLine:
    """One invoice line: a tariff applied to the report's permitted usage.

    The basis rows (one per work and use type the line covers) are the parallel sequences
    ``work_index`` (into :class:`ReportWorks`), ``use_type_index`` (into :data:`USE_TYPES`),
    ``weight`` (the work's share of the line's money under ``basis``) and ``units_micro``
    (what it reported, shown on statements).
    """

    line_number: int
    tariff_id: str
    tariff_type: str
    description: str
    amount_minor: int
    basis: Basis
    work_index: Sequence[int]
    use_type_index: Sequence[int]
    weight: Sequence[int]
    units_micro: Sequence[int]
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    use_type_mask: int = 0
    """The use types the tariff covers, as bits (``1 << use type index``)."""
    unit: str | None = None
    """The unit a PerUnit tariff prices (its basis rows are that unit's usage only)."""


def _longs() -> array[int]:
    return array("q")


def _smalls() -> array[int]:
    return array("b")


@dataclass(slots=True)
class ReportUsage:
    """A report's permitted, priced usage, aggregated per (work, use type, unit), columnar.

    Row ``i`` says that work ``work_position[i]`` (into :class:`ReportWorks`) was used for
    :data:`USE_TYPES` ``[use_type_index[i]]`` for ``units_micro[i]`` millionths of
    :data:`UNITS` ``[unit_index[i]]``, with AttributionShares summing to
    ``attribution_micro[i]`` millionths. Rows are sorted by (work, use type, unit) and unique.
    Every priced line's basis rows are derived from these rows
    (:func:`airex.royalties.pricing.line_basis`).
    """

    work_position: array[int] = field(default_factory=_longs)
    use_type_index: array[int] = field(default_factory=_smalls)
    unit_index: array[int] = field(default_factory=_smalls)
    units_micro: Sequence[int] = field(default_factory=list)
    attribution_micro: Sequence[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.work_position)


@dataclass(frozen=True, slots=True)
class HeldRecord:
    """A usage record that was not priced (outside the licence), kept for follow-up."""

    file: str
    line: int
    work_ids: tuple[str, ...]
    use_type: str
    quantity: Decimal
    unit: str
    reason: str
    """A :class:`airex.registry.Reason` value, or another code saying why it was held."""


@dataclass(slots=True)
class PricedReport:
    """A usage report priced under its licence: the invoice lines and what was held back."""

    report_id: str
    licence_id: str
    currency: str
    works: ReportWorks
    lines: list[PricedLine]
    held: list[HeldRecord] = field(default_factory=list)
    """Held records kept in memory (empty when pricing streams them to a sink, as it does)."""
    usage: ReportUsage | None = None
    """The priced usage the lines' basis rows derive from (``None`` when not loaded)."""
    records: int = 0
    """Usage records read (priced + held)."""
    held_records: int = 0
    """Records held back (not priced)."""
    held_by_reason: dict[str, int] = field(default_factory=dict)
    """Held records per reason code."""
    warnings: list[MessageError] = field(default_factory=list)
    """Report-level warnings for the acknowledgement (e.g. ``RevenueNotReported``)."""
    notes: list[str] = field(default_factory=list)
    """Plain-language notes on how the report was priced (one-off fees already charged...)."""
    content_hash: str = ""
    """SHA-256 of what the report says (header and usage, independent of any decision)."""

    @property
    def total_minor(self) -> int:
        """The invoice total: the exact sum of the lines."""
        return sum(line.amount_minor for line in self.lines)


@dataclass(slots=True)
class PricedInvoice:
    """An issued invoice (or credit note) with the priced report behind it, as stored.

    What distribution needs to share a payment of this invoice: the parties, the period, the
    currency, and the lines with their basis rows. ``territories`` is the licence's territory
    (codes, or ``("Worldwide",)``), used to pick the rightsholders' share group.
    """

    invoice_id: str
    invoice_type: str
    """``"Invoice"`` or ``"CreditNote"``."""
    licence_id: str
    licensor: str
    licensee: str
    period_start: date
    period_end: date
    territories: tuple[str, ...]
    report: PricedReport
