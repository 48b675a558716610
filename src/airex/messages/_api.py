"""Parse, serialise and validate airex messages.

Every input goes through :func:`airex.xml.parse_xml` (the hardened entry point), then:
root element → family; XSD (libxml2); business rules (only on a schema-valid document, whose
values they can trust). :func:`check` runs them all and reports every error as data; the other
functions are views of it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from lxml import etree
from pydantic import ValidationError

from airex.errors import (
    MessageError,
    MessageInvalidError,
    MessageStatus,
    UnknownMessageTypeError,
    XmlRejectedError,
)
from airex.messages._rules import business_rule_errors
from airex.messages._schema import schema_errors
from airex.messages.acknowledgement import AcknowledgementMessage
from airex.messages.common import NAMESPACE, AirexMessage
from airex.messages.declaration import WorkDeclarationMessage
from airex.messages.invoice import InvoiceMessage
from airex.messages.licence import LicenceMessage
from airex.messages.manifest import ManifestMessage
from airex.messages.offer import LicenceOfferMessage
from airex.messages.payment import PaymentNotificationMessage
from airex.messages.request import LicenceRequestMessage
from airex.messages.statement import RoyaltyStatementMessage
from airex.messages.usage import UsageReportMessage
from airex.xml import ParseLimits, parse_xml

__all__ = [
    "MESSAGE_TYPES",
    "CheckResult",
    "Source",
    "check",
    "is_valid",
    "iter_errors",
    "parse",
    "serialise",
    "validate",
]

MESSAGE_TYPES: dict[str, type[AirexMessage]] = {
    cls.__xml_tag__ or cls.__name__: cls
    for cls in (
        WorkDeclarationMessage,
        LicenceOfferMessage,
        LicenceRequestMessage,
        LicenceMessage,
        UsageReportMessage,
        InvoiceMessage,
        PaymentNotificationMessage,
        RoyaltyStatementMessage,
        AcknowledgementMessage,
        ManifestMessage,
    )
}
"""Root element name → model class, for the ten families of the standard."""

Source: TypeAlias = bytes | str | os.PathLike[str] | AirexMessage
"""What the functions here accept: XML bytes, a file path, or a model (validated as serialised)."""


@dataclass
class CheckResult:
    """Everything validation learnt about one message."""

    errors: list[MessageError] = field(default_factory=list)
    message_type: str | None = None
    message_id: str | None = None
    tree: etree._ElementTree | None = field(default=None, repr=False)

    @property
    def valid(self) -> bool:
        """True when no error was found."""
        return not self.errors

    @property
    def status(self) -> MessageStatus:
        """The MessageStatus an acknowledgement of this message would carry."""
        return self.errors[0].status if self.errors else MessageStatus.MESSAGE_ACCEPTED


def serialise(message: AirexMessage) -> bytes:
    """Deterministic, indented UTF-8 XML of ``message``, with an XML declaration."""
    xml = message.to_xml(encoding="UTF-8", xml_declaration=True, pretty_print=True)
    assert isinstance(xml, bytes)
    return xml


def _name(source: Source) -> str | None:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return None


def _read(source: Source, limits: ParseLimits) -> etree._ElementTree:
    if isinstance(source, AirexMessage):
        return parse_xml(serialise(source), limits)
    if isinstance(source, bytes):
        return parse_xml(source, limits)
    return parse_xml(source, limits, filename=os.fspath(source))


def _family(root: etree._Element) -> tuple[str | None, list[MessageError]]:
    qname = etree.QName(root)
    where = {"path": f"/{qname.localname}", "line": root.sourceline}
    if qname.localname not in MESSAGE_TYPES:
        known = ", ".join(MESSAGE_TYPES)
        return None, [
            MessageError(
                "UnknownMessageType",
                f"root element {qname.localname!r} is not an airex message (one of: {known})",
                status=MessageStatus.SCHEMA_INVALID,
                **where,  # type: ignore[arg-type]
            )
        ]
    if qname.namespace != NAMESPACE:
        got = f"namespace {qname.namespace!r}" if qname.namespace else "no namespace"
        return qname.localname, [
            MessageError(
                "WrongNamespace",
                f"{qname.localname} is in {got}; airex messages are in {NAMESPACE!r}",
                status=MessageStatus.SCHEMA_INVALID,
                **where,  # type: ignore[arg-type]
            )
        ]
    return qname.localname, []


def _message_id(root: etree._Element) -> str | None:
    value = root.findtext(f"{{{NAMESPACE}}}MessageHeader/{{{NAMESPACE}}}MessageId")
    return value.strip() if value else None


def check(source: Source, limits: ParseLimits | None = None) -> CheckResult:
    """Validate ``source`` fully and return every error found.

    Never raises for bad input: XML that is refused, not well-formed or invalid, and a file
    that cannot be read (``FileUnreadable``), are all reported as errors. Only misuse raises
    (a ``str`` that is an XML document rather than a path: pass documents as ``bytes``).
    """
    try:
        tree = _read(source, limits or ParseLimits())
    except XmlRejectedError as exc:
        return CheckResult(errors=exc.errors)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return CheckResult(
            errors=[
                MessageError(
                    "FileUnreadable",
                    f"cannot read {_name(source)}: {reason}",
                    status=MessageStatus.INTERNAL_ERROR,
                )
            ]
        )
    root = tree.getroot()
    message_type, errors = _family(root)
    result = CheckResult(message_type=message_type, message_id=_message_id(root), tree=tree)
    if errors:
        result.errors = errors
        return result
    assert message_type is not None
    result.errors = _capped(schema_errors(tree))
    if not result.errors:
        result.errors = _capped(business_rule_errors(root, message_type))
    return result


MAX_ERRORS = 1000
"""At most this many errors are reported per message (then one ``TooManyErrors``)."""


def _capped(errors: Iterator[MessageError]) -> list[MessageError]:
    # A hostile or broken report can fail on each of its records: report the first
    # MAX_ERRORS, which is plenty to act on, and say that more were left out.
    found = list(itertools.islice(errors, MAX_ERRORS + 1))
    if len(found) > MAX_ERRORS:
        found[MAX_ERRORS:] = [
            MessageError(
                "TooManyErrors",
                f"more than {MAX_ERRORS} errors; the first {MAX_ERRORS} are listed",
                # never the first error, so never what decides the message's status
                status=MessageStatus.SCHEMA_INVALID,
            )
        ]
    return found


def iter_errors(source: Source, limits: ParseLimits | None = None) -> Iterator[MessageError]:
    """Every error of ``source``: not-well-formed, schema, then business rules."""
    return iter(check(source, limits).errors)


def is_valid(source: Source, limits: ParseLimits | None = None) -> bool:
    """True when ``source`` is a valid airex message."""
    return check(source, limits).valid


def _raise_for(result: CheckResult, source: Source) -> None:
    if result.valid:
        return
    name = _name(source)
    first = result.errors[0]
    if first.status is MessageStatus.XML_NOT_WELL_FORMED:
        raise XmlRejectedError(result.errors, source=name)
    if first.code in ("UnknownMessageType", "WrongNamespace"):
        raise UnknownMessageTypeError(result.errors, source=name)
    raise MessageInvalidError(result.errors, source=name)


def validate(source: Source, limits: ParseLimits | None = None) -> None:
    """Raise (a subclass of :class:`airex.errors.AirexError`) unless ``source`` is valid.

    The exception's ``errors`` lists every problem found, not just the first.
    """
    _raise_for(check(source, limits), source)


def parse(
    source: bytes | str | os.PathLike[str],
    *,
    validate: bool = True,
    limits: ParseLimits | None = None,
) -> AirexMessage:
    """Read a message (bytes or a file path) into the model of its family.

    With ``validate=True`` (the default) the message must pass the XSD and every business rule;
    ``validate=False`` still goes through the hardened parser and the model's own typing, for
    reading messages you mean to report on rather than act on.
    """
    limits = limits or ParseLimits()
    if validate:
        result = check(source, limits)
        _raise_for(result, source)
        tree, message_type = result.tree, result.message_type
    else:
        tree = _read(source, limits)
        message_type, errors = _family(tree.getroot())
        if errors:
            raise UnknownMessageTypeError(errors, source=_name(source))
    assert tree is not None
    assert message_type is not None
    try:
        return MESSAGE_TYPES[message_type].from_xml_tree(tree.getroot())  # type: ignore[arg-type]
    except ValidationError as exc:
        raise MessageInvalidError(
            [
                MessageError(
                    "SchemaInvalid",
                    f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
                    status=MessageStatus.SCHEMA_INVALID,
                )
                for err in exc.errors()
            ],
            source=_name(source),
        ) from exc
