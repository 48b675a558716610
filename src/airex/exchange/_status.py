"""Reading: a received message, an acknowledgement, the exchange's status counts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from airex.db import read_transaction
from airex.errors import MessageStatus
from airex.exchange._intake import _Intake
from airex.exchange._work import ExchangeStatus
from airex.exchange.models import (
    AckRecord,
    DeadLetter,
    ReceivedMessage,
    ack,
    batch,
    dead_letter,
    outbox,
    received,
)


class _Reading(_Intake):
    """Reading what the exchange recorded."""

    def received_message(self, received_id: int) -> ReceivedMessage:
        """The received message ``received_id`` (``KeyError`` when there is none)."""
        with read_transaction(self.engine) as connection:
            found = connection.execute(
                sa.select(received).where(received.c.id == received_id)
            ).first()
        if found is None:
            raise KeyError(received_id)
        return ReceivedMessage.from_row(found)

    def acknowledgement_of(
        self, *, received_id: int | None = None, batch_row_id: int | None = None
    ) -> tuple[AckRecord, bytes] | None:
        """The acknowledgement sent for a received message or a batch, with its bytes."""
        column = ack.c.received_id if received_id is not None else ack.c.batch_row_id
        key = received_id if received_id is not None else batch_row_id
        with read_transaction(self.engine) as connection:
            found = connection.execute(sa.select(ack).where(column == key)).first()
        if found is None:
            return None
        record = AckRecord(
            ack_message_id=found.ack_message_id,
            received_id=found.received_id,
            batch_row_id=found.batch_row_id,
            recipient=found.recipient,
            status=MessageStatus(found.status),
            sha256=found.sha256,
            file_name=found.file_name,
        )
        return record, bytes(found.data)

    def status(self) -> ExchangeStatus:
        """Counts of received messages per state and status, open outbox rows, dead letters."""
        with read_transaction(self.engine) as connection:
            states: dict[Any, Any] = dict(
                connection.execute(
                    sa.select(received.c.state, sa.func.count()).group_by(received.c.state)
                ).all()
            )
            statuses: dict[Any, Any] = dict(
                connection.execute(
                    sa.select(received.c.status, sa.func.count())
                    .where(received.c.status.is_not(None))
                    .group_by(received.c.status)
                ).all()
            )
            open_rows: dict[Any, Any] = dict(
                connection.execute(
                    sa.select(outbox.c.kind, sa.func.count())
                    .where(outbox.c.done_at.is_(None))
                    .group_by(outbox.c.kind)
                ).all()
            )
            dead_rows = connection.execute(
                sa.select(dead_letter).order_by(dead_letter.c.id.desc()).limit(20)
            ).all()
            dead_count = connection.execute(
                sa.select(sa.func.count()).select_from(dead_letter)
            ).scalar_one()
            open_batches = connection.execute(
                sa.select(sa.func.count()).select_from(batch).where(batch.c.state == "open")
            ).scalar_one()
            acks = connection.execute(sa.select(sa.func.count()).select_from(ack)).scalar_one()
        return ExchangeStatus(
            states={str(k): int(v) for k, v in states.items()},
            statuses={str(k): int(v) for k, v in statuses.items()},
            outbox_open={str(k): int(v) for k, v in open_rows.items()},
            dead_letters=[
                DeadLetter(d.received_id, d.reason, d.attempts, d.created_at) for d in dead_rows
            ],
            dead_letter_count=int(dead_count),
            open_batches=int(open_batches),
            acknowledgements=int(acks),
        )
