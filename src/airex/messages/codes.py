"""The standard's allowed-value sets as enums, one per simpleType of ``airex-codes.xsd``.

A test checks that every enum here equals its XSD enumeration, member for member.
"""

from __future__ import annotations

from enum import StrEnum

from airex.errors import MessageStatus  # defined there: the XML layer below messages uses it too

__all__ = [
    "BillingPeriod",
    "ContainsAI",
    "DocumentType",
    "HashSumAlgorithmType",
    "InvoiceType",
    "LicenceStatus",
    "MessageControlType",
    "MessageStatus",
    "MessageType",
    "PartyRole",
    "Preference",
    "ProposedAction",
    "ReportFormat",
    "ReportingFrequency",
    "RevenueType",
    "TariffType",
    "Unit",
    "UseType",
    "UserType",
    "WorkIdType",
    "WorkType",
]


class UseType(StrEnum):
    """Allowed values of ``UseType``."""

    USE_FOR_TRAINING_GENERATIVE_AI = "UseForTrainingGenerativeAI"
    USE_FOR_TRAINING_NON_GENERATIVE_AI = "UseForTrainingNonGenerativeAI"
    USE_FOR_DATA_MINING = "UseForDataMining"
    USE_AS_AI_INPUT = "UseAsAIInput"
    USE_FOR_AI_SEARCH_INDEXING = "UseForAISearchIndexing"


class Unit(StrEnum):
    """Allowed values of ``Unit``."""

    WORK = "Work"
    TOKEN = "Token"  # noqa: S105 - a unit of measure, not a secret
    RETRIEVAL = "Retrieval"
    OUTPUT = "Output"
    REQUEST = "Request"
    BYTE = "Byte"
    SECOND = "Second"


class PartyRole(StrEnum):
    """Allowed values of ``PartyRole``."""

    RIGHTSHOLDER = "Rightsholder"
    COLLECTIVE_MANAGEMENT_ORGANISATION = "CollectiveManagementOrganisation"
    AI_DEVELOPER = "AIDeveloper"
    REGISTRY = "Registry"


class MessageControlType(StrEnum):
    """Allowed values of ``MessageControlType``."""

    LIVE_MESSAGE = "LiveMessage"
    TEST_MESSAGE = "TestMessage"


class WorkIdType(StrEnum):
    """Allowed values of ``WorkIdType``."""

    ISCC = "ISCC"
    ISRC = "ISRC"
    ISWC = "ISWC"
    ISBN = "ISBN"
    DOI = "DOI"
    URL = "URL"
    PROPRIETARY = "Proprietary"


class WorkType(StrEnum):
    """Allowed values of ``WorkType``."""

    MUSICAL_WORK = "MusicalWork"
    SOUND_RECORDING = "SoundRecording"
    TEXT = "Text"
    IMAGE = "Image"
    VIDEO = "Video"
    DATASET = "Dataset"
    SOFTWARE = "Software"
    OTHER = "Other"


class ContainsAI(StrEnum):
    """Allowed values of ``ContainsAI``."""

    ALL = "All"
    NONE = "None"
    PARTLY = "Partly"


class Preference(StrEnum):
    """Allowed values of ``Preference``."""

    OPT_IN = "OptIn"
    OPT_OUT = "OptOut"


class UserType(StrEnum):
    """Allowed values of ``UserType``."""

    COMMERCIAL = "Commercial"
    NON_COMMERCIAL = "NonCommercial"
    RESEARCH = "Research"


class TariffType(StrEnum):
    """Allowed values of ``TariffType``."""

    FLAT_FEE = "FlatFee"
    PER_WORK = "PerWork"
    PER_UNIT = "PerUnit"
    REVENUE_SHARE = "RevenueShare"
    MINIMUM_GUARANTEE = "MinimumGuarantee"


class BillingPeriod(StrEnum):
    """Allowed values of ``BillingPeriod``."""

    ONE_OFF = "OneOff"
    MONTHLY = "Monthly"
    QUARTERLY = "Quarterly"
    ANNUALLY = "Annually"


class ReportingFrequency(StrEnum):
    """Allowed values of ``ReportingFrequency``."""

    MONTHLY = "Monthly"
    QUARTERLY = "Quarterly"
    ANNUALLY = "Annually"


class ReportFormat(StrEnum):
    """Allowed values of ``ReportFormat``."""

    XML = "Xml"
    FLAT_FILE = "FlatFile"


class LicenceStatus(StrEnum):
    """Allowed values of ``LicenceStatus``."""

    GRANTED = "Granted"
    SUSPENDED = "Suspended"
    REVOKED = "Revoked"
    EXPIRED = "Expired"


class RevenueType(StrEnum):
    """Allowed values of ``RevenueType``."""

    SUBSCRIPTION = "Subscription"
    ADVERTISING = "Advertising"
    API = "API"
    OTHER = "Other"


class InvoiceType(StrEnum):
    """Allowed values of ``InvoiceType``."""

    INVOICE = "Invoice"
    CREDIT_NOTE = "CreditNote"


class DocumentType(StrEnum):
    """Allowed values of ``DocumentType``."""

    INVOICE = "Invoice"
    ROYALTY_STATEMENT = "RoyaltyStatement"


class ProposedAction(StrEnum):
    """Allowed values of ``ProposedAction``."""

    NONE = "None"
    CORRECT_AND_RESEND = "CorrectAndResend"
    RESEND_UNCHANGED = "ResendUnchanged"
    CONTACT_SENDER = "ContactSender"


class MessageType(StrEnum):
    """Allowed values of ``MessageType``."""

    WORK_DECLARATION_MESSAGE = "WorkDeclarationMessage"
    LICENCE_OFFER_MESSAGE = "LicenceOfferMessage"
    LICENCE_REQUEST_MESSAGE = "LicenceRequestMessage"
    LICENCE_MESSAGE = "LicenceMessage"
    USAGE_REPORT_MESSAGE = "UsageReportMessage"
    INVOICE_MESSAGE = "InvoiceMessage"
    PAYMENT_NOTIFICATION_MESSAGE = "PaymentNotificationMessage"
    ROYALTY_STATEMENT_MESSAGE = "RoyaltyStatementMessage"
    ACKNOWLEDGEMENT_MESSAGE = "AcknowledgementMessage"


class HashSumAlgorithmType(StrEnum):
    """Allowed values of ``HashSumAlgorithmType``."""

    SHA_256 = "SHA-256"
    SHA_512 = "SHA-512"
    MD5 = "MD5"
