"""The royalties' settings: a typed object passed in, read from the environment in one place.

``AIREX_CMO_PARTY_ID``
    the CMO's party id (``PADPIDA…``): the party that prices usage, issues invoices and keeps
    the distributable pools. Unset: whoever granted each licence (one CMO per database).
``AIREX_ADMIN_FEE_PERCENT``
    the CMO's administration fee on distributions, 0–100 (default ``15``).
``AIREX_INVOICE_DUE_DAYS``
    days from an invoice's IssueDate to its DueDate (default ``30``).
``AIREX_PAYMENT_DAYS_AHEAD``
    how many days after the day a payment reaches the CMO its PaymentDate may be (default
    ``0``: a payment is notified once it is made; 0–31).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from airex.royalties.errors import RoyaltiesConfigError

__all__ = [
    "ENV_ADMIN_FEE_PERCENT",
    "ENV_CMO_PARTY_ID",
    "ENV_INVOICE_DUE_DAYS",
    "ENV_PAYMENT_DAYS_AHEAD",
    "RoyaltySettings",
]

ENV_CMO_PARTY_ID = "AIREX_CMO_PARTY_ID"
ENV_ADMIN_FEE_PERCENT = "AIREX_ADMIN_FEE_PERCENT"
ENV_INVOICE_DUE_DAYS = "AIREX_INVOICE_DUE_DAYS"
ENV_PAYMENT_DAYS_AHEAD = "AIREX_PAYMENT_DAYS_AHEAD"

_PARTY_ID = re.compile(r"^PADPIDA[A-Za-z0-9]+$")


@dataclass(frozen=True, slots=True)
class RoyaltySettings:
    """How the CMO prices, invoices and distributes.

    ``cmo_party_id``: the CMO (``None``: the licensor of each licence priced; when set, a
    report under a licence granted by another party is refused). ``admin_fee_percent``: the
    administration fee kept on distributions (0–100, at most 4 fraction digits).
    ``due_days``: an invoice falls due this many days after it is issued (0–3650).
    ``payment_days_ahead``: how far past the day of its receipt a PaymentDate may be (0–31).
    """

    cmo_party_id: str | None
    admin_fee_percent: Decimal = Decimal("15")
    due_days: int = 30
    payment_days_ahead: int = 0

    def __post_init__(self) -> None:
        if self.cmo_party_id is not None and (
            not isinstance(self.cmo_party_id, str)
            or not _PARTY_ID.match(self.cmo_party_id)
            or len(self.cmo_party_id) > 64
        ):
            raise RoyaltiesConfigError(
                f"CMO party id {self.cmo_party_id!r} is not a DDEX party id "
                "(PADPIDA + letters and digits, at most 64 characters)"
            )
        fee = self.admin_fee_percent
        if isinstance(fee, float | bool) or not isinstance(fee, Decimal | int | str):
            raise RoyaltiesConfigError(
                f"administration fee {fee!r}: give a Decimal, int or decimal string"
            )
        try:
            value = Decimal(fee)
        except InvalidOperation:
            raise RoyaltiesConfigError(f"administration fee {fee!r} is not a number") from None
        if not value.is_finite() or not 0 <= value <= 100 or value.as_tuple().exponent < -4:  # type: ignore[operator]
            raise RoyaltiesConfigError(
                f"administration fee {fee} % is not between 0 and 100 with at most 4 "
                "fraction digits"
            )
        object.__setattr__(self, "admin_fee_percent", value)
        if isinstance(self.due_days, bool) or not isinstance(self.due_days, int):
            raise RoyaltiesConfigError(f"due days {self.due_days!r} is not a whole number")
        if not 0 <= self.due_days <= 3650:
            raise RoyaltiesConfigError(f"due days {self.due_days} is not between 0 and 3650")
        ahead = self.payment_days_ahead
        if isinstance(ahead, bool) or not isinstance(ahead, int) or not 0 <= ahead <= 31:
            raise RoyaltiesConfigError(f"payment days ahead {ahead!r} is not between 0 and 31")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RoyaltySettings:
        """The settings the environment asks for (``AIREX_CMO_PARTY_ID``,
        ``AIREX_ADMIN_FEE_PERCENT``, ``AIREX_INVOICE_DUE_DAYS``, ``AIREX_PAYMENT_DAYS_AHEAD``),
        else the defaults."""
        env = os.environ if environ is None else environ
        cmo = env.get(ENV_CMO_PARTY_ID, "").strip() or None
        fee_text = env.get(ENV_ADMIN_FEE_PERCENT, "").strip()
        days_text = env.get(ENV_INVOICE_DUE_DAYS, "").strip()
        fee = Decimal("15")
        if fee_text:
            try:
                fee = Decimal(fee_text)
            except InvalidOperation:
                raise RoyaltiesConfigError(
                    f"${ENV_ADMIN_FEE_PERCENT} is {fee_text!r}; expected a percentage such as 15"
                ) from None
        days = 30
        if days_text:
            if not days_text.isdigit():
                raise RoyaltiesConfigError(
                    f"${ENV_INVOICE_DUE_DAYS} is {days_text!r}; expected a number of days"
                )
            days = int(days_text)
        ahead_text = env.get(ENV_PAYMENT_DAYS_AHEAD, "").strip()
        if ahead_text and not ahead_text.isdigit():
            raise RoyaltiesConfigError(
                f"${ENV_PAYMENT_DAYS_AHEAD} is {ahead_text!r}; expected a number of days"
            )
        ahead = int(ahead_text) if ahead_text else 0
        try:
            return cls(
                cmo_party_id=cmo, admin_fee_percent=fee, due_days=days, payment_days_ahead=ahead
            )
        except RoyaltiesConfigError as exc:
            raise RoyaltiesConfigError(f"from the environment: {exc}") from None
