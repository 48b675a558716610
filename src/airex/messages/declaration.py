"""WorkDeclarationMessage: a rightsholder declares works, shares and AI-use preferences."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.codes import ContainsAI, Preference, UseType, WorkType
from airex.messages.common import (
    AirexMessage,
    Identifier,
    PartyId,
    Territory,
    Text,
    WorkId,
    XmlDate,
    XmlDecimal,
    _Model,
)

__all__ = [
    "AIUsePreference",
    "Contributor",
    "RightsShare",
    "Work",
    "WorkDeclarationMessage",
    "WorkList",
]


class Contributor(_Model, tag="Contributor"):
    """A person or entity who contributed to the work, and how."""

    name: Text = element(tag="Name")
    role: Text = element(tag="Role")


class RightsShare(_Model, tag="RightsShare"):
    """A rightsholder's percentage of the work in a territory (absent territory = Worldwide)."""

    rightsholder_party_id: PartyId = element(tag="RightsholderPartyId")
    share_percentage: XmlDecimal = element(tag="SharePercentage")
    territory: Territory | None = element(tag="Territory", default=None)


class AIUsePreference(_Model, tag="AIUsePreference"):
    """OptIn or OptOut of one use type, optionally from a date and in a territory."""

    use_type: UseType = element(tag="UseType")
    preference: Preference = element(tag="Preference")
    effective_date: XmlDate | None = element(tag="EffectiveDate", default=None)
    territory: Territory | None = element(tag="Territory", default=None)


class Work(_Model, tag="Work"):
    """One declared work; its RightsShares sum to 100 per territory group."""

    work_reference: Identifier = element(tag="WorkReference")
    work_ids: list[WorkId] = element(tag="WorkId", min_length=1)
    title: Text = element(tag="Title")
    work_type: WorkType = element(tag="WorkType")
    contributors: list[Contributor] = element(tag="Contributor", default_factory=list)
    contains_ai: ContainsAI | None = element(tag="ContainsAI", default=None)
    rights_shares: list[RightsShare] = element(tag="RightsShare", min_length=1)
    ai_use_preferences: list[AIUsePreference] = element(tag="AIUsePreference", default_factory=list)


class WorkList(_Model, tag="WorkList"):
    """The declared works."""

    works: list[Work] = element(tag="Work", min_length=1)


class WorkDeclarationMessage(AirexMessage, tag="WorkDeclarationMessage"):
    """Rightsholder → CMO or registry: works, rightsholder shares, AI-use preferences."""

    work_list: WorkList = element(tag="WorkList")
