"""The tables of distribution and statements (SQLModel; migration ``0002``, prefix ``royalties_``).

``royalties_payment``
    one row per (payer, PaymentId, settled invoice) of a PaymentNotificationMessage: the
    AppliedAmount, the PaymentDate, the message and the ledger key of the cash entry.
``royalties_distribution``
    one row per distributed payment of an invoice: the invoice's parties, the paid amount and
    where it went (rightsholders gross, administration fee, net, suspense; ``gross + suspense
    = paid`` and ``fee + net = gross`` are CHECK constraints), the fee percentage, the date the
    shares were taken on, the invoice lines (JSON), the ledger key prefix of its entries and
    ``posted_at`` (set once every ledger entry is posted: a distribution without it is
    finished by the next ``distribute``).
``royalties_distribution_party``
    per distribution and rightsholder: gross, fee, net (what the ledger credited it) and the
    number of lines; ``position`` is the rightsholder's number in the line blocks.
``royalties_distribution_suspense``
    the money held in suspense, per invoice line and work (``work_key`` ``NULL`` for a work
    the registry does not know), with the reported identifiers and the reason.
``royalties_distribution_block``
    the rightsholder lines themselves, columnar: one binary block per column and million
    lines (little-endian 64-bit integers, zlib-compressed; the work identifiers as text).
    A distribution of a 10-million-record report has millions of lines: as rows they took
    longer to insert and read back than everything else together, as blocks a second.

Money is ``BIGINT`` minor units; percentages are stored as the decimal text they were given.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from airex.royalties.models import ID_LENGTH, ID_TYPE, UTCDateTime, table

__all__ = [
    "DistributionBlockRow",
    "DistributionPartyRow",
    "DistributionRow",
    "DistributionSuspenseRow",
    "PaymentRow",
    "royalties_tables",
]


class PaymentRow(SQLModel, table=True):
    """Table ``royalties_payment``: a payment's part applied to one invoice."""

    __tablename__: ClassVar[Any] = "royalties_payment"
    __table_args__ = (
        sa.UniqueConstraint(
            "payer", "payment_id", "document_id", name="uq_royalties_payment_document"
        ),
        sa.CheckConstraint("applied_minor >= 0", name="ck_royalties_payment_applied"),
        sa.Index("ix_royalties_payment_date", "payment_date"),
        sa.Index("ix_royalties_payment_document", "document_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    payer: str = Field(sa_type=sa.String(ID_LENGTH))
    payment_id: str = Field(sa_type=sa.String(ID_LENGTH))
    document_id: str = Field(sa_type=sa.String(ID_LENGTH))
    """The InvoiceId the amount is applied to."""
    payee: str = Field(sa_type=sa.String(ID_LENGTH))
    currency: str = Field(sa_type=sa.String(3))
    applied_minor: int = Field(sa_type=sa.BigInteger())
    payment_date: date
    message_id: str = Field(sa_type=sa.String(ID_LENGTH))
    ledger_key: str = Field(sa_type=sa.String(255))
    recorded_at: datetime = Field(sa_type=UTCDateTime())


class DistributionRow(SQLModel, table=True):
    """Table ``royalties_distribution``: one payment of one invoice, shared out."""

    __tablename__: ClassVar[Any] = "royalties_distribution"
    __table_args__ = (
        sa.UniqueConstraint("payment", name="uq_royalties_distribution_payment"),
        sa.CheckConstraint(
            "gross_minor + suspense_minor = paid_minor", name="ck_royalties_distribution_paid"
        ),
        sa.CheckConstraint(
            "fee_minor + net_minor = gross_minor", name="ck_royalties_distribution_net"
        ),
        sa.Index("ix_royalties_distribution_date", "payment_date"),
        sa.Index("ix_royalties_distribution_invoice", "invoice_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=ID_TYPE)
    payment: int = Field(foreign_key="royalties_payment.id", sa_type=ID_TYPE)
    invoice_id: str = Field(sa_type=sa.String(ID_LENGTH))
    licence_id: str = Field(sa_type=sa.String(ID_LENGTH))
    licensor: str = Field(sa_type=sa.String(ID_LENGTH))
    licensee: str = Field(sa_type=sa.String(ID_LENGTH))
    currency: str = Field(sa_type=sa.String(3))
    payment_date: date
    shares_on: date
    """The day the rightsholders' shares were taken on (the invoice period's last day)."""
    paid_minor: int = Field(sa_type=sa.BigInteger())
    gross_minor: int = Field(sa_type=sa.BigInteger())
    fee_minor: int = Field(sa_type=sa.BigInteger())
    net_minor: int = Field(sa_type=sa.BigInteger())
    suspense_minor: int = Field(sa_type=sa.BigInteger())
    admin_fee_percent: str = Field(sa_type=sa.String(32))
    parties: int = Field(sa_type=sa.BigInteger())
    lines: int = Field(sa_type=sa.BigInteger())
    units_shown: bool
    """Whether this distribution's statement lines show Units (the invoice's first payment)."""
    invoice_lines: str = Field(sa_type=sa.Text())
    """JSON list of the invoice lines: line number, tariff id and type, basis, money."""
    ledger_key: str = Field(sa_type=sa.String(255))
    """The prefix of the ledger entries' idempotency keys."""
    entries: int
    created_at: datetime = Field(sa_type=UTCDateTime())
    posted_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class DistributionPartyRow(SQLModel, table=True):
    """Table ``royalties_distribution_party``: one rightsholder's totals in a distribution."""

    __tablename__: ClassVar[Any] = "royalties_distribution_party"
    __table_args__ = (
        sa.CheckConstraint(
            "fee_minor + net_minor = gross_minor", name="ck_royalties_distribution_party_net"
        ),
        sa.Index("ix_royalties_distribution_party_party", "party"),
        {"sqlite_with_rowid": False},
    )

    distribution: int = Field(
        primary_key=True, foreign_key="royalties_distribution.id", sa_type=ID_TYPE
    )
    party: str = Field(primary_key=True, sa_type=sa.String(ID_LENGTH))
    position: int = Field(sa_type=sa.BigInteger())
    gross_minor: int = Field(sa_type=sa.BigInteger())
    fee_minor: int = Field(sa_type=sa.BigInteger())
    net_minor: int = Field(sa_type=sa.BigInteger())
    lines: int = Field(sa_type=sa.BigInteger())


class DistributionSuspenseRow(SQLModel, table=True):
    """Table ``royalties_distribution_suspense``: money held for a work (or a whole line)."""

    __tablename__: ClassVar[Any] = "royalties_distribution_suspense"
    __table_args__ = (
        sa.CheckConstraint("amount_minor > 0", name="ck_royalties_distribution_suspense_amount"),
        {"sqlite_with_rowid": False},
    )

    distribution: int = Field(
        primary_key=True, foreign_key="royalties_distribution.id", sa_type=ID_TYPE
    )
    seq: int = Field(primary_key=True, sa_type=sa.BigInteger())
    line_number: int
    tariff_id: str = Field(sa_type=sa.String(ID_LENGTH))
    use_type: str | None = Field(default=None, sa_type=sa.String(64))
    work_key: int | None = Field(default=None, sa_type=sa.BigInteger())
    work_ids: str | None = Field(default=None, sa_type=sa.Text())
    """The work's identifiers as reported (flat form, ``|``-joined)."""
    amount_minor: int = Field(sa_type=sa.BigInteger())
    reason: str = Field(sa_type=sa.String(32))


class DistributionBlockRow(SQLModel, table=True):
    """Table ``royalties_distribution_block``: one block of one column of the lines."""

    __tablename__: ClassVar[Any] = "royalties_distribution_block"
    __table_args__ = {"sqlite_with_rowid": False}

    distribution: int = Field(
        primary_key=True, foreign_key="royalties_distribution.id", sa_type=ID_TYPE
    )
    name: str = Field(primary_key=True, sa_type=sa.String(32))
    block: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary())


def royalties_tables() -> list[sa.Table]:
    """The distribution tables in creation order (parents before children)."""
    return [
        table(model)
        for model in (
            PaymentRow,
            DistributionRow,
            DistributionPartyRow,
            DistributionSuspenseRow,
            DistributionBlockRow,
        )
    ]
