"""The parts of a split flat-file usage report: they wait, and are processed as one message.

A file whose HEAD says it is file ``n`` of ``N`` (``N`` > 1) is stored and recorded as it
comes, in state ``waiting`` (its sender: the party that handed it in, else its HEAD's), owing
no processing. In the transaction that records a part, the parts of the same sender and
MessageId waiting so far are counted: once every FileNumber 1..N is there (the latest copy of
each), the exchange writes their *part set* (:func:`airex.exchange._flat.part_set`), stores it
and records it as one received message (``source`` ``parts``) owing its processing, like any
message; the parts are then ``done``, their ``parent_id`` the set's received id. A set that
never completes stays ``waiting``: ``airex exchange status`` counts its parts, and
:func:`waiting_parts` lists them.

Inside a batch, the parts of a set the batch holds whole are joined the same way when the
batch is taken in (:func:`sets_in_batch`): the set is the batch's entry (at its first part's
place, acknowledged in the batch's ACK), the parts are ``done`` with the set as their parent.
A batch answers all its entries at once and never waits: parts of a set it does not hold
whole are processed one by one, and refused with the reader's ``ReportPartMissing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import backend_of
from airex.exchange import outbox as ob
from airex.exchange._flat import _PEEK, PARTS_SOURCE, FlatHead, flat_head, flat_head_of, part_set
from airex.exchange._rows import _insert_received, _received_values
from airex.exchange._work import Incoming
from airex.exchange.models import OutboxKind, ReceivedState, received
from airex.exchange.store import MessageStore

__all__: list[str] = []


@dataclass(frozen=True, slots=True)
class WaitingPart:
    """A part of a split report whose set is not complete."""

    received_id: int
    sender: str | None
    message_id: str | None
    file_name: str | None
    received_at: datetime


def record_parts(
    connection: Connection,
    store: MessageStore,
    parts: Sequence[tuple[Incoming, str, FlatHead]],
    received_at: datetime,
) -> tuple[list[int], list[ob.Owed]]:
    """Record ``parts`` (each: what was handed in, its stored hash, its HEAD) as waiting; join
    every set they complete. Returns the parts' received ids, in order, and the processing
    owed for the sets completed."""
    ids: list[int] = []
    keys: dict[tuple[str | None, str | None], None] = {}
    for item, sha, head in parts:
        values = _received_values(item, sha, received_at)
        sender = item.arrival_party or head.sender
        values.update(state=ReceivedState.WAITING.value, sender=sender, message_id=head.message_id)
        result = connection.execute(received.insert().values(**values))
        key = result.inserted_primary_key
        assert key is not None
        ids.append(int(key[0]))
        keys.setdefault((sender, head.message_id))
    owed = [
        ob.Owed(OutboxKind.PROCESS, received_id=set_id)
        for sender, message_id in keys
        if (set_id := _join(connection, store, sender, message_id, received_at)) is not None
    ]
    return ids, owed


def _join(
    connection: Connection,
    store: MessageStore,
    sender: str | None,
    message_id: str | None,
    received_at: datetime,
) -> int | None:
    """The received id of the set of ``sender``'s parts of ``message_id`` when they are now
    complete (recorded here), else ``None``."""
    if backend_of(connection.engine) == "postgresql":  # one joiner of a set at a time
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"airex-parts/{sender}/{message_id}"},
        )
    rows = connection.execute(
        sa.select(received.c.id, received.c.sha256, received.c.file_name, received.c.arrival_party)
        .where(
            received.c.state == ReceivedState.WAITING.value,
            received.c.sender.is_(None) if sender is None else received.c.sender == sender,
            received.c.message_id == message_id,
        )
        .order_by(received.c.id)
    ).all()
    latest: dict[int, Any] = {}
    total: int | None = None
    for row in rows:
        head = flat_head_of(store.path(row.sha256))
        if head is None or head.file_number is None:
            continue
        if total is not None and head.number_of_files != total:
            latest.clear()  # a set of another shape replaces the one waiting
        total = head.number_of_files
        latest[head.file_number] = row
    if total is None or sorted(latest) != list(range(1, total + 1)):
        return None
    members = [latest[n] for n in range(1, total + 1)]
    data = part_set([(m.sha256, m.file_name) for m in members])
    sha = store.put(data)
    values = _received_values(
        Incoming(data, members[0].file_name, members[0].arrival_party, PARTS_SOURCE),
        sha,
        received_at,
    )
    result = connection.execute(received.insert().values(**values))
    key = result.inserted_primary_key
    assert key is not None
    set_id = int(key[0])
    connection.execute(
        received.update()
        .where(received.c.id.in_([row.id for row in rows]))
        .values(state=ReceivedState.DONE.value, parent_id=set_id)
    )
    return set_id


def sets_in_batch(
    entries: Sequence[tuple[bytes, str | None]], arrival_party: str | None
) -> list[list[int]]:
    """The split reports ``entries`` (a batch's accepted entries: bytes, MessageSender)
    hold whole: for each, the indexes of its parts in FileNumber order. A set whose parts
    disagree on the number of files, or repeat a FileNumber, is not joined (each part is
    then refused on its own, saying why)."""
    groups: dict[tuple[str | None, str | None], list[tuple[int, FlatHead]]] = {}
    for index, (data, sender) in enumerate(entries):
        head = flat_head(data[:_PEEK])
        if head is not None and head.part:
            groups.setdefault((arrival_party or sender or head.sender, head.message_id), []).append(
                (index, head)
            )
    sets = []
    for members in groups.values():
        totals = {head.number_of_files for _, head in members}
        numbers = sorted(head.file_number or 0 for _, head in members)
        if len(totals) == 1 and numbers == list(range(1, len(members) + 1)) == list(
            range(1, (totals.pop() or 0) + 1)
        ):
            ordered = sorted(members, key=lambda member: member[1].file_number or 0)
            sets.append([index for index, _ in ordered])
    return sorted(sets)


def record_batch_set(
    connection: Connection,
    joined: tuple[bytes, str],
    parts: Sequence[tuple[Incoming, str, str | None]],
    received_at: datetime,
    place: tuple[int, int],
) -> list[int]:
    """Record a split report a batch holds whole: its part set (``joined``: the set's bytes
    and stored hash) as the batch's entry at ``place`` (batch row, position), owing its
    processing, and ``parts`` (each: what was handed in, its hash, its listed MessageId) as
    done, the set their parent. Returns the set's received id, then the parts'."""
    data, sha = joined
    first = parts[0][0]
    set_id = _insert_received(
        connection,
        Incoming(data, first.file_name, first.arrival_party, PARTS_SOURCE),
        sha,
        received_at,
        batch_row=place[0],
        position=place[1],
        listed_message_id=parts[0][2],
    )
    ids = [set_id]
    ids.extend(
        _insert_received(
            connection,
            item,
            part_sha,
            received_at,
            parent=set_id,
            listed_message_id=listed,
            state=ReceivedState.DONE,
        )
        for item, part_sha, listed in parts
    )
    return ids


def waiting_parts(connection: Connection) -> list[WaitingPart]:
    """The parts of split reports whose sets are not complete, oldest first."""
    rows = connection.execute(
        sa.select(
            received.c.id,
            received.c.sender,
            received.c.message_id,
            received.c.file_name,
            received.c.received_at,
        )
        .where(received.c.state == ReceivedState.WAITING.value)
        .order_by(received.c.id)
    ).all()
    return [WaitingPart(r.id, r.sender, r.message_id, r.file_name, r.received_at) for r in rows]
