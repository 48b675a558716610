"""Royalties: price usage reports into invoices; distribute paid money; royalty statements.

Pricing and invoicing (this part's first half)::

    from airex.royalties import InvoiceService, RoyaltySettings
    from airex.registry import Registry, RegistrySettings
    from airex.formats.usage import open_report

    registry = Registry(engine, RegistrySettings.from_env())
    service = InvoiceService(engine, RoyaltySettings.from_env(), registry)
    result = service.invoice(open_report("q1.tsv.gz"), today=date(2026, 4, 20))
    result.invoice.message                 # the InvoiceMessage (bytes), or result.invoice None
    result.acknowledgement()               # MessageAccepted; held usage listed as warnings

* :func:`price_report` — the pure core (no database): one streaming pass over the records,
  the tariffs applied (:mod:`airex.royalties.pricing` says exactly how);
* :class:`InvoiceService` — licence lookup, pricing, storage, the InvoiceMessage (or
  CreditNote for a correction that lowers the amount), the ledger posting, idempotent;
* :func:`load_priced_invoice`, :func:`invoices_for_period` — what distribution reads back;
  :func:`held_records` — the usage held back, for follow-up.
"""

from airex.royalties._store import (
    InvoiceSummary,
    UnknownInvoiceError,
    held_records,
    invoice_message,
    invoice_summary,
    invoices_for_period,
    load_priced_invoice,
)
from airex.royalties._types import (
    UNITS,
    USE_TYPES,
    Basis,
    HeldRecord,
    PricedInvoice,
    PricedLine,
    PricedReport,
    ReportUsage,
    ReportWorks,
)
from airex.royalties._warnings import WARNING_LIMIT, held_warning, warnings_for
from airex.royalties.errors import (
    NotLicenseeError,
    PricingError,
    ReportConflictError,
    ReportRefusedError,
    RoyaltiesConfigError,
    RoyaltiesError,
    UnknownLicenceError,
    UnknownReportError,
)
from airex.royalties.pricing import (
    HELD_REASONS,
    PricingContext,
    RefuseAll,
    UsageCheck,
    billing_fraction,
    line_basis,
    price_report,
)
from airex.royalties.schema import current_revision, head_revision, require_current, upgrade
from airex.royalties.service import (
    CheckerSource,
    InvoiceResult,
    InvoiceService,
    IssuedDocument,
    PricedLineSummary,
)
from airex.royalties.settings import RoyaltySettings

__all__ = [
    "HELD_REASONS",
    "UNITS",
    "USE_TYPES",
    "WARNING_LIMIT",
    "Basis",
    "CheckerSource",
    "HeldRecord",
    "InvoiceResult",
    "InvoiceService",
    "InvoiceSummary",
    "IssuedDocument",
    "NotLicenseeError",
    "PricedInvoice",
    "PricedLine",
    "PricedLineSummary",
    "PricedReport",
    "PricingContext",
    "PricingError",
    "RefuseAll",
    "ReportConflictError",
    "ReportRefusedError",
    "ReportUsage",
    "ReportWorks",
    "RoyaltiesConfigError",
    "RoyaltiesError",
    "RoyaltySettings",
    "UnknownInvoiceError",
    "UnknownLicenceError",
    "UnknownReportError",
    "UsageCheck",
    "billing_fraction",
    "current_revision",
    "head_revision",
    "held_records",
    "held_warning",
    "invoice_message",
    "invoice_summary",
    "invoices_for_period",
    "line_basis",
    "load_priced_invoice",
    "price_report",
    "require_current",
    "upgrade",
    "warnings_for",
]
