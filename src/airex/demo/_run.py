"""Run the demo: a real exchange (worker processes, watcher, relay) and four parties playing.

Everything happens the way it would between real parties: each party leaves files in its drop
folder and reads what arrives in its inbox; ``airex worker`` and ``airex serve`` run as
separate processes, on a SQLite database and the embedded broker inside the demo's folder.
The runner waits for each answer before the next step, shows progress, and at the end stops
the processes, prints the ledger's balances and the statements' totals, and runs the ledger
check. The folder is kept: every message, batch and acknowledgement is in it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

from airex.demo._scenario import Scenario
from airex.errors import AirexError

__all__ = ["DemoError", "DemoResult", "run_demo"]

T = TypeVar("T")

STEP_TIMEOUT = 600.0
"""Seconds to wait for one step's answers before giving up (the 100 000-record report takes
well under a minute on a laptop)."""

_POLL = 0.2


class DemoError(AirexError, RuntimeError):
    """The demo could not complete a step (the message says which, and where to look)."""


@dataclass
class DemoResult:
    """What the demo did: its folder, the steps' timings, the money and the checks."""

    folder: Path
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    balances: list[tuple[str, str, Decimal]] = field(default_factory=list)
    statements: list[tuple[str, str, Decimal, Decimal, Decimal]] = field(default_factory=list)
    invoice_total: Decimal | None = None
    held_warnings: int = 0
    ledger_ok: bool = False
    ledger_report: str = ""


class _Console:
    """Rich output when available on a terminal, plain lines otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console

        self.console = Console(file=stream, highlight=False)

    def line(self, text: str) -> None:
        self.console.print(text)

    @contextmanager
    def step(self, title: str) -> Iterator[Callable[[str], None]]:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=None),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )
        task = progress.add_task(title, total=None)

        def note(text: str) -> None:
            progress.update(task, description=f"{title}: {text}")

        with progress:
            yield note


def _env(
    folder: Path,
    cmo: str,
    database_url: str | None = None,
    broker_url: str | None = None,
    queue_prefix: str | None = None,
) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("AIREX_"):
            del env[name]  # the demo never touches a configured production exchange
    if broker_url is not None:
        env["AIREX_BROKER_URL"] = broker_url
    if queue_prefix is not None:
        env["AIREX_QUEUE_PREFIX"] = queue_prefix
    env.update(
        {
            "AIREX_DATABASE_URL": database_url or f"sqlite:///{folder / 'airex.db'}",
            "AIREX_HOME": str(folder / "exchange"),
            "AIREX_CMO_PARTY_ID": cmo,
            "AIREX_PREFERENCE_REGIME": "opt-in",
            "AIREX_ADMIN_FEE_PERCENT": "15",
            "AIREX_REDELIVER_AFTER": "30",
        }
    )
    return env


class _Fleet:
    """The exchange's processes: workers and the watcher/relay, logging into the folder."""

    def __init__(self, folder: Path, env: dict[str, str], workers: int) -> None:
        self.folder = folder
        self.env = env
        self.workers = workers
        self.processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self) -> None:
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        commands = [
            ("worker", ["worker", "--concurrency", str(self.workers), "--loglevel", "INFO"]),
            ("serve", ["serve"]),
        ]
        for name, args in commands:
            log = (logs / f"{name}.log").open("ab")
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "airex", *args],
                env=self.env,
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes.append((name, process, log))

    def check_alive(self) -> None:
        for name, process, _ in self.processes:
            if process.poll() is not None:
                raise DemoError(
                    f"`airex {name}` stopped with status {process.returncode}; "
                    f"see {self.folder / 'logs' / (name + '.log')}"
                )

    def stop(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.terminate()  # the main process only: Celery stops its pool itself
        deadline = time.monotonic() + 30
        for _, process, log in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()
        self.processes.clear()


class _Party:
    """A party's view of the exchange: its drop folder and its inbox."""

    def __init__(self, home: Path, party_id: str, staging: Path) -> None:
        self.party_id = party_id
        self.drop = home / "parties" / party_id / "drop"
        self.inbox = home / "parties" / party_id / "inbox"
        self.staging = staging / party_id
        self.staging.mkdir(parents=True, exist_ok=True)

    def send(self, name: str, data: bytes) -> Path:
        """Leave ``data`` in the drop folder, complete or not at all (write, then rename)."""
        staged = self.staging / name
        staged.write_bytes(data)
        target = self.drop / name
        os.replace(staged, target)
        return target

    def received(self, root: str) -> list[Path]:
        """Inbox files whose root element is ``root``, oldest first."""
        found = []
        marker = f"<{root}".encode()
        for path in sorted(self.inbox.glob("*.xml"), key=lambda p: (p.stat().st_mtime, p.name)):
            with path.open("rb") as handle:
                if marker in handle.read(512):
                    found.append(path)
        return found

    def acks_for(self, prefix: str) -> list[Path]:
        return sorted(self.inbox.glob(f"ACK_{prefix}*.xml"))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so that the exchange's processes are stopped


def _wait(
    what: str, found: Callable[[], T | None], fleet: _Fleet, note: Callable[[str], None]
) -> T:
    deadline = time.monotonic() + STEP_TIMEOUT
    started = time.monotonic()
    while True:
        result = found()
        if result is not None:
            return result
        fleet.check_alive()
        if time.monotonic() > deadline:
            raise DemoError(
                f"no answer after {STEP_TIMEOUT:g} s waiting for {what}; see "
                f"{fleet.folder / 'logs'} and `airex exchange status`"
            )
        note(f"waiting for {what} ({time.monotonic() - started:.0f} s)")
        time.sleep(_POLL)


def _ack_statuses(path: Path) -> list[Any]:
    import airex
    from airex.messages.acknowledgement import AcknowledgementMessage

    message = airex.parse(path.read_bytes())
    assert isinstance(message, AcknowledgementMessage)
    return list(message.acknowledgements)


def _require_accepted(path: Path, what: str) -> list[Any]:
    acks = _ack_statuses(path)
    bad = [a for a in acks if a.message_status != "MessageAccepted"]
    if bad:
        details = "; ".join(
            f"{a.acknowledged_file_name or a.acknowledged_message_id}: {a.message_status} "
            + ", ".join(f"{e.error_code} {e.error_text}" for e in a.errors[:3])
            for a in bad[:5]
        )
        raise DemoError(f"{what} was not accepted ({path}): {details}")
    return acks


def run_demo(
    folder: Path,
    *,
    records: int = 100_000,
    seed: int = 2026,
    workers: int = 2,
    stream: IO[str] | None = None,
    database_url: str | None = None,
    broker_url: str | None = None,
    queue_prefix: str | None = None,
) -> DemoResult:
    """Play a complete cycle in ``folder`` (created; must be empty or absent).

    By default on the embedded default: a SQLite file in ``folder`` and the server-less
    broker. ``database_url`` (an empty database: the demo refuses one that holds tables) and
    ``broker_url`` (e.g. RabbitMQ; ``queue_prefix`` keeps its queues apart) run the same cycle
    on servers."""
    import sqlalchemy as sa

    import airex
    from airex.batch import pack
    from airex.cli._ledger import schema_histories
    from airex.db import DatabaseConfig, create_engine
    from airex.exchange import ExchangeSettings, PartyDirectory
    from airex.formats.usage import XmlUsageWriter
    from airex.messages.invoice import InvoiceMessage
    from airex.messages.licence import LicenceMessage

    out = _Console(stream or sys.stderr)
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        raise DemoError(f"{folder} is not empty; give the demo a new folder (--out)")
    folder.mkdir(parents=True, exist_ok=True)
    scenario = Scenario(records, seed=seed)
    cast = scenario.cast
    env = _env(folder, cast.cmo.party_id, database_url, broker_url, queue_prefix)
    result = DemoResult(folder=folder)
    clock = time.monotonic()

    def done(step: str, detail: str) -> None:
        nonlocal clock
        now = time.monotonic()
        result.steps.append((step, now - clock, detail))
        out.line(f"[green]✓[/] {step} [dim]({now - clock:.1f} s)[/] — {detail}")
        clock = now

    settings = ExchangeSettings.from_env(env)
    engine = create_engine(DatabaseConfig(url=env["AIREX_DATABASE_URL"]))
    tables = sa.inspect(engine).get_table_names()
    if tables:
        engine.dispose()
        raise DemoError(
            f"the database {engine.url.render_as_string(hide_password=True)} already holds "
            f"{len(tables)} tables ({', '.join(sorted(tables)[:3])}, …); the demo needs a new, "
            "empty database"
        )
    for history in schema_histories():
        history.upgrade(engine)
    directory = PartyDirectory(engine, settings.parties_dir)
    for party in cast.parties:
        assert party.party_name is not None
        assert party.party_role is not None
        directory.add(party.party_id, party.party_name, party.party_role)
    staging = folder / "staging"
    home = settings.home
    cmo, developer = (_Party(home, p.party_id, staging) for p in (cast.cmo, cast.developer))
    holders = [_Party(home, p.party_id, staging) for p in cast.rightsholders]
    done("set up", f"{folder}: database, four parties, their drop folders and inboxes")

    fleet = _Fleet(folder, env, workers)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    fleet.start()
    try:
        with out.step("declarations") as note:
            batches = []
            works = 0
            for party, holder in zip(cast.rightsholders, holders, strict=True):
                messages = [airex.serialise(m) for m in scenario.declarations(party)]
                works += sum(m.count(b"<Work>") for m in messages)
                note(f"{party.party_name} packs {len(messages)} declarations")
                packed = pack(messages, staging / holder.party_id / "batches")
                target = holder.drop / packed.path.name
                os.replace(packed.path, target)
                batches.append((holder, packed.batch_id))
            for holder, batch_id in batches:
                ack = _wait(
                    f"ACK_{batch_id}.xml",
                    lambda h=holder, b=batch_id: next(iter(h.acks_for(b)), None),  # type: ignore[misc]
                    fleet,
                    note,
                )
                _require_accepted(ack, f"batch {batch_id}")
        done("declarations", f"2 batches, {works:,} works declared, acknowledged")

        with out.step("licence") as note:
            offer = scenario.offer()
            cmo.send(f"{offer.message_id}.xml", airex.serialise(offer))
            _wait(
                "the offer in the developer's inbox",
                lambda: next(iter(developer.received("LicenceOfferMessage")), None),
                fleet,
                note,
            )
            request = scenario.request()
            developer.send(f"{request.message_id}.xml", airex.serialise(request))
            ack = _wait(
                "the request's acknowledgement",
                lambda: next(iter(developer.acks_for(request.message_id)), None),
                fleet,
                note,
            )
            _require_accepted(ack, "the licence request")
            licence_file = _wait(
                "the licence",
                lambda: next(iter(developer.received("LicenceMessage")), None),
                fleet,
                note,
            )
            licence = airex.parse(licence_file.read_bytes())
            assert isinstance(licence, LicenceMessage)
            licence_id = licence.licence.licence_id
        done("licence", f"offer {scenario.offer_id} → request → licence {licence_id} granted")

        with out.step("usage report") as note:
            header = scenario.usage_header(licence_id)
            report_name = f"{header.message_header.message_id}.xml"
            staged = staging / developer.party_id / report_name
            note(f"writing {records:,} records")
            with XmlUsageWriter(str(staged), header, number_of_records=records) as writer:
                writer.write_all(scenario.usage_rows(licence_id))
            os.replace(staged, developer.drop / report_name)
            ack = _wait(
                "the report's acknowledgement",
                lambda: next(iter(developer.acks_for(header.message_header.message_id)), None),
                fleet,
                note,
            )
            acks = _require_accepted(ack, "the usage report")
            result.held_warnings = sum(len(a.errors) for a in acks)
            invoice_file = _wait(
                "the invoice",
                lambda: next(iter(developer.received("InvoiceMessage")), None),
                fleet,
                note,
            )
            invoice = airex.parse(invoice_file.read_bytes())
            assert isinstance(invoice, InvoiceMessage)
            total = invoice.invoice.total_amount
            result.invoice_total = total.value
        done(
            "usage report",
            f"{records:,} records → invoice {invoice.invoice.invoice_id}: "
            f"{total.currency} {total.value:,} ({len(invoice.invoice.invoice_lines)} lines); "
            f"{result.held_warnings} warnings for usage outside the licence",
        )

        with out.step("payment and royalties") as note:
            payment = scenario.payment(invoice, paid_on=date(2026, 5, 15))
            developer.send(f"{payment.message_id}.xml", airex.serialise(payment))
            ack = _wait(
                "the payment's acknowledgement",
                lambda: next(iter(developer.acks_for(payment.message_id)), None),
                fleet,
                note,
            )
            _require_accepted(ack, "the payment")
            for holder in holders:
                _wait(
                    f"{holder.party_id}'s statement and payout",
                    lambda h=holder: (  # type: ignore[misc]
                        True
                        if h.received("RoyaltyStatementMessage")
                        and h.received("PaymentNotificationMessage")
                        else None
                    ),
                    fleet,
                    note,
                )
        done("payment and royalties", "paid, distributed, statements and payouts delivered")
    finally:
        fleet.stop()
        signal.signal(signal.SIGTERM, previous)

    try:
        _summarise(result, engine, holders)
    finally:
        engine.dispose()
    return result


def _summarise(result: DemoResult, engine: Any, holders: list[_Party]) -> None:
    import airex
    from airex.ledger import Journal, check_ledger
    from airex.messages.statement import RoyaltyStatementMessage

    for row in Journal(engine).balances():
        result.balances.append((row.account.label(), row.account.currency, row.balance))
    for holder in holders:
        for path in holder.received("RoyaltyStatementMessage"):
            statement = airex.parse(path.read_bytes())
            assert isinstance(statement, RoyaltyStatementMessage)
            total = statement.royalty_statement.statement_total
            result.statements.append(
                (
                    holder.party_id,
                    statement.royalty_statement.statement_id,
                    total.gross_amount,
                    total.administration_fee,
                    total.net_amount,
                )
            )
    report = check_ledger(engine)
    result.ledger_ok = report.ok
    result.ledger_report = "\n".join(report.lines())
