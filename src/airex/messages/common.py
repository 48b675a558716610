"""Shared types of the standard: header, party, amount, period, territory, work id.

Every model maps one XSD complex type of ``airex-common.xsd`` element for element (a test walks
both and fails on any difference). Field names are the element names in snake_case; repeated
elements are lists with plural names. Builders fill what a sender should not have to think
about: a fresh ``MessageId``, ``MessageCreatedDateTime`` now in UTC, ``SchemaVersion="1.0"``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    PlainSerializer,
    StringConstraints,
)
from pydantic_xml import BaseXmlModel, attr, element

from airex.messages.codes import MessageControlType, PartyRole, WorkIdType

__all__ = [
    "NAMESPACE",
    "SCHEMA_VERSION",
    "AirexMessage",
    "Amount",
    "DateTimeTZ",
    "Identifier",
    "MessageHeader",
    "Party",
    "PartyId",
    "Period",
    "Territory",
    "Text",
    "WorkId",
    "XmlBool",
    "XmlDate",
    "XmlDecimal",
    "new_message_id",
    "utc_now",
]

NAMESPACE = "urn:airex:xml:1"
SCHEMA_VERSION = "1.0"

# --- scalar types -------------------------------------------------------------------------------

Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._:\-]{1,64}$")
]
"""MessageId and every ``*Id`` / ``*Reference`` (xs:token, 1-64 of ``[A-Za-z0-9._:-]``)."""

PartyId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^PADPIDA[A-Za-z0-9]+$", max_length=64)
]
"""A DDEX party id (``PADPIDA`` + letters and digits, at most 64 characters)."""

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_chars(value: str) -> str:
    # A character XML 1.0 cannot carry (NUL, most C0 controls, U+FFFE...) would only fail later,
    # inside lxml, when the message is serialised: refuse it where it is set, saying which.
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot appear in XML")
    return value


Text = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_xml_chars)]
"""Free text: non-empty, at most 1024 characters, all of them characters XML can carry."""


def _fixed_point(value: Decimal) -> str:
    # xs:decimal has no exponent form: Decimal("1E+2") must be written "100".
    return format(value, "f")


XmlDecimal = Annotated[Decimal, PlainSerializer(_fixed_point, return_type=str)]
"""A Decimal written in xs:decimal's fixed-point form."""

_DATE_WITH_ZONE = re.compile(r"^(-?\d{4,}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})$")


def _drop_date_zone(value: Any) -> Any:
    # xs:date admits an optional time zone ("2026-01-31Z"); a calendar date is all airex uses.
    if isinstance(value, str):
        match = _DATE_WITH_ZONE.match(value.strip())
        if match:
            return match.group(1)
    return value


XmlDate = Annotated[date, BeforeValidator(_drop_date_zone)]
"""An xs:date (a time zone on the wire is accepted and ignored)."""


def _collapse(value: Any) -> Any:
    # xs:boolean and xs:dateTime collapse white space: "<IsTestFlag> true </IsTestFlag>" is valid.
    return value.strip() if isinstance(value, str) else value


XmlBool = Annotated[bool, BeforeValidator(_collapse)]
"""An xs:boolean (surrounding white space on the wire is ignored, as the XSD does)."""

_END_OF_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})T24:00:00(?:\.0+)?(Z|[+-]\d{2}:\d{2})$")


def _xs_date_time(value: Any) -> Any:
    # xs:dateTime may write the midnight that ends a day as T24:00:00: the same instant as
    # T00:00:00 of the next day, which is what Python can hold.
    value = _collapse(value)
    if isinstance(value, str):
        match = _END_OF_DAY.match(value)
        if match:
            try:
                next_day = date.fromisoformat(match.group(1)) + timedelta(days=1)
            except (ValueError, OverflowError):
                return value  # not a date Python can hold: left for pydantic to refuse
            return f"{next_day.isoformat()}T00:00:00{match.group(2)}"
    return value


DateTimeTZ = Annotated[AwareDatetime, BeforeValidator(_xs_date_time)]
"""An xs:dateTime that carries a time zone (naive datetimes are refused)."""


def new_message_id() -> str:
    """A fresh, globally unique MessageId (``AIREX-`` + 32 hex digits)."""
    return f"AIREX-{uuid.uuid4().hex}"


def utc_now() -> datetime:
    """Now, in UTC, to the second (what MessageCreatedDateTime defaults to)."""
    return datetime.now(UTC).replace(microsecond=0)


# --- complex types ------------------------------------------------------------------------------


class _Model(BaseXmlModel, ns="", nsmap={"": NAMESPACE}, search_mode="strict"):
    """Base of every airex model: the airex namespace, elements in declared order."""


class Party(_Model, tag="Party"):
    """A party: its DDEX party id, and optionally its name and role."""

    party_id: PartyId = element(tag="PartyId")
    party_name: Text | None = element(tag="PartyName", default=None)
    party_role: PartyRole | None = element(tag="PartyRole", default=None)


class MessageHeader(_Model, tag="MessageHeader"):
    """Who sends what to whom, and when. ``message_id`` and ``created`` default to fresh values."""

    message_thread_id: Identifier | None = element(tag="MessageThreadId", default=None)
    message_id: Identifier = element(tag="MessageId", default_factory=new_message_id)
    message_sender: Party = element(tag="MessageSender")
    sent_on_behalf_of: Party | None = element(tag="SentOnBehalfOf", default=None)
    message_recipients: list[Party] = element(tag="MessageRecipient", min_length=1)
    message_created_date_time: DateTimeTZ = element(
        tag="MessageCreatedDateTime", default_factory=utc_now
    )
    message_control_type: MessageControlType | None = element(
        tag="MessageControlType", default=None
    )

    @classmethod
    def build(
        cls,
        sender: Party | str,
        *recipients: Party | str,
        thread_id: str | None = None,
        test: bool = False,
    ) -> Self:
        """A header from ``sender`` to ``recipients`` (parties or bare party ids)."""

        def party(p: Party | str) -> Party:
            return p if isinstance(p, Party) else Party(party_id=p)

        return cls(
            message_thread_id=thread_id,
            message_sender=party(sender),
            message_recipients=[party(r) for r in recipients],
            message_control_type=MessageControlType.TEST_MESSAGE if test else None,
        )


class Amount(_Model, tag="Amount"):
    """Money: a non-negative decimal (at most 4 fraction digits) and its ISO 4217 currency."""

    currency: str = attr(name="Currency")
    value: XmlDecimal

    @classmethod
    def of(cls, value: Decimal | str | int, currency: str) -> Self:
        """``Amount.of("12.50", "EUR")``."""
        return cls(currency=currency, value=Decimal(value))


class Period(_Model, tag="Period"):
    """An inclusive date range; StartDate <= EndDate."""

    start_date: XmlDate = element(tag="StartDate")
    end_date: XmlDate = element(tag="EndDate")


class Territory(_Model, tag="Territory"):
    """ISO 3166-1 alpha-2 codes or ``Worldwide``, with exclusions (only beside Worldwide)."""

    territory_codes: list[str] = element(tag="TerritoryCode", min_length=1)
    excluded_territory_codes: list[str] = element(tag="ExcludedTerritoryCode", default_factory=list)

    WORLDWIDE: ClassVar[str] = "Worldwide"

    @classmethod
    def worldwide(cls, *excluding: str) -> Self:
        """Worldwide, less the ``excluding`` countries."""
        return cls(territory_codes=[cls.WORLDWIDE], excluded_territory_codes=list(excluding))


class WorkId(_Model, tag="WorkId"):
    """One identifier of a work; ``namespace`` only (and always) for ``Proprietary`` ids."""

    type: WorkIdType = attr(name="Type")
    namespace: str | None = attr(name="Namespace", default=None)
    value: Annotated[str, AfterValidator(_xml_chars)]

    def __str__(self) -> str:
        return f"{self.type}::{self.value}"


class AirexMessage(_Model):
    """Base of the ten root elements: the two required root attributes and the header."""

    schema_version: str = attr(name="SchemaVersion", default=SCHEMA_VERSION)
    language_and_script_code: str = attr(name="LanguageAndScriptCode", default="en")
    message_header: MessageHeader = element(tag="MessageHeader")

    def to_xml(
        self,
        *,
        skip_empty: bool = False,
        exclude_none: bool = True,
        exclude_unset: bool = False,
        **kwargs: Any,
    ) -> str | bytes:
        """As pydantic-xml's, but absent optional elements are left out (not written empty)."""
        return super().to_xml(
            skip_empty=skip_empty, exclude_none=exclude_none, exclude_unset=exclude_unset, **kwargs
        )

    @property
    def message_type(self) -> str:
        """The root element name (``"LicenceMessage"``...)."""
        tag = self.__xml_tag__
        assert tag is not None
        return tag

    @property
    def message_id(self) -> str:
        """Shortcut for ``message_header.message_id``."""
        return self.message_header.message_id
