"""The airex message standard 1.0: models of the ten families; parse, serialise, validate.

>>> from airex.messages import parse, serialise, check
>>> msg = parse(b"...")                  # doctest: +SKIP
>>> check(serialise(msg)).valid          # doctest: +SKIP
True

One module per family (``declaration``, ``offer``, ``request``, ``licence``, ``usage``,
``invoice``, ``payment``, ``statement``, ``acknowledgement``, ``manifest``); shared types in
``common``, licence terms in ``terms``, allowed-value sets in ``codes``.
"""

from airex.messages._api import (
    MESSAGE_TYPES,
    CheckResult,
    Source,
    check,
    is_valid,
    iter_errors,
    parse,
    serialise,
    validate,
)
from airex.messages._schema import schema_error, xml_schema
from airex.messages.acknowledgement import (
    Acknowledgement,
    AcknowledgementError,
    AcknowledgementMessage,
)
from airex.messages.common import (
    NAMESPACE,
    SCHEMA_VERSION,
    AirexMessage,
    Amount,
    MessageHeader,
    Party,
    Period,
    Territory,
    WorkId,
    new_message_id,
    utc_now,
)
from airex.messages.declaration import (
    AIUsePreference,
    Contributor,
    RightsShare,
    Work,
    WorkDeclarationMessage,
    WorkList,
)
from airex.messages.error_codes import CODES, ErrorCode
from airex.messages.invoice import Invoice, InvoiceLine, InvoiceMessage
from airex.messages.licence import Licence, LicenceMessage
from airex.messages.manifest import HashSum, ManifestMessage, MessageInBatch
from airex.messages.offer import LicenceOfferMessage, Offer
from airex.messages.payment import Payment, PaymentNotificationMessage, SettledDocument
from airex.messages.request import LicenceRequest, LicenceRequestMessage
from airex.messages.statement import (
    RoyaltyStatement,
    RoyaltyStatementMessage,
    StatementLine,
    StatementTotal,
)
from airex.messages.terms import (
    AllRepresentedWorks,
    LicenceTerms,
    Repertoire,
    ReportingObligation,
    Tariff,
    Term,
    WorkIdList,
    WorkTypeList,
)
from airex.messages.usage import (
    Model,
    Quantity,
    ReportedRevenue,
    UsageRecord,
    UsageRecordList,
    UsageReport,
    UsageReportMessage,
    UsageSummary,
)

__all__ = [
    "CODES",
    "MESSAGE_TYPES",
    "NAMESPACE",
    "SCHEMA_VERSION",
    "AIUsePreference",
    "Acknowledgement",
    "AcknowledgementError",
    "AcknowledgementMessage",
    "AirexMessage",
    "AllRepresentedWorks",
    "Amount",
    "CheckResult",
    "Contributor",
    "ErrorCode",
    "HashSum",
    "Invoice",
    "InvoiceLine",
    "InvoiceMessage",
    "Licence",
    "LicenceMessage",
    "LicenceOfferMessage",
    "LicenceRequest",
    "LicenceRequestMessage",
    "LicenceTerms",
    "ManifestMessage",
    "MessageHeader",
    "MessageInBatch",
    "Model",
    "Offer",
    "Party",
    "Payment",
    "PaymentNotificationMessage",
    "Period",
    "Quantity",
    "Repertoire",
    "ReportedRevenue",
    "ReportingObligation",
    "RightsShare",
    "RoyaltyStatement",
    "RoyaltyStatementMessage",
    "SettledDocument",
    "Source",
    "StatementLine",
    "StatementTotal",
    "Tariff",
    "Term",
    "Territory",
    "UsageRecord",
    "UsageRecordList",
    "UsageReport",
    "UsageReportMessage",
    "UsageSummary",
    "Work",
    "WorkDeclarationMessage",
    "WorkId",
    "WorkIdList",
    "WorkList",
    "WorkTypeList",
    "check",
    "is_valid",
    "iter_errors",
    "new_message_id",
    "parse",
    "schema_error",
    "serialise",
    "utc_now",
    "validate",
    "xml_schema",
]
