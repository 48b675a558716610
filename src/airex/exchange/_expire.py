"""Expiry: the parts of a split report whose set never completed are refused, not kept forever.

A part waits for the rest of its set (:mod:`airex.exchange._parts`). When the latest part of
a set is older than ``parts_timeout`` (``AIREX_PARTS_TIMEOUT``, a day by default) on the
exchange's clock, :meth:`_Expiring.expire_parts` refuses every part of it in one
transaction: each part ``done`` with ``ReportPartMissing`` (which files never came, of how
many), and ONE acknowledgement to the sender for the report. Nothing is priced; the report
must be sent again, every part (a part arriving later starts a new set). ``airex serve``
runs it every minute.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import backend_of, run_write
from airex.errors import MessageError, MessageStatus
from airex.exchange import outbox as ob
from airex.exchange._flat import flat_head_of
from airex.exchange._status import _Reading
from airex.exchange.models import ReceivedMessage, ReceivedState, errors_to_json, received, utc_now

__all__: list[str] = []


class _Expiring(_Reading):
    """Refusing the parts of sets that did not complete in time."""

    def expire_parts(self) -> list[int]:
        """Refuse the parts of every split report whose latest part arrived more than
        ``parts_timeout`` seconds ago (on the exchange's clock); return their received
        ids. Each report's sender gets one acknowledgement saying which files never came."""
        cutoff = self.settings.now() - timedelta(seconds=self.settings.parts_timeout)
        with self.engine.connect() as connection:
            stale = connection.execute(
                sa.select(received.c.sender, received.c.message_id)
                .where(received.c.state == ReceivedState.WAITING.value)
                .group_by(received.c.sender, received.c.message_id)
                .having(sa.func.max(received.c.received_at) < cutoff)
            ).all()
        refused: list[int] = []
        for sender, message_id in stale:

            def work(
                connection: Connection, sender: Any = sender, message_id: Any = message_id
            ) -> tuple[list[int], list[ob.OutboxRow]]:
                return self._expire_set(connection, sender, message_id, cutoff)

            ids, rows = run_write(self.engine, work)
            self.deliver_rows(rows)
            refused.extend(ids)
        return refused

    def _expire_set(
        self, connection: Connection, sender: str | None, message_id: str | None, cutoff: Any
    ) -> tuple[list[int], list[ob.OutboxRow]]:
        if backend_of(connection.engine) == "postgresql":  # the lock a joiner of the set takes
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                {"key": f"airex-parts/{sender}/{message_id}"},
            )
        rows = [
            ReceivedMessage.from_row(row)
            for row in connection.execute(
                sa.select(received)
                .where(
                    received.c.state == ReceivedState.WAITING.value,
                    received.c.sender.is_(None) if sender is None else received.c.sender == sender,
                    received.c.message_id == message_id,
                )
                .order_by(received.c.id)
            )
        ]
        if not rows or max(row.received_at for row in rows) >= cutoff:
            return [], []  # completed, or joined by a newer part, meanwhile
        error = self._missing_error(rows, message_id)
        now = utc_now()
        connection.execute(
            received.update()
            .where(received.c.id.in_([row.id for row in rows]))
            .values(
                state=ReceivedState.DONE.value,
                status=error.status.value,
                errors=errors_to_json([error]),
                message_type="UsageReportMessage",
                processed_at=now,
            )
        )
        first = rows[0]  # answered as any message: to who handed it in, else its HEAD's sender
        plan = self._ack_plan(
            replace(first, arrival_party=first.arrival_party or first.sender),
            None,
            error.status,
            [error],
        )
        owed = self._record_ack(connection, plan, now, {}, received_id=rows[0].id)
        return [row.id for row in rows], ob.insert_rows(connection, owed, now)

    def _missing_error(self, rows: list[ReceivedMessage], message_id: str | None) -> MessageError:
        numbers: set[int] = set()
        total = 0
        for row in rows:
            head = flat_head_of(self.store.path(row.sha256))
            if head is not None and head.file_number is not None:
                numbers.add(head.file_number)
                total = max(total, head.number_of_files or 0)
        missing = [n for n in range(1, total + 1) if n not in numbers]
        hours = self.settings.parts_timeout / 3600
        names = ", ".join(row.file_name or f"#{row.id}" for row in rows)
        return MessageError(
            "ReportPartMissing",
            f"report {message_id}: file(s) {', '.join(map(str, missing)) or '?'} of {total} "
            f"did not arrive within {hours:g} h of the last part; the parts received ({names}) "
            "are refused, nothing is priced: send the report again, every part",
            status=MessageStatus.BUSINESS_RULE_VIOLATION,
        )
