"""Routing: what delivering a message, or the CMO's answers, to their recipients owes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from airex.exchange import outbox as ob
from airex.exchange._base import _Base
from airex.exchange._rows import _insert_received
from airex.exchange._work import Incoming
from airex.exchange.hooks import ActionResult
from airex.exchange.models import OutboxKind, PartyRecord, ReceivedMessage
from airex.exchange.verdict import Verdict

if TYPE_CHECKING:
    from datetime import datetime


class _Routing(_Base):
    """Deliveries to recipients' folders and queues."""

    def _deliveries(
        self,
        party: PartyRecord,
        *,
        file_name: str,
        received_id: int | None,
        headers: dict[str, Any],
        sha256: str | None = None,
        payload: bytes | None = None,
    ) -> list[ob.Owed]:
        """What delivering some bytes to ``party`` owes: a file in its inbox, a message on
        its queue, or both."""
        owed: list[ob.Owed] = []
        if party.folder:
            owed.append(
                ob.Owed(
                    OutboxKind.FOLDER,
                    str(Path(party.folder) / "inbox" / file_name),
                    received_id,
                    sha256,
                    payload,
                    headers,
                )
            )
        if party.queue:
            owed.append(
                ob.Owed(
                    OutboxKind.QUEUE,
                    self.settings.party_queue(party.party_id),
                    received_id,
                    sha256,
                    payload,
                    {**headers, "airex-file-name": file_name},
                )
            )
        return owed

    def _route(self, row: ReceivedMessage, verdict: Verdict) -> list[ob.Owed]:
        """What delivering an accepted message to each of its recipients owes."""
        header = verdict.header
        headers = {
            "airex-kind": "message",
            "airex-message-type": header.message_type,
            "airex-message-id": header.message_id,
            "airex-sender": header.sender,
        }
        owed: list[ob.Owed] = []
        for party_id in verdict.recipients:
            owed.extend(
                self._deliveries(
                    verdict.parties[party_id],
                    file_name=f"{header.sender}_{header.message_id}.xml",
                    received_id=row.id,
                    headers=headers,
                    sha256=row.sha256,
                )
            )
        return owed

    def _outgoing(
        self, connection: Connection, row: ReceivedMessage, result: ActionResult, now: datetime
    ) -> list[ob.Owed]:
        owed: list[ob.Owed] = []
        for out in result.outgoing:
            sha = self.store.put(out.data)
            received_id = _insert_received(
                connection,
                Incoming(out.data, out.file_name, self.settings.cmo_party_id, "cmo"),
                sha,
                self.settings.now(),
                parent=row.id,
            )
            owed.append(ob.Owed(OutboxKind.PROCESS, received_id=received_id))
        return owed
