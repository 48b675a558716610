"""CMO actions for the crash tests (imported by worker processes through AIREX_CMO_ACTIONS).

Each PaymentNotificationMessage to the CMO posts one ledger entry: cash debited, the payer's
receivable credited, by the paid amount, with the idempotency key ``exchange:<sender>/<id>``
— the rule the real actions follow, so that a redo after a crash posts nothing twice.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from airex.exchange import ActionResult
from airex.ledger import AccountKey, AccountKind, Journal, NewEntry, credit, debit
from airex.messages import PaymentNotificationMessage
from parties import CMO01

CMO = CMO01


class PostingActions:
    """Post each payment to the ledger, idempotently."""

    def act(self, message: Any, raw: bytes, received: Any, engine: Any) -> ActionResult:
        """One entry per payment message, keyed by its sender and MessageId."""
        if message.message_type == "PaymentNotificationMessage":
            message = message.model()  # the exchange hands over what it accepted
            assert isinstance(message, PaymentNotificationMessage)
            paid = message.payment.paid_amount
            payer = message.payment.payer.party_id
            Journal(engine).post(
                NewEntry(
                    f"exchange:{received.dedupe_key}",
                    date(2026, 5, 2),
                    [
                        debit(AccountKey(CMO, AccountKind.CASH, paid.currency), paid.value),
                        credit(
                            AccountKey(payer, AccountKind.LICENSEE_RECEIVABLE, paid.currency),
                            paid.value,
                        ),
                    ],
                    f"payment {message.payment.payment_id}",
                )
            )
        return ActionResult()


def make(settings: Any) -> PostingActions:
    """The factory AIREX_CMO_ACTIONS names."""
    return PostingActions()
