"""Crash tests: messages in flight, workers SIGKILLed at random moments, the broker restarted.

Afterwards every message is acknowledged exactly once, nothing is lost, no ledger entry is
doubled and ``airex ledger check`` passes. The CMO's actions post one ledger entry per
payment (``crash_actions.py``), so a redo that posted twice would show. Select them with
``-m slow``.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from exchange_support import AIREX, CMO, DEV, Env, Services, payment, statuses, wait_for

from airex.exchange import Incoming
from airex.exchange.queues import Delivery
from airex.ledger import AccountKey, AccountKind, Journal

pytestmark = pytest.mark.slow

ACTIONS = "crash_actions:make"
DEADLINE = 240.0  # seconds the whole run may take before the test gives up (a run takes ~60)


def _restart_rabbitmq() -> None:
    """Stop the RabbitMQ node and start it again (the machine's own start command)."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is not installed: cannot restart the broker", pytrace=False)
    subprocess.run(["rabbitmqctl", "stop"], capture_output=True, timeout=120, check=False)
    try:
        subprocess.run(["rabbitmq-server", "-detached"], capture_output=True, timeout=60)
    finally:
        subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True, timeout=120)


def _run(
    env: Env,
    services: Services,
    tmp_path: Path,
    *,
    messages: int,
    kills: int,
    restart_broker: bool,
    seed: int,
) -> None:
    rng = random.Random(seed)
    exchange = env.exchange()
    cents = [100 + rng.randrange(1, 100_000) for _ in range(messages)]
    payments = [
        payment(DEV, CMO, message_id=f"CRASH-{n:04d}", cents=c) for n, c in enumerate(cents)
    ]
    extra = {"AIREX_CMO_ACTIONS": ACTIONS}
    serve = services.start(env, ["serve"], tmp_path / "serve.log", **extra)
    worker_args = ["worker", "--concurrency", "2", "-l", "warning"]
    worker = services.start(env, worker_args, tmp_path / "worker.log", **extra)
    for start in range(0, messages, 100):  # 1 000 in flight, handed in as they would arrive
        exchange.receive([Incoming(p, None, DEV, "send") for p in payments[start : start + 100]])
    restart_at = kills // 2 if restart_broker else -1

    def done() -> int:
        return int(env.scalar("SELECT count(*) FROM exchange_received WHERE state != 'pending'"))

    for kill in range(kills):
        # kill at a random moment while the worker is processing: once it has committed
        # something since it (re)started, after 0 to 300 ms more
        before = done()
        wait_for(lambda b=before: done() > b, timeout=DEADLINE, what="the worker at work")
        time.sleep(rng.uniform(0.0, 0.3))
        assert done() < messages, "every message was done before this kill: send more"
        worker.stop(kill=True)
        if kill == restart_at:
            _restart_rabbitmq()
        worker = services.start(env, worker_args, tmp_path / "worker.log", **extra)
    wait_for(
        lambda: env.scalar("SELECT count(*) FROM exchange_received WHERE state = 'pending'") == 0,
        timeout=DEADLINE,
        what="every message processed",
    )
    wait_for(
        lambda: env.scalar("SELECT count(*) FROM exchange_outbox WHERE done_at IS NULL") == 0,
        timeout=DEADLINE,
        what="every delivery done",
    )
    worker.stop()
    serve.stop()

    # the kills hit work in flight: some tasks were delivered again
    assert env.scalar("SELECT count(*) FROM exchange_received WHERE attempts > 0") > 0
    # every message received once, processed once, accepted, acknowledged exactly once
    assert env.scalar("SELECT count(*) FROM exchange_received") == messages
    assert env.scalar("SELECT count(*) FROM exchange_dead_letter") == 0
    assert env.scalar(
        "SELECT count(*) FROM exchange_received WHERE status = 'MessageAccepted'"
    ) == (messages)
    assert env.scalar("SELECT count(*) FROM exchange_ack") == messages
    assert env.scalar("SELECT count(DISTINCT received_id) FROM exchange_ack") == messages
    ack_files = {n: d for n, d in env.inbox_files(DEV).items() if n.startswith("ACK_")}
    acknowledged = Counter(mid for data in ack_files.values() for mid, _ in statuses(data))
    expected = {f"CRASH-{n:04d}" for n in range(messages)}
    assert set(acknowledged) == expected
    assert set(acknowledged.values()) == {1}
    # the queue route: each delivery at least once, and exactly once after deduplication
    deliveries: list[Delivery] = env.drain(DEV)
    by_delivery = {d.delivery_id: d for d in deliveries}
    assert len(by_delivery) == messages
    assert sorted(d.body for d in by_delivery.values()) == sorted(ack_files.values())
    # the CMO's inbox: every payment, once
    assert len(env.inbox_files(CMO)) == messages

    # the ledger: one entry per payment, none doubled, every invariant holds
    journal = Journal(env.engine)
    entries = journal.entries()
    keys = Counter(e.idempotency_key for e in entries)
    assert set(keys) == {f"exchange:{DEV}/CRASH-{n:04d}" for n in range(messages)}
    assert set(keys.values()) == {1}
    cash = journal.balance(AccountKey(CMO, AccountKind.CASH, "EUR"))
    assert cash.minor == sum(cents)
    check = subprocess.run(
        [*AIREX, "ledger", "check"], env=env.environ(), capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_kills_and_a_broker_restart_lose_nothing_and_double_nothing(
    rabbit: Env, services: Services, tmp_path: Path
) -> None:
    """RabbitMQ + PostgreSQL: 1 000 payments in flight, the worker SIGKILLed at random moments
    and restarted, RabbitMQ restarted once: each payment acknowledged exactly once, posted to
    the ledger exactly once, and the ledger check passes."""
    _run(rabbit, services, tmp_path, messages=1000, kills=4, restart_broker=True, seed=6)


def test_kills_on_the_embedded_broker_lose_nothing(
    tmp_path: Path, services: Services, request: pytest.FixtureRequest
) -> None:
    """The embedded default loses the tasks a SIGKILLed worker held; the outbox relay
    publishes them again, so each of 1 000 messages is still processed and acknowledged
    once."""
    env = Env.make(
        tmp_path / "home",
        f"sqlite:///{tmp_path / 'airex.db'}",
        redeliver_after=3.0,
        relay_grace=0.5,
    )
    try:
        _run(env, services, tmp_path, messages=1000, kills=3, restart_broker=False, seed=7)
    finally:
        env.close()
