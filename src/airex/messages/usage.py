"""UsageReportMessage (XML form): an AI developer reports which works it used, how much.

Reports can hold many millions of records; this model is for reports that fit in memory.
Huge reports need streaming readers and writers (XML and flat file), which this model
does not provide.
"""

from __future__ import annotations

from pydantic_xml import attr, element

from airex.messages.codes import RevenueType, Unit, UseType
from airex.messages.common import (
    AirexMessage,
    Amount,
    Identifier,
    Period,
    Text,
    WorkId,
    XmlDecimal,
    _Model,
)

__all__ = [
    "Model",
    "Quantity",
    "ReportedRevenue",
    "UsageRecord",
    "UsageRecordList",
    "UsageReport",
    "UsageReportMessage",
    "UsageSummary",
]


class Model(_Model, tag="Model"):
    """An AI model the usage is attributed to."""

    model_id: Identifier = element(tag="ModelId")
    model_name: Text | None = element(tag="ModelName", default=None)
    model_version: Text | None = element(tag="ModelVersion", default=None)


class ReportedRevenue(Amount, tag="ReportedRevenue"):
    """Revenue of the period, by revenue type (basis of RevenueShare tariffs)."""

    revenue_type: RevenueType = attr(name="RevenueType")


class UsageSummary(_Model, tag="UsageSummary"):
    """Record count (must equal the records present) and reported revenue."""

    number_of_records: int = element(tag="NumberOfRecords")
    reported_revenues: list[ReportedRevenue] = element(tag="ReportedRevenue", default_factory=list)


class Quantity(_Model, tag="Quantity"):
    """How much was used, in ``unit`` (at most 6 fraction digits)."""

    unit: Unit = attr(name="Unit")
    value: XmlDecimal


class UsageRecord(_Model, tag="UsageRecord"):
    """One work (named by one or more ids), one use type, one quantity."""

    work_ids: list[WorkId] = element(tag="WorkId", min_length=1)
    use_type: UseType = element(tag="UseType")
    quantity: Quantity = element(tag="Quantity")
    attribution_share: XmlDecimal | None = element(tag="AttributionShare", default=None)
    model_id: Identifier | None = element(tag="ModelId", default=None)


class UsageRecordList(_Model, tag="UsageRecordList"):
    """The records of the report."""

    usage_records: list[UsageRecord] = element(tag="UsageRecord", min_length=1)


class UsageReport(_Model, tag="UsageReport"):
    """Usage under licence ``licence_id`` in ``reporting_period``."""

    report_id: Identifier = element(tag="ReportId")
    licence_id: Identifier = element(tag="LicenceId")
    reporting_period: Period = element(tag="ReportingPeriod")
    correction_of_report_id: Identifier | None = element(tag="CorrectionOfReportId", default=None)
    models: list[Model] = element(tag="Model", default_factory=list)
    usage_summary: UsageSummary = element(tag="UsageSummary")
    usage_record_list: UsageRecordList = element(tag="UsageRecordList")


class UsageReportMessage(AirexMessage, tag="UsageReportMessage"):
    """AI developer → licensor."""

    usage_report: UsageReport = element(tag="UsageReport")
