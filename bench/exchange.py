"""Benchmark of the exchange: messages per second end to end, against two baselines.

    python bench/exchange.py                       # embedded default, then RabbitMQ + PostgreSQL
    python bench/exchange.py --messages 1000       # quicker
    python bench/exchange.py --only embedded       # or --only rabbitmq
    python bench/exchange.py --report 1000000 [--form flat]   # one big usage report

For each stack (the embedded default: SQLite + the server-less broker; RabbitMQ +
PostgreSQL), in the same run, on the same broker, with the same worker concurrency:

1. **raw kombu**: publish ``--messages`` copies of the message bytes to a durable queue
   (persistent, with publisher confirms on RabbitMQ) while a consumer in another process
   reads and acknowledges them; rate = messages / (first publish → last consumed).
2. **no-op Celery task**: the exchange's own Celery configuration (acks_late, prefetch 1,
   reject on worker lost, confirms, durable queue) and a task that does nothing; a worker
   process (``--concurrency``) runs ``--messages`` of them; rate = tasks / (first publish →
   last task run).
3. **the exchange**: ``--messages`` small messages (a LicenceRequestMessage of ~700 bytes,
   each with its own MessageId) handed in with ``Exchange.receive`` (bytes stored, rows
   committed, tasks published, in chunks of 100), processed by ``airex worker``
   (``--concurrency``) with ``airex serve`` running beside it: stored → validated (XSD and
   rules) → parties and entitlements checked → deduplicated → routed (to the CMO's folder)
   → acknowledged (the acknowledgement built, stored and written into the sender's folder);
   rate = messages / (first receive → last acknowledgement delivered).

Printed: the three rates and the ratios exchange / no-op Celery and exchange / raw kombu. The
issue's target: exchange ≥ 0.5 × no-op Celery on RabbitMQ. Everything lives in a temporary
folder and a throwaway PostgreSQL database (``airex_bench_<random>``, dropped at the end) and
queues with a random prefix (deleted at the end).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import sqlalchemy as sa

from airex.db import DatabaseConfig, create_engine, schema_histories
from airex.exchange import Exchange, ExchangeSettings, Incoming, celery_publisher
from airex.messages import LicenceRequest, LicenceRequestMessage, MessageHeader, Party, serialise

CMO = "PADPIDA2026CMO01"
DEV = "PADPIDA2026DEV01"
HERE = Path(__file__).resolve().parent

NOOP_APP = """
import os
from pathlib import Path
from airex.exchange import ExchangeSettings
from airex.exchange.celery_app import make_celery

settings = ExchangeSettings.from_env()
app = make_celery(settings)
MARKER = Path(os.environ["BENCH_MARKER"])


@app.task(name="bench.noop", acks_late=True, ignore_result=True)
def noop(n):
    if n < 0:
        MARKER.write_text("done")
"""

CONSUMER = """
import sys, time
from kombu import Connection, Queue
from airex.exchange import ExchangeSettings
from airex.exchange.celery_app import make_celery

settings = ExchangeSettings.from_env()
app = make_celery(settings)
expected = int(sys.argv[1])
queue = sys.argv[2]
seen = 0
with app.connection_for_read() as connection:
    simple = connection.SimpleQueue(queue, no_ack=False, queue_opts={"durable": True, "auto_delete": False})
    print("ready", flush=True)
    while seen < expected:
        message = simple.get(block=True, timeout=60)
        message.ack()
        seen += 1
    print(time.time(), flush=True)
    simple.close()
"""


def request_message(n: int) -> bytes:
    """A small, valid LicenceRequestMessage with its own MessageId."""
    header = MessageHeader.build(DEV, CMO)
    header.message_id = f"BENCH-{n:07d}"
    return serialise(
        LicenceRequestMessage(
            message_header=header,
            licence_request=LicenceRequest(
                request_id="REQ-7", offer_id="OFF-2026-01", licensee=Party(party_id=DEV)
            ),
        )
    )


@dataclass
class Stack:
    """One place to run the three measurements: settings and a migrated database."""

    name: str
    settings: ExchangeSettings

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIREX_")}
        env.update(
            AIREX_DATABASE_URL=self.settings.database.url,
            AIREX_BROKER_URL=self.settings.broker_url,
            AIREX_HOME=str(self.settings.home),
            AIREX_CMO_PARTY_ID=CMO,
            AIREX_QUEUE_PREFIX=self.settings.queue_prefix,
            AIREX_TASK_CHUNK=str(self.settings.task_chunk),
            # the pipeline is measured (receive → route → acknowledge), not the CMO's business
            # actions: the requests are routed and acknowledged, never granted
            AIREX_CMO_ACTIONS="airex.exchange.hooks:no_actions",
        )
        env.update(extra)
        return env


@contextmanager
def started(
    args: list[str], env: dict[str, str], log: Path, cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(condition, timeout: float = 600.0, interval: float = 0.02) -> float:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("bench: timed out")
        time.sleep(interval)
    return time.time()


def bench_kombu(stack: Stack, data: bytes, n: int, work: Path) -> float:
    """Raw kombu publish (this process) + consume (another process) of the same bytes."""
    from kombu import Queue

    from airex.exchange.celery_app import make_celery

    queue_name = f"{stack.settings.queue_prefix}bench.raw"
    script = work / "consumer.py"
    script.write_text(CONSUMER)
    consumer = subprocess.Popen(
        [sys.executable, str(script), str(n), queue_name],
        env=stack.environ(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert consumer.stdout is not None
    assert consumer.stdout.readline().strip() == "ready"
    app = make_celery(stack.settings)
    queue = Queue(queue_name, durable=True, auto_delete=False)
    start = time.time()
    with app.producer_or_acquire() as producer:
        for _ in range(n):
            producer.publish(
                data,
                exchange="",
                routing_key=queue_name,
                declare=[queue],
                serializer=None,
                content_type="application/xml",
                content_encoding="binary",
                delivery_mode=2,
            )
    end = float(consumer.stdout.readline())
    consumer.wait(60)
    app.close()
    return n / (end - start)


def bench_noop(stack: Stack, n: int, concurrency: int, work: Path) -> float:
    """The exchange's Celery configuration, a task that does nothing."""
    module = work / "bench_noop_app.py"
    module.write_text(NOOP_APP)
    marker = work / "noop.done"
    env = stack.environ(BENCH_MARKER=str(marker), PYTHONPATH=str(work))
    from airex.exchange.celery_app import make_celery

    app = make_celery(stack.settings)  # publishes by task name; the worker defines the task
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench_noop_app",
        "worker",
        f"--concurrency={concurrency}",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        f"--queues={stack.settings.task_queue}",
    ]
    with started(args, env, work / "noop-worker.log", work):
        time.sleep(4)  # the worker connects and declares its queue
        start = time.time()
        with app.producer_or_acquire() as producer:
            for i in [*range(n), -1]:
                app.send_task("bench.noop", args=[i], producer=producer)
        end = wait_until(marker.exists)
    app.close()
    return n / (end - start)


def bench_exchange(stack: Stack, n: int, concurrency: int, work: Path, *, offset: int = 0) -> float:
    """The whole pipeline: receive → stored → validated → routed → acknowledged."""
    engine = create_engine(stack.settings.database)
    exchange = Exchange(stack.settings, engine=engine, publisher=celery_publisher(stack.settings))
    messages = [request_message(offset + i) for i in range(n)]
    with engine.connect() as connection:
        before = connection.execute(
            sa.text("SELECT coalesce(max(id), 0) FROM exchange_received")
        ).scalar_one()
    airex = [sys.executable, "-m", "airex"]
    with (
        started(
            [*airex, "worker", f"--concurrency={concurrency}", "-l", "warning"],
            stack.environ(),
            work / "worker.log",
            work,
        ),
        started([*airex, "serve"], stack.environ(), work / "serve.log", work),
    ):
        time.sleep(4)
        start = time.time()
        for chunk in range(0, n, 100):
            exchange.receive(
                [Incoming(m, None, DEV, "send") for m in messages[chunk : chunk + 100]]
            )
        query = sa.text(
            "SELECT count(*) FROM exchange_outbox o JOIN exchange_ack a ON o.received_id = a.received_id "
            "WHERE o.kind = 'folder' AND o.destination LIKE '%/ACK_%' AND o.done_at IS NOT NULL "
            f"AND a.received_id > {before}"
        )

        def acknowledged() -> bool:
            with engine.connect() as connection:
                return connection.execute(query).scalar_one() >= n

        end = wait_until(acknowledged, interval=0.05)
    with engine.connect() as connection:
        accepted = connection.execute(
            sa.text(
                f"SELECT count(*) FROM exchange_received WHERE status = 'MessageAccepted' AND id > {before}"
            )
        ).scalar_one()
    assert accepted == n, f"{accepted} of {n} accepted"
    exchange.close()
    return n / (end - start)


def make_stack(name: str, root: Path, database_url: str, broker_url: str) -> Stack:
    settings = ExchangeSettings(
        database=DatabaseConfig(url=database_url),
        home=root,
        broker_url=broker_url,
        cmo_party_id=CMO,
        queue_prefix=f"bench{secrets.token_hex(4)}.",
    )
    engine = create_engine(settings.database)
    for history in schema_histories():
        history.upgrade(engine)
    with Exchange(settings, engine=engine) as exchange:
        exchange.directory.add(CMO, "Music CMO", "CollectiveManagementOrganisation")
        exchange.directory.add(DEV, "Lookout AI", "AIDeveloper")
    engine.dispose()
    return Stack(name, settings)


def delete_queues(stack: Stack) -> None:
    from kombu import Connection

    with Connection(stack.settings.broker_url) as connection:
        channel = connection.default_channel
        for name in (
            stack.settings.task_queue,
            f"{stack.settings.queue_prefix}bench.raw",
            stack.settings.dead_letter_queue,
        ):
            try:
                channel.queue_delete(name)
            except Exception:
                channel = connection.channel()


def run(stack: Stack, n: int, concurrency: int, work: Path, repeat: int) -> None:
    """The three measurements (and the exchange with one task per message), each ``repeat``
    times, interleaved; the best of each is printed (the machine may be shared)."""
    data = request_message(0)
    print(
        f"\n{stack.name}: {n} messages of {len(data)} bytes, worker concurrency {concurrency}, best of {repeat}"
    )
    single = Stack(stack.name, stack.settings.with_(task_chunk=1))
    rates: dict[str, list[float]] = {"kombu": [], "noop": [], "exchange": [], "single": []}
    for round_ in range(repeat):
        rates["kombu"].append(bench_kombu(stack, data, n, work))
        rates["noop"].append(bench_noop(stack, n, concurrency, work))
        rates["exchange"].append(bench_exchange(stack, n, concurrency, work, offset=2 * round_ * n))
        rates["single"].append(
            bench_exchange(single, n, concurrency, work, offset=(2 * round_ + 1) * n)
        )
        print(
            "  round",
            round_ + 1,
            " ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()),
            flush=True,
        )
    kombu_rate, noop_rate, exchange_rate, single_rate = (
        max(rates[k]) for k in ("kombu", "noop", "exchange", "single")
    )
    print(f"  raw kombu publish + consume     {kombu_rate:9.0f} msg/s")
    print(f"  no-op Celery task               {noop_rate:9.0f} tasks/s")
    print(
        f"  exchange, end to end            {exchange_rate:9.0f} msg/s   (up to {stack.settings.task_chunk} messages a task)"
    )
    print(f"  exchange, one task per message  {single_rate:9.0f} msg/s   (AIREX_TASK_CHUNK=1)")
    target = "   (target >= 0.5)" if "RabbitMQ" in stack.name else ""
    print(f"  exchange / no-op Celery         {exchange_rate / noop_rate:9.2f}{target}")
    print(f"  exchange / raw kombu            {exchange_rate / kombu_rate:9.2f}")
    print(f"  one task per message / no-op    {single_rate / noop_rate:9.2f}")


def bench_parse_once(records: int, work: Path) -> None:
    """The verdict on one generated XML usage report of ``records`` records, in separate
    processes (peak memory of each): the whole-document check plus the model the exchange
    built before (``airex.check`` + ``from_xml_tree``), against what it does now (the stored
    file's hash, streaming validation, the header alone; no model)."""
    from airex.formats.usage import generate_report

    report = work / f"report-{records}.xml"
    generate_report(report, records)
    whole = f"""
import resource, time
from pathlib import Path
from airex.messages import MESSAGE_TYPES, check
raw = Path({str(report)!r}).read_bytes()
start = time.perf_counter()
result = check(raw)
checked = time.perf_counter()
MESSAGE_TYPES[result.message_type].from_xml_tree(result.tree.getroot())
built = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{checked - start:.2f}} {{built - checked:.2f}} {{peak:.0f}}")
"""
    streamed = f"""
import resource, time
from pathlib import Path
from airex.exchange.verdict import inspect_stored
import hashlib
start = time.perf_counter()
with open({str(report)!r}, "rb") as stream:
    hashlib.file_digest(stream, "sha256")
inspection = inspect_stored(Path({str(report)!r}))
assert inspection is not None and not inspection.errors
done = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{done - start:.2f}} {{peak:.0f}}")
"""
    out = subprocess.run([sys.executable, "-c", whole], capture_output=True, text=True, check=True)
    checked, built, whole_peak = out.stdout.split()
    out = subprocess.run(
        [sys.executable, "-c", streamed], capture_output=True, text=True, check=True
    )
    seconds, peak = out.stdout.split()
    size = report.stat().st_size / 1e6
    print(f"\nparse once: the verdict on a {records:,}-record XML usage report ({size:.0f} MB)")
    print(f"  before: check {checked} s + model {built} s   peak {whole_peak} MB")
    print(f"  now:    hash + streaming validation + header {seconds} s, no model   peak {peak} MB")
    print(f"  before / now: {(float(checked) + float(built)) / float(seconds):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--parse-once",
        type=int,
        metavar="RECORDS",
        help="only measure the verdict on a generated XML usage report of RECORDS records",
    )
    parser.add_argument(
        "--report",
        type=int,
        metavar="RECORDS",
        help="only measure one usage report of RECORDS records through the whole exchange "
        "against `airex royalties invoice` (bench/exchange_report.py)",
    )
    parser.add_argument(
        "--form", choices=["xml", "flat"], default="xml", help="the --report's form"
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds; the best of each rate is printed"
    )
    parser.add_argument("--only", choices=["embedded", "rabbitmq"])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("AIREX_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("AIREX_TEST_BROKER_URL") or "amqp://guest:guest@127.0.0.1:5672//",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airex-bench-") as tmp:
        root = Path(tmp)
        if args.parse_once:
            bench_parse_once(args.parse_once, root)
            return
        if args.report:
            from exchange_report import bench_report

            bench_report(args.report, args.form, args.concurrency, root)
            return
        if args.only in (None, "embedded"):
            work = root / "embedded-work"
            work.mkdir()
            stack = make_stack(
                "embedded (SQLite + server-less broker)",
                root / "e",
                f"sqlite:///{root / 'airex.db'}",
                "filesystem://",
            )
            run(stack, args.messages, args.concurrency, work, args.repeat)
        if args.only in (None, "rabbitmq"):
            server = sa.make_url(args.postgres).set(drivername="postgresql")
            name = f"airex_bench_{secrets.token_hex(6)}"
            admin = psycopg.connect(
                server.set(database="postgres").render_as_string(hide_password=False),
                autocommit=True,
            )
            admin.execute(f'CREATE DATABASE "{name}"')
            work = root / "rabbit-work"
            work.mkdir()
            stack = make_stack(
                "RabbitMQ + PostgreSQL",
                root / "r",
                server.set(database=name).render_as_string(hide_password=False),
                args.broker,
            )
            try:
                run(stack, args.messages, args.concurrency, work, args.repeat)
            finally:
                delete_queues(stack)
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()


if __name__ == "__main__":
    main()
