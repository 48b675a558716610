"""Processing: a task's messages judged and acted on one by one, committed together.

One task per received message: the CMO's answers to a message (the messages its actions
send) are judged and stored before the commit, and recorded and routed in the commit that
records the message's acknowledgement; they are never received again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import run_write
from airex.exchange import outbox as ob
from airex.exchange._dead import _DeadLetters
from airex.exchange._rows import (
    _FINISH,
    _ack_values,
    _answered,
    _earlier_copy,
    _final_values,
    _insert_ignore,
    _key,
    _lock_pending,
    _reading,
)
from airex.exchange._work import (
    _TRANSIENT,
    _TRANSIENT_OR_CONFIG,
    ProcessOutcome,
    _Answer,
    _Work,
)
from airex.exchange.errors import TransientError
from airex.exchange.hooks import ActionResult
from airex.exchange.models import (
    ReceivedMessage,
    ReceivedState,
    ack,
    inbox,
    message,
    received,
    utc_now,
)
from airex.exchange.verdict import inspect, judge

if TYPE_CHECKING:
    from datetime import datetime

log = logging.getLogger("airex.exchange.pipeline")


class _Processing(_DeadLetters):
    """Processing received messages, exactly once."""

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
            raw, inspection = self._read(row)
            verdict = self._verdict(raw, row, inspection)
            verdict, result, duplicate_of = self._act(verdict, row, raw)
            answers = self._judge_answers(result)
            plan = self._plan(row, verdict, result, duplicate_of)
        except _TRANSIENT_OR_CONFIG as exc:  # a misconfiguration is no poison message
            raise TransientError(f"received message #{row.id}: {exc}") from exc
        except Exception as exc:  # a poison message: dead letters, not a crash
            log.exception("received message #%s cannot be processed", row.id)
            return self.give_up(row.id, f"{type(exc).__name__}: {exc}")
        return _Work(row, verdict, result, duplicate_of, plan, answers)

    def _judge_answers(self, result: ActionResult | None) -> list[_Answer]:
        """The CMO's answers, judged as messages the CMO hands in (each validated once: where
        it was built, else here) and stored, before the commit that routes them."""
        if result is None or not result.outgoing:
            return []
        cmo = self.settings.cmo_party_id
        answers: list[_Answer] = []
        digests = self.store.put_many([out.data for out in result.outgoing])
        for position, (out, digest) in enumerate(zip(result.outgoing, digests, strict=True)):
            inspection = out.inspection if out.inspection is not None else inspect(out.data)
            verdict = judge(
                inspection,
                self._lookup_parties(inspection.party_ids),
                arrival_party=cmo,
                arrived_how="as the CMO's answer",
            )
            verdict.tree = None  # routed as stored bytes: no model is ever built
            answers.append(_Answer(position, out.file_name, len(out.data), digest, verdict))
        return answers

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
                    item_owed.extend(self._answers(connection, row, item.answers, now))
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
        cmo = self.settings.cmo_party_id
        answered = _answered(connection, [i.verdict for i in candidates], cmo)
        for item in candidates:
            first = answered.get(_key(item.verdict))
            if first is not None:
                self._as_duplicate(item, first)
        candidates = [i for i in candidates if i.duplicate_of is None]
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
                self._as_duplicate(item, _earlier_copy(connection, item.verdict, cmo))
        return claimed

    def _as_duplicate(self, item: _Work, first: int | None) -> None:
        """``item`` repeats the (sender, MessageId) that message ``first`` took: no effect, an
        acknowledgement that says so."""
        item.duplicate_of = first
        item.result = None
        item.answers = []
        if item.plan is not None:
            status, errors = self._final(item.verdict, None, item.duplicate_of)
            item.plan = self._ack_plan(item.row, item.verdict, status, errors)

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
