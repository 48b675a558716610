"""The exchange: receives messages between parties, routes them, acts for the CMO, answers.

::

    receive (a party's drop folder, watched by `airex serve`; or `airex send FILE|BATCH`)
      → store the raw bytes (content-addressed, durable, before anything else)
      → validate (airex.check) → known parties? entitled? → deduplicate (sender, MessageId)
      → route to each recipient's inbox (its folder and/or the queue party.<PartyId>)
      → act when the recipient is the CMO the exchange runs for (airex.exchange.hooks)
      → acknowledge to the sender

Getting started::

    from airex.exchange import Exchange, ExchangeSettings

    settings = ExchangeSettings.from_env()      # AIREX_DATABASE_URL, AIREX_BROKER_URL, ...
    with Exchange(settings, publisher=celery_publisher(settings)) as exchange:  # after
                                                # `airex db upgrade`
        exchange.directory.add("PADPIDA2026CMO01", "The CMO",
                               "CollectiveManagementOrganisation")
        received_id = exchange.receive_bytes(xml, arrival_party="PADPIDA2026DEV01")
        exchange.process(received_id)           # what a worker's task does

Run it with ``airex worker`` (Celery workers, any number, on any machines) and ``airex serve``
(the drop-folder watcher and the outbox relay). Modules: :mod:`~airex.exchange.settings`,
:mod:`~airex.exchange.pipeline` (the service functions), :mod:`~airex.exchange.verdict`
(validation, parties, entitlements), :mod:`~airex.exchange.directory`,
:mod:`~airex.exchange.hooks` (the CMO's actions), :mod:`~airex.exchange.outbox` (the
transactional outbox and relay), :mod:`~airex.exchange.publish` (the publisher interface),
:mod:`~airex.exchange.celery_app` (the Celery app, its task and publisher),
:mod:`~airex.exchange.transport` (the embedded broker), :mod:`~airex.exchange.queues`
(reading a party's queue), :mod:`~airex.exchange.watcher`,
:mod:`~airex.exchange.store`, :mod:`~airex.exchange.models`, :mod:`~airex.exchange.schema`.
"""

from airex.exchange.acks import AckItem, build_acknowledgement, proposed_action
from airex.exchange.celery_app import CeleryPublisher, celery_publisher, make_celery, start_worker
from airex.exchange.directory import ENTITLEMENTS, Entitlement, PartyDirectory, entitled
from airex.exchange.errors import (
    BrokerUnavailableError,
    ExchangeConfigError,
    ExchangeError,
    PartyError,
    StoreError,
    TransientError,
)
from airex.exchange.hooks import (
    ActionResult,
    ActionsFactory,
    CmoActions,
    NoActions,
    OutgoingMessage,
    load_actions,
)
from airex.exchange.models import (
    AckRecord,
    DeadLetter,
    OutboxKind,
    PartyRecord,
    ReceivedMessage,
    ReceivedState,
)
from airex.exchange.pipeline import Exchange, ExchangeStatus, Incoming, Intake, ProcessOutcome
from airex.exchange.publish import InMemoryPublisher, Publisher, PublishSession
from airex.exchange.queues import Delivery, drain_queue
from airex.exchange.settings import EMBEDDED_BROKER_URL, ROUTER_PARTY_ID, ExchangeSettings
from airex.exchange.store import MessageStore
from airex.exchange.watcher import DropWatcher, serve

__all__ = [
    "EMBEDDED_BROKER_URL",
    "ENTITLEMENTS",
    "ROUTER_PARTY_ID",
    "AckItem",
    "AckRecord",
    "ActionResult",
    "ActionsFactory",
    "BrokerUnavailableError",
    "CeleryPublisher",
    "CmoActions",
    "DeadLetter",
    "Delivery",
    "DropWatcher",
    "Entitlement",
    "Exchange",
    "ExchangeConfigError",
    "ExchangeError",
    "ExchangeSettings",
    "ExchangeStatus",
    "InMemoryPublisher",
    "Incoming",
    "Intake",
    "MessageStore",
    "NoActions",
    "OutboxKind",
    "OutgoingMessage",
    "PartyDirectory",
    "PartyError",
    "PartyRecord",
    "ProcessOutcome",
    "PublishSession",
    "Publisher",
    "ReceivedMessage",
    "ReceivedState",
    "StoreError",
    "TransientError",
    "build_acknowledgement",
    "celery_publisher",
    "drain_queue",
    "entitled",
    "load_actions",
    "make_celery",
    "proposed_action",
    "serve",
    "start_worker",
]
