"""The transactional outbox and its relay: every publication and delivery the exchange owes.

Whatever the exchange decides to send — the processing task of a message it received, a
message routed to a party's folder or queue, an acknowledgement, a dead letter — is first an
``exchange_outbox`` row, inserted in the same transaction as the decision. After the commit,
the process that wrote the rows performs them at once (:meth:`Courier.perform`) and marks
them; the relay (:func:`relay_once`, run by ``airex serve``) performs whatever is left: rows
whose writer died before performing them (after ``relay_grace``), rows whose performance
failed, and processing tasks published but still not processed after ``redeliver_after``
(the embedded broker loses the task a SIGKILLed worker held; RabbitMQ can drop a task whose
worker was lost twice). So nothing decided is ever lost, and since every consumer
deduplicates — the processing task checks the message's state in its own transaction,
folder deliveries write the same file name again, queue deliveries carry
``airex-delivery-id`` for the party's consumer to deduplicate on — nothing is done twice.

A row is *done* when its effect is certain: a folder delivery once the file is written and
synced, a queue publication once the broker confirmed it, a processing task only once the
message was processed (the processing transaction closes it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import backend_of, run_write
from airex.exchange.errors import BrokerUnavailableError, ExchangeConfigError
from airex.exchange.models import OutboxKind, outbox, utc_now
from airex.exchange.store import MessageStore, atomic_write_many

if TYPE_CHECKING:
    from airex.exchange.publish import Publisher
    from airex.exchange.settings import ExchangeSettings

__all__ = [
    "PROCESS_TASK",
    "Courier",
    "OutboxRow",
    "Owed",
    "PerformReport",
    "close_process",
    "close_process_many",
    "due_rows",
    "insert_rows",
    "load_rows",
    "record",
    "relay_once",
]

log = logging.getLogger(__name__)

PROCESS_TASK = "airex.exchange.process"
"""The name of the Celery task that processes received messages: ``(received_ids,
delivery)``, at most ``task_chunk`` ids, ``delivery`` 1 for a first publication."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One row of the outbox, as the courier needs it. ``payload`` holds the bytes of a
    delivery that are not in the store (acknowledgements); else ``sha256`` names them."""

    id: int
    kind: OutboxKind
    received_id: int | None
    sha256: str | None
    destination: str
    headers: dict[str, Any]
    publish_count: int
    payload: bytes | None = None


@dataclass(frozen=True, slots=True)
class Owed:
    """An outbox row to insert (see :func:`insert_rows`)."""

    kind: OutboxKind
    destination: str = ""
    received_id: int | None = None
    sha256: str | None = None
    payload: bytes | None = None
    headers: dict[str, Any] | None = None


@dataclass
class PerformReport:
    """What :meth:`Courier.perform` did: rows now done, rows published (processing tasks,
    done later), rows that failed with the reason."""

    done: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.done) + len(self.published)


def insert_rows(connection: Connection, owed: Sequence[Owed], now: datetime) -> list[OutboxRow]:
    """Insert ``owed`` (one statement); return the rows with their ids, in order."""
    if not owed:
        return []
    params = [
        {
            "kind": o.kind.value,
            "received_id": o.received_id,
            "sha256": o.sha256,
            "payload": o.payload,
            "destination": o.destination,
            "headers": json.dumps(o.headers, sort_keys=True) if o.headers else None,
            "created_at": now,
            "publish_count": 0,
        }
        for o in owed
    ]
    ids = connection.execute(
        outbox.insert().returning(outbox.c.id, sort_by_parameter_order=True), params
    ).scalars()
    return [
        OutboxRow(
            id=int(row_id),
            kind=o.kind,
            received_id=o.received_id,
            sha256=o.sha256,
            destination=o.destination,
            headers=dict(o.headers or {}),
            publish_count=0,
            payload=o.payload,
        )
        for row_id, o in zip(ids, owed, strict=True)
    ]


def close_process(connection: Connection, received_id: int, now: datetime) -> None:
    """Mark the processing task(s) of ``received_id`` done (in the processing transaction)."""
    connection.execute(
        outbox.update()
        .where(
            outbox.c.received_id == received_id,
            outbox.c.kind == OutboxKind.PROCESS.value,
            outbox.c.done_at.is_(None),
        )
        .values(done_at=now)
    )


def close_process_many(connection: Connection, received_ids: Sequence[int], now: datetime) -> None:
    """Mark the processing tasks of ``received_ids`` done (in the processing transaction)."""
    if not received_ids:
        return
    connection.execute(
        outbox.update()
        .where(
            outbox.c.received_id.in_(list(received_ids)),
            outbox.c.kind == OutboxKind.PROCESS.value,
            outbox.c.done_at.is_(None),
        )
        .values(done_at=now)
    )


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        kind=OutboxKind(row.kind),
        received_id=row.received_id,
        sha256=row.sha256,
        destination=row.destination,
        headers=json.loads(row.headers) if row.headers else {},
        publish_count=row.publish_count,
        payload=row.payload,
    )


def load_rows(connection: Connection, ids: Sequence[int]) -> list[OutboxRow]:
    """The rows ``ids`` that are not done yet, in id order."""
    if not ids:
        return []
    rows = connection.execute(
        sa.select(outbox)
        .where(outbox.c.id.in_(list(ids)), outbox.c.done_at.is_(None))
        .order_by(outbox.c.id)
    )
    return [_row(r) for r in rows]


def due_rows(
    connection: Connection, settings: ExchangeSettings, now: datetime, limit: int
) -> list[OutboxRow]:
    """Rows the relay should perform now: never performed and older than ``relay_grace``,
    or published processing tasks not processed within ``redeliver_after``."""
    grace = now - timedelta(seconds=settings.relay_grace)
    stale = now - timedelta(seconds=settings.redeliver_after)
    query = (
        sa.select(outbox)
        .where(
            outbox.c.done_at.is_(None),
            sa.or_(
                sa.and_(outbox.c.published_at.is_(None), outbox.c.created_at <= grace),
                outbox.c.published_at <= stale,
            ),
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if backend_of(connection.engine) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [_row(r) for r in connection.execute(query)]


def record(engine: Engine, report: PerformReport, now: datetime | None = None) -> None:
    """Write down what a courier did: done rows, published rows, failures."""
    if not (report.done or report.published or report.failed):
        return
    when = now or utc_now()

    def work(connection: Connection) -> None:
        _record(connection, report, when)

    run_write(engine, work)


def _record(connection: Connection, report: PerformReport, when: datetime) -> None:
    if report.done:
        connection.execute(
            outbox.update()
            .where(outbox.c.id.in_(report.done), outbox.c.done_at.is_(None))
            .values(
                done_at=when,
                published_at=when,
                publish_count=outbox.c.publish_count + 1,
                last_error=None,
            )
        )
    if report.published:
        connection.execute(
            outbox.update()
            .where(outbox.c.id.in_(report.published))
            .values(published_at=when, publish_count=outbox.c.publish_count + 1)
        )
    for row_id, reason in report.failed.items():
        # Not performed: the relay takes it again at its next round.
        connection.execute(
            outbox.update()
            .where(outbox.c.id == row_id, outbox.c.done_at.is_(None))
            .values(published_at=None, last_error=reason[:2000])
        )


class Courier:
    """Performs outbox rows: publishes processing tasks and queue messages (through the
    :class:`~airex.exchange.publish.Publisher` the exchange was given), writes folder
    deliveries. Without a publisher the broker rows fail (left to a relay that has one)."""

    def __init__(
        self, settings: ExchangeSettings, publisher: Publisher | None, store: MessageStore
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.store = store

    def perform(self, rows: Iterable[OutboxRow]) -> PerformReport:
        """Perform ``rows``; never raises for a row that fails (it is reported)."""
        report = PerformReport()
        rows = list(rows)
        if not rows:
            return report
        broker_rows = [r for r in rows if r.kind is not OutboxKind.FOLDER]
        files: list[tuple[OutboxRow, Path, bytes]] = []
        for row in rows:
            if row.kind is OutboxKind.FOLDER:
                try:
                    files.append((row, Path(row.destination), self._bytes(row)))
                except Exception as exc:  # reported, retried by the relay
                    report.failed[row.id] = f"{type(exc).__name__}: {exc}"
        written = atomic_write_many([(path, data) for _, path, data in files])
        for (row, _, _), error in zip(files, written, strict=True):
            if error is None:
                report.done.append(row.id)
            else:
                report.failed[row.id] = f"{type(error).__name__}: {error}"
        if broker_rows:
            self._publish(broker_rows, report)
        return report

    def _bytes(self, row: OutboxRow) -> bytes:
        if row.payload is not None:
            return row.payload
        assert row.sha256 is not None
        return self.store.get(row.sha256)

    def _publish(self, rows: list[OutboxRow], report: PerformReport) -> None:
        try:
            if self.publisher is None:
                raise ExchangeConfigError("this exchange was made without a publisher")
            with self.publisher.session() as session:
                tasks = [r for r in rows if r.kind is OutboxKind.PROCESS]
                chunk = self.settings.task_chunk
                for start in range(0, len(tasks), chunk):
                    group = tasks[start : start + chunk]
                    try:
                        session.process(
                            [r.received_id for r in group if r.received_id is not None],
                            max(r.publish_count for r in group) + 1,
                        )
                    except Exception as exc:  # reported, retried by the relay
                        for r in group:
                            report.failed[r.id] = _reason(exc)
                        if isinstance(exc, BrokerUnavailableError):
                            raise
                    else:
                        report.published.extend(r.id for r in group)
                for row in rows:
                    if row.kind is OutboxKind.PROCESS:
                        continue
                    try:
                        headers = {**row.headers, "airex-delivery-id": str(row.id)}
                        session.deliver(row.destination, self._bytes(row), headers)
                        report.done.append(row.id)
                    except Exception as exc:  # reported, retried by the relay
                        report.failed[row.id] = _reason(exc)
                        log.warning("outbox row %s not published: %s", row.id, _reason(exc))
                        if isinstance(exc, BrokerUnavailableError):
                            raise
        except Exception as exc:  # the broker is away: the relay retries
            for row in rows:
                if row.id not in report.done and row.id not in report.published:
                    report.failed.setdefault(row.id, _reason(exc))


def _reason(exc: BaseException) -> str:
    """What failed, as recorded on the outbox row: the broker client's own error when the
    publisher wrapped it."""
    shown = exc.__cause__ if isinstance(exc, BrokerUnavailableError) and exc.__cause__ else exc
    return f"{type(shown).__name__}: {shown}"


def relay_once(
    engine: Engine, courier: Courier, settings: ExchangeSettings, *, now: datetime | None = None
) -> PerformReport:
    """Perform the due outbox rows once (at most ``settings.relay_batch``); return what was
    done. On PostgreSQL the rows are locked (``SKIP LOCKED``) while they are performed, so
    several relays share the work instead of doubling it."""
    when = now or utc_now()
    total = PerformReport()
    if backend_of(engine) == "postgresql":

        def work(connection: Connection) -> PerformReport:
            rows = due_rows(connection, settings, when, settings.relay_batch)
            report = courier.perform(rows)
            _record(connection, report, utc_now())
            return report

        total = run_write(engine, work)
    else:
        from airex.db import read_transaction

        with read_transaction(engine) as connection:
            rows = due_rows(connection, settings, when, settings.relay_batch)
        total = courier.perform(rows)
        record(engine, total)
    return total
