"""Acknowledging: the final status of a message, its acknowledgement, a batch's one ACK."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.batch import ack_name
from airex.db import backend_of
from airex.errors import MessageStatus
from airex.exchange import outbox as ob
from airex.exchange._route import _Routing
from airex.exchange._rows import _ack_values, _duplicate_error
from airex.exchange._work import _ACCEPTED, _AckPlan
from airex.exchange.acks import AckItem, acknowledgement_of, build_acknowledgement
from airex.exchange.directory import PartyDirectory
from airex.exchange.hooks import ActionResult
from airex.exchange.models import (
    ErrorRecord,
    PartyRecord,
    ReceivedMessage,
    ReceivedState,
    ack,
    batch,
    errors_from_json,
    received,
)
from airex.exchange.verdict import Verdict, identifier_or_none
from airex.messages import Acknowledgement, AcknowledgementMessage, MessageHeader, serialise
from airex.messages.codes import MessageControlType

if TYPE_CHECKING:
    from datetime import datetime


class _Acknowledging(_Routing):
    """Acknowledgements of messages and batches."""

    def _final(
        self, verdict: Verdict, result: ActionResult | None, duplicate_of: int | None
    ) -> tuple[MessageStatus, list[ErrorRecord]]:
        if duplicate_of is not None:
            return MessageStatus.DUPLICATE_MESSAGE, [_duplicate_error(verdict, duplicate_of)]
        if not verdict.accepted or result is None:
            return verdict.status, list(verdict.errors)
        return result.status or MessageStatus.MESSAGE_ACCEPTED, list(result.errors)

    def _wants_ack(self, row: ReceivedMessage, verdict: Verdict | None) -> bool:
        if row.batch_row_id is not None:
            return False  # a batch is answered whole
        return not (verdict is not None and verdict.header.message_type == "AcknowledgementMessage")

    def _plan(
        self,
        row: ReceivedMessage,
        verdict: Verdict,
        result: ActionResult | None,
        duplicate_of: int | None,
    ) -> _AckPlan | None:
        if not self._wants_ack(row, verdict):
            return None
        status, errors = self._final(verdict, result, duplicate_of)
        return self._ack_plan(row, verdict, status, errors)

    def _ack_plan(
        self,
        row: ReceivedMessage,
        verdict: Verdict | None,
        status: MessageStatus,
        errors: Sequence[ErrorRecord],
    ) -> _AckPlan:
        header = verdict.header if verdict is not None else None
        reply_to = (verdict.reply_to if verdict is not None else None) or row.arrival_party
        recipient = reply_to or self.settings.signing_party_id
        acknowledged = (header.message_id if header else None) or row.message_id
        ack_id, data = build_acknowledgement(
            self.settings.signing_party_id,
            recipient,
            [AckItem(acknowledged, row.file_name, status, errors)],
            thread_id=header.thread_id if header else None,
            created=self.settings.now(),
        )
        stem = f"ACK_{acknowledged}_{row.id}" if acknowledged else f"ACK_{row.id}"
        return _AckPlan(status, ack_id, data, recipient, f"{stem}.xml")

    def _record_ack(
        self,
        connection: Connection,
        plan: _AckPlan,
        now: datetime,
        parties: Mapping[str, PartyRecord],
        *,
        received_id: int | None = None,
        batch_row_id: int | None = None,
    ) -> list[ob.Owed]:
        """Record one acknowledgement; return the deliveries it owes."""
        connection.execute(
            ack.insert().values(
                **_ack_values(plan, now, received_id=received_id, batch_row_id=batch_row_id)
            )
        )
        return self._ack_deliveries(connection, plan, parties, received_id)

    def _ack_deliveries(
        self,
        connection: Connection,
        plan: _AckPlan,
        parties: Mapping[str, PartyRecord],
        received_id: int | None = None,
    ) -> list[ob.Owed]:
        """What delivering an acknowledgement to its recipient owes (nothing when the
        recipient is not a party: the acknowledgement is only recorded)."""
        party = parties.get(plan.recipient)
        if party is None:
            party = PartyDirectory.lookup(connection, [plan.recipient]).get(plan.recipient)
        if party is None:
            return []
        return self._deliveries(
            party,
            file_name=plan.file_name,
            received_id=received_id,
            headers={
                "airex-kind": "acknowledgement",
                "airex-message-type": "AcknowledgementMessage",
                "airex-message-id": plan.message_id,
                "airex-sender": self.settings.signing_party_id,
            },
            payload=plan.data,
        )

    def _finish_batch(
        self, connection: Connection, batch_row_id: int, now: datetime
    ) -> list[ob.Owed]:
        """When every entry of the batch is processed, owe its ONE acknowledgement."""
        query = sa.select(batch).where(batch.c.id == batch_row_id)
        if backend_of(connection.engine) == "postgresql":
            query = query.with_for_update()
        found = connection.execute(query).first()
        if found is None or found.state != "open":
            return []
        pending = connection.execute(
            sa.select(sa.func.count())
            .select_from(received)
            .where(
                received.c.batch_row_id == batch_row_id,
                received.c.state == ReceivedState.PENDING.value,
            )
        ).scalar_one()
        if pending:
            return []
        context = json.loads(found.ack_context or "{}")
        acknowledgements: list[Acknowledgement] = []
        if context.get("manifest_ack"):
            acknowledgements.append(Acknowledgement.from_xml(context["manifest_ack"]))
        entries = connection.execute(
            sa.select(received)
            .where(received.c.batch_row_id == batch_row_id)
            .order_by(received.c.batch_position)
        )
        acknowledgements.extend(
            acknowledgement_of(
                AckItem(
                    identifier_or_none(entry.message_id),
                    entry.file_name,
                    MessageStatus(entry.status),
                    errors_from_json(entry.errors),
                )
            )
            for entry in entries
        )
        recipient = context.get("reply_to") or self.settings.signing_party_id
        header = MessageHeader.build(
            self.settings.signing_party_id,
            recipient,
            thread_id=context.get("thread_id"),
        )
        header.message_created_date_time = self.settings.now().replace(microsecond=0)
        if context.get("test"):
            header.message_control_type = MessageControlType.TEST_MESSAGE
        answer = AcknowledgementMessage(message_header=header, acknowledgements=acknowledgements)
        overall = next(
            (a.message_status for a in acknowledgements if a.message_status != _ACCEPTED),
            _ACCEPTED,
        )
        plan = _AckPlan(
            MessageStatus(overall),
            answer.message_id,
            serialise(answer),
            recipient,
            ack_name(found.batch_id),
        )
        connection.execute(
            batch.update()
            .where(batch.c.id == batch_row_id)
            .values(state="acknowledged", acknowledged_at=now)
        )
        return self._record_ack(connection, plan, now, {}, batch_row_id=batch_row_id)
