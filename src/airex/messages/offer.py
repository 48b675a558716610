"""LicenceOfferMessage: a licensor offers licence terms to one AI developer or to anyone."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.common import AirexMessage, DateTimeTZ, Identifier, Party, _Model
from airex.messages.terms import LicenceTerms

__all__ = ["LicenceOfferMessage", "Offer"]


class Offer(_Model, tag="Offer"):
    """Terms on offer until ``valid_until``; no licensee means an open offer."""

    offer_id: Identifier = element(tag="OfferId")
    licensor: Party = element(tag="Licensor")
    licensee: Party | None = element(tag="Licensee", default=None)
    licence_terms: LicenceTerms = element(tag="LicenceTerms")
    valid_until: DateTimeTZ = element(tag="ValidUntil")


class LicenceOfferMessage(AirexMessage, tag="LicenceOfferMessage"):
    """Licensor (CMO or rightsholder) → AI developer."""

    offer: Offer = element(tag="Offer")
