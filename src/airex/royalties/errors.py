"""What pricing, invoicing and distribution refuse, and why: every royalties error.

::

    AirexError
    └── RoyaltiesError
        ├── RoyaltiesConfigError (ValueError)      a setting is not usable (AIREX_* variables)
        ├── PricingError (ValueError)              terms that cannot be invoiced (in pricing)
        ├── ReportRefusedError (ValueError)        a usage report that is not priced at all
        │   ├── UnknownLicenceError                its licence is not in the grant register
        │   ├── UnknownReportError                 it corrects a report never priced
        │   ├── ReportConflictError                same ReportId / MessageId, other content
        │   └── NotLicenseeError                   its sender is not the licence's licensee
        ├── UnknownInvoiceError (LookupError)      no invoice or credit note has this InvoiceId
        └── DistributionError (ValueError)         a payment that cannot be distributed as asked
            └── PaymentError                       a payment that cannot be recorded as sent
                ├── UnknownSettledDocumentError    it settles an invoice never issued here
                └── OverpaymentError               it pays more than is open on the invoice

Every refusal can say itself as a :class:`~airex.errors.MessageError` (stable code, the
acknowledgement status it implies), so that the exchange can acknowledge the report with it:
:meth:`ReportRefusedError.message_error`.
"""

from __future__ import annotations

from airex.errors import AirexError, MessageError, MessageStatus

__all__ = [
    "DistributionError",
    "NotLicenseeError",
    "OverpaymentError",
    "PaymentError",
    "PricingError",
    "ReportConflictError",
    "ReportRefusedError",
    "RoyaltiesConfigError",
    "RoyaltiesError",
    "UnknownInvoiceError",
    "UnknownLicenceError",
    "UnknownReportError",
    "UnknownSettledDocumentError",
]


class RoyaltiesError(AirexError):
    """Root of the royalties' own errors."""


class RoyaltiesConfigError(RoyaltiesError, ValueError):
    """A royalties setting is not usable (see :class:`airex.royalties.RoyaltySettings`)."""


class PricingError(RoyaltiesError, ValueError):
    """A report cannot be priced under these terms (mixed currencies, malformed tariff...)."""


class ReportRefusedError(RoyaltiesError, ValueError):
    """A usage report that is refused whole: nothing of it is priced, stored or posted."""

    def message_error(self) -> MessageError:
        """This refusal as an acknowledgement error (code and status)."""
        return MessageError(
            "ReportNotPriced", str(self), status=MessageStatus.BUSINESS_RULE_VIOLATION
        )


class UnknownLicenceError(ReportRefusedError):
    """The report's LicenceId has no state in the grant register (or no terms)."""

    def message_error(self) -> MessageError:
        """``UnknownLicence`` (status UnknownReference)."""
        return MessageError("UnknownLicence", str(self), status=MessageStatus.UNKNOWN_REFERENCE)


class UnknownReportError(ReportRefusedError):
    """The report corrects a ReportId that was never priced (for its sender and licence)."""

    def message_error(self) -> MessageError:
        """``UnknownReport`` (status UnknownReference)."""
        return MessageError("UnknownReport", str(self), status=MessageStatus.UNKNOWN_REFERENCE)


class ReportConflictError(ReportRefusedError):
    """A ReportId (or sender + MessageId) priced before arrives again with other content."""

    def message_error(self) -> MessageError:
        """``ReportConflict`` (status BusinessRuleViolation)."""
        return MessageError(
            "ReportConflict", str(self), status=MessageStatus.BUSINESS_RULE_VIOLATION
        )


class NotLicenseeError(ReportRefusedError):
    """The report's sender (or the party it is sent on behalf of) is not the licensee."""

    def message_error(self) -> MessageError:
        """``NotLicensee`` (status NotAuthorised)."""
        return MessageError("NotLicensee", str(self), status=MessageStatus.NOT_AUTHORISED)


class UnknownInvoiceError(RoyaltiesError, LookupError):
    """No invoice or credit note has this InvoiceId."""


class DistributionError(RoyaltiesError, ValueError):
    """A payment cannot be distributed as asked (credit note, amount out of range, bad shares)."""


class PaymentError(DistributionError):
    """A payment cannot be recorded as sent (what and which document are in the message)."""


class UnknownSettledDocumentError(PaymentError):
    """A SettledDocument names an invoice that was never issued here."""


class PaymentDateError(PaymentError):
    """A PaymentDate before an invoice it settles was issued, or after the day the payment
    was received (plus the tolerance the caller allows)."""


class ZeroPaymentError(PaymentError):
    """A payment of nothing: no AppliedAmount above zero (refused by the CMO's actions; the
    royalties record one as distributing nothing)."""


class OverpaymentError(PaymentError):
    """An AppliedAmount is more than what is still open on the invoice."""
