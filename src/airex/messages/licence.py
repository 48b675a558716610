"""LicenceMessage: the grant, and every later change of it (never an edit)."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.codes import LicenceStatus
from airex.messages.common import AirexMessage, DateTimeTZ, Identifier, Party, Text, _Model
from airex.messages.terms import LicenceTerms

__all__ = ["Licence", "LicenceMessage"]


class Licence(_Model, tag="Licence"):
    """One state of licence ``licence_id``: Granted, Suspended, Revoked or Expired."""

    licence_id: Identifier = element(tag="LicenceId")
    offer_id: Identifier | None = element(tag="OfferId", default=None)
    request_id: Identifier | None = element(tag="RequestId", default=None)
    licensor: Party = element(tag="Licensor")
    licensee: Party = element(tag="Licensee")
    licence_status: LicenceStatus = element(tag="LicenceStatus")
    status_reason: Text | None = element(tag="StatusReason", default=None)
    issued_date_time: DateTimeTZ = element(tag="IssuedDateTime")
    licence_terms: LicenceTerms = element(tag="LicenceTerms")


class LicenceMessage(AirexMessage, tag="LicenceMessage"):
    """Licensor → licensee."""

    licence: Licence = element(tag="Licence")
