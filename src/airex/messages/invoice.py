"""InvoiceMessage: the licensor bills (or, as a credit note, refunds) the licensee."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.codes import InvoiceType
from airex.messages.common import (
    AirexMessage,
    Amount,
    Identifier,
    Period,
    Text,
    XmlDate,
    XmlDecimal,
    _Model,
)

__all__ = ["Invoice", "InvoiceLine", "InvoiceMessage"]


class InvoiceLine(_Model, tag="InvoiceLine"):
    """One priced line; with quantity and unit price, amount = quantity × price (half-up)."""

    line_number: int = element(tag="LineNumber")
    tariff_id: Identifier = element(tag="TariffId")
    description: Text = element(tag="Description")
    quantity: XmlDecimal | None = element(tag="Quantity", default=None)
    unit_price: Amount | None = element(tag="UnitPrice", default=None)
    line_amount: Amount = element(tag="LineAmount")


class Invoice(_Model, tag="Invoice"):
    """TotalAmount is the exact sum of the line amounts, all in one currency."""

    invoice_id: Identifier = element(tag="InvoiceId")
    invoice_type: InvoiceType | None = element(tag="InvoiceType", default=None)
    licence_id: Identifier = element(tag="LicenceId")
    usage_report_id: Identifier | None = element(tag="UsageReportId", default=None)
    invoice_period: Period = element(tag="InvoicePeriod")
    issue_date: XmlDate = element(tag="IssueDate")
    due_date: XmlDate = element(tag="DueDate")
    invoice_lines: list[InvoiceLine] = element(tag="InvoiceLine", min_length=1)
    total_amount: Amount = element(tag="TotalAmount")


class InvoiceMessage(AirexMessage, tag="InvoiceMessage"):
    """Licensor → licensee."""

    invoice: Invoice = element(tag="Invoice")
