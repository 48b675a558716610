"""How the exchange hands work to its broker: the publisher interface, and one in memory.

The pipeline owes two kinds of publications (outbox rows, :mod:`airex.exchange.outbox`):
a **processing task** for received messages (their ids, and how many times the task was
published before) and a **delivery** of some bytes to a party's queue (or the dead-letter
queue). It publishes them through a :class:`Publisher`, chosen by whoever makes the
:class:`~airex.exchange.Exchange`::

    with publisher.session() as session:          # one broker connection for the lot
        session.process([17, 18], delivery=1)     # the task airex.exchange.process
        session.deliver("party.PADPIDA2026DEV01", body, {"airex-kind": "message"})

A publication that fails raises; one that fails because the broker cannot be reached raises
:class:`~airex.exchange.errors.BrokerUnavailableError` (the rest of the session is not
tried: the relay publishes it later). The Celery implementation is
:class:`airex.exchange.celery_app.CeleryPublisher` (the exchange's Celery app, publisher
confirms); :class:`InMemoryPublisher` keeps what was published, for tests and for code that
drives :meth:`~airex.exchange.Exchange.process` itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "InMemoryPublisher",
    "PublishSession",
    "Published",
    "Publisher",
]


@runtime_checkable
class PublishSession(Protocol):
    """Publications sharing one broker connection (see the module doc)."""

    def process(self, received_ids: Sequence[int], delivery: int) -> None:
        """Publish the processing task for ``received_ids`` (its ``delivery``-th publication)."""
        ...

    def deliver(self, queue: str, body: bytes, headers: Mapping[str, Any]) -> None:
        """Publish ``body`` (an XML message) to the durable queue ``queue``, persistently."""
        ...


@runtime_checkable
class Publisher(Protocol):
    """What publishes the exchange's tasks and queue deliveries."""

    def session(self) -> AbstractContextManager[PublishSession]:
        """A session of publications (one connection, or a channel of a pool)."""
        ...

    def close(self) -> None:
        """Release the broker connections."""
        ...


@dataclass(frozen=True, slots=True)
class Published:
    """One delivery an :class:`InMemoryPublisher` kept."""

    queue: str
    body: bytes
    headers: dict[str, Any]


@dataclass
class InMemoryPublisher:
    """A publisher that keeps what is published (no broker): ``tasks`` the processing tasks
    (``(received_ids, delivery)``), ``deliveries`` what went to queues. Set ``failure`` to
    an exception to make every publication raise it."""

    tasks: list[tuple[list[int], int]] = field(default_factory=list)
    deliveries: list[Published] = field(default_factory=list)
    failure: BaseException | None = None
    closed: bool = False

    @contextmanager
    def session(self) -> Iterator[PublishSession]:
        """A session that appends to this publisher's lists."""
        yield _MemorySession(self)

    def close(self) -> None:
        """Nothing to release."""
        self.closed = True

    @property
    def received_ids(self) -> list[int]:
        """Every received id a task was published for, in order."""
        return [i for ids, _ in self.tasks for i in ids]

    def on_queue(self, queue: str) -> list[Published]:
        """What was delivered to ``queue``."""
        return [d for d in self.deliveries if d.queue == queue]


@dataclass
class _MemorySession:
    owner: InMemoryPublisher

    def process(self, received_ids: Sequence[int], delivery: int) -> None:
        if self.owner.failure is not None:
            raise self.owner.failure
        self.owner.tasks.append((list(received_ids), delivery))

    def deliver(self, queue: str, body: bytes, headers: Mapping[str, Any]) -> None:
        if self.owner.failure is not None:
            raise self.owner.failure
        self.owner.deliveries.append(Published(queue, bytes(body), dict(headers)))
