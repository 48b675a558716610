"""What distribution is configured with, reads and reports: its settings, the invoices it
is paid against (:class:`InvoiceSource`, by default pricing's store), where shares come from,
and the summaries of what it recorded and distributed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import Engine

from airex.royalties._distribution_result import Shares
from airex.royalties._split import percent_ratio
from airex.royalties._types import PricedInvoice
from airex.royalties.errors import DistributionError

if TYPE_CHECKING:
    from airex.royalties.settings import RoyaltySettings

__all__ = [
    "DistributionSettings",
    "DistributionSummary",
    "InvoiceSource",
    "PayableInvoice",
    "RecordedPayment",
    "SharesSource",
    "StoredInvoices",
]


@dataclass(frozen=True, slots=True)
class DistributionSettings:
    """How a CMO distributes: its administration fee, and how postings are batched.

    ``admin_fee_percent`` (0–100, a ``Decimal``) is kept from every rightsholder line's gross
    amount, rounded half-up to the minor unit. ``parties_per_entry`` bounds the postings of
    one ledger entry (a distribution to 100 000 rightsholders is ten balanced entries).
    """

    admin_fee_percent: Decimal = Decimal(15)
    parties_per_entry: int = 10_000

    def __post_init__(self) -> None:
        try:
            percent_ratio(self.admin_fee_percent)
        except ValueError as exc:
            raise DistributionError(f"administration fee: {exc}") from None
        if self.parties_per_entry < 1:
            raise DistributionError(
                f"parties_per_entry must be at least 1, not {self.parties_per_entry}"
            )

    @classmethod
    def from_settings(cls, settings: RoyaltySettings) -> DistributionSettings:
        """The distribution settings of the CMO's :class:`~airex.royalties.RoyaltySettings`
        (``AIREX_ADMIN_FEE_PERCENT`` through ``RoyaltySettings.from_env()``)."""
        return cls(admin_fee_percent=settings.admin_fee_percent)


@dataclass(frozen=True, slots=True)
class PayableInvoice:
    """What recording a payment needs to know of an invoice (the narrow view an
    :class:`InvoiceSource` gives; pricing's full one is
    :class:`~airex.royalties.InvoiceSummary`)."""

    invoice_id: str
    invoice_type: str
    licence_id: str
    licensor: str
    licensee: str
    currency: str
    total_minor: int
    issue_date: date | None = None
    """When it was issued (``None``: not known to this source): a payment cannot precede it."""


class InvoiceSource(Protocol):
    """Where issued invoices come from (pricing's store by default: :class:`StoredInvoices`)."""

    def summary(self, invoice_id: str) -> PayableInvoice | None:
        """The invoice ``invoice_id``, or ``None`` when it was never issued."""

    def load(self, invoice_id: str) -> PricedInvoice:
        """The invoice with its priced report and basis rows."""


SharesSource = Callable[[Sequence[int], date, Sequence[str]], Mapping[int, Shares]]
"""``(work keys, day, territories) → work key → shares``: the shape of
:meth:`airex.registry.Registry.shares`."""


class StoredInvoices:
    """The invoices pricing issued, from its tables (:mod:`airex.royalties.models`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def summary(self, invoice_id: str) -> PayableInvoice | None:
        """The invoice ``invoice_id`` (pricing's ``invoice_summary``), or ``None``."""
        from airex.royalties._store import invoice_summary
        from airex.royalties.errors import UnknownInvoiceError as NotIssued

        try:
            found = invoice_summary(self.engine, invoice_id)
        except NotIssued:
            return None
        return PayableInvoice(
            found.invoice_id,
            found.invoice_type,
            found.licence_id,
            found.licensor,
            found.licensee,
            found.currency,
            int(found.total_minor),
            found.issue_date,
        )

    def load(self, invoice_id: str) -> PricedInvoice:
        """The invoice with its basis rows (pricing's ``load_priced_invoice``)."""
        from airex.royalties._store import load_priced_invoice

        return load_priced_invoice(self.engine, invoice_id)


@dataclass(frozen=True, slots=True)
class DistributionSummary:
    """A stored distribution: whose payment, of which invoice, and where the money went."""

    distribution_id: int
    payer: str
    payment_id: str
    invoice_id: str
    licence_id: str
    licensor: str
    currency: str
    payment_date: date
    paid_minor: int
    gross_minor: int
    fee_minor: int
    net_minor: int
    suspense_minor: int
    parties: int
    lines: int
    created: bool
    """Whether this call stored it (``False``: it was distributed before)."""


@dataclass(frozen=True, slots=True)
class RecordedPayment:
    """One SettledDocument of a payment, as recorded (and distributed, when asked)."""

    payer: str
    payment_id: str
    invoice_id: str
    currency: str
    applied_minor: int
    payment_date: date
    created: bool
    """Whether this call recorded it (``False``: it was recorded before)."""
    distribution: DistributionSummary | None = None
