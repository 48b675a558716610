"""Before the demo touches the disk: can it reach its broker and use its database? And after
it: remove what it declared on the broker.

A broker that is down is said in one line within :data:`CONNECT_TIMEOUT` seconds (and a few
more for the one retry), its password masked; a database URL that is malformed, names an
unsupported driver, or a server that cannot be reached, in one line too. Both checks run
before the demo creates its folder, so a refused run leaves nothing behind.

Each run has its own queue names (:func:`run_prefix`: ``AIREX_QUEUE_PREFIX`` covers the
exchange's task queue and its exchange, the dead letters, the parties' queues and, through
Celery's ``control_exchange`` and ``event_exchange``, the workers' control and event
exchanges), so two demos on one RabbitMQ never take each other's tasks;
:func:`remove_broker_entities` deletes them at the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

from airex.demo._fleet import DemoError

__all__ = [
    "CONNECT_TIMEOUT",
    "DemoConfigError",
    "check_broker",
    "check_database",
    "masked_broker_url",
    "remove_broker_entities",
    "run_prefix",
]

CONNECT_TIMEOUT = 5.0
"""Seconds a connection attempt to the broker or the database server may take."""


class DemoConfigError(DemoError, ValueError):
    """The demo cannot use what it was given (a database URL, a broker URL): exit status 2."""


def run_prefix() -> str:
    """A queue-name prefix of its own for one run (``airexdemo-<8 hex digits>.``)."""
    return f"airexdemo-{secrets.token_hex(4)}."


def masked_broker_url(url: str) -> str:
    """``url`` with its password masked."""
    from kombu.utils.url import maybe_sanitize_url

    return str(maybe_sanitize_url(url))


def check_broker(url: str) -> None:
    """Raise :class:`DemoError` unless the broker at ``url`` answers (at most two attempts of
    :data:`CONNECT_TIMEOUT` seconds); :class:`DemoConfigError` for a URL kombu cannot use."""
    from kombu.connection import Connection

    shown = masked_broker_url(url)
    try:
        connection: Any = Connection(url, connect_timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
        transport = connection.transport_cls
    except Exception as exc:  # kombu raises many kinds for a bad URL
        raise DemoConfigError(f"cannot use the broker URL {shown}: {_reason(exc)}") from None
    try:
        connection.ensure_connection(
            max_retries=1, interval_start=1, interval_step=1, interval_max=1
        )
    except Exception as exc:  # whatever it is: unreachable (an environment error: status 2)
        raise DemoConfigError(
            f"cannot reach the broker {shown} ({transport}): {_reason(exc)}; start it, or run "
            "the demo without --broker (the embedded broker needs no server)"
        ) from None
    finally:
        connection.release()


def check_database(url: str) -> str:
    """Check that ``url`` names a database airex supports, reachable, and empty; return it
    for display (password masked). Raises :class:`DemoConfigError`."""
    import sqlalchemy as sa

    from airex.db import DatabaseConfig, DatabaseError

    try:
        config = DatabaseConfig(url=url)
        target = config.sqlalchemy_url()
    except DatabaseError as exc:
        raise DemoConfigError(str(exc)) from None
    shown = config.display_url()
    options: dict[str, Any] = {}
    if target.get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": max(1, round(CONNECT_TIMEOUT))}
    try:
        engine = sa.create_engine(target, **options)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise DemoConfigError(f"{shown}: cannot use the database: {_reason(exc)}") from None
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
    except sa.exc.SQLAlchemyError as exc:
        reason = _reason(getattr(exc, "orig", None) or exc)
        raise DemoConfigError(f"{shown}: cannot use the database: {reason}") from None
    finally:
        engine.dispose()
    if tables:
        raise DemoConfigError(
            f"the database {shown} already holds {len(tables)} tables "
            f"({', '.join(sorted(tables)[:3])}, …); the demo needs a new, empty database"
        )
    return shown


def remove_broker_entities(settings: Any, party_ids: list[str]) -> None:
    """Delete, best effort, the queues and exchanges the run's prefix names on a server
    broker (nothing to do on the embedded one, which lives in the demo's folder)."""
    if settings.embedded_broker or not settings.queue_prefix:
        return
    from kombu.connection import Connection

    prefix = settings.queue_prefix
    queues = [settings.task_queue, settings.dead_letter_queue]
    queues += [settings.party_queue(p) for p in party_ids]
    exchanges = [settings.task_queue, f"{prefix}celery.pidbox", f"reply.{prefix}celery.pidbox"]
    exchanges.append(f"{prefix}celeryev")
    with (
        contextlib.suppress(Exception),  # the broker went away: nothing more to do
        Connection(settings.broker_url, connect_timeout=CONNECT_TIMEOUT) as connection,  # type: ignore[no-untyped-call]
    ):
        connection.ensure_connection(max_retries=1)
        for name, delete in [(q, "queue_delete") for q in queues] + [
            (e, "exchange_delete") for e in exchanges
        ]:
            with contextlib.suppress(Exception):  # never declared: nothing to delete
                channel = connection.channel()
                try:
                    getattr(channel, delete)(name)
                finally:
                    channel.close()


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
