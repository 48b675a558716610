"""PaymentNotificationMessage: payer tells payee what it paid and which documents it settles."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.codes import DocumentType
from airex.messages.common import AirexMessage, Amount, Identifier, Party, XmlDate, _Model

__all__ = ["Payment", "PaymentNotificationMessage", "SettledDocument"]


class SettledDocument(_Model, tag="SettledDocument"):
    """The part of the payment applied to one invoice or royalty statement."""

    document_type: DocumentType = element(tag="DocumentType")
    document_id: Identifier = element(tag="DocumentId")
    applied_amount: Amount = element(tag="AppliedAmount")


class Payment(_Model, tag="Payment"):
    """Applied amounts are in the paid currency and sum exactly to the paid amount."""

    payment_id: Identifier = element(tag="PaymentId")
    payer: Party = element(tag="Payer")
    payee: Party = element(tag="Payee")
    paid_amount: Amount = element(tag="PaidAmount")
    payment_date: XmlDate = element(tag="PaymentDate")
    settled_documents: list[SettledDocument] = element(tag="SettledDocument", min_length=1)
    payment_reference: Identifier | None = element(tag="PaymentReference", default=None)


class PaymentNotificationMessage(AirexMessage, tag="PaymentNotificationMessage"):
    """Payer → payee: licence fees in, royalties out."""

    payment: Payment = element(tag="Payment")
