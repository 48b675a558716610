"""Shared helpers of the exchange tests: the cast, message builders, a test environment.

The cast: a CMO (the one the exchange runs for), an AI developer (folder and queue), two
rightsholders (one with a folder, one with a queue only). Messages are built with the models
(small, valid unless a test breaks them on purpose).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, create_engine
from airex.exchange import (
    Exchange,
    ExchangeSettings,
    NoActions,
    celery_publisher,
    drain_queue,
    load_actions,
)
from airex.exchange.queues import Delivery
from airex.messages import (
    Acknowledgement,
    AcknowledgementMessage,
    AirexMessage,
    Amount,
    LicenceRequest,
    LicenceRequestMessage,
    MessageHeader,
    Party,
    Payment,
    PaymentNotificationMessage,
    SettledDocument,
    parse,
    serialise,
)
from airex.messages.codes import DocumentType, MessageStatus
from parties import CMO01, DEV01, NOBODY, RH01, RH02

CMO = CMO01
DEV = DEV01
RH1 = RH01
RH2 = RH02
STRANGER = NOBODY

ROOT = Path(__file__).resolve().parents[2]
AIREX = [sys.executable, "-m", "airex"]


def header(sender: str, *recipients: str, message_id: str | None = None) -> MessageHeader:
    """A header from ``sender`` to ``recipients`` (a fresh MessageId unless given)."""
    built = MessageHeader.build(sender, *recipients)
    if message_id is not None:
        built.message_id = message_id
    return built


def licence_request(
    sender: str = DEV, recipient: str = CMO, *, message_id: str | None = None
) -> bytes:
    """A small, valid LicenceRequestMessage (developer → licensor)."""
    return serialise(
        LicenceRequestMessage(
            message_header=header(sender, recipient, message_id=message_id),
            licence_request=LicenceRequest(
                request_id="REQ-7", offer_id="OFF-2026-01", licensee=Party(party_id=sender)
            ),
        )
    )


def payment(
    sender: str = DEV, recipient: str = CMO, *, message_id: str | None = None, cents: int = 12_500
) -> bytes:
    """A valid PaymentNotificationMessage of ``cents`` EUR cents."""
    amount = Amount.of(f"{cents // 100}.{cents % 100:02d}", "EUR")
    return serialise(
        PaymentNotificationMessage(
            message_header=header(sender, recipient, message_id=message_id),
            payment=Payment(
                payment_id=f"PAY-{secrets.token_hex(4)}",
                payer=Party(party_id=sender),
                payee=Party(party_id=recipient),
                paid_amount=amount,
                payment_date=date(2026, 5, 2),
                settled_documents=[
                    SettledDocument(
                        document_type=DocumentType.INVOICE,
                        document_id="INV-2026-Q1",
                        applied_amount=amount,
                    )
                ],
            ),
        )
    )


def acknowledgement(sender: str = DEV, recipient: str = CMO) -> bytes:
    """A valid AcknowledgementMessage (a party acknowledging something it received)."""
    return serialise(
        AcknowledgementMessage(
            message_header=header(sender, recipient),
            acknowledgements=[
                Acknowledgement(
                    acknowledged_message_id="AIREX-1", message_status=MessageStatus.MESSAGE_ACCEPTED
                )
            ],
        )
    )


def ack_of(data: bytes) -> AcknowledgementMessage:
    """The acknowledgement ``data`` parsed (and validated)."""
    message = parse(data)
    assert isinstance(message, AcknowledgementMessage)
    return message


def statuses(data: bytes) -> list[tuple[str | None, str]]:
    """(AcknowledgedMessageId, MessageStatus) of each Acknowledgement in ``data``."""
    return [
        (a.acknowledged_message_id, str(a.message_status)) for a in ack_of(data).acknowledgements
    ]


def codes(data: bytes) -> list[list[str]]:
    """The ErrorCodes of each Acknowledgement in ``data``."""
    return [[e.error_code for e in a.errors] for a in ack_of(data).acknowledgements]


def message_id_of(data: bytes) -> str:
    """The MessageId of a (valid) message."""
    message: AirexMessage = parse(data)
    return message.message_id


@dataclass
class Env:
    """An exchange environment for one test: settings, an engine, the cast in the directory."""

    settings: ExchangeSettings
    engine: Engine
    opened: list[Exchange] = field(default_factory=list)

    @classmethod
    def make(
        cls,
        home: Path,
        database_url: str,
        *,
        broker_url: str = "filesystem://",
        queue_prefix: str | None = None,
        **settings: Any,
    ) -> Env:
        """A fresh environment: migrated database, the cast added."""
        from airex.db import schema_histories

        made = ExchangeSettings(
            database=DatabaseConfig(url=database_url),
            home=home,
            broker_url=broker_url,
            cmo_party_id=CMO,
            queue_prefix=queue_prefix if queue_prefix is not None else unique_prefix(),
            **settings,
        )
        engine = create_engine(made.database)
        for history in schema_histories():
            history.upgrade(engine)
        env = cls(made, engine)
        directory = env.exchange().directory
        directory.add(CMO, "Music CMO", "CollectiveManagementOrganisation")
        directory.add(DEV, "Lookout AI", "AIDeveloper", queue=True)
        directory.add(RH1, "Harmonia Publishing", "Rightsholder")
        directory.add(RH2, "Cadenza Records", "Rightsholder", folder=False, queue=True)
        return env

    def exchange(self, **kwargs: Any) -> Exchange:
        """An Exchange on this environment (closed with it); routing only (no CMO actions)
        unless ``actions`` is given or the settings name a factory."""
        if self.settings.actions is None:
            kwargs.setdefault("actions", NoActions())
        else:  # a factory the settings name, as `airex worker` resolves it
            kwargs.setdefault("actions", load_actions(self.settings))
        if "publisher" not in kwargs:  # the broker of the environment, as `airex send` uses it
            kwargs["publisher"] = celery_publisher(self.settings)
        exchange = Exchange(self.settings, engine=self.engine, **kwargs)
        self.opened.append(exchange)
        return exchange

    def inbox(self, party_id: str) -> Path:
        """The inbox folder of ``party_id``."""
        return self.settings.parties_dir / party_id / "inbox"

    def drop(self, party_id: str) -> Path:
        """The drop folder of ``party_id``."""
        return self.settings.parties_dir / party_id / "drop"

    def inbox_files(self, party_id: str) -> dict[str, bytes]:
        """File name → bytes of every file in ``party_id``'s inbox (temporary files left out)."""
        folder = self.inbox(party_id)
        return {
            p.name: p.read_bytes()
            for p in sorted(folder.iterdir())
            if p.is_file() and not p.name.startswith(".")
        }

    def drain(self, party_id: str, *, idle: float = 0.5) -> list[Delivery]:
        """Every message waiting on ``party_id``'s queue (read and acknowledged); a connection
        lost meanwhile (another test restarting RabbitMQ) is retried, for up to a minute."""
        found: list[Delivery] = []
        deadline = time.monotonic() + 60
        while True:
            try:
                drain_queue(
                    self.settings, self.settings.party_queue(party_id), found.append, idle=idle
                )
                return found
            except (OSError, OperationalError, AMQPError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def scalar(self, sql: str) -> Any:
        """One value of a query on the database."""
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql)).scalar()

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment of an ``airex`` subprocess on this exchange."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIREX_")}
        env.update(
            AIREX_DATABASE_URL=self.settings.database.url,
            AIREX_BROKER_URL=self.settings.broker_url,
            AIREX_HOME=str(self.settings.home),
            AIREX_CMO_PARTY_ID=CMO,
            AIREX_QUEUE_PREFIX=self.settings.queue_prefix,
            AIREX_REDELIVER_AFTER=str(self.settings.redeliver_after),
            AIREX_MAX_ATTEMPTS=str(self.settings.max_attempts),
            AIREX_CMO_ACTIONS=self.settings.actions or "airex.exchange.hooks:no_actions",
            PYTHONPATH=os.pathsep.join(  # this folder (crash_actions) and tests/ (parties)
                [
                    str(Path(__file__).parent),
                    str(Path(__file__).parents[1]),
                    *filter(None, [os.environ.get("PYTHONPATH")]),
                ]
            ),
        )
        env.update(extra)
        return env

    def close(self) -> None:
        """Close every Exchange opened and the engine."""
        for exchange in self.opened:
            exchange.close()
        self.engine.dispose()


def unique_prefix() -> str:
    """A queue-name prefix no other test run uses."""
    return f"t{secrets.token_hex(5)}."


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "",
    explain: Callable[[], str] | None = None,
) -> None:
    """Wait until ``condition()`` holds; fail the test (AssertionError) after ``timeout``,
    with ``explain()`` (the state of things) in the message."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or condition}{detail}"
            )
        time.sleep(interval)


def explain(env: Env, *logs: Path) -> Callable[[], str]:
    """A description of the exchange's state and the tails of ``logs``, for a failed wait."""

    def describe() -> str:
        lines = []
        with env.engine.connect() as connection:
            for query in (
                "SELECT id, source, state, status, message_id, attempts FROM exchange_received",
                "SELECT id, kind, received_id, destination, publish_count, published_at, "
                "done_at, last_error FROM exchange_outbox WHERE done_at IS NULL",
                "SELECT id, batch_id, state, entry_count FROM exchange_batch",
            ):
                lines.append(query)
                lines.extend(f"  {tuple(row)}" for row in connection.execute(sa.text(query)))
        for party in (CMO, DEV, RH1):
            lines.append(f"inbox {party}: {sorted(env.inbox_files(party))}")
            drop = env.drop(party)
            lines.append(f"drop {party}: {sorted(p.name for p in drop.rglob('*'))}")
        for log in logs:
            text = log.read_text(errors="replace") if log.exists() else "(no log)"
            lines.append(f"--- {log.name} (tail)\n{text[-3000:]}")
        return "\n".join(lines)

    return describe


@dataclass
class Service:
    """An ``airex worker`` or ``airex serve`` subprocess."""

    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, *, kill: bool = False) -> None:
        """Stop it (SIGTERM, or SIGKILL of its whole process group with ``kill``)."""
        import signal

        if self.process.poll() is not None:
            return
        if kill:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def start_service(env: Env, args: list[str], log: Path, **extra: str) -> Service:
    """Start ``airex ARGS...`` in its own process group, its output into ``log``."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*AIREX, *args],
            env=env.environ(**extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=env.settings.home.parent,
        )
    return Service(process, log)


@dataclass
class Services:
    """The subprocesses a test started, all stopped at its end."""

    started: list[Service] = field(default_factory=list)

    def start(self, env: Env, args: list[str], log: Path, **extra: str) -> Service:
        """Start one and remember it."""
        service = start_service(env, args, log, **extra)
        self.started.append(service)
        return service

    def stop_all(self) -> None:
        """Stop every one still running."""
        for service in self.started:
            service.stop()


def iter_inbox_acks(env: Env, party_id: str) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of the acknowledgements in ``party_id``'s inbox."""
    for name, data in env.inbox_files(party_id).items():
        if name.startswith("ACK_"):
            yield name, data


def remove_deep(folder: Path) -> None:
    """Remove a tree of nested folders (an adversarial test's, 1 200 deep) without recursion:
    down the one chain of folders, then each folder from the deepest up."""
    chain = [folder]
    while True:
        inner = [p for p in chain[-1].iterdir() if p.is_dir() and not p.is_symlink()]
        for path in chain[-1].iterdir():
            if not path.is_dir() or path.is_symlink():
                path.unlink()
        if not inner:
            break
        chain.append(inner[0])
    for path in reversed(chain):
        path.rmdir()
