"""The exchange's pipeline as plain service functions: receive, process, give up, deliver.

::

    receive ──► store raw bytes ──► exchange_received + outbox(process) ─commit─► publish task
                (content-addressed,      (one transaction)
                 fsync'd: first)
    process(received_id):
        load ──► validate (airex.check) ──► parties known? entitled? (the verdict)
             ──► duplicate (sender, MessageId)? ──► act, when the CMO is a recipient (hook)
             ──► ONE transaction: dedupe row, inbox rows, deliveries to every recipient's
                 folder/queue, the CMO's outgoing messages, the acknowledgement to the
                 sender, the message's final state, the outbox rows of all of it
             ─commit─► perform the outbox rows (the relay does what is left)

Nothing here needs Celery: the task (:mod:`airex.exchange.celery_app`) calls
:meth:`Exchange.process` with an id, and so do the tests; what is published goes through the
:class:`~airex.exchange.publish.Publisher` the caller chose. A message is processed at most once
whatever the broker does: the processing transaction locks the received row and does nothing
if it is no longer pending; a second copy of the same message (same sender and MessageId) is
acknowledged ``DuplicateMessage`` with no effect.

Failures: a transient one (database busy or unreachable, disk) raises
:class:`~airex.exchange.errors.TransientError` for the task to retry with back-off; anything
else (the CMO's action raising, a damaged store file) is a poison message: it goes to the
dead letters at once (:meth:`Exchange.give_up`: table, queue, ``InternalError``
acknowledgement). Redeliveries are counted (``attempts``); a message redelivered
``max_attempts`` times — a worker killed each time it runs it — is given up too.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.batch import ack_name, acknowledgement, verify
from airex.db import (
    DatabaseBusyError,
    backend_of,
    create_engine,
    insert_for,
    read_transaction,
    run_write,
)
from airex.errors import MessageError, MessageStatus
from airex.exchange import outbox as ob
from airex.exchange.acks import AckItem, acknowledgement_of, build_acknowledgement
from airex.exchange.directory import PartyDirectory
from airex.exchange.errors import ExchangeConfigError, ExchangeError, TransientError
from airex.exchange.hooks import ActionResult, CmoActions, NoActions
from airex.exchange.models import (
    AckRecord,
    DeadLetter,
    ErrorRecord,
    OutboxKind,
    PartyRecord,
    ReceivedMessage,
    ReceivedState,
    ack,
    batch,
    dead_letter,
    errors_from_json,
    errors_to_json,
    inbox,
    message,
    outbox,
    received,
    utc_now,
)
from airex.exchange.schema import require_current
from airex.exchange.settings import ExchangeSettings
from airex.exchange.store import MessageStore, sha256_of
from airex.exchange.verdict import (
    Header,
    Inspection,
    Verdict,
    identifier_or_none,
    inspect,
    judge,
)
from airex.messages import Acknowledgement, AcknowledgementMessage, MessageHeader, serialise
from airex.messages.codes import MessageControlType

if TYPE_CHECKING:
    from datetime import datetime

    from airex.exchange.publish import Publisher

__all__ = [
    "Exchange",
    "ExchangeStatus",
    "Incoming",
    "Intake",
    "ProcessOutcome",
]

log = logging.getLogger(__name__)

_TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    DatabaseBusyError,
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    OSError,
)
_TRANSIENT_OR_CONFIG: tuple[type[BaseException], ...] = (*_TRANSIENT, ExchangeConfigError)
_PARTY_CACHE_SECONDS = 5.0
_ACCEPTED = MessageStatus.MESSAGE_ACCEPTED


@dataclass(frozen=True, slots=True)
class Incoming:
    """One file handed to the exchange: its bytes and where they came from.

    ``arrival_party`` is the party that handed it in (its drop folder, ``airex send --as``),
    ``None`` when unknown; ``source`` is ``drop``, ``send``, ``batch`` or ``cmo``;
    ``intake_token`` identifies one taking of a dropped file (so that a watcher that crashed
    after the commit does not take it twice).
    """

    data: bytes
    file_name: str | None = None
    arrival_party: str | None = None
    source: str = "send"
    intake_token: str | None = None


@dataclass(frozen=True, slots=True)
class Intake:
    """What :meth:`Exchange.receive_path` took in: the received ids (one per message), and
    for a batch its row id and BatchId; ``complete`` is False for an incomplete batch (not
    taken)."""

    received_ids: tuple[int, ...]
    batch_row_id: int | None = None
    batch_id: str | None = None
    complete: bool = True


@dataclass
class ProcessOutcome:
    """What processing one received message came to.

    ``status`` is the final MessageStatus (``None`` when nothing was done because the message
    was processed before: ``already``); ``owed`` the outbox rows its commit wrote, to perform
    now (:meth:`Exchange.deliver_rows`); ``dead`` True when it went to the dead letters.
    """

    received_id: int
    status: MessageStatus | None
    owed: list[ob.OutboxRow] = field(default_factory=list)
    already: bool = False
    dead: bool = False
    ack_message_id: str | None = None

    @property
    def outbox_ids(self) -> list[int]:
        """The ids of the outbox rows to perform now."""
        return [row.id for row in self.owed]


@dataclass(frozen=True)
class ExchangeStatus:
    """Counts for ``airex exchange status``: received messages per state and per status,
    open outbox rows per kind, the dead letters (newest first, at most 20), batches waiting."""

    states: dict[str, int]
    statuses: dict[str, int]
    outbox_open: dict[str, int]
    dead_letters: list[DeadLetter]
    dead_letter_count: int
    open_batches: int
    acknowledgements: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "received": self.states,
            "statuses": self.statuses,
            "outbox_open": self.outbox_open,
            "open_batches": self.open_batches,
            "acknowledgements": self.acknowledgements,
            "dead_letter_count": self.dead_letter_count,
            "dead_letters": [
                {
                    "received_id": d.received_id,
                    "reason": d.reason,
                    "attempts": d.attempts,
                    "at": d.created_at.isoformat(),
                }
                for d in self.dead_letters
            ],
        }


@dataclass
class _Work:
    """One message judged and acted on, waiting for its share of the commit."""

    row: ReceivedMessage
    verdict: Verdict
    result: ActionResult | None
    duplicate_of: int | None
    plan: _AckPlan | None


@dataclass
class _AckPlan:
    """An acknowledgement decided (built) outside the transaction."""

    status: MessageStatus
    message_id: str
    data: bytes
    recipient: str
    file_name: str


class Exchange:
    """The exchange for one process: database, message store, directory, broker, actions.

    ``Exchange(settings)`` opens an engine on ``settings.database`` (checking the schema is
    current unless ``check_schema=False``); pass ``engine`` to share one, ``publisher`` what
    publishes its tasks and queue deliveries (:mod:`airex.exchange.publish`; the caller's
    choice: :func:`~airex.exchange.celery_app.celery_publisher` for the exchange's broker,
    :class:`~airex.exchange.publish.InMemoryPublisher` in tests; without one, what must go
    through the broker is left to a relay that has one) and
    ``actions`` the CMO's actions (else none: the exchange only routes; the top floor hands
    in ``airex.cmo``'s, see :mod:`airex.exchange.hooks`).
    """

    def __init__(
        self,
        settings: ExchangeSettings,
        *,
        engine: Engine | None = None,
        publisher: Publisher | None = None,
        actions: CmoActions | None = None,
        check_schema: bool = True,
    ) -> None:
        self.settings = settings
        self._own_engine = engine is None
        self.engine = engine if engine is not None else create_engine(settings.database)
        if check_schema:
            require_current(self.engine)
        self.store = MessageStore(settings.store_dir)
        self.directory = PartyDirectory(self.engine, settings.parties_dir)
        self.publisher = publisher
        self._actions = actions
        self._courier: ob.Courier | None = None
        self._parties: dict[str, tuple[float, PartyRecord]] = {}

    # --- plumbing --------------------------------------------------------------------------

    @property
    def actions(self) -> CmoActions:
        """The CMO's actions (those handed in; else :class:`NoActions`: routing only)."""
        if self._actions is None:
            self._actions = NoActions()
        return self._actions

    @property
    def courier(self) -> ob.Courier:
        """What performs outbox rows (publications and folder deliveries)."""
        if self._courier is None:
            self._courier = ob.Courier(self.settings, self.publisher, self.store)
        return self._courier

    def close(self) -> None:
        """Release the engine (when this exchange made it) and the publisher's connections."""
        if self._own_engine:
            self.engine.dispose()
        if self.publisher is not None:
            self.publisher.close()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- intake ----------------------------------------------------------------------------

    def receive(self, items: Sequence[Incoming], *, publish: bool = True) -> list[int]:
        """Take in ``items``: store each one's bytes (durably, first), then record them and
        owe their processing in one transaction; publish the tasks unless ``publish`` is
        False (the relay will). Returns the received ids, in order.

        An item whose ``intake_token`` was taken before is skipped (its id is not returned).
        """
        if not items:
            return []
        stored = list(zip(items, self.store.put_many([i.data for i in items]), strict=True))
        now = utc_now()
        received_at = self.settings.now()  # the exchange's clock (a simulated one in a demo)

        def work(connection: Connection) -> tuple[list[int], list[ob.OutboxRow]]:
            tokens = [i.intake_token for i, _ in stored if i.intake_token]
            taken = _taken_tokens(connection, tokens)
            fresh = [(i, sha) for i, sha in stored if i.intake_token not in taken]
            if not fresh:
                return [], []
            ids = [
                int(i)
                for i in connection.execute(
                    received.insert().returning(received.c.id, sort_by_parameter_order=True),
                    [_received_values(item, sha, received_at) for item, sha in fresh],
                ).scalars()
            ]
            owed = [ob.Owed(OutboxKind.PROCESS, received_id=i) for i in ids]
            return ids, ob.insert_rows(connection, owed, now)

        ids, rows = run_write(self.engine, work)
        if publish:
            self.deliver_rows(rows)
        return ids

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
        report = verify(target)
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

    # --- processing ------------------------------------------------------------------------

    def process(self, received_id: int, *, redelivered: bool = False) -> ProcessOutcome:
        """Process one received message, exactly once (see the module doc).

        ``redelivered`` says this is not the first delivery of its task (the broker
        redelivered it, the relay published it again, or it is a retry): it is counted, and a
        message at ``max_attempts`` is given up. Raises :class:`TransientError` for a failure
        that may pass; never raises for a bad message.
        """
        (outcome,) = self.process_many([received_id], redelivered=redelivered)
        return outcome

    def process_many(
        self, received_ids: Sequence[int], *, redelivered: bool = False
    ) -> list[ProcessOutcome]:
        """Process several received messages (one task's ids), in order of the ids.

        Each message is judged and acted on alone; their commits share one transaction (one
        commit for the lot, the exchange's main cost). A message that cannot be processed goes
        to the dead letters alone; if the shared transaction fails for a reason that is not
        transient, each message is committed on its own, so one bad message never holds the
        others back. Raises :class:`TransientError` (the whole task is retried; what was
        committed is skipped then).
        """
        ids = list(dict.fromkeys(received_ids))
        try:
            rows = self._load_many(ids, count_attempt=redelivered)
        except _TRANSIENT as exc:
            raise TransientError(f"received messages {ids}: {exc}") from exc
        outcomes: dict[int, ProcessOutcome] = {}
        work: list[_Work] = []
        for received_id in ids:
            row = rows.get(received_id)
            if row is None:
                log.warning("received message #%s does not exist; task dropped", received_id)
                outcomes[received_id] = ProcessOutcome(received_id, None, already=True)
            elif row.state != ReceivedState.PENDING:
                outcomes[received_id] = ProcessOutcome(received_id, None, already=True)
            elif row.attempts >= self.settings.max_attempts:
                outcomes[received_id] = self.give_up(
                    received_id,
                    f"delivered {row.attempts + 1} times without being processed (the "
                    "worker was lost, or a transient failure persisted, each time)",
                )
            else:
                prepared = self._prepare(row)
                if isinstance(prepared, ProcessOutcome):
                    outcomes[received_id] = prepared
                else:
                    work.append(prepared)
        if work:
            for outcome in self._commit_all(work):
                outcomes[outcome.received_id] = outcome
        return [outcomes[received_id] for received_id in ids]

    def _prepare(self, row: ReceivedMessage) -> _Work | ProcessOutcome:
        """Judge and act on one message (outside any transaction); a poison message is given
        up here (its outcome returned)."""
        try:
            raw = self.store.get(row.sha256)
            verdict = self._verdict(raw, row)
            result, duplicate_of = self._act(verdict, row, raw)
            plan = self._plan(row, verdict, result, duplicate_of)
        except _TRANSIENT_OR_CONFIG as exc:  # a misconfiguration is no poison message
            raise TransientError(f"received message #{row.id}: {exc}") from exc
        except Exception as exc:  # a poison message: dead letters, not a crash
            log.exception("received message #%s cannot be processed", row.id)
            return self.give_up(row.id, f"{type(exc).__name__}: {exc}")
        return _Work(row, verdict, result, duplicate_of, plan)

    def _commit_all(self, work: list[_Work]) -> list[ProcessOutcome]:
        """Commit every prepared message in one transaction (rows locked in id order, batches
        finished last); if that fails for a reason that is not transient, one by one."""
        ordered = sorted(work, key=lambda w: w.row.id)

        def together(connection: Connection) -> list[ProcessOutcome]:
            return self._commit_batch(connection, ordered)

        try:
            return run_write(self.engine, together)
        except _TRANSIENT as exc:
            raise TransientError(f"received messages {[w.row.id for w in work]}: {exc}") from exc
        except Exception:
            if len(ordered) == 1:
                item = ordered[0]
                log.exception("received message #%s cannot be committed", item.row.id)
                return [self.give_up(item.row.id, "its processing transaction failed")]
            log.warning("a shared commit failed; committing one by one", exc_info=True)
        outcomes: list[ProcessOutcome] = []
        for item in ordered:
            outcomes.extend(self._commit_all([item]))
        return outcomes

    def _commit_batch(self, connection: Connection, work: list[_Work]) -> list[ProcessOutcome]:
        """The processing transaction of a task's messages, in a few statements for all of
        them: lock those still pending, take their (sender, MessageId) rows, record the
        routing and the acknowledgements, set their final state, owe the deliveries."""
        now = utc_now()
        pending = _lock_pending(connection, [item.row.id for item in work])
        outcomes = {
            item.row.id: ProcessOutcome(item.row.id, None, already=True)
            for item in work
            if item.row.id not in pending  # processed meanwhile, by another worker
        }
        live = [item for item in work if item.row.id in pending]
        claimed = self._claim(connection, live, now)
        inbox_rows: list[dict[str, Any]] = []
        ack_rows: list[dict[str, Any]] = []
        finals: list[dict[str, Any]] = []
        owed: list[tuple[int, list[ob.Owed]]] = []
        batches: set[int] = set()
        for item in live:
            row, verdict = item.row, item.verdict
            item_owed: list[ob.Owed] = []
            if row.id in claimed:
                inbox_rows.extend(
                    {"party_id": p, "received_id": row.id, "routed_at": now}
                    for p in verdict.recipients
                )
                item_owed.extend(self._route(row, verdict))
                if item.result is not None:
                    item_owed.extend(self._outgoing(connection, row, item.result, now))
            if item.plan is not None:
                ack_rows.append(_ack_values(item.plan, now, received_id=row.id))
                item_owed.extend(
                    self._ack_deliveries(connection, item.plan, verdict.parties, row.id)
                )
            status, errors = self._final(verdict, item.result, item.duplicate_of)
            finals.append(_final_values(row, verdict.header, status, errors, now))
            owed.append((row.id, item_owed))
            if row.batch_row_id is not None:
                batches.add(row.batch_row_id)
            outcomes[row.id] = ProcessOutcome(
                row.id, status, ack_message_id=item.plan.message_id if item.plan else None
            )
        if inbox_rows:
            connection.execute(inbox.insert(), inbox_rows)
        if ack_rows:
            connection.execute(ack.insert(), ack_rows)
        if finals:
            connection.execute(_FINISH, finals)
        batch_owed = [o for b in sorted(batches) for o in self._finish_batch(connection, b, now)]
        flat = [o for _, item_owed in owed for o in item_owed] + batch_owed
        rows = iter(ob.insert_rows(connection, flat, now))
        for received_id, item_owed in owed:
            outcomes[received_id].owed = [next(rows) for _ in item_owed]
        if batch_owed and owed:
            outcomes[owed[-1][0]].owed.extend(rows)
        ob.close_process_many(connection, [item.row.id for item in live], now)
        return [outcomes[item.row.id] for item in work]

    def _claim(self, connection: Connection, live: list[_Work], now: datetime) -> set[int]:
        """Insert the (sender, MessageId) rows of the accepted messages; return the received
        ids that got theirs. The others are duplicates (of a copy processed before, or of an
        earlier message of the same task): their status and acknowledgement say so."""
        candidates = [i for i in live if i.verdict.accepted and i.duplicate_of is None]
        if not candidates:
            return set()
        values = [
            {
                "sender": i.verdict.header.sender,
                "message_id": i.verdict.header.message_id,
                "received_id": i.row.id,
                "message_type": i.verdict.header.message_type,
                "recorded_at": now,
            }
            for i in candidates
        ]
        statement = _insert_ignore(connection, message).returning(message.c.received_id)
        claimed = {int(r) for r in connection.execute(statement, values).scalars()}
        for item in candidates:
            if item.row.id not in claimed:
                item.duplicate_of = _first_reception(connection, item.verdict)
                item.result = None
                if item.plan is not None:
                    status, errors = self._final(item.verdict, None, item.duplicate_of)
                    item.plan = self._ack_plan(item.row, item.verdict, status, errors)
        return claimed

    def _load_many(
        self, received_ids: list[int], *, count_attempt: bool
    ) -> dict[int, ReceivedMessage]:
        """The rows of ``received_ids``; with ``count_attempt`` the pending ones' attempts are
        counted first (committed before any work, so a crash cannot undo the count)."""
        query = sa.select(received).where(received.c.id.in_(received_ids))
        if count_attempt:

            def work(connection: Connection) -> list[Any]:
                connection.execute(
                    received.update()
                    .where(
                        received.c.id.in_(received_ids),
                        received.c.state == ReceivedState.PENDING.value,
                    )
                    .values(attempts=received.c.attempts + 1)
                )
                return list(connection.execute(query))

            found = run_write(self.engine, work)
        else:
            with _reading(self.engine) as connection:
                found = list(connection.execute(query))
        return {row.id: ReceivedMessage.from_row(row) for row in found}

    def _lookup_parties(self, party_ids: set[str]) -> dict[str, PartyRecord]:
        now = time.monotonic()
        found: dict[str, PartyRecord] = {}
        missing: list[str] = []
        for party_id in party_ids:
            cached = self._parties.get(party_id)
            if cached is not None and now - cached[0] < _PARTY_CACHE_SECONDS:
                found[party_id] = cached[1]
            else:
                missing.append(party_id)
        if missing:
            with _reading(self.engine) as connection:
                fresh = PartyDirectory.lookup(connection, missing)
            for party_id, record in fresh.items():
                self._parties[party_id] = (now, record)
            found.update(fresh)
        return found

    def _verdict(self, raw: bytes, row: ReceivedMessage) -> Verdict:
        preset = _preset(row)
        inspection = inspect(raw) if preset is None else _inspect_quietly(raw)
        parties = self._lookup_parties(inspection.party_ids) if preset is None else {}
        how = {
            "drop": "from its drop folder",
            "send": "with airex send --as",
            "batch": "in its batch",
            "cmo": "as the CMO's answer",
        }.get(row.source, row.source)
        return judge(
            inspection, parties, arrival_party=row.arrival_party, arrived_how=how, preset=preset
        )

    def _should_act(self, verdict: Verdict, row: ReceivedMessage) -> bool:
        cmo = self.settings.cmo_party_id
        return (
            cmo is not None
            and cmo in verdict.recipients
            and row.source != "cmo"
            and not verdict.header.test
        )

    def _act(
        self, verdict: Verdict, row: ReceivedMessage, raw: bytes
    ) -> tuple[ActionResult | None, int | None]:
        if not verdict.accepted or not self._should_act(verdict, row):
            return None, None
        duplicate_of = self._duplicate_of(verdict)
        if duplicate_of is not None:
            return None, duplicate_of
        assert verdict.message is not None
        view = replace(
            row,
            sender=verdict.header.sender,
            message_id=verdict.header.message_id,
            message_type=verdict.header.message_type,
        )
        result = self.actions.act(verdict.message, raw, view, self.engine)
        if not isinstance(result, ActionResult):
            raise ExchangeError(
                f"the CMO's actions returned {type(result).__name__}, not an ActionResult, "
                f"for {verdict.header.message_type} {verdict.header.message_id}"
            )
        return result, None

    def _duplicate_of(self, verdict: Verdict) -> int | None:
        with _reading(self.engine) as connection:
            return _first_reception(connection, verdict)

    def _final(
        self, verdict: Verdict, result: ActionResult | None, duplicate_of: int | None
    ) -> tuple[MessageStatus, list[ErrorRecord]]:
        if duplicate_of is not None:
            return MessageStatus.DUPLICATE_MESSAGE, [_duplicate_error(verdict, duplicate_of)]
        if not verdict.accepted or result is None:
            return verdict.status, list(verdict.errors)
        return result.status or MessageStatus.MESSAGE_ACCEPTED, list(result.errors)

    def _wants_ack(self, row: ReceivedMessage, verdict: Verdict | None) -> bool:
        if row.batch_row_id is not None or row.source == "cmo":
            return False  # a batch is answered whole; the CMO's own answers are not acked
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

    # --- dead letters ----------------------------------------------------------------------

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

    # --- outbox ----------------------------------------------------------------------------

    def deliver(self, outbox_ids: Sequence[int]) -> ob.PerformReport:
        """Perform the outbox rows ``outbox_ids`` (those not done yet) now, and record it.
        Never raises: what fails is left to the relay."""
        if not outbox_ids:
            return ob.PerformReport()
        try:
            with read_transaction(self.engine) as connection:
                rows = ob.load_rows(connection, outbox_ids)
        except Exception:  # the relay performs what is left
            log.warning("outbox rows %s left to the relay", list(outbox_ids), exc_info=True)
            return ob.PerformReport()
        return self.deliver_rows(rows)

    def deliver_rows(self, rows: Sequence[ob.OutboxRow]) -> ob.PerformReport:
        """Perform ``rows`` (just written by a commit) now, and record it. Never raises:
        what fails is left to the relay."""
        report = ob.PerformReport()
        if not rows:
            return report
        try:
            report = self.courier.perform(rows)
            ob.record(self.engine, report)
        except Exception:  # the relay performs what is left
            log.warning("outbox rows %s left to the relay", [r.id for r in rows], exc_info=True)
        return report

    def relay_once(self) -> ob.PerformReport:
        """Perform the outbox rows that are due (see :func:`airex.exchange.outbox.relay_once`)."""
        return ob.relay_once(self.engine, self.courier, self.settings)

    # --- reading ---------------------------------------------------------------------------

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


# --- helpers -------------------------------------------------------------------------------


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
) -> dict[str, Any]:
    return {
        "sha256": sha256,
        "size": len(item.data),
        "source": item.source,
        "file_name": item.file_name,
        "arrival_party": item.arrival_party,
        "intake_token": item.intake_token,
        "batch_row_id": batch_row,
        "batch_position": position,
        "parent_id": parent,
        "preset_status": preset[0].value if preset else None,
        "preset_errors": errors_to_json(preset[1]) if preset else None,
        "state": ReceivedState.PENDING.value,
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
