"""Intake: files, messages and batches taken in (stored first, recorded, owed processing)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Connection

from airex.batch import BatchLimits, acknowledgement, verify
from airex.db import read_transaction, run_write
from airex.errors import MessageError
from airex.exchange import outbox as ob
from airex.exchange._flat import flat_head, part_set
from airex.exchange._parts import record_batch_set, record_parts, sets_in_batch
from airex.exchange._process import _Processing
from airex.exchange._rows import (
    _insert_received,
    _received_values,
    _taken_batch_tokens,
    _taken_tokens,
)
from airex.exchange._work import Incoming, Intake
from airex.exchange.models import OutboxKind, batch, received, utc_now
from airex.exchange.verdict import identifier_or_none


class _Intake(_Processing):
    """Taking messages and batches in."""

    def receive(self, items: Sequence[Incoming], *, publish: bool = True) -> list[int]:
        """Take in ``items``: store each one's bytes (durably, first), then record them and
        owe their processing in one transaction; publish the tasks unless ``publish`` is
        False (the relay will). Returns the received ids, in order.

        An item whose ``intake_token`` was taken before is skipped (its id is not returned).
        """
        if not items:
            return []
        held = [i for i in items if i.stored is None]
        digests = iter(self.store.put_many([i.data for i in held]))
        stored = [(i, i.stored.sha256 if i.stored else next(digests)) for i in items]
        now = utc_now()
        received_at = self.settings.now()  # the exchange's clock (a simulated one in a demo)

        heads = {id(i): flat_head(i.head) for i, _ in stored}

        def work(connection: Connection) -> tuple[list[int], list[ob.OutboxRow]]:
            tokens = [i.intake_token for i, _ in stored if i.intake_token]
            taken = _taken_tokens(connection, tokens)
            fresh = [(i, sha) for i, sha in stored if i.intake_token not in taken]
            if not fresh:
                return [], []
            parts = [
                (i, sha, head)
                for i, sha in fresh
                if (head := heads[id(i)]) is not None and head.part
            ]
            whole = [(i, sha) for i, sha in fresh if not any(i is p[0] for p in parts)]
            ids = (
                [
                    int(i)
                    for i in connection.execute(
                        received.insert().returning(received.c.id, sort_by_parameter_order=True),
                        [_received_values(item, sha, received_at) for item, sha in whole],
                    ).scalars()
                ]
                if whole
                else []
            )
            owed = [ob.Owed(OutboxKind.PROCESS, received_id=i) for i in ids]
            if parts:  # a split report's parts wait for their set (airex.exchange._parts)
                part_ids, joined = record_parts(connection, self.store, parts, received_at)
                by_item = dict(zip([id(p[0]) for p in parts], part_ids, strict=True))
                by_item.update(zip([id(i) for i, _ in whole], ids, strict=True))
                ids = [by_item[id(i)] for i, _ in fresh]
                owed.extend(joined)
            return ids, ob.insert_rows(connection, owed, now)

        ids, rows = run_write(self.engine, work)
        if publish:
            self.deliver_rows(rows)
        return ids

    def refuse_entry(self, party_id: str, name: str, error: MessageError) -> int:
        """Record an entry ``party_id`` left in its drop folder that cannot be taken (not a
        file or folder, a name that cannot be stored): a received message with no content
        and ``error`` as its status, processed like any message, so that the party is
        acknowledged. Returns its received id."""
        sha = self.store.put(b"")
        received_at = self.settings.now()

        def work(connection: Connection) -> tuple[int, list[ob.OutboxRow]]:
            received_id = _insert_received(
                connection,
                Incoming(b"", name, party_id, "drop"),
                sha,
                received_at,
                preset=(error.status, [error]),
            )
            owed = [ob.Owed(OutboxKind.PROCESS, received_id=received_id)]
            return received_id, ob.insert_rows(connection, owed, utc_now())

        received_id, rows = run_write(self.engine, work)
        self.deliver_rows(rows)
        return received_id

    def receive_bytes(
        self,
        data: bytes,
        *,
        arrival_party: str | None = None,
        file_name: str | None = None,
        source: str = "send",
        publish: bool = True,
    ) -> int:
        """Take in one message's bytes; return its received id (see :meth:`receive`)."""
        (received_id,) = self.receive(
            [Incoming(data, file_name, arrival_party, source)], publish=publish
        )
        return received_id

    def taken(self, tokens: Sequence[str]) -> set[str]:
        """The intake tokens among ``tokens`` already recorded (files already taken)."""
        with read_transaction(self.engine) as connection:
            return _taken_tokens(connection, tokens) | _taken_batch_tokens(connection, tokens)

    def receive_path(
        self,
        path: str | os.PathLike[str],
        *,
        arrival_party: str | None = None,
        source: str = "send",
        intake_token: str | None = None,
        publish: bool = True,
    ) -> Intake:
        """Take in a message file, or a batch (a folder, or a ``.zip``).

        A batch without its BatchComplete file is not taken (``Intake.complete`` False).
        """
        target = Path(path)
        if target.is_dir() or target.suffix.lower() == ".zip":
            return self.receive_batch(
                target,
                arrival_party=arrival_party,
                source=source,
                intake_token=intake_token,
                publish=publish,
            )
        data = target.read_bytes()
        ids = self.receive(
            [Incoming(data, target.name, arrival_party, source, intake_token)], publish=publish
        )
        return Intake(tuple(ids))

    def receive_batch(
        self,
        path: str | os.PathLike[str],
        *,
        arrival_party: str | None = None,
        source: str = "send",
        intake_token: str | None = None,
        publish: bool = True,
    ) -> Intake:
        """Take in a batch (folder or zip): verify it (:func:`airex.batch.verify`), store
        every entry's bytes, record the batch and its entries, owe each entry's processing.

        Entries the batch check rejected (a file missing, a hash or size that does not match
        the manifest, a message that does not match its manifest entry) keep that verdict;
        the others are processed like any message. When the last entry is processed, ONE
        ``ACK_<BatchId>.xml`` goes to the sender with every entry's final status. A batch
        refused as a whole is acknowledged at once; an incomplete one is not taken.
        """
        target = Path(path)
        report = verify(target, limits=BatchLimits(max_total_bytes=self.settings.max_batch_bytes))
        if not report.complete and not report.refused:
            return Intake((), complete=False)
        batch_id = report.batch_id or target.name.removesuffix(".zip")
        sender = report.manifest_sender.party_id if report.manifest_sender is not None else None
        reply_to = arrival_party or sender
        draft = acknowledgement(
            report,
            sender=self.settings.signing_party_id,
            recipient=reply_to or self.settings.signing_party_id,
        )
        entries = [] if report.refused else report.entries
        manifest_ack = None
        if len(draft.acknowledgements) > len(entries):
            first = draft.acknowledgements[0].to_xml(encoding="unicode")
            assert isinstance(first, str)
            manifest_ack = first
        context = {
            "reply_to": reply_to,
            "thread_id": draft.message_header.message_thread_id,
            "test": report.is_test,
            "manifest_ack": manifest_ack,
        }
        stored = self.store.put_many([e.data for e in entries])
        accepted = [n for n, e in enumerate(entries) if e.accepted]
        sets = [
            [accepted[i] for i in members]
            for members in sets_in_batch(
                [(entries[n].data, entries[n].sender) for n in accepted], arrival_party
            )
        ]
        set_data = [part_set([(stored[n], entries[n].url) for n in members]) for members in sets]
        set_shas = self.store.put_many(set_data)
        set_of = {n: k for k, members in enumerate(sets) for n in members}
        now = utc_now()
        received_at = self.settings.now()

        def work(connection: Connection) -> tuple[int | None, list[int], list[ob.OutboxRow]]:
            if intake_token and _taken_batch_tokens(connection, [intake_token]):
                return None, [], []
            result = connection.execute(
                batch.insert().values(
                    batch_id=batch_id,
                    arrival_party=arrival_party,
                    source=str(target),
                    intake_token=intake_token,
                    entry_count=len(entries),
                    ack_context=json.dumps(context),
                    state="open",
                    received_at=received_at,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            batch_row = int(key[0])
            ids: list[int] = []
            owed: list[ob.Owed] = []
            rows: list[ob.OutboxRow] = []
            for position, (entry, sha) in enumerate(zip(entries, stored, strict=True)):
                if position in set_of:  # a split report the batch holds whole: one entry
                    members = sets[set_of[position]]
                    if position == members[0]:
                        joined = record_batch_set(
                            connection,
                            (set_data[set_of[position]], set_shas[set_of[position]]),
                            [
                                (
                                    Incoming(
                                        entries[n].data, entries[n].url, arrival_party, "batch"
                                    ),
                                    stored[n],
                                    identifier_or_none(entries[n].message_id),
                                )
                                for n in members
                            ],
                            received_at,
                            (batch_row, min(members)),
                        )
                        ids.extend(joined)
                        owed.append(ob.Owed(OutboxKind.PROCESS, received_id=joined[0]))
                    continue
                preset = None if entry.accepted else (entry.status, entry.errors)
                received_id = _insert_received(
                    connection,
                    Incoming(entry.data, entry.url, arrival_party, "batch"),
                    sha,
                    received_at,
                    batch_row=batch_row,
                    position=position,
                    listed_message_id=identifier_or_none(entry.message_id),
                    preset=preset,
                )
                ids.append(received_id)
                owed.append(ob.Owed(OutboxKind.PROCESS, received_id=received_id))
            if not entries:
                owed.extend(self._finish_batch(connection, batch_row, now))
            rows = ob.insert_rows(connection, owed, now)
            return batch_row, ids, rows

        batch_row, ids, rows = run_write(self.engine, work)
        if publish:
            self.deliver_rows(rows)
        return Intake(tuple(ids), batch_row, batch_id)
