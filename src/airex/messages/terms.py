"""LicenceTerms: the terms shared by a LicenceOffer and a Licence (``airex-terms.xsd``)."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_xml import element

from airex.messages.codes import (
    BillingPeriod,
    ReportFormat,
    ReportingFrequency,
    TariffType,
    Unit,
    UserType,
    UseType,
    WorkType,
)
from airex.messages.common import (
    Amount,
    Identifier,
    Territory,
    WorkId,
    XmlBool,
    XmlDate,
    XmlDecimal,
    _Model,
)

__all__ = [
    "AllRepresentedWorks",
    "LicenceTerms",
    "Repertoire",
    "ReportingObligation",
    "Tariff",
    "Term",
    "WorkIdList",
    "WorkTypeList",
]


class AllRepresentedWorks(_Model, tag="AllRepresentedWorks"):
    """Empty marker: the licence covers every work the licensor represents."""


class WorkIdList(_Model, tag="WorkIdList"):
    """Repertoire as an explicit list of works."""

    work_ids: list[WorkId] = element(tag="WorkId", min_length=1)


class WorkTypeList(_Model, tag="WorkTypeList"):
    """Repertoire as every represented work of the listed types."""

    work_types: list[WorkType] = element(tag="WorkType", min_length=1)


class Repertoire(_Model, tag="Repertoire"):
    """Which works the terms cover: exactly one of the three choices."""

    all_represented_works: AllRepresentedWorks | None = element(
        tag="AllRepresentedWorks", default=None
    )
    work_id_list: WorkIdList | None = element(tag="WorkIdList", default=None)
    work_type_list: WorkTypeList | None = element(tag="WorkTypeList", default=None)

    @model_validator(mode="after")
    def _exactly_one(self) -> Repertoire:
        chosen = [
            c
            for c in (self.all_represented_works, self.work_id_list, self.work_type_list)
            if c is not None
        ]
        if len(chosen) != 1:
            raise ValueError(
                "Repertoire takes exactly one of AllRepresentedWorks, WorkIdList, WorkTypeList"
            )
        return self

    @classmethod
    def all_works(cls) -> Repertoire:
        """Every work the licensor represents."""
        return cls(all_represented_works=AllRepresentedWorks())


class Term(_Model, tag="Term"):
    """When the licence runs: from StartDate, open-ended unless EndDate is given."""

    start_date: XmlDate = element(tag="StartDate")
    end_date: XmlDate | None = element(tag="EndDate", default=None)


class Tariff(_Model, tag="Tariff"):
    """One price component. Which of the optional elements are present depends on tariff_type:

    FlatFee / MinimumGuarantee: amount + billing_period; PerWork: amount;
    PerUnit: amount + unit + per_quantity; RevenueShare: percentage + currency.
    """

    tariff_id: Identifier = element(tag="TariffId")
    tariff_type: TariffType = element(tag="TariffType")
    use_types: list[UseType] = element(tag="UseType", default_factory=list)
    amount: Amount | None = element(tag="Amount", default=None)
    billing_period: BillingPeriod | None = element(tag="BillingPeriod", default=None)
    unit: Unit | None = element(tag="Unit", default=None)
    per_quantity: int | None = element(tag="PerQuantity", default=None)
    percentage: XmlDecimal | None = element(tag="Percentage", default=None)
    currency: str | None = element(tag="Currency", default=None)


class ReportingObligation(_Model, tag="ReportingObligation"):
    """How often, how soon after the period and in which format usage must be reported."""

    frequency: ReportingFrequency = element(tag="Frequency")
    due_days: int = element(tag="DueDays")
    report_formats: list[ReportFormat] = element(tag="ReportFormat", min_length=1)


class LicenceTerms(_Model, tag="LicenceTerms"):
    """What may be used, for what, where, when, by whom, at what price, reported how."""

    repertoire: Repertoire = element(tag="Repertoire")
    permitted_use_types: list[UseType] = element(tag="PermittedUseType", min_length=1)
    territory: Territory = element(tag="Territory")
    term: Term = element(tag="Term")
    user_type: UserType | None = element(tag="UserType", default=None)
    tariffs: list[Tariff] = element(tag="Tariff", min_length=1)
    reporting_obligation: ReportingObligation = element(tag="ReportingObligation")
    attribution_required: XmlBool | None = element(tag="AttributionRequired", default=None)
