"""The exchange's tables (SQLAlchemy Core) and the records its API hands out.

Tables (the migration ``0001`` creates exactly these; a test compares the two):

``exchange_party``
    the party directory: party id, name, role, folder (its ``drop/`` and ``inbox/``) and
    whether it also receives on the queue ``party.<PartyId>``.
``exchange_batch``
    a batch taken in (folder or zip): its BatchId, who sent it, how many entries, and the
    acknowledgement that answered it once every entry was processed.
``exchange_received``
    one row per file received (a message alone, or an entry of a batch), written right after
    its bytes are in the store and before anything else; ``state`` is ``pending`` until the
    processing transaction sets ``done`` (or ``dead``) with the final ``status`` and errors.
``exchange_message``
    the deduplication record: one row per (sender, MessageId) processed, inserted in the same
    transaction as the routing, the outbox rows and the acknowledgement.
``exchange_inbox``
    what was routed to whom: one row per (recipient, received message).
``exchange_ack``
    every acknowledgement the exchange sent (one per message, or one per batch), with its
    bytes (acknowledgements are the exchange's own output, kept in the database rather than
    the store of received bytes).
``exchange_outbox``
    the transactional outbox: every publication and delivery the exchange owes (a processing
    task, a message or acknowledgement for a party's folder or queue, a dead letter), written
    in the transaction that decided it; the relay performs the rows until they are done. A
    row's bytes are the stored ones named by ``sha256``, or its own ``payload``
    (acknowledgements).
``exchange_dead_letter``
    messages given up on, with the reason (also published to the dead-letter queue).

Times are UTC (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, ISO text on SQLite).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from airex.db import UTCDateTime
from airex.errors import MessageError, MessageStatus

__all__ = [
    "AckRecord",
    "DeadLetter",
    "ErrorRecord",
    "OutboxKind",
    "PartyRecord",
    "ReceivedMessage",
    "ReceivedState",
    "StoredError",
    "errors_from_json",
    "errors_to_json",
    "exchange_tables",
    "metadata",
    "utc_now",
]

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PARTY = 64


INSTANT = UTCDateTime()


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class ReceivedState(StrEnum):
    """Where a received message is: waiting for processing, processed, or given up on."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"
    WAITING = "waiting"
    """A part of a split flat-file report, waiting for the others (processed as their set)."""


class OutboxKind(StrEnum):
    """What an outbox row asks the relay to do."""

    PROCESS = "process"
    """Publish the processing task of a received message (done when processed)."""
    QUEUE = "queue"
    """Publish stored bytes to a party's queue (done when the broker confirmed)."""
    FOLDER = "folder"
    """Write stored bytes into a folder, atomically (done when written and synced)."""
    DEAD_LETTER = "dead_letter"
    """Publish a message given up on to the dead-letter queue, with its reason."""


metadata = sa.MetaData()

party = sa.Table(
    "exchange_party",
    metadata,
    sa.Column("party_id", sa.String(PARTY), primary_key=True),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("folder", sa.Text(), nullable=True),
    sa.Column("queue", sa.Boolean(), nullable=False),
    sa.Column("created_at", INSTANT, nullable=False),
)

batch = sa.Table(
    "exchange_batch",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("arrival_party", sa.String(PARTY), nullable=True),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("intake_token", sa.String(80), nullable=True, unique=True),
    sa.Column("entry_count", sa.Integer(), nullable=False),
    sa.Column("ack_context", sa.Text(), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("received_at", INSTANT, nullable=False),
    sa.Column("acknowledged_at", INSTANT, nullable=True),
)

received = sa.Table(
    "exchange_received",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("file_name", sa.Text(), nullable=True),
    sa.Column("arrival_party", sa.String(PARTY), nullable=True),
    sa.Column("intake_token", sa.String(80), nullable=True, unique=True),
    sa.Column("batch_row_id", ID, sa.ForeignKey("exchange_batch.id"), nullable=True),
    sa.Column("batch_position", sa.Integer(), nullable=True),
    sa.Column("parent_id", ID, sa.ForeignKey("exchange_received.id"), nullable=True),
    sa.Column("preset_status", sa.String(40), nullable=True),
    sa.Column("preset_errors", sa.Text(), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("status", sa.String(40), nullable=True),
    sa.Column("errors", sa.Text(), nullable=True),
    sa.Column("message_type", sa.String(40), nullable=True),
    sa.Column("message_id", sa.String(64), nullable=True),
    sa.Column("sender", sa.String(PARTY), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("received_at", INSTANT, nullable=False),
    sa.Column("processed_at", INSTANT, nullable=True),
    sa.Index("ix_exchange_received_state", "state"),
    sa.Index("ix_exchange_received_batch", "batch_row_id"),
)

message = sa.Table(
    "exchange_message",
    metadata,
    sa.Column("sender", sa.String(PARTY), primary_key=True),
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
    sa.Column("message_type", sa.String(40), nullable=False),
    sa.Column("recorded_at", INSTANT, nullable=False),
    sa.UniqueConstraint("received_id", name="uq_exchange_message_received"),
)

inbox = sa.Table(
    "exchange_inbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("party_id", sa.String(PARTY), nullable=False),
    sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
    sa.Column("routed_at", INSTANT, nullable=False),
    sa.UniqueConstraint("party_id", "received_id", name="uq_exchange_inbox"),
)

sent = sa.Table(
    "exchange_sent",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("sender", sa.String(PARTY), nullable=True),
    sa.Column("message_id", sa.String(64), nullable=True),
    sa.Column("message_type", sa.String(40), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("file_name", sa.Text(), nullable=True),
    sa.Column("recipients", sa.Text(), nullable=True),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("errors", sa.Text(), nullable=True),
    sa.Column("created_at", INSTANT, nullable=False),
    sa.UniqueConstraint("received_id", "position", name="uq_exchange_sent_position"),
    sa.UniqueConstraint("sender", "message_id", name="uq_exchange_sent_message"),
)
"""The CMO's answers: one row per message its actions sent in answer to ``received_id``
(``position``: its place among them), stored once (``sha256``) and routed in the transaction
that processed ``received_id``. ``message_id`` is set only for an answer that was routed (it
takes its (sender, MessageId)); a refused one keeps its status and errors."""

ack = sa.Table(
    "exchange_ack",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("ack_message_id", sa.String(64), nullable=False, unique=True),
    sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=True),
    sa.Column("batch_row_id", ID, sa.ForeignKey("exchange_batch.id"), nullable=True),
    sa.Column("recipient", sa.String(PARTY), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("file_name", sa.Text(), nullable=False),
    sa.Column("created_at", INSTANT, nullable=False),
    sa.UniqueConstraint("received_id", name="uq_exchange_ack_received"),
    sa.UniqueConstraint("batch_row_id", name="uq_exchange_ack_batch"),
)

outbox = sa.Table(
    "exchange_outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("payload", sa.LargeBinary(), nullable=True),
    sa.Column("destination", sa.Text(), nullable=False),
    sa.Column("headers", sa.Text(), nullable=True),
    sa.Column("created_at", INSTANT, nullable=False),
    sa.Column("published_at", INSTANT, nullable=True),
    sa.Column("publish_count", sa.Integer(), nullable=False),
    sa.Column("done_at", INSTANT, nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Index("ix_exchange_outbox_open", "done_at", "id"),
    sa.Index("ix_exchange_outbox_received", "received_id", "kind"),
)

dead_letter = sa.Table(
    "exchange_dead_letter",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("received_id", ID, sa.ForeignKey("exchange_received.id"), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("created_at", INSTANT, nullable=False),
    sa.UniqueConstraint("received_id", name="uq_exchange_dead_letter_received"),
)


def exchange_tables() -> list[sa.Table]:
    """The exchange's tables in creation order (parents before children)."""
    return [party, batch, received, message, inbox, sent, ack, outbox, dead_letter]


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredError:
    """An error as the exchange recorded it with a message (and told its sender).

    The same fields as :class:`~airex.errors.MessageError`; read back from the database,
    where the error that was first found (a MessageError with a catalogued code) was kept.
    """

    code: str
    message: str
    path: str | None = None
    line: int | None = None
    status: MessageStatus = MessageStatus.BUSINESS_RULE_VIOLATION
    file: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON form (as :meth:`MessageError.as_dict`)."""
        return {"code": self.code, "path": self.path, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        at = f" {self.path}" if self.path else ""
        return f"{where}{self.code}{at}: {self.message}"


ErrorRecord = MessageError | StoredError
"""An error found now (:class:`MessageError`) or read back (:class:`StoredError`)."""


def errors_to_json(errors: Sequence[ErrorRecord]) -> str | None:
    """``errors`` as the JSON text stored in the ``errors`` columns (None when empty)."""
    if not errors:
        return None
    return json.dumps(
        [
            {
                "code": e.code,
                "message": e.message,
                "path": e.path,
                "line": e.line,
                "status": e.status.value,
                "file": e.file,
            }
            for e in errors
        ],
        ensure_ascii=False,
    )


def errors_from_json(text: str | None) -> list[StoredError]:
    """The errors stored by :func:`errors_to_json`."""
    if not text:
        return []
    return [
        StoredError(
            code=item["code"],
            message=item["message"],
            path=item.get("path"),
            line=item.get("line"),
            status=MessageStatus(item["status"]),
            file=item.get("file"),
        )
        for item in json.loads(text)
    ]


@dataclass(frozen=True, slots=True)
class PartyRecord:
    """A party of the directory and its delivery route (a folder, a queue, or both)."""

    party_id: str
    name: str
    role: str
    folder: str | None
    queue: bool

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``airex party list --json``)."""
        return {
            "party_id": self.party_id,
            "name": self.name,
            "role": self.role,
            "folder": self.folder,
            "queue": self.queue,
        }


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A received message as the pipeline (and the CMO's actions) see it.

    ``id`` is the exchange's own id for this reception; ``arrival_party`` the party whose drop
    folder it came from (or ``airex send --as``), ``None`` when unknown; ``source`` one of
    ``drop``, ``send``, ``batch`` (``cmo``: an answer of the CMO's actions received again,
    before they were routed in the transaction that produced them); ``sha256`` names
    its bytes in the store. ``sender`` and ``message_id`` are known once it was processed.
    """

    id: int
    sha256: str
    size: int
    source: str
    file_name: str | None
    arrival_party: str | None
    batch_row_id: int | None
    parent_id: int | None
    state: ReceivedState
    status: MessageStatus | None
    errors: tuple[StoredError, ...]
    preset_status: MessageStatus | None
    message_type: str | None
    message_id: str | None
    sender: str | None
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    preset_errors: tuple[StoredError, ...] = ()

    @property
    def dedupe_key(self) -> str:
        """``<sender>/<MessageId>``: what the exchange deduplicates on, and the stem of the
        idempotency keys the CMO's actions use (empty before the message was read)."""
        if self.sender is None or self.message_id is None:
            return ""
        return f"{self.sender}/{self.message_id}"

    @classmethod
    def from_row(cls, row: Any) -> ReceivedMessage:
        """The record of an ``exchange_received`` row."""
        return cls(
            id=row.id,
            sha256=row.sha256,
            size=row.size,
            source=row.source,
            file_name=row.file_name,
            arrival_party=row.arrival_party,
            batch_row_id=row.batch_row_id,
            parent_id=row.parent_id,
            state=ReceivedState(row.state),
            status=MessageStatus(row.status) if row.status else None,
            errors=tuple(errors_from_json(row.errors)),
            preset_status=MessageStatus(row.preset_status) if row.preset_status else None,
            preset_errors=tuple(errors_from_json(row.preset_errors)),
            message_type=row.message_type,
            message_id=row.message_id,
            sender=row.sender,
            attempts=row.attempts,
            received_at=row.received_at,
            processed_at=row.processed_at,
        )


@dataclass(frozen=True, slots=True)
class AckRecord:
    """An acknowledgement the exchange sent: its id, to whom, the status, its bytes' hash."""

    ack_message_id: str
    received_id: int | None
    batch_row_id: int | None
    recipient: str
    status: MessageStatus
    sha256: str
    file_name: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message given up on, and why."""

    received_id: int
    reason: str
    attempts: int
    created_at: datetime
