"""Dead letters: giving a message up (table, queue, InternalError acknowledgement)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import read_transaction, run_write
from airex.errors import MessageError, MessageStatus
from airex.exchange import outbox as ob
from airex.exchange._judge import _Judging
from airex.exchange._rows import _finish_received, _inspect_quietly
from airex.exchange._work import _TRANSIENT, ProcessOutcome
from airex.exchange.errors import TransientError
from airex.exchange.models import (
    ErrorRecord,
    OutboxKind,
    ReceivedMessage,
    ReceivedState,
    dead_letter,
    received,
    utc_now,
)
from airex.exchange.verdict import Header, Verdict, judge


class _DeadLetters(_Judging):
    """Giving up on a message."""

    def give_up(self, received_id: int, reason: str) -> ProcessOutcome:
        """Send a message to the dead letters: the ``exchange_dead_letter`` row and the
        dead-letter queue (both with ``reason``), state ``dead``, an ``InternalError``
        acknowledgement to its sender (or its batch's). Does nothing when it was processed
        meanwhile. Raises :class:`TransientError` when the database cannot be written."""
        try:
            with read_transaction(self.engine) as connection:
                found = connection.execute(
                    sa.select(received).where(received.c.id == received_id)
                ).first()
            if found is None:
                return ProcessOutcome(received_id, None, already=True)
            row = ReceivedMessage.from_row(found)
            verdict = self._quiet_verdict(row)
            error = MessageError(
                "ProcessingFailed",
                f"the exchange could not process this message and gave up: {reason}",
                status=MessageStatus.INTERNAL_ERROR,
            )
            plan = (
                self._ack_plan(row, verdict, MessageStatus.INTERNAL_ERROR, [error])
                if self._wants_ack(row, verdict)
                else None
            )
            header = verdict.header if verdict is not None else Header()

            def work(connection: Connection) -> ProcessOutcome:
                now = utc_now()
                status = MessageStatus.INTERNAL_ERROR
                if not _finish_received(
                    connection, row, header, status, [error], now, state=ReceivedState.DEAD
                ):
                    return ProcessOutcome(row.id, None, already=True)
                connection.execute(
                    dead_letter.insert().values(
                        received_id=row.id,
                        reason=reason[:4000],
                        attempts=row.attempts + 1,
                        created_at=now,
                    )
                )
                owed = [
                    ob.Owed(
                        OutboxKind.DEAD_LETTER,
                        self.settings.dead_letter_queue,
                        row.id,
                        row.sha256,
                        None,
                        {
                            "airex-kind": "dead-letter",
                            "airex-received-id": row.id,
                            "airex-reason": reason[:1000],
                            "airex-message-id": header.message_id,
                            "airex-sender": header.sender,
                        },
                    )
                ]
                if plan is not None:
                    owed.extend(self._record_ack(connection, plan, now, {}, received_id=row.id))
                if row.batch_row_id is not None:
                    owed.extend(self._finish_batch(connection, row.batch_row_id, now))
                rows = ob.insert_rows(connection, owed, now)
                ob.close_process(connection, row.id, now)
                return ProcessOutcome(
                    row.id,
                    status,
                    rows,
                    dead=True,
                    ack_message_id=plan.message_id if plan else None,
                )

            return run_write(self.engine, work)
        except _TRANSIENT as exc:
            raise TransientError(f"received message #{received_id}: {exc}") from exc

    def _quiet_verdict(self, row: ReceivedMessage) -> Verdict | None:
        """The verdict when it can be had (to address an acknowledgement), else ``None``."""
        try:
            raw = self.store.get(row.sha256)
            preset = (MessageStatus.INTERNAL_ERROR, list[ErrorRecord]())
            return judge(_inspect_quietly(raw), {}, arrival_party=row.arrival_party, preset=preset)
        except Exception:  # the message may be what broke: best effort
            return None
