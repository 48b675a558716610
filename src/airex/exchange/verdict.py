"""What the exchange makes of a received message before it touches anything: the verdict.

Plain functions, no database and no broker (the pipeline looks the parties up and passes
them in), so that every rule is unit-tested on its own. In order:

1. a status decided when the message was taken in (e.g. a batch entry whose hash does not
   match its manifest: ``SignatureOrHashSumWrongOrMissing``) is final;
2. :func:`airex.check`: the hardened parser, the root element, the XSD, the business rules
   (``XmlNotWellFormed``, ``SchemaInvalid``, ``BusinessRuleViolation``);
3. the sender: a message that arrived from party A (its drop folder, ``airex send --as A``)
   but says it is from B is refused, ``NotAuthorised`` (``SenderMismatch``); an unknown
   sender is ``UnknownParty`` (``UnknownSender``);
4. the recipients: each must be in the directory, ``UnknownParty`` (``UnknownRecipient``);
5. the entitlements of :data:`airex.exchange.directory.ENTITLEMENTS`: ``NotAuthorised``
   (``ManifestOutsideBatch``, ``SenderNotEntitled``, ``RecipientNotEntitled``).

**Parse once.** The verdict keeps what validation produced: the header, and the validated
document (:attr:`Verdict.tree`); a model is built only when asked for
(:attr:`Verdict.message`), which the exchange itself never does: the CMO's handlers build
one for the small families they act on. A usage report (any size) is never parsed whole:
:func:`inspect_stored` validates it as a stream from the stored file (the XSD and the
business rules, as ``airex usage stats`` does, in constant memory) and reads its header
alone; a report that fails there is refused with the stream's errors (file and line, at
most :data:`MAX_STREAM_ERRORS`), never read whole. A report the CMO prices is validated by
the pricing's own reading (one pass, not two): its verdict is first reached on the header
alone (:func:`stored_header`, ``deferred``) and completed by the exchange
(``airex.exchange._judge``).

What is read from a message that failed validation (its MessageId, its sender) is used only
where it fits the standard's patterns, to address the acknowledgement; it is never trusted
for anything else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree

from airex.errors import MessageError, MessageStatus
from airex.exchange.directory import ENTITLEMENTS
from airex.exchange.models import ErrorRecord, PartyRecord
from airex.messages import MESSAGE_TYPES, AirexMessage, check
from airex.messages.common import NAMESPACE
from airex.xml import ParseLimits, stream_element_batches

__all__ = [
    "MAX_STREAM_ERRORS",
    "STREAMED_FAMILIES",
    "Header",
    "Verdict",
    "inspect",
    "inspect_stored",
    "judge",
    "read_through",
    "stored_header",
]

STREAMED_FAMILIES = frozenset({"UsageReportMessage"})
"""Families validated as a stream from the stored file and never materialised."""
MAX_STREAM_ERRORS = 1000
"""Errors kept of a report validated as a stream: the reading stops there (a hostile report
costs bounded memory and time)."""

_PARTY_ID = re.compile(r"^PADPIDA[A-Za-z0-9]+$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
_NS = f"{{{NAMESPACE}}}"


def party_id_or_none(value: str | None) -> str | None:
    """``value`` when it is a well-formed party id (at most 64 characters), else ``None``."""
    if value is None:
        return None
    value = value.strip()
    return value if len(value) <= 64 and _PARTY_ID.match(value) else None


def identifier_or_none(value: str | None) -> str | None:
    """``value`` when it is a well-formed MessageId / token, else ``None``."""
    if value is None:
        return None
    value = value.strip()
    return value if _IDENTIFIER.match(value) else None


@dataclass(frozen=True, slots=True)
class Header:
    """What the header of a message says (only values that fit their patterns)."""

    message_type: str | None = None
    message_id: str | None = None
    thread_id: str | None = None
    sender: str | None = None
    sender_line: int | None = None
    recipients: tuple[tuple[str | None, int | None], ...] = ()
    test: bool = False
    on_behalf_of: str | None = None


@dataclass
class Verdict:
    """The exchange's judgement of a received message, before deduplication and acting.

    ``status`` is ``MessageAccepted`` when the message may be routed; ``errors`` say why not
    (or are empty); ``tree`` the validated document of an accepted message (``None`` for a
    streamed family: a usage report); ``reply_to`` the party that gets the acknowledgement
    (the arrival party, else a well-formed sender); ``parties`` the directory entries the
    verdict was reached with.
    """

    status: MessageStatus
    header: Header
    errors: list[ErrorRecord] = field(default_factory=list)
    tree: etree._ElementTree | None = None
    reply_to: str | None = None
    parties: Mapping[str, PartyRecord] = field(default_factory=dict)
    path: Path | None = None
    """Where a streamed report is read from (a flat report's view folder), else ``None``."""
    deferred: bool = False
    """The verdict of a deferred :class:`Inspection`: on the header alone, the records not
    yet validated (the exchange completes it before it routes or refuses the message)."""

    @cached_property
    def message(self) -> AirexMessage | None:
        """The model of an accepted message, built on first use from :attr:`tree` (``None``
        when rejected, or for a streamed family, which is never materialised)."""
        if not self.accepted or self.tree is None or self.header.message_type is None:
            return None
        model = MESSAGE_TYPES[self.header.message_type]
        return model.from_xml_tree(self.tree.getroot())  # type: ignore[arg-type]

    @property
    def accepted(self) -> bool:
        """True when the message passed every check (it may still be a duplicate)."""
        return self.status is MessageStatus.MESSAGE_ACCEPTED

    @property
    def recipients(self) -> list[str]:
        """The recipients' party ids, in header order, without repeats."""
        seen: dict[str, None] = {}
        for party_id, _ in self.header.recipients:
            if party_id is not None:
                seen.setdefault(party_id)
        return list(seen)


@dataclass
class Inspection:
    """The result of :func:`inspect`: validation errors, the header, the document."""

    errors: list[MessageError]
    header: Header
    tree: etree._ElementTree | None
    path: Path | None = None
    deferred: bool = False
    """True when only the header was read (a usage report whose records are validated by
    the pass that prices it, or else by :func:`inspect_stored`): no verdict on the records."""

    @property
    def party_ids(self) -> set[str]:
        """Every party id the header names (to look up in the directory)."""
        found = {p for p, _ in self.header.recipients if p is not None}
        if self.header.sender is not None:
            found.add(self.header.sender)
        return found


def _line(element: etree._Element | None) -> int | None:
    line = element.sourceline if element is not None else None
    return line if isinstance(line, int) else None


def _header(tree: etree._ElementTree | None, message_type: str | None) -> Header:
    if tree is None:
        return Header()
    return _header_of(tree.getroot().find(f"{_NS}MessageHeader"), message_type)


def _header_of(header: etree._Element | None, message_type: str | None) -> Header:
    if header is None:
        return Header(message_type=message_type)
    sender_el = header.find(f"{_NS}MessageSender/{_NS}PartyId")
    recipients = tuple(
        (party_id_or_none(el.text), _line(el))
        for el in header.findall(f"{_NS}MessageRecipient/{_NS}PartyId")
    )
    control = (header.findtext(f"{_NS}MessageControlType") or "").strip()
    behalf = header.find(f"{_NS}SentOnBehalfOf/{_NS}PartyId")
    return Header(
        message_type=message_type,
        message_id=identifier_or_none(header.findtext(f"{_NS}MessageId")),
        thread_id=identifier_or_none(header.findtext(f"{_NS}MessageThreadId")),
        sender=party_id_or_none(sender_el.text if sender_el is not None else None),
        sender_line=_line(sender_el),
        recipients=recipients,
        test=control == "TestMessage",
        on_behalf_of=party_id_or_none(behalf.text) if behalf is not None else None,
    )


def inspect(raw: bytes, limits: ParseLimits | None = None) -> Inspection:
    """Validate ``raw`` (:func:`airex.check`) and read its header, whatever the outcome."""
    result = check(raw, limits)
    return Inspection(result.errors, _header(result.tree, result.message_type), result.tree)


def judge(
    inspection: Inspection,
    parties: Mapping[str, PartyRecord],
    *,
    arrival_party: str | None,
    arrived_how: str = "drop folder",
    preset: tuple[MessageStatus, list[ErrorRecord]] | None = None,
) -> Verdict:
    """The verdict on an inspected message, given the directory entries of its parties.

    ``arrival_party`` is who handed the message in (``None`` when unknown, e.g. ``airex
    send`` without ``--as``); ``arrived_how`` words it for error texts; ``preset`` a status
    decided at intake (a batch entry that failed its manifest check).
    """
    header = inspection.header
    reply_to = arrival_party or header.sender
    verdict = Verdict(
        MessageStatus.MESSAGE_ACCEPTED,
        header,
        reply_to=reply_to,
        parties=parties,
        path=inspection.path,
        deferred=inspection.deferred,
    )
    if preset is not None:
        verdict.status, verdict.errors = preset
        return verdict
    if inspection.errors:
        verdict.status = inspection.errors[0].status
        verdict.errors = list(inspection.errors)
        return verdict
    message_type = header.message_type
    assert message_type is not None
    root_name = f"/{message_type}/MessageHeader"
    sender = header.sender
    assert sender is not None  # schema-valid
    sender_path = f"{root_name}/MessageSender/PartyId"
    if arrival_party is not None and sender != arrival_party:
        return _refuse(
            verdict,
            MessageError(
                "SenderMismatch",
                f"the message says it is from {sender}, but {arrival_party} sent it "
                f"({arrived_how}); a party may only send in its own name",
                path=sender_path,
                line=header.sender_line,
                status=MessageStatus.NOT_AUTHORISED,
            ),
        )
    sender_party = parties.get(sender)
    if sender_party is None:
        return _refuse(
            verdict,
            MessageError(
                "UnknownSender",
                f"sender {sender} is not a party of this exchange",
                path=sender_path,
                line=header.sender_line,
                status=MessageStatus.UNKNOWN_PARTY,
            ),
        )
    unknown = [
        MessageError(
            "UnknownRecipient",
            f"recipient {party_id} is not a party of this exchange",
            path=f"{root_name}/MessageRecipient[{index}]/PartyId",
            line=line,
            status=MessageStatus.UNKNOWN_PARTY,
        )
        for index, (party_id, line) in enumerate(header.recipients, start=1)
        if party_id is None or party_id not in parties
    ]
    if unknown:
        verdict.status, verdict.errors = MessageStatus.UNKNOWN_PARTY, list(unknown)
        return verdict
    rule = ENTITLEMENTS[message_type]
    if message_type == "ManifestMessage":
        return _refuse(
            verdict,
            MessageError(
                "ManifestOutsideBatch",
                "a ManifestMessage is only valid as the BatchComplete file of a batch",
                path=f"/{message_type}",
                line=_line(inspection.tree.getroot()) if inspection.tree is not None else None,
                status=MessageStatus.NOT_AUTHORISED,
            ),
        )
    if sender_party.role not in rule.senders:
        return _refuse(
            verdict,
            MessageError(
                "SenderNotEntitled",
                f"{sender} is a {sender_party.role}; a {message_type} is sent by "
                f"{_roles(rule.senders)}",
                path=sender_path,
                line=header.sender_line,
                status=MessageStatus.NOT_AUTHORISED,
            ),
        )
    refused = []
    for index, (party_id, line) in enumerate(header.recipients, start=1):
        assert party_id is not None
        recipient = parties[party_id]
        path = f"{root_name}/MessageRecipient[{index}]/PartyId"
        if party_id == sender:
            refused.append(
                MessageError(
                    "RecipientNotEntitled",
                    f"{sender} cannot send a {message_type} to itself",
                    path=path,
                    line=line,
                    status=MessageStatus.NOT_AUTHORISED,
                )
            )
        elif recipient.role not in rule.recipients:
            refused.append(
                MessageError(
                    "RecipientNotEntitled",
                    f"{party_id} is a {recipient.role}; a {message_type} goes to "
                    f"{_roles(rule.recipients)}",
                    path=path,
                    line=line,
                    status=MessageStatus.NOT_AUTHORISED,
                )
            )
    if refused:
        verdict.status, verdict.errors = MessageStatus.NOT_AUTHORISED, list(refused)
        return verdict
    verdict.tree = inspection.tree  # the model, if anyone needs one, is built from it then
    return verdict


# --- usage reports: validated as a stream, never held ------------------------------------

_ROOT_TAG = re.compile(rb"<(?![?!])(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_SNIFF_BYTES = 4096


def streamed_family(path: Path) -> str | None:
    """The family of the stored file ``path`` when it is one validated as a stream (its root
    element's name, read from the first bytes), else ``None``."""
    with path.open("rb") as stream:
        head = stream.read(_SNIFF_BYTES)
    found = _ROOT_TAG.search(head)
    name = found.group(1).decode("ascii") if found else None
    return name if name in STREAMED_FAMILIES else None


def inspect_stored(path: Path, name: str | None = None) -> Inspection | None:
    """Validate the usage report stored at ``path`` as a stream (the XSD and the business
    rules, in constant memory: :class:`airex.formats.usage.XmlUsageReader` reads every
    record, as ``airex usage stats`` does) and read its header alone. Errors cite the file
    as ``name`` (the name it was handed in under); at most :data:`MAX_STREAM_ERRORS` are
    kept, and the reading stops there. ``None`` when it is not a usage report."""
    from airex.formats.usage import XmlUsageReader

    if streamed_family(path) is None:
        return None

    reader, _ = read_through(XmlUsageReader, str(path))
    errors = [e if e.file is None else replace(e, file=name) for e in reader.errors]
    try:
        header = _streamed_header(path, "UsageReportMessage")
    except Exception:  # broken before its header ends: the errors say where
        header = Header(message_type="UsageReportMessage")
    return Inspection(errors[:MAX_STREAM_ERRORS], header, None)


def stored_header(path: Path) -> Inspection | None:
    """The header of the usage report stored at ``path``, its records not read (a deferred
    :class:`Inspection`); ``None`` when it is not a usage report, or its header is not one a
    verdict can be reached on (then :func:`inspect_stored` validates it whole)."""
    if streamed_family(path) is None:
        return None
    try:
        header = _streamed_header(path, "UsageReportMessage")
    except Exception:  # an unreadable header: the whole stream's validation words it
        return None
    return Inspection([], header, None, deferred=True) if complete_header(header) else None


def complete_header(header: Header) -> bool:
    """True when every value of ``header`` a verdict reads fits its pattern."""
    return (
        header.message_id is not None
        and header.sender is not None
        and bool(header.recipients)
        and all(party_id is not None for party_id, _ in header.recipients)
    )


class _TooManyErrors(Exception):
    """Raised inside a reader to stop it once enough errors were found."""


def read_through(
    reader_class: Any, source: Any, *, unreadable: tuple[type[BaseException], ...] = ()
) -> tuple[Any, BaseException | None]:
    """Read every record of ``reader_class(source, strict=False)`` (a usage report reader of
    :mod:`airex.formats.usage`), stopping once it has found :data:`MAX_STREAM_ERRORS`
    errors: a hostile report costs bounded memory and time. Returns the reader (its
    ``errors``, its header) and the exception of ``unreadable`` that broke the reading off,
    if one did."""

    class Capped(reader_class):  # type: ignore[misc]
        def _fail(self, error: MessageError) -> None:
            self.errors.append(error)
            if len(self.errors) >= MAX_STREAM_ERRORS:
                raise _TooManyErrors

    reader = Capped(source, strict=False)
    try:
        for _ in reader:
            pass
    except _TooManyErrors:
        pass
    except unreadable as exc:
        return reader, exc
    return reader, None


def _streamed_header(path: Path, message_type: str) -> Header:
    """The header of a stored message, read from its first chunks only (with line numbers)."""

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as stream:
            while piece := stream.read(65536):
                yield piece

    from airex.formats.usage import STREAMING_LIMITS

    batches = stream_element_batches(
        chunks(),
        [f"{_NS}MessageHeader"],
        root=f"{_NS}{message_type}",
        limits=STREAMING_LIMITS,
        name=path.name,
    )
    try:
        for batch in batches:
            for element in batch:
                if element.tag == f"{_NS}MessageHeader":
                    return _header_of(element, message_type)
    finally:
        batches.close()  # type: ignore[attr-defined]
    return Header(message_type=message_type)


def _refuse(verdict: Verdict, error: MessageError) -> Verdict:
    verdict.status, verdict.errors = error.status, [error]
    return verdict


def _roles(roles: frozenset[str]) -> str:
    names = sorted(roles)
    if len(names) == 1:
        return f"a {names[0]}"
    return "a " + ", a ".join(names[:-1]) + f" or a {names[-1]}"
