"""RoyaltyStatementMessage: what a CMO owes one rightsholder for a period, line by line."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.codes import UseType
from airex.messages.common import (
    AirexMessage,
    Identifier,
    Party,
    PartyId,
    Period,
    WorkId,
    XmlDecimal,
    _Model,
)

__all__ = ["RoyaltyStatement", "RoyaltyStatementMessage", "StatementLine", "StatementTotal"]


class StatementLine(_Model, tag="StatementLine"):
    """The payee's part of one work's royalties under one tariff; net = gross − fee."""

    licence_id: Identifier = element(tag="LicenceId")
    licensee_party_id: PartyId = element(tag="LicenseePartyId")
    work_ids: list[WorkId] = element(tag="WorkId", min_length=1)
    use_type: UseType = element(tag="UseType")
    tariff_id: Identifier = element(tag="TariffId")
    units: XmlDecimal | None = element(tag="Units", default=None)
    gross_amount: XmlDecimal = element(tag="GrossAmount")
    share_percentage: XmlDecimal = element(tag="SharePercentage")
    administration_fee: XmlDecimal = element(tag="AdministrationFee")
    net_amount: XmlDecimal = element(tag="NetAmount")


class StatementTotal(_Model, tag="StatementTotal"):
    """Each figure is the exact sum of the lines' figures."""

    gross_amount: XmlDecimal = element(tag="GrossAmount")
    administration_fee: XmlDecimal = element(tag="AdministrationFee")
    net_amount: XmlDecimal = element(tag="NetAmount")


class RoyaltyStatement(_Model, tag="RoyaltyStatement"):
    """All figures are plain decimals in ``currency``."""

    statement_id: Identifier = element(tag="StatementId")
    payee: Party = element(tag="Payee")
    statement_period: Period = element(tag="StatementPeriod")
    currency: str = element(tag="Currency")
    statement_lines: list[StatementLine] = element(tag="StatementLine", min_length=1)
    statement_total: StatementTotal = element(tag="StatementTotal")


class RoyaltyStatementMessage(AirexMessage, tag="RoyaltyStatementMessage"):
    """CMO → rightsholder."""

    royalty_statement: RoyaltyStatement = element(tag="RoyaltyStatement")
