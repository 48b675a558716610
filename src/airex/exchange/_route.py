"""Routing: what delivering a message, or the CMO's answers to it, to their recipients owes."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from airex.errors import MessageStatus
from airex.exchange import outbox as ob
from airex.exchange._base import _Base
from airex.exchange._rows import _duplicate_error, _earlier_copy, _insert_ignore
from airex.exchange._work import _Answer
from airex.exchange.models import OutboxKind, PartyRecord, ReceivedMessage, errors_to_json, sent
from airex.exchange.verdict import Verdict

if TYPE_CHECKING:
    from datetime import datetime

log = logging.getLogger("airex.exchange.pipeline")


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
        return self._route_bytes(verdict, row.id, row.sha256)

    def _route_bytes(self, verdict: Verdict, received_id: int, sha256: str) -> list[ob.Owed]:
        """What delivering the stored bytes ``sha256`` of an accepted message (received, or
        the CMO's answer to ``received_id``) to each of its recipients owes: one file,
        ``<sender>_<MessageId>.xml``."""
        header = verdict.header
        name = f"{header.sender}_{header.message_id}.xml"
        return self._route_files(verdict, received_id, [(sha256, name)])

    def _route_files(
        self, verdict: Verdict, received_id: int, files: Sequence[tuple[str, str]]
    ) -> list[ob.Owed]:
        """What delivering ``files`` (stored hash, name), the files of one accepted message,
        to each of its recipients owes."""
        header = verdict.header
        headers = {
            "airex-kind": "message",
            "airex-message-type": header.message_type,
            "airex-message-id": header.message_id,
            "airex-sender": header.sender,
        }
        return [
            owed
            for sha256, name in files
            for party_id in verdict.recipients
            for owed in self._deliveries(
                verdict.parties[party_id],
                file_name=name,
                received_id=received_id,
                headers=headers,
                sha256=sha256,
            )
        ]

    def _answers(
        self, connection: Connection, row: ReceivedMessage, answers: list[_Answer], now: datetime
    ) -> list[ob.Owed]:
        """Record the CMO's answers to ``row`` (stored once, judged once before the commit)
        and owe their deliveries, in the transaction that processes ``row``. An answer takes
        its (sender, MessageId) as any message does: one that repeats an earlier message's is
        recorded as a duplicate and not sent again; one the checks refused is recorded and
        not sent."""
        owed: list[ob.Owed] = []
        for answer in answers:
            verdict = answer.verdict
            header = verdict.header
            status, errors = verdict.status, list(verdict.errors)
            values: dict[str, Any] = {
                "received_id": row.id,
                "position": answer.position,
                "sender": header.sender,
                "message_id": None,
                "message_type": header.message_type,
                "sha256": answer.sha256,
                "size": answer.size,
                "file_name": answer.file_name,
                "recipients": json.dumps(verdict.recipients),
                "status": status.value,
                "errors": errors_to_json(errors),
                "created_at": now,
            }
            if verdict.accepted:
                earlier = _earlier_copy(connection, verdict, self.settings.cmo_party_id)
                if earlier is None:
                    taken = connection.execute(
                        _insert_ignore(connection, sent)
                        .values(**{**values, "message_id": header.message_id})
                        .returning(sent.c.id)
                    ).first()
                    if taken is not None:
                        owed.extend(self._route_bytes(verdict, row.id, answer.sha256))
                        continue
                    earlier = _earlier_copy(connection, verdict, self.settings.cmo_party_id)
                status = MessageStatus.DUPLICATE_MESSAGE
                errors = [_duplicate_error(verdict, earlier or row.id)]
                values.update(status=status.value, errors=errors_to_json(errors))
            log.warning(
                "the CMO's answer %s to #%s is not sent: %s %s",
                header.message_id or answer.file_name,
                row.id,
                status.value,
                "; ".join(e.message for e in errors),
            )
            connection.execute(sent.insert().values(**values))
        return owed
