"""The pipeline's statements: received rows, (sender, MessageId) rows, final states,
acknowledgement rows, and quick reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import backend_of, insert_for, read_transaction
from airex.errors import MessageError, MessageStatus
from airex.exchange._work import Incoming, _AckPlan
from airex.exchange.models import (
    ErrorRecord,
    ReceivedMessage,
    ReceivedState,
    batch,
    errors_to_json,
    message,
    received,
    sent,
)
from airex.exchange.store import sha256_of
from airex.exchange.verdict import Header, Inspection, Verdict, inspect

if TYPE_CHECKING:
    from datetime import datetime


def _insert_ignore(connection: Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` into ``table`` for the connection's backend."""
    return insert_for(connection, table).on_conflict_do_nothing()


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A connection for one quick read: autocommit on PostgreSQL (no BEGIN/ROLLBACK round
    trips), a read transaction on SQLite."""
    if backend_of(engine) == "postgresql":
        with engine.connect() as connection:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")
    else:
        with read_transaction(engine) as connection:
            yield connection


def _finish_received(
    connection: Connection,
    row: ReceivedMessage,
    header: Header,
    status: MessageStatus,
    errors: Sequence[ErrorRecord],
    now: datetime,
    *,
    state: ReceivedState = ReceivedState.DONE,
) -> bool:
    """Set the message's final state and status if it is still pending; False when another
    worker finished it first. The UPDATE takes the row's lock."""
    done = connection.execute(
        received.update()
        .where(received.c.id == row.id, received.c.state == ReceivedState.PENDING.value)
        .values(
            state=state.value,
            status=status.value,
            errors=errors_to_json(list(errors)),
            message_type=header.message_type,
            message_id=header.message_id or row.message_id,
            sender=header.sender,
            processed_at=now,
        )
    )
    return bool(done.rowcount)


def _received_values(
    item: Incoming,
    sha256: str,
    now: datetime,
    *,
    batch_row: int | None = None,
    position: int | None = None,
    parent: int | None = None,
    listed_message_id: str | None = None,
    preset: tuple[MessageStatus, Sequence[ErrorRecord]] | None = None,
    state: ReceivedState = ReceivedState.PENDING,
) -> dict[str, Any]:
    return {
        "sha256": sha256,
        "size": item.size,
        "source": item.source,
        "file_name": item.file_name,
        "arrival_party": item.arrival_party,
        "intake_token": item.intake_token,
        "batch_row_id": batch_row,
        "batch_position": position,
        "parent_id": parent,
        "preset_status": preset[0].value if preset else None,
        "preset_errors": errors_to_json(preset[1]) if preset else None,
        "state": state.value,
        "message_id": listed_message_id,
        "attempts": 0,
        "received_at": now,
    }


def _insert_received(
    connection: Connection,
    item: Incoming,
    sha256: str,
    now: datetime,
    **extra: Any,
) -> int:
    result = connection.execute(
        received.insert().values(**_received_values(item, sha256, now, **extra))
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _taken_tokens(connection: Connection, tokens: Sequence[str]) -> set[str]:
    if not tokens:
        return set()
    rows = connection.execute(
        sa.select(received.c.intake_token).where(received.c.intake_token.in_(list(tokens)))
    )
    return {r[0] for r in rows}


def _taken_batch_tokens(connection: Connection, tokens: Sequence[str]) -> set[str]:
    if not tokens:
        return set()
    rows = connection.execute(
        sa.select(batch.c.intake_token).where(batch.c.intake_token.in_(list(tokens)))
    )
    return {r[0] for r in rows}


def _lock_pending(connection: Connection, received_ids: list[int]) -> set[int]:
    """The ids among ``received_ids`` still pending, their rows locked for this transaction
    (PostgreSQL, in id order; SQLite's BEGIN IMMEDIATE already holds the database)."""
    query = (
        sa.select(received.c.id)
        .where(
            received.c.id.in_(received_ids),
            received.c.state == ReceivedState.PENDING.value,
        )
        .order_by(received.c.id)
    )
    if backend_of(connection.engine) == "postgresql":
        query = query.with_for_update()
    return {int(i) for i in connection.execute(query).scalars()}


_FINISH = (
    received.update()
    .where(received.c.id == sa.bindparam("b_id"))
    .values(
        state=sa.bindparam("b_state"),
        status=sa.bindparam("b_status"),
        errors=sa.bindparam("b_errors"),
        message_type=sa.bindparam("b_message_type"),
        message_id=sa.bindparam("b_message_id"),
        sender=sa.bindparam("b_sender"),
        processed_at=sa.bindparam("b_processed_at"),
    )
)
"""Set a received message's final state (executed for many messages at once)."""


def _final_values(
    row: ReceivedMessage,
    header: Header,
    status: MessageStatus,
    errors: Sequence[ErrorRecord],
    now: datetime,
) -> dict[str, Any]:
    return {
        "b_id": row.id,
        "b_state": ReceivedState.DONE.value,
        "b_status": status.value,
        "b_errors": errors_to_json(list(errors)),
        "b_message_type": header.message_type,
        "b_message_id": header.message_id or row.message_id,
        "b_sender": header.sender,
        "b_processed_at": now,
    }


def _ack_values(
    plan: _AckPlan,
    now: datetime,
    *,
    received_id: int | None = None,
    batch_row_id: int | None = None,
) -> dict[str, Any]:
    return {
        "ack_message_id": plan.message_id,
        "received_id": received_id,
        "batch_row_id": batch_row_id,
        "recipient": plan.recipient,
        "status": plan.status.value,
        "sha256": sha256_of(plan.data),
        "data": plan.data,
        "file_name": plan.file_name,
        "created_at": now,
    }


def _first_reception(connection: Connection, verdict: Verdict) -> int | None:
    header = verdict.header
    found: int | None = connection.execute(
        sa.select(message.c.received_id).where(
            message.c.sender == header.sender, message.c.message_id == header.message_id
        )
    ).scalar_one_or_none()
    return found


def _earlier_copy(connection: Connection, verdict: Verdict, cmo: str | None) -> int | None:
    """The received id of the message that took ``verdict``'s (sender, MessageId) before:
    a received message, or the message a CMO's answer with that id answered."""
    first = _first_reception(connection, verdict)
    if first is not None:
        return first
    return _answered(connection, [verdict], cmo).get(_key(verdict))


def _key(verdict: Verdict) -> tuple[str, str]:
    return verdict.header.sender or "", verdict.header.message_id or ""


def _answered(
    connection: Connection, verdicts: Sequence[Verdict], cmo: str | None
) -> dict[tuple[str, str], int]:
    """Of the (sender, MessageId) pairs of ``verdicts``, those a CMO's answer took: each with
    the received id of the message it answered. The CMO's answers and the messages received
    share one space of (sender, MessageId): a message reusing an answer's is a duplicate.
    An answer is judged as the CMO's own message (sent by ``cmo``), so only the CMO's
    messages are looked up: the others cost no query."""
    pairs = sorted({_key(v) for v in verdicts if cmo is not None and v.header.sender == cmo})
    if not pairs:
        return {}
    rows = connection.execute(
        sa.select(sent.c.sender, sent.c.message_id, sent.c.received_id).where(
            sa.tuple_(sent.c.sender, sent.c.message_id).in_(pairs)
        )
    )
    return {(r.sender, r.message_id): int(r.received_id) for r in rows}


def _duplicate_error(verdict: Verdict, first: int) -> MessageError:
    header = verdict.header
    return MessageError(
        "DuplicateMessage",
        f"{header.sender} already sent a message with MessageId {header.message_id} "
        f"(received as #{first}); this copy is ignored",
        path=f"/{header.message_type}/MessageHeader/MessageId",
        status=MessageStatus.DUPLICATE_MESSAGE,
    )


def _preset(row: ReceivedMessage) -> tuple[MessageStatus, list[ErrorRecord]] | None:
    """The status decided when the message was taken in (a batch entry that failed its
    manifest check), if any."""
    if row.preset_status is None:
        return None
    return row.preset_status, list(row.preset_errors)


def _inspect_quietly(raw: bytes) -> Inspection:
    """The header of ``raw`` without trusting it (for a message already judged)."""
    return inspect(raw)
