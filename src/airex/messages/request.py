"""LicenceRequestMessage: an AI developer accepts an offer on its terms."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.common import AirexMessage, Identifier, Party, XmlDate, _Model

__all__ = ["LicenceRequest", "LicenceRequestMessage"]


class LicenceRequest(_Model, tag="LicenceRequest"):
    """Acceptance of offer ``offer_id`` by ``licensee``."""

    request_id: Identifier = element(tag="RequestId")
    offer_id: Identifier = element(tag="OfferId")
    licensee: Party = element(tag="Licensee")
    requested_start_date: XmlDate | None = element(tag="RequestedStartDate", default=None)


class LicenceRequestMessage(AirexMessage, tag="LicenceRequestMessage"):
    """AI developer → licensor."""

    licence_request: LicenceRequest = element(tag="LicenceRequest")
