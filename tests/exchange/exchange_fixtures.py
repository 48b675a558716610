"""Fixtures of the exchange and CMO tests (their conftests import them): SQLite and
PostgreSQL, the embedded broker and RabbitMQ.

``backend`` runs a test on a SQLite file, then on a throwaway PostgreSQL database (the server
of ``AIREX_TEST_DATABASE_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``);
``stack`` on the embedded default (SQLite + the server-less broker), then on RabbitMQ
(``AIREX_TEST_BROKER_URL``, default ``amqp://guest:guest@127.0.0.1:5672//``) + PostgreSQL.
Every environment uses its own queue-name prefix, so parallel runs never meet on a shared
broker; its queues are deleted at the end. When a server cannot be reached its half is
skipped, unless ``AIREX_REQUIRE_SERVICES=1`` (CI sets it): then it fails, saying why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchange_support import Env, Services

from throwaway_db import ThrowawayDatabase

BROKER_ENV = "AIREX_TEST_BROKER_URL"
BROKER_DEFAULT = "amqp://guest:guest@127.0.0.1:5672//"
REQUIRE_ENV = "AIREX_REQUIRE_SERVICES"


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def pg_url(pg_database: ThrowawayDatabase) -> str:
    """URL of the session's throwaway PostgreSQL database, emptied for this test (the root
    conftest's ``pg_database``: skipped, or failed under ``AIREX_REQUIRE_SERVICES=1``, when
    the server cannot be reached)."""
    return pg_database.empty()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The RabbitMQ server's URL, once it answered."""
    from kombu import Connection

    url = os.environ.get(BROKER_ENV) or BROKER_DEFAULT
    connection = Connection(url, connect_timeout=5)
    try:
        connection.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:  # kombu raises OperationalError, socket errors...
        _unavailable(f"RabbitMQ at {connection.as_uri()} (${BROKER_ENV}) is unreachable: {exc}")
    finally:
        connection.release()
    return url


def _delete_queues(env: Env) -> None:
    """Delete the test's queues on RabbitMQ (the embedded broker lives in tmp_path)."""
    from kombu import Connection

    names = [env.settings.task_queue, env.settings.dead_letter_queue]
    names += [env.settings.party_queue(p.party_id) for p in env.exchange().directory.all()]
    with Connection(env.settings.broker_url, connect_timeout=5) as connection:
        channel = connection.default_channel
        for name in names:
            try:
                channel.queue_delete(name)
            except Exception:  # a queue never declared: nothing to delete
                channel = connection.channel()
        for name in [env.settings.task_queue]:
            try:
                channel.exchange_delete(name)
            except Exception:
                channel = connection.channel()


def _make(kind: str, tmp_path: Path, request: pytest.FixtureRequest, **settings: object) -> Env:
    home = tmp_path / "home"
    if kind == "sqlite":
        return Env.make(home, f"sqlite:///{tmp_path / 'airex.db'}", **settings)  # type: ignore[arg-type]
    if kind == "postgresql":
        return Env.make(home, request.getfixturevalue("pg_url"), **settings)  # type: ignore[arg-type]
    assert kind == "rabbitmq"
    return Env.make(
        home,
        request.getfixturevalue("pg_url"),
        broker_url=request.getfixturevalue("amqp_url"),
        **settings,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """An exchange on the embedded broker, with a SQLite database, then a PostgreSQL one."""
    env = _make(request.param, tmp_path, request)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def embedded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """An exchange on the embedded default: SQLite and the server-less broker."""
    env = _make("sqlite", tmp_path, request)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture(params=["embedded", "rabbitmq"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """The embedded default (SQLite + server-less broker), then RabbitMQ + PostgreSQL."""
    kind = "sqlite" if request.param == "embedded" else "rabbitmq"
    env = _make(kind, tmp_path, request, relay_grace=0.5, redeliver_after=10.0)
    try:
        yield env
    finally:
        if kind == "rabbitmq":
            _delete_queues(env)
        env.close()


@pytest.fixture
def rabbit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """An exchange on RabbitMQ + PostgreSQL (the relay quick to step in: crash tests)."""
    env = _make("rabbitmq", tmp_path, request, relay_grace=0.5, redeliver_after=20.0)
    try:
        yield env
    finally:
        _delete_queues(env)
        env.close()


@pytest.fixture
def services() -> Iterator[Services]:
    """Subprocesses (workers, serve) the test starts; all stopped at its end."""
    started = Services()
    try:
        yield started
    finally:
        started.stop_all()
