"""The publisher interface: the exchange publishes through the publisher its caller chose."""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_support import CMO, DEV, RH2, Env, licence_request, payment

from airex.exchange import (
    BrokerUnavailableError,
    InMemoryPublisher,
    Publisher,
    celery_publisher,
)
from airex.exchange.pipeline import Exchange


def test_the_pipeline_module_does_not_import_celery() -> None:
    """The pipeline names no Celery module: the publisher is handed in."""
    import airex.exchange.pipeline as pipeline

    source = Path(pipeline.__file__).read_text(encoding="utf-8")
    assert "import celery" not in source
    assert "celery_app import" not in source


def test_an_in_memory_publisher_gets_the_tasks_and_the_queue_deliveries(backend: Env) -> None:
    """Received messages are published as one task with their ids; what goes to a party's
    queue is delivered to it, with the delivery's headers."""
    memory = InMemoryPublisher()
    exchange = backend.exchange(publisher=memory)
    ids = (
        exchange.receive_bytes(licence_request(), arrival_party=DEV),
        exchange.receive_bytes(payment(), arrival_party=DEV),
    )
    assert list(ids) == memory.received_ids
    assert [delivery for _, delivery in memory.tasks] == [1, 1]
    outcome = exchange.process(ids[1])
    exchange.deliver_rows(outcome.owed)
    queue = backend.settings.party_queue(DEV)
    (ack,) = memory.on_queue(queue)
    assert ack.headers["airex-kind"] == "acknowledgement"
    assert ack.headers["airex-delivery-id"].isdigit()
    assert memory.on_queue(backend.settings.party_queue(RH2)) == []
    assert memory.on_queue(backend.settings.party_queue(CMO)) == []


def test_a_broker_away_leaves_the_rows_to_the_relay(backend: Env) -> None:
    """A publisher that cannot reach its broker fails the rows (nothing is lost: the relay
    publishes them later), and what it recorded is the broker client's own error."""
    backend.settings = backend.settings.with_(relay_grace=0.0)
    memory = InMemoryPublisher(failure=BrokerUnavailableError("away"))
    exchange = backend.exchange(publisher=memory)
    exchange.receive_bytes(licence_request(), arrival_party=DEV)
    assert memory.tasks == []
    assert backend.scalar("SELECT count(*) FROM exchange_outbox WHERE done_at IS NULL") == 1
    memory.failure = None
    assert exchange.relay_once().published != []
    assert len(memory.tasks) == 1


def test_without_a_publisher_broker_rows_wait_for_the_relay(backend: Env) -> None:
    """An exchange made without a publisher publishes nothing; the rows stay open."""
    exchange = Exchange(backend.settings, engine=backend.engine, publisher=None)
    backend.opened.append(exchange)
    exchange.receive_bytes(licence_request(), arrival_party=DEV)
    assert backend.scalar("SELECT count(*) FROM exchange_outbox WHERE done_at IS NULL") == 1


@pytest.mark.parametrize("made", [InMemoryPublisher])
def test_publishers_satisfy_the_protocol(made: type[InMemoryPublisher], backend: Env) -> None:
    """The in-memory and the Celery publishers are Publishers."""
    assert isinstance(made(), Publisher)
    celery = celery_publisher(backend.settings)
    try:
        assert isinstance(celery, Publisher)
    finally:
        celery.close()
