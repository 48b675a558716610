"""Every exception airex raises, under one root.

::

    AirexError
    ├── XmlRejectedError (ValueError)        input refused before it became a document
    │   ├── XmlSyntaxError                   not well-formed XML              (XmlNotWellFormed)
    │   └── XmlSecurityError                 DOCTYPE, entities, too deep, too big (XmlNotWellFormed)
    ├── UnknownMessageTypeError (ValueError) root element is not an airex message family
    ├── MessageInvalidError (ValueError)     schema or business-rule errors; ``.errors`` lists all
    └── ReportWriteError (ValueError)        a usage report cannot be written as asked

Each error carries its context: the :class:`MessageError` records (stable ``code``, XPath
``path``, ``line``, human ``message``) that explain it, and where known the ``source`` (file name).
Errors that describe a *message* (not a Python misuse) are data first: :class:`MessageError`
is what validation yields, and the exceptions only wrap a list of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AirexError",
    "MessageError",
    "MessageInvalidError",
    "MessageStatus",
    "ReportWriteError",
    "UnknownMessageTypeError",
    "XmlRejectedError",
    "XmlSecurityError",
    "XmlSyntaxError",
]


class MessageStatus(StrEnum):
    """The spec's MessageStatus values: the category an error puts a message in."""

    MESSAGE_ACCEPTED = "MessageAccepted"
    XML_NOT_WELL_FORMED = "XmlNotWellFormed"
    SCHEMA_INVALID = "SchemaInvalid"
    BUSINESS_RULE_VIOLATION = "BusinessRuleViolation"
    SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING = "SignatureOrHashSumWrongOrMissing"
    UNKNOWN_PARTY = "UnknownParty"
    NOT_AUTHORISED = "NotAuthorised"
    DUPLICATE_MESSAGE = "DuplicateMessage"
    UNKNOWN_REFERENCE = "UnknownReference"
    INTERNAL_ERROR = "InternalError"


@dataclass(frozen=True, slots=True)
class MessageError:
    """One problem found in a message.

    ``code`` is stable (safe to match on, listed in the README), ``path`` an XPath without
    namespace prefixes (``/UsageReportMessage/UsageReport/UsageSummary/NumberOfRecords``),
    ``line`` the 1-based source line when the message was read from XML, ``message`` a sentence
    for people, and ``status`` the MessageStatus an acknowledgement would carry. ``file`` names
    the file when one report spans several (a split flat-file usage report).
    """

    code: str
    message: str
    path: str | None = None
    line: int | None = None
    status: MessageStatus = MessageStatus.BUSINESS_RULE_VIOLATION
    file: str | None = None

    @property
    def reason(self) -> str:
        """Alias of ``message`` (the name xmlschema uses)."""
        return self.message

    def as_dict(self) -> dict[str, object]:
        """The JSON form used by ``airex validate --json``."""
        return {"code": self.code, "path": self.path, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        at = f" {self.path}" if self.path else ""
        return f"{where}{self.code}{at}: {self.message}"


class AirexError(Exception):
    """Root of every exception airex raises on purpose."""


class _WithErrors(AirexError):
    def __init__(self, errors: list[MessageError], source: str | None = None) -> None:
        self.errors: list[MessageError] = list(errors)
        self.source = source
        first = str(self.errors[0]) if self.errors else "no detail"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{first}{more}")

    @property
    def status(self) -> MessageStatus:
        """The MessageStatus of the first (most fundamental) error."""
        return self.errors[0].status if self.errors else MessageStatus.INTERNAL_ERROR


class XmlRejectedError(_WithErrors, ValueError):
    """The bytes were refused before they became a document (status XmlNotWellFormed)."""


class XmlSyntaxError(XmlRejectedError):
    """The input is not well-formed XML."""


class XmlSecurityError(XmlRejectedError):
    """The input uses a forbidden XML feature (DOCTYPE, entities) or exceeds a size/depth limit."""


class UnknownMessageTypeError(_WithErrors, ValueError):
    """The root element is not one of the airex message families (or not in ``urn:airex:xml:1``)."""


class MessageInvalidError(_WithErrors, ValueError):
    """The message breaks the schema or a business rule; ``errors`` holds every problem found."""


class ReportWriteError(AirexError, ValueError):
    """A usage report cannot be written as asked (wrong record count, a value the form
    cannot carry); nothing is left at the destination."""
