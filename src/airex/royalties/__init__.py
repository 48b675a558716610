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

Distribution and statements (the second half)::

    from airex.royalties import Distributor, DistributionSettings, PeriodSpec, write_statements

    distributor = Distributor(engine, DistributionSettings.from_settings(settings),
                              shares=registry.shares)
    distributor.record_payment(payment_message)        # and distributes what it settles
    write_statements(engine, PeriodSpec.parse("2026-Q2"), out_dir)

* :class:`Distributor` — payments recorded against invoices, each paid amount distributed
  to works and rightsholders (less the administration fee, the rest to suspense) and posted
  in the ledger, idempotently (``docs/royalties-distribution.md``); its invoices come from
  pricing's store or any other source answering with a :class:`PayableInvoice` (the narrow
  view a payment needs; :class:`InvoiceSummary` is pricing's full listing of a document);
* :func:`build_statements`, :func:`write_statements` — one RoyaltyStatementMessage per
  rightsholder and currency per period.
"""

from airex.royalties._store import (
    InvoiceSummary,
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
from airex.royalties._warnings import (
    WARNING_LIMIT,
    held_warning,
    refusal_acknowledgement,
    warnings_for,
)
from airex.royalties.distribution import (
    Distribution,
    DistributionLine,
    DistributionSettings,
    DistributionSummary,
    Distributor,
    PayableInvoice,
    PeriodSpec,
    RecordedPayment,
    SuspenseLine,
    SuspenseReason,
    distribute,
)
from airex.royalties.errors import (
    DistributionError,
    NotLicenseeError,
    OverpaymentError,
    PaymentDateError,
    PaymentError,
    PricingError,
    ReportConflictError,
    ReportRefusedError,
    RoyaltiesConfigError,
    RoyaltiesError,
    UnknownInvoiceError,
    UnknownLicenceError,
    UnknownReportError,
    UnknownSettledDocumentError,
    ZeroPaymentError,
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
from airex.royalties.statements import (
    Statement,
    StatementsResult,
    build_statements,
    statement_id,
    write_statements,
)

__all__ = [
    "HELD_REASONS",
    "UNITS",
    "USE_TYPES",
    "WARNING_LIMIT",
    "Basis",
    "CheckerSource",
    "Distribution",
    "DistributionError",
    "DistributionLine",
    "DistributionSettings",
    "DistributionSummary",
    "Distributor",
    "HeldRecord",
    "InvoiceResult",
    "InvoiceService",
    "InvoiceSummary",
    "IssuedDocument",
    "NotLicenseeError",
    "OverpaymentError",
    "PayableInvoice",
    "PaymentDateError",
    "PaymentError",
    "PeriodSpec",
    "PricedInvoice",
    "PricedLine",
    "PricedLineSummary",
    "PricedReport",
    "PricingContext",
    "PricingError",
    "RecordedPayment",
    "RefuseAll",
    "ReportConflictError",
    "ReportRefusedError",
    "ReportUsage",
    "ReportWorks",
    "RoyaltiesConfigError",
    "RoyaltiesError",
    "RoyaltySettings",
    "Statement",
    "StatementsResult",
    "SuspenseLine",
    "SuspenseReason",
    "UnknownInvoiceError",
    "UnknownLicenceError",
    "UnknownReportError",
    "UnknownSettledDocumentError",
    "UsageCheck",
    "ZeroPaymentError",
    "billing_fraction",
    "build_statements",
    "current_revision",
    "distribute",
    "head_revision",
    "held_records",
    "held_warning",
    "invoice_message",
    "invoice_summary",
    "invoices_for_period",
    "line_basis",
    "load_priced_invoice",
    "price_report",
    "refusal_acknowledgement",
    "require_current",
    "statement_id",
    "upgrade",
    "warnings_for",
    "write_statements",
]
