"""`airex demo` on servers: the whole cycle with real worker processes on RabbitMQ and
PostgreSQL (the same runner as the embedded default, given a database and a broker)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
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
    assert _declared(amqp_url, prefix) == [], "the run's queues and exchanges are removed"
    with pytest.raises(DemoError, match="empty database"):
        run_demo(tmp_path / "again", records=10, database_url=pg_url, broker_url=amqp_url)
    assert not (tmp_path / "again").exists()


def test_two_demos_on_one_rabbitmq_run_side_by_side(amqp_url: str, tmp_path: Path) -> None:
    """Two `airex demo --broker` at once on one RabbitMQ: each run has queue names of its
    own, so neither takes the other's tasks, and both complete."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIREX_")}
    runs = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "airex", "demo", "-n", "300", "--workers", "1"),
                *("--out", str(tmp_path / f"demo{n}"), "--broker", amqp_url),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for n in (1, 2)
    ]
    outputs: list[str] = []
    try:
        outputs.extend(run.communicate(timeout=400)[0] for run in runs)
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
        assert "ledger check: OK" in output


def _declared(url: str, prefix: str) -> list[str]:
    """The run's queues and exchanges still on the broker (a passive declare finds them)."""
    settings = ExchangeSettings.from_env(
        {"AIREX_BROKER_URL": url, "AIREX_QUEUE_PREFIX": prefix, "AIREX_HOME": "/nonexistent"}
    )
    found = []
    with Connection(url, connect_timeout=5) as connection:
        for name in (settings.task_queue, settings.dead_letter_queue):
            channel = connection.channel()
            try:
                channel.queue_declare(name, passive=True)
                found.append(name)
            except Exception:  # NOT_FOUND closes the channel: the queue is gone
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
        for name in (settings.task_queue, f"{prefix}celery.pidbox"):
            channel = connection.channel()
            try:
                channel.exchange_declare(name, "direct", passive=True)
                found.append(name)
            except Exception:  # NOT_FOUND: the exchange is gone
                pass
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return found


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
