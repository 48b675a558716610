"""A lean writer of RoyaltyStatementMessage XML: strings, not models, for 100 000 statements.

A distribution run writes one statement per rightsholder, millions of lines in all; building
a pydantic model per line and serialising it through lxml costs several times the rest of
the run. This writer builds the XML as text, line by line, in exactly the form
:func:`airex.serialise` gives the same statement (the tests compare the bytes, and validate
the output with :func:`airex.check`): same declaration, element order, two-space
indentation, escaping and number forms. What it writes is therefore a valid message by the
same proof as a model's.

Figures are given as integers: money in minor units (written with the currency's exponent,
``171309`` EUR → ``1713.09``), shares in hundredths of a percent (``5000`` → ``50``), units in
millionths (written rounded half-up to the four fraction digits the schema allows, trailing
zeros dropped).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

from airex.formats.usage import WorkRef
from airex.messages.statement import RoyaltyStatementMessage

__all__ = [
    "SHARE_TEXTS",
    "StatementHead",
    "StatementLineData",
    "attribute_text",
    "element_text",
    "line_prefix",
    "line_template",
    "money_text",
    "render_document",
    "render_statement",
    "share_text",
    "statement_message_id",
    "statement_model",
    "units_text",
    "units_xml",
    "work_ids_xml",
]


def element_text(value: str) -> str:
    """``value`` escaped as element content, as lxml writes it."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def attribute_text(value: str) -> str:
    """``value`` escaped as a double-quoted attribute value, as lxml writes it."""
    return element_text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def money_text(minor: int, exponent: int) -> str:
    """``minor`` units as a plain decimal with ``exponent`` fraction digits (never negative)."""
    if minor < 0:
        raise ValueError(f"statement amounts are never negative ({minor})")
    if not exponent:
        return str(minor)
    whole, fraction = divmod(minor, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


def share_text(hundredths: int) -> str:
    """A share in hundredths of a percent as SharePercentage text: ``5000`` → ``50``,
    ``3333`` → ``33.33``, ``1250`` → ``12.5``."""
    whole, fraction = divmod(hundredths, 100)
    if not fraction:
        return str(whole)
    return f"{whole}.{fraction:02d}".rstrip("0")


def units_text(units_micro: int) -> str:
    """Millionths of a unit as Units text: half-up to 4 fraction digits, trailing zeros
    dropped (``1245882310000000`` → ``1245882310``, ``12345678`` → ``12.3457``)."""
    ten_thousandths = (2 * units_micro + 100) // 200  # half-up from 6 to 4 fraction digits
    whole, fraction = divmod(ten_thousandths, 10_000)
    if not fraction:
        return str(whole)
    return f"{whole}.{fraction:04d}".rstrip("0")


_SPECIAL = ("&", "<", ">", '"', "\r", "\n", "\t")


def work_ids_xml(ids: Sequence[str]) -> str:
    """The ``<WorkId>`` elements of a statement line, from identifiers in the flat form
    (``ISRC::GBLFR2500101``, ``Proprietary::<Namespace>::<Value>``)."""
    parts = []
    for flat in ids:
        kind, _, rest = flat.partition("::")
        if kind != "Proprietary" and rest and not any(c in flat for c in _SPECIAL):
            # the usual case (ISRC, ISWC, ISBN...): nothing to escape
            parts.append(f'      <WorkId Type="{kind}">{rest}</WorkId>\n')
            continue
        ref = WorkRef.from_flat(flat)
        if ref.namespace is None:
            parts.append(
                f'      <WorkId Type="{attribute_text(ref.type)}">{element_text(ref.value)}'
                "</WorkId>\n"
            )
        else:
            parts.append(
                f'      <WorkId Type="{attribute_text(ref.type)}" '
                f'Namespace="{attribute_text(ref.namespace)}">{element_text(ref.value)}</WorkId>\n'
            )
    return "".join(parts)


class StatementLineData(NamedTuple):
    """One StatementLine's content: text ready to write, figures as integers."""

    licence_id: str
    licensee: str
    work_xml: str
    """The line's ``<WorkId>`` elements (:func:`work_ids_xml`)."""
    use_type: str
    tariff_id: str
    units_micro: int | None
    gross_minor: int
    share: int
    fee_minor: int


@dataclass(frozen=True, slots=True)
class StatementHead:
    """What a statement says besides its lines."""

    statement_id: str
    sender: str
    """The CMO's party id (MessageSender)."""
    payee: str
    start: date
    end: date
    currency: str
    exponent: int
    created: datetime


def statement_message_id(head: StatementHead, body: str) -> str:
    """A deterministic MessageId: ``AIREX-`` and 32 hex digits of the SHA-256 of the sender,
    the payee and the statement's content. The same statement written again gets the same id
    (a receiver sees a duplicate); any change of content gets a new one."""
    return _message_id(head, body.encode())


def _message_id(head: StatementHead, body: bytes) -> str:
    """:func:`statement_message_id` of a body already encoded (UTF-8)."""
    digest = hashlib.sha256(f"{head.sender}\n{head.payee}\n".encode())
    digest.update(body)
    return f"AIREX-{digest.hexdigest()[:32]}"


@functools.lru_cache(maxsize=16)  # one value per run: formatted once, not per statement
def _created(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"MessageCreatedDateTime {value.isoformat()} has no time zone")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def line_prefix(licence_id: str, licensee: str) -> str:
    """The opening of a StatementLine: its LicenceId and LicenseePartyId."""
    return (
        "    <StatementLine>\n"
        f"      <LicenceId>{licence_id}</LicenceId>\n"
        f"      <LicenseePartyId>{licensee}</LicenseePartyId>\n"
    )


def line_template(exponent: int) -> str:
    """The ``%`` template of the rest of a StatementLine for a currency of ``exponent``
    fraction digits. Its arguments: prefix (:func:`line_prefix`), WorkId elements, UseType,
    TariffId, the Units element (or ``""``), then ``divmod(x, 10 ** exponent)`` of gross,
    the SharePercentage text, ``divmod`` of the fee and ``divmod`` of the net amount."""
    money = f"%d.%0{exponent}d" if exponent else "%d%.0s"
    return (
        "%s%s"
        "      <UseType>%s</UseType>\n"
        "      <TariffId>%s</TariffId>\n"
        "%s"
        f"      <GrossAmount>{money}</GrossAmount>\n"
        "      <SharePercentage>%s</SharePercentage>\n"
        f"      <AdministrationFee>{money}</AdministrationFee>\n"
        f"      <NetAmount>{money}</NetAmount>\n"
        "    </StatementLine>\n"
    )


def units_xml(units_micro: int | None) -> str:
    """The Units element of a line (``""`` when the line shows no units)."""
    if units_micro is None or units_micro < 0:
        return ""
    if not units_micro % 1_000_000:  # whole units (tokens, requests...): the usual case
        return f"      <Units>{units_micro // 1_000_000}</Units>\n"
    return f"      <Units>{units_text(units_micro)}</Units>\n"


SHARE_TEXTS: tuple[str, ...] = tuple(share_text(h) for h in range(10_001))
""":func:`share_text` of every share from 0 to 10 000 hundredths (an index is faster)."""


def render_statement(head: StatementHead, lines: Sequence[StatementLineData]) -> bytes:
    """The RoyaltyStatementMessage of ``head`` and ``lines`` (at least one), as UTF-8 bytes
    identical to :func:`airex.serialise` of the same message. Totals are the exact sums."""
    if not lines:
        raise ValueError(f"statement {head.statement_id} has no lines")
    scale = 10**head.exponent
    template = line_template(head.exponent)
    out: list[str] = []
    gross_total = fee_total = 0
    prefix_of: dict[tuple[str, str], str] = {}
    for line in lines:
        key = (line.licence_id, line.licensee)
        prefix = prefix_of.get(key)
        if prefix is None:
            prefix = prefix_of[key] = line_prefix(line.licence_id, line.licensee)
        gross = line.gross_minor
        fee = line.fee_minor
        if fee > gross or fee < 0:
            raise ValueError(f"statement {head.statement_id}: fee {fee} outside 0..{gross}")
        gross_total += gross
        fee_total += fee
        out.append(
            template
            % (
                prefix,
                line.work_xml,
                line.use_type,
                line.tariff_id,
                units_xml(line.units_micro),
                *divmod(gross, scale),
                share_text(line.share),
                *divmod(fee, scale),
                *divmod(gross - fee, scale),
            )
        )
    return render_document(head, out, gross_total, fee_total)


def render_document(
    head: StatementHead, lines: Sequence[str], gross_total: int, fee_total: int
) -> bytes:
    """The whole message around already rendered StatementLines, with their totals."""
    exponent = head.exponent
    body = (
        f"    <StatementId>{head.statement_id}</StatementId>\n"
        "    <Payee>\n"
        f"      <PartyId>{head.payee}</PartyId>\n"
        "    </Payee>\n"
        "    <StatementPeriod>\n"
        f"      <StartDate>{head.start.isoformat()}</StartDate>\n"
        f"      <EndDate>{head.end.isoformat()}</EndDate>\n"
        "    </StatementPeriod>\n"
        f"    <Currency>{head.currency}</Currency>\n" + "".join(lines) + "    <StatementTotal>\n"
        f"      <GrossAmount>{money_text(gross_total, exponent)}</GrossAmount>\n"
        f"      <AdministrationFee>{money_text(fee_total, exponent)}</AdministrationFee>\n"
        f"      <NetAmount>{money_text(gross_total - fee_total, exponent)}</NetAmount>\n"
        "    </StatementTotal>\n"
    ).encode()  # encoded once: hashed for the MessageId, then written as it is
    message_id = _message_id(head, body)
    return b"".join(
        (
            (
                "<?xml version='1.0' encoding='UTF-8'?>\n"
                '<RoyaltyStatementMessage xmlns="urn:airex:xml:1" SchemaVersion="1.0" '
                'LanguageAndScriptCode="en">\n'
                "  <MessageHeader>\n"
                f"    <MessageId>{message_id}</MessageId>\n"
                "    <MessageSender>\n"
                f"      <PartyId>{head.sender}</PartyId>\n"
                "    </MessageSender>\n"
                "    <MessageRecipient>\n"
                f"      <PartyId>{head.payee}</PartyId>\n"
                "    </MessageRecipient>\n"
                f"    <MessageCreatedDateTime>{_created(head.created)}</MessageCreatedDateTime>\n"
                "  </MessageHeader>\n"
                "  <RoyaltyStatement>\n"
            ).encode(),
            body,
            b"  </RoyaltyStatement>\n</RoyaltyStatementMessage>\n",
        )
    )


def statement_model(
    head: StatementHead, lines: Sequence[StatementLineData], message_id: str
) -> RoyaltyStatementMessage:
    """The same statement as a :class:`~airex.messages.RoyaltyStatementMessage` model (the
    slow path, for callers who want the model; :func:`render_statement` writes the XML)."""
    from decimal import Decimal

    from airex.messages.codes import UseType, WorkIdType
    from airex.messages.common import MessageHeader, Party, Period, WorkId
    from airex.messages.statement import (
        RoyaltyStatement,
        StatementLine,
        StatementTotal,
    )
    from airex.xml import parse_xml

    def money(minor: int) -> Decimal:
        return Decimal(money_text(minor, head.exponent))

    statement_lines = []
    for line in lines:
        ids = parse_xml(f'<W xmlns="urn:airex:xml:1">{line.work_xml}</W>'.encode()).getroot()
        statement_lines.append(
            StatementLine(
                licence_id=line.licence_id,
                licensee_party_id=line.licensee,
                work_ids=[
                    WorkId(
                        type=WorkIdType(el.get("Type", "")),
                        namespace=el.get("Namespace"),
                        value=el.text or "",
                    )
                    for el in ids
                ],
                use_type=UseType(line.use_type),
                tariff_id=line.tariff_id,
                units=None if line.units_micro is None else Decimal(units_text(line.units_micro)),
                gross_amount=money(line.gross_minor),
                share_percentage=Decimal(share_text(line.share)),
                administration_fee=money(line.fee_minor),
                net_amount=money(line.gross_minor - line.fee_minor),
            )
        )
    gross = sum(line.gross_minor for line in lines)
    fee = sum(line.fee_minor for line in lines)
    return RoyaltyStatementMessage(
        message_header=MessageHeader(
            message_id=message_id,
            message_sender=Party(party_id=head.sender),
            message_recipients=[Party(party_id=head.payee)],
            message_created_date_time=head.created.astimezone(UTC).replace(microsecond=0),
        ),
        royalty_statement=RoyaltyStatement(
            statement_id=head.statement_id,
            payee=Party(party_id=head.payee),
            statement_period=Period(start_date=head.start, end_date=head.end),
            currency=head.currency,
            statement_lines=statement_lines,
            statement_total=StatementTotal(
                gross_amount=money(gross),
                administration_fee=money(fee),
                net_amount=money(gross - fee),
            ),
        ),
    )
