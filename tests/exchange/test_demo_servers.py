"""`airex demo` on servers: the whole cycle with real worker processes on RabbitMQ and
PostgreSQL (the same runner as the embedded default, given a database and a broker)."""

from __future__ import annotations

import contextlib
import secrets
from decimal import Decimal
from pathlib import Path

import pytest
from kombu import Connection

from airex.demo import DemoError, run_demo
from airex.exchange import ExchangeSettings

RECORDS = 1_000


def test_the_demo_runs_on_rabbitmq_and_postgresql(
    pg_url: str, amqp_url: str, tmp_path: Path
) -> None:
    """Every step completes, the statements' nets and the CMO's fee add up to the invoice,
    and the ledger check passes on PostgreSQL."""
    prefix = f"demo{secrets.token_hex(4)}"
    try:
        result = run_demo(
            tmp_path / "demo",
            records=RECORDS,
            workers=2,
            database_url=pg_url,
            broker_url=amqp_url,
            queue_prefix=prefix,
        )
    finally:
        _delete_queues(amqp_url, prefix)
    assert [step for step, _, _ in result.steps] == [
        "set up",
        "declarations",
        "licence",
        "usage report",
        "payment and royalties",
    ]
    assert result.ledger_ok, result.ledger_report
    assert len(result.statements) == 2
    net = sum((n for _, _, _, _, n in result.statements), Decimal(0))
    fee = sum((f for _, _, _, f, _ in result.statements), Decimal(0))
    assert result.invoice_total == net + fee
    with pytest.raises(DemoError, match="empty database"):
        run_demo(tmp_path / "again", records=10, database_url=pg_url, broker_url=amqp_url)


def _delete_queues(url: str, prefix: str) -> None:
    """Remove the queues the run declared (the task queue, dead letters, party queues)."""
    settings = ExchangeSettings.from_env(
        {"AIREX_BROKER_URL": url, "AIREX_QUEUE_PREFIX": prefix, "AIREX_HOME": "/nonexistent"}
    )
    names = [settings.task_queue, settings.dead_letter_queue]
    names += [
        settings.party_queue(p)
        for p in (
            "PADPIDA2026AURORA",
            "PADPIDA2026NORDLYS",
            "PADPIDA2026VERSO",
            "PADPIDA2026LOOMAI",
        )
    ]
    with Connection(url, connect_timeout=5) as connection:
        for name in names:
            with contextlib.suppress(Exception):  # never declared: nothing to delete
                connection.channel().queue_delete(name)
