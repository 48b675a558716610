"""The Celery app of the exchange: made by a factory, with thin tasks.

:func:`make_celery` builds an app from :class:`~airex.exchange.ExchangeSettings` (nothing
happens at import time). Settings for "never lose, never double":

``task_acks_late``
    a task's message is acknowledged to the broker only after the task ran;
``task_reject_on_worker_lost``
    a task whose worker process died is given back to the broker (RabbitMQ redelivers it);
``worker_prefetch_multiplier = 1``
    a worker holds one message per process, no more (less to redeliver after a crash);
``confirm_publish`` (RabbitMQ)
    a publish returns once the broker has the message; queues are durable and messages
    persistent (delivery mode 2);
no result backend
    the database is the record of what happened.

The one task, ``airex.exchange.process(received_ids, delivery)``, is thin: ids in (the
messages that arrived together, at most ``task_chunk``), the service function
:meth:`Exchange.process_many` (which commits), then the deliveries its commit owes. A
transient failure is retried with back-off, at most ``max_attempts`` times, then the
messages go to the dead letters; whatever a worker crash loses, the outbox relay publishes
again (:mod:`airex.exchange.outbox`).
"""

from __future__ import annotations

import logging
import os
import resource
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from celery import Celery, Task  # type: ignore[import-untyped]
from celery.signals import worker_process_init  # type: ignore[import-untyped]
from kombu.entity import Exchange as KombuExchange
from kombu.entity import Queue

from airex.exchange.errors import BrokerUnavailableError, ExchangeConfigError, TransientError
from airex.exchange.hooks import ActionsFactory, CmoActions, no_actions
from airex.exchange.outbox import PROCESS_TASK
from airex.exchange.pipeline import Exchange
from airex.exchange.publish import PublishSession
from airex.exchange.settings import ExchangeSettings
from airex.exchange.transport import broker_transport, broker_transport_options

__all__ = [
    "CeleryPublisher",
    "actions_of",
    "celery_publisher",
    "make_celery",
    "runtime",
    "settings_of",
    "start_worker",
]

log = logging.getLogger(__name__)

_SETTINGS_KEY = "airex_settings"
_ACTIONS_KEY = "airex_actions"
_RUNTIMES: dict[tuple[int, int], Any] = {}
_RUNTIME_LOCK = threading.Lock()


def make_celery(settings: ExchangeSettings, *, actions: ActionsFactory = no_actions) -> Celery:
    """A Celery app for ``settings``: broker, queues, reliability settings, the task.

    ``actions`` makes the CMO's actions of each worker process (called once per process with
    ``settings``); by default the exchange only routes. The top floor passes the CMO's
    business (``airex worker``: ``airex.cmo.make_actions``, or the factory an operator named
    in ``AIREX_CMO_ACTIONS``)."""
    # kombu warns about a URL without a host; the embedded broker has none to name
    url = "filesystem://localhost//" if settings.embedded_broker else settings.broker_url
    app = Celery("airex.exchange", broker=url, set_as_current=False)
    queue = settings.task_queue
    app.conf.update(
        broker_transport=broker_transport(settings),
        broker_transport_options=broker_transport_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=queue,
        task_default_exchange=queue,
        task_default_routing_key=queue,
        task_queues=[
            Queue(  # type: ignore[no-untyped-call]
                queue,
                KombuExchange(queue, type="direct", durable=True),  # type: ignore[no-untyped-call]
                routing_key=queue,
                durable=True,
            )
        ],
        task_create_missing_queues=False,
        # the workers' control and event exchanges carry the prefix too, so that nothing of
        # one exchange (or one demo run) meets another's on a shared broker
        control_exchange=f"{settings.queue_prefix}celery",
        event_exchange=f"{settings.queue_prefix}celeryev",
        task_default_delivery_mode="persistent",
        task_serializer="json",
        accept_content=["json"],
        task_publish_retry=True,
        worker_hijack_root_logger=False,
        worker_enable_remote_control=not settings.embedded_broker,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_send_task_events=False,
        enable_utc=True,
        # a task over its time raises SoftTimeLimitExceeded inside the pipeline, which gives
        # its messages up (dead letters, with the reason); the hard limit is the backstop
        task_soft_time_limit=settings.task_time_limit,
        task_time_limit=settings.task_time_limit + 60,
    )
    app.conf[_SETTINGS_KEY] = settings
    app.conf[_ACTIONS_KEY] = actions
    _register_tasks(app)
    return app


def settings_of(app: Celery) -> ExchangeSettings:
    """The settings ``app`` was made from."""
    settings = app.conf.get(_SETTINGS_KEY)
    if not isinstance(settings, ExchangeSettings):
        raise TypeError(f"{app!r} was not made by airex.exchange.make_celery")
    return settings


class CeleryPublisher:
    """The exchange's :class:`~airex.exchange.publish.Publisher` on a Celery app of
    :func:`make_celery`: tasks by name (``airex.exchange.process``), queue deliveries through
    the app's producer pool, so with its publisher confirms (RabbitMQ); durable queues,
    persistent messages. ``own`` closes the app with the publisher."""

    def __init__(self, app: Celery, settings: ExchangeSettings, *, own: bool = False) -> None:
        self.app = app
        self.settings = settings
        self.own = own

    @contextmanager
    def session(self) -> Iterator[PublishSession]:
        """Publications on one producer of the app's pool."""
        with self.app.producer_or_acquire() as producer:
            yield _CelerySession(self.app, self.settings, producer)

    def close(self) -> None:
        """Close the app's connections when this publisher owns it."""
        if self.own:
            self.app.close()


class _CelerySession:
    def __init__(self, app: Celery, settings: ExchangeSettings, producer: Any) -> None:
        self.app = app
        self.settings = settings
        self.producer = producer

    def process(self, received_ids: Sequence[int], delivery: int) -> None:
        try:
            self.app.send_task(
                PROCESS_TASK,
                args=[list(received_ids), delivery],
                queue=self.settings.task_queue,
                producer=self.producer,
            )
        except Exception as exc:
            if _is_connection_error(exc):
                raise _unavailable(exc) from exc
            raise

    def deliver(self, queue: str, body: bytes, headers: Mapping[str, Any]) -> None:
        try:
            self.producer.publish(
                body,
                exchange="",
                routing_key=queue,
                declare=[Queue(queue, durable=True, auto_delete=False)],  # type: ignore[no-untyped-call]
                serializer=None,
                content_type="application/xml",
                content_encoding="binary",
                headers=dict(headers),
                delivery_mode=2,
                retry=True,
                retry_policy={"max_retries": 3},
            )
        except Exception as exc:
            if _is_connection_error(exc):
                raise _unavailable(exc) from exc
            raise


def _is_connection_error(exc: BaseException) -> bool:
    from kombu.exceptions import OperationalError

    return isinstance(exc, OperationalError | ConnectionError | OSError)


def _unavailable(exc: BaseException) -> BrokerUnavailableError:
    return BrokerUnavailableError(f"the broker cannot be reached: {type(exc).__name__}: {exc}")


def celery_publisher(settings: ExchangeSettings) -> CeleryPublisher:
    """A publisher on a Celery app of its own for ``settings`` (closed with the publisher):
    what ``airex send`` and ``airex serve`` hand to their :class:`~airex.exchange.Exchange`."""
    return CeleryPublisher(make_celery(settings), settings, own=True)


def runtime(app: Celery) -> Any:
    """The :class:`~airex.exchange.Exchange` of this process for ``app`` (made on first use,
    after the fork, so that no database connection is shared between worker processes)."""
    key = (id(app), os.getpid())
    with _RUNTIME_LOCK:
        exchange = _RUNTIMES.get(key)
        if exchange is None:
            settings = settings_of(app)
            factory: ActionsFactory = app.conf.get(_ACTIONS_KEY) or no_actions
            exchange = Exchange(
                settings,
                publisher=CeleryPublisher(app, settings),
                actions=actions_of(factory, settings),
            )
            _RUNTIMES[key] = exchange
        return exchange


def actions_of(factory: ActionsFactory, settings: ExchangeSettings) -> CmoActions:
    """``factory(settings)``, checked to be actions (:class:`ExchangeConfigError` if not)."""
    actions = factory(settings)
    if not isinstance(actions, CmoActions):
        raise ExchangeConfigError(f"CMO actions factory {factory!r} returned {actions!r}")
    return actions


def limit_memory(settings: ExchangeSettings) -> None:
    """Cap this worker process's memory (``RLIMIT_DATA``) at ``worker_memory_limit``: a
    message that needs more fails with ``MemoryError`` (a poison message: dead letters)
    instead of taking the machine into an out-of-memory loop."""
    limit = settings.worker_memory_limit
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _register_tasks(app: Celery) -> None:
    settings = settings_of(app)

    @app.task(  # type: ignore[untyped-decorator]
        name=PROCESS_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        max_retries=None,
    )
    def process(self: Task, received_ids: list[int] | int, delivery: int = 1) -> int:
        """Process received messages (ids in, a service function, deliveries out); return
        how many were processed now."""
        ids = [received_ids] if isinstance(received_ids, int) else list(received_ids)
        exchange = runtime(app)
        info = self.request.delivery_info or {}
        retries = int(self.request.retries or 0)
        redelivered = delivery > 1 or retries > 0 or bool(info.get("redelivered"))
        try:
            outcomes = exchange.process_many(ids, redelivered=redelivered)
        except TransientError as exc:
            attempt = retries + 1
            if attempt < settings.max_attempts:
                log.warning("messages %s: attempt %s failed, retrying: %s", ids, attempt, exc)
                raise self.retry(exc=exc, countdown=settings.backoff(attempt)) from exc
            log.error("messages %s: giving up after %s attempts: %s", ids, attempt, exc)
            outcomes = [exchange.give_up(i, f"{attempt} attempts failed: {exc}") for i in ids]
        exchange.deliver_rows([row for outcome in outcomes for row in outcome.owed])
        return sum(1 for outcome in outcomes if not outcome.already)


def start_worker(
    settings: ExchangeSettings,
    *,
    concurrency: int | None = None,
    loglevel: str = "INFO",
    hostname: str | None = None,
    actions: ActionsFactory = no_actions,
) -> None:
    """Run a Celery worker for ``settings`` in this process until it is stopped.

    ``actions`` is the factory of the CMO's actions (see :func:`make_celery`); ``hostname``
    the worker's node name (default ``airex-<pid>@<host>``: unique, so that any number of
    workers can run on one machine)."""
    actions_of(actions, settings)  # misconfigured actions stop the worker here, at once
    app = make_celery(settings, actions=actions)
    worker_process_init.connect(lambda **_: limit_memory(settings), weak=False)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
        f"--queues={settings.task_queue}",
    ]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    # Two workers with one node name on one broker collide (their remote-control queue is
    # exclusive): unless told otherwise, each worker is named after its process.
    argv.append(f"--hostname={hostname or f'airex-{os.getpid()}@%h'}")
    app.worker_main(argv)
