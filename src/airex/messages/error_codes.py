"""The catalogue of error codes airex validation yields: stable, documented, safe to match on.

Each code belongs to one MessageStatus (the acknowledgement category). The README's table is
generated from this catalogue, and a test checks that every code validation can yield is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from airex.errors import MessageStatus

__all__ = ["CODES", "ErrorCode", "status_of"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """A stable error code, the status it implies, and what it means."""

    code: str
    status: MessageStatus
    meaning: str


_NWF = MessageStatus.XML_NOT_WELL_FORMED
_XSD = MessageStatus.SCHEMA_INVALID
_BR = MessageStatus.BUSINESS_RULE_VIOLATION
_HASH = MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING
_OK = MessageStatus.MESSAGE_ACCEPTED
_REF = MessageStatus.UNKNOWN_REFERENCE

CODES: dict[str, ErrorCode] = {
    e.code: e
    for e in [
        # --- refused before parsing (hardened XML entry point) ---
        ErrorCode("XmlNotWellFormed", _NWF, "the input is not well-formed XML"),
        ErrorCode("DoctypeForbidden", _NWF, "a DOCTYPE / DTD (and so any entity) is present"),
        ErrorCode("DepthLimitExceeded", _NWF, "elements nest deeper than the limit (100)"),
        ErrorCode("SizeLimitExceeded", _NWF, "the document is larger than the receiver's limit"),
        ErrorCode("ElementLimitExceeded", _NWF, "the document holds more elements than the limit"),
        # --- usage reports read as a stream (XML or flat file) ---
        ErrorCode("HeadMissing", _XSD, "a usage report has no header (summary / HEAD line)"),
        ErrorCode("FootMissing", _XSD, "a flat file ends without its FOOT line (truncated?)"),
        ErrorCode("FlatFileInvalid", _XSD, "a flat-file line is not HEAD/UR01/FOOT or mis-shaped"),
        ErrorCode("UnsupportedMessageVersion", _XSD, "a flat file's HEAD is not airex/1.0"),
        ErrorCode("LineCountMismatch", _BR, "FOOT's NumberOfLinesInFile is not the lines present"),
        ErrorCode("ReportPartMissing", _BR, "a file of a split report is missing"),
        ErrorCode("ReportPartsDisagree", _BR, "the files of a split report are not one report"),
        # --- reporting ---
        ErrorCode("TooManyErrors", _XSD, "more errors than the report limit (1000) were found"),
        # --- the file itself (reported by the command line, before any XML is read) ---
        ErrorCode(
            "FileUnreadable", MessageStatus.INTERNAL_ERROR, "the file could not be read (OS error)"
        ),
        # --- root element ---
        ErrorCode("UnknownMessageType", _XSD, "the root element is not an airex message family"),
        ErrorCode("WrongNamespace", _XSD, "the root element is not in namespace urn:airex:xml:1"),
        # --- XSD validation (libxml2 error kinds, grouped) ---
        ErrorCode("MissingElement", _XSD, "a required child element is missing"),
        ErrorCode("UnexpectedElement", _XSD, "an element is not allowed here (or out of order)"),
        ErrorCode("MissingAttribute", _XSD, "a required attribute is missing"),
        ErrorCode("UnexpectedAttribute", _XSD, "an attribute is not allowed here"),
        ErrorCode(
            "UnexpectedContent", _XSD, "text where only elements are allowed, or the reverse"
        ),
        ErrorCode("UnsupportedSchemaVersion", _XSD, "SchemaVersion is not 1.0"),
        ErrorCode("ValueNotAllowed", _XSD, "a value is not one of the allowed values"),
        ErrorCode("UnknownCurrency", _XSD, "not an active ISO 4217 alphabetic currency code"),
        ErrorCode("UnknownTerritory", _XSD, "not an ISO 3166-1 alpha-2 code (or Worldwide)"),
        ErrorCode("InvalidIdentifier", _XSD, "an id is not 1-64 characters of [A-Za-z0-9._:-]"),
        ErrorCode("InvalidPartyId", _XSD, "a party id is not PADPIDA + letters/digits (<= 64)"),
        ErrorCode("DateTimeWithoutZone", _XSD, "a date-time has no time zone"),
        ErrorCode("PatternMismatch", _XSD, "a value does not match its pattern"),
        ErrorCode("InvalidValue", _XSD, "a value is not of its type (number, date, boolean...)"),
        ErrorCode("ValueOutOfRange", _XSD, "a number is outside its allowed range"),
        ErrorCode("TooManyFractionDigits", _XSD, "a decimal has more fraction digits than allowed"),
        ErrorCode("InvalidLength", _XSD, "a text is empty or longer than allowed"),
        ErrorCode("SchemaInvalid", _XSD, "any other XSD violation"),
        # --- business rules: identifiers ---
        ErrorCode("InvalidISCC", _BR, "not a valid ISCC (as iscc-core decodes it)"),
        ErrorCode("InvalidISRC", _BR, "not an ISRC (CC-XXX-YY-NNNNN without hyphens)"),
        ErrorCode("InvalidISWC", _BR, "not an ISWC, or its check digit is wrong"),
        ErrorCode("InvalidISBN", _BR, "not an ISBN-13, or its check digit is wrong"),
        ErrorCode("InvalidDOI", _BR, "not a DOI (10.<registrant>/<suffix>)"),
        ErrorCode("InvalidURL", _BR, "not an absolute http or https URL"),
        ErrorCode("InvalidProprietaryId", _BR, "a proprietary id is empty or has outer spaces"),
        ErrorCode("NamespaceMissing", _BR, "a Proprietary WorkId has no Namespace"),
        ErrorCode("NamespaceNotAllowed", _BR, "a Namespace on a WorkId that is not Proprietary"),
        # --- business rules: shared types ---
        ErrorCode("PeriodEndBeforeStart", _BR, "EndDate is before StartDate"),
        ErrorCode("ExclusionWithoutWorldwide", _BR, "ExcludedTerritoryCode without Worldwide"),
        # --- business rules: families ---
        ErrorCode("DuplicateWorkReference", _BR, "two works of a declaration share a reference"),
        ErrorCode("SharesNotHundred", _BR, "a work's shares for a territory do not sum to 100"),
        ErrorCode("TariffElementsMismatch", _BR, "a tariff's elements do not fit its TariffType"),
        ErrorCode("TariffUseTypeNotPermitted", _BR, "a tariff's UseType is not permitted"),
        ErrorCode("DuplicateTariffId", _BR, "two tariffs of the same terms share a TariffId"),
        ErrorCode("RecordCountMismatch", _BR, "NumberOfRecords differs from the records present"),
        ErrorCode("MixedCurrencies", _BR, "amounts that must share a currency do not"),
        ErrorCode("TotalMismatch", _BR, "TotalAmount is not the exact sum of the line amounts"),
        ErrorCode("LineAmountMismatch", _BR, "LineAmount is not Quantity x UnitPrice, half-up"),
        ErrorCode("DueDateBeforeIssueDate", _BR, "an invoice falls due before it is issued"),
        ErrorCode("AppliedAmountsMismatch", _BR, "applied amounts do not sum to the paid amount"),
        ErrorCode("NetAmountMismatch", _BR, "a line's NetAmount is not Gross - AdministrationFee"),
        ErrorCode("StatementTotalMismatch", _BR, "a statement total is not the sum of its lines"),
        ErrorCode("MessageCountMismatch", _BR, "NumberOfMessages differs from the entries"),
        ErrorCode("InvalidBatchId", _BR, "BatchId is not a real UTC date and time"),
        ErrorCode("HashSumLengthMismatch", _BR, "a hash's length does not fit its algorithm"),
        ErrorCode(
            "InvalidBatchUrl", _BR, "a batch URL leaves the batch folder (..) or has control codes"
        ),
        # --- batches (airex.batch): the files of a batch against its manifest ---
        ErrorCode("FileMissing", _HASH, "a file the manifest lists is not in the batch"),
        ErrorCode("FileSizeMismatch", _HASH, "a file's size is not the manifest's FileSize"),
        ErrorCode("HashSumMismatch", _HASH, "a file's hash is not the manifest's HashSumValue"),
        ErrorCode("MessageTypeMismatch", _BR, "a file's message type is not the one listed"),
        ErrorCode("MessageIdMismatch", _BR, "a file's MessageId is not the one the manifest lists"),
        ErrorCode("DuplicateBatchUrl", _BR, "two manifest entries name the same file"),
        ErrorCode("BatchIdMismatch", _BR, "the manifest's BatchId is not the one in its file name"),
        ErrorCode("ManifestAmbiguous", _BR, "several BatchComplete files; none is the batch's own"),
        ErrorCode(
            "FileNotInManifest",
            MessageStatus.MESSAGE_ACCEPTED,
            "a warning: a file of the batch the manifest does not list (not processed)",
        ),
        ErrorCode(
            "UnsafeBatchMember",
            _NWF,
            "a batch file or zip member is unsafe (link, absolute path, .., duplicate)",
        ),
        ErrorCode("BatchTooLarge", _NWF, "a batch has too many files or bytes (BatchLimits)"),
        ErrorCode(
            "CompressionRatioExceeded", _NWF, "a zip member expands beyond the limit (zip bomb)"
        ),
        ErrorCode("ArchiveUnreadable", _NWF, "not a zip, a corrupt or encrypted one, a bad CRC"),
        # --- what a party leaves in its drop folder (airex serve) ---
        ErrorCode(
            "NotARegularFile",
            _NWF,
            "a dropped entry is a link, FIFO, socket or device (links are never followed)",
        ),
        ErrorCode(
            "FileNameInvalid",
            _NWF,
            "a dropped name is not UTF-8, has control characters or is long",
        ),
        ErrorCode("FolderTooDeep", _NWF, "a dropped batch folder nests deeper than the limit (8)"),
        # --- royalties: a priced usage report's warnings (the report is accepted) ---
        ErrorCode("OptedOut", _OK, "a warning: usage held, the rightsholder opted out"),
        ErrorCode(
            "NoPreferenceOptInRegime", _OK, "a warning: usage held, no opt-in (opt-in regime)"
        ),
        ErrorCode("UnknownWork", _OK, "a warning: usage held, no work has this identifier"),
        ErrorCode("OutsideRepertoire", _OK, "a warning: usage held, work not in the repertoire"),
        ErrorCode("UseTypeNotLicensed", _OK, "a warning: usage held, use type not licensed"),
        ErrorCode("OutsideTerm", _OK, "a warning: usage held, outside the licence's term"),
        ErrorCode("OutsideTerritory", _OK, "a warning: usage held, outside the territory"),
        ErrorCode("LicenceNotInForce", _OK, "a warning: usage held, licence not in force"),
        ErrorCode("NoTariffForUsage", _OK, "a warning: usage held, no tariff prices it"),
        ErrorCode(
            "RevenueNotReported", _OK, "a warning: a revenue share not priced, no revenue given"
        ),
        ErrorCode("MoreHeldRecords", _OK, "a warning: more held records than listed (1000)"),
        # --- royalties: a usage report refused whole (nothing priced) ---
        ErrorCode("ReportNotPriced", _BR, "a usage report cannot be priced (see the text)"),
        ErrorCode("UnknownLicence", _REF, "a usage report names a licence never granted"),
        ErrorCode("UnknownReport", _REF, "a correction names a report never priced"),
        ErrorCode("ReportConflict", _BR, "a ReportId or MessageId reused with other content"),
        ErrorCode(
            "NotLicensee", MessageStatus.NOT_AUTHORISED, "a usage report not from the licensee"
        ),
        # --- the exchange: parties, entitlements, duplicates, dead letters ---
        ErrorCode(
            "SenderMismatch",
            MessageStatus.NOT_AUTHORISED,
            "the message says it is from another party than the one that sent it",
        ),
        ErrorCode("UnknownSender", MessageStatus.UNKNOWN_PARTY, "the sender is not a party"),
        ErrorCode("UnknownRecipient", MessageStatus.UNKNOWN_PARTY, "a recipient is not a party"),
        ErrorCode(
            "ManifestOutsideBatch",
            MessageStatus.NOT_AUTHORISED,
            "a ManifestMessage sent alone, not as a batch's completion file",
        ),
        ErrorCode(
            "SenderNotEntitled",
            MessageStatus.NOT_AUTHORISED,
            "the sender's role may not send this message family",
        ),
        ErrorCode(
            "RecipientNotEntitled",
            MessageStatus.NOT_AUTHORISED,
            "a recipient's role may not receive this message family (or it is the sender)",
        ),
        ErrorCode(
            "DuplicateMessage",
            MessageStatus.DUPLICATE_MESSAGE,
            "the sender sent a message with this MessageId before; this copy is ignored",
        ),
        ErrorCode(
            "ProcessingFailed",
            MessageStatus.INTERNAL_ERROR,
            "the exchange gave up on the message (dead letters; the reason is in the text)",
        ),
        # --- the CMO's actions (airex.exchange.actions) ---
        ErrorCode(
            "DeclarationConflict",
            _OK,
            "a warning: a declared identifier belongs to another work (kept for the CMO)",
        ),
        ErrorCode("DeclarationRefused", _BR, "the registry refused a work declaration"),
        ErrorCode(
            "LicenseeNotSender",
            MessageStatus.NOT_AUTHORISED,
            "a licence request names another licensee than its sender",
        ),
        ErrorCode("UnknownOffer", _REF, "a licence request accepts an offer the CMO never sent"),
        ErrorCode(
            "OfferNotForLicensee",
            MessageStatus.NOT_AUTHORISED,
            "a licence request accepts an offer addressed to another licensee",
        ),
        ErrorCode("OfferExpired", _BR, "a licence request made after the offer's ValidUntil"),
        ErrorCode(
            "StartDateOutsideTerm", _BR, "a RequestedStartDate outside the offer's licence term"
        ),
        ErrorCode(
            "RequestAlreadyGranted",
            _BR,
            "a licence request (licensee, OfferId, RequestId) granted before",
        ),
        ErrorCode(
            "BehalfNotAuthorised",
            MessageStatus.NOT_AUTHORISED,
            "a message to the CMO names another party in SentOnBehalfOf (no mandates are held)",
        ),
        ErrorCode(
            "PayerNotSender",
            MessageStatus.NOT_AUTHORISED,
            "a payment names another payer than its sender",
        ),
        ErrorCode("UnknownInvoice", _REF, "a payment settles an invoice never issued"),
        ErrorCode("Overpayment", _BR, "a payment applies more than is still open on an invoice"),
        ErrorCode("PaymentRefused", _BR, "a payment cannot be recorded (see the text)"),
        ErrorCode(
            "PaymentDateOutOfRange",
            _BR,
            "a PaymentDate before the invoice's issue or after the payment was received",
        ),
        ErrorCode("ZeroPayment", _BR, "a payment applies no amount above zero"),
        ErrorCode(
            "LicenceStateRefused",
            _BR,
            "the grant register cannot take a licence state the CMO sends (not its licence)",
        ),
    ]
}


def status_of(code: str) -> MessageStatus:
    """The MessageStatus a code implies (SchemaInvalid for a code not in the catalogue)."""
    entry = CODES.get(code)
    return entry.status if entry else MessageStatus.SCHEMA_INVALID
