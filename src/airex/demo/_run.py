"""Run the demo: a real exchange (worker processes, watcher, relay) and four parties playing.

Everything happens the way it would between real parties: each party leaves files in its drop
folder and reads what arrives in its inbox; ``airex worker`` and ``airex serve`` run as
separate processes, on a SQLite database and the embedded broker inside the demo's folder.
The runner waits for each answer before the next step, shows progress, and at the end stops
the processes, prints the ledger's balances and the statements' totals, and runs the ledger
check. The folder is kept: every message, batch and acknowledgement is in it, with a
``README.txt`` that says which file is which.

The exchange runs on the scenario's clock (:data:`~airex.demo.TIMELINE`, through
``AIREX_CLOCK_FILE``): before each step the runner sets it to the step's instant.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from airex.demo._fleet import Console, DemoError, Fleet, Party, demo_env, interrupt, wait_for
from airex.demo._fleet import require_accepted as _require_accepted
from airex.demo._preflight import (
    DemoConfigError,
    check_broker,
    check_database,
    remove_broker_entities,
    run_prefix,
)
from airex.demo._report import SPLIT_RECORDS, ReportForm, write_report
from airex.demo._scenario import TIMELINE, Scenario

__all__ = ["DemoError", "DemoInterrupted", "DemoResult", "run_demo"]


@dataclass
class DemoResult:
    """What the demo did: its folder, the steps' timings, the money, the files and the checks."""

    folder: Path
    records: int = 0
    database: str = ""
    steps: list[tuple[str, float, str]] = field(default_factory=list)
    balances: list[tuple[str, str, Decimal]] = field(default_factory=list)
    statements: list[tuple[str, str, Decimal, Decimal, Decimal]] = field(default_factory=list)
    invoice_total: Decimal | None = None
    held_warnings: int = 0
    """Warnings in the usage report's acknowledgement (at most one per held record, listed
    up to a limit; :attr:`held` is the count)."""
    held: int = 0
    held_by_reason: dict[str, int] = field(default_factory=dict)
    report_id: str = ""
    report_sender: str = ""
    files: list[tuple[str, Path]] = field(default_factory=list)
    """(what it is, where it is) for every message the guide names, in the order sent."""
    ledger_ok: bool = False
    ledger_report: str = ""
    licence_id: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    """The environment the exchange's processes ran with (database, home, broker, clock)."""

    @property
    def last_step(self) -> str | None:
        """The last step that completed (None: not even the set-up)."""
        return self.steps[-1][0] if self.steps else None


class DemoInterrupted(DemoError):
    """Ctrl-C (or SIGTERM) stopped the demo; :attr:`result` says what was done."""

    def __init__(self, result: DemoResult) -> None:
        done = result.last_step
        super().__init__(
            f"interrupted {'after the step ' + repr(done) if done else 'before any step'}"
            f" completed; the exchange's processes are stopped; the partial run is in "
            f"{result.folder}"
        )
        self.result = result


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
    announce: Callable[[], None] | None = None,
    report_form: ReportForm = "xml",
    split_records: int = SPLIT_RECORDS,
    stop_after_licence: bool = False,
) -> DemoResult:
    """Play a complete cycle in ``folder`` (created; must be empty or absent).

    By default on the embedded default: a SQLite file in ``folder`` and the server-less
    broker. ``database_url`` (an empty database) and ``broker_url`` (e.g. RabbitMQ) run the
    same cycle on servers; both are checked before ``folder`` is created
    (:class:`~airex.demo.DemoConfigError` for a database or a broker that cannot be used or
    reached, and for a ``folder`` that is a file, not empty, or cannot be made). ``announce``
    is called once every check has passed and the folder is made. Every run has its own
    queue names (``queue_prefix``, default a fresh one) and removes them from the broker at
    the end. Ctrl-C raises :class:`DemoInterrupted` once the processes are stopped.
    ``report_form`` is the form of the developer's usage report: ``xml`` (one file) or
    ``flat`` (``.tsv.gz``, split into parts of ``split_records`` records when larger).
    ``stop_after_licence`` stops the exchange once the licence is granted and returns: the
    state a usage report is sent in (``bench/exchange.py --report`` measures from there)."""
    from airex.exchange.settings import ExchangeSettings

    out = Console(stream or sys.stderr)
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise DemoConfigError(f"{folder}: cannot write there: it is a file, not a folder")
    if folder.exists() and any(folder.iterdir()):
        raise DemoConfigError(f"{folder} is not empty; give the demo a new folder (--out)")
    scenario = Scenario(records, seed=seed)
    if broker_url is not None and not broker_url.startswith("filesystem://"):
        check_broker(broker_url)
    result = DemoResult(folder=folder, records=records)
    if database_url is not None:
        result.database = check_database(database_url)
    prefix = queue_prefix if queue_prefix is not None else run_prefix()
    cast = scenario.cast
    clock_file = folder / "exchange" / "clock.txt"
    env = demo_env(folder, cast.cmo.party_id, database_url, broker_url, prefix, clock_file)
    settings = ExchangeSettings.from_env(env)
    result.environment = env
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoConfigError(
            f"{folder}: cannot write there: {(exc.strerror or str(exc)).lower()}"
        ) from None
    if announce is not None:
        announce()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main else None
    try:
        _play(
            scenario,
            result,
            settings,
            env,
            workers,
            out,
            (report_form, split_records),
            stop_after_licence=stop_after_licence,
        )
    except KeyboardInterrupt:
        raise DemoInterrupted(result) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        remove_broker_entities(settings, [p.party_id for p in cast.parties])
    return result


def _play(
    scenario: Scenario,
    result: DemoResult,
    settings: Any,
    env: dict[str, str],
    workers: int,
    out: Console,
    report: tuple[ReportForm, int] = ("xml", SPLIT_RECORDS),
    *,
    stop_after_licence: bool = False,
) -> None:
    import airex
    from airex.db import DatabaseConfig, create_engine, upgrade_all
    from airex.exchange import PartyDirectory
    from airex.exchange.settings import write_clock

    folder = result.folder
    cast = scenario.cast
    clock = time.monotonic()

    def done(step: str, detail: str) -> None:
        nonlocal clock
        now = time.monotonic()
        result.steps.append((step, now - clock, detail))
        out.line(f"[green]✓[/] {step} [dim]({now - clock:.1f} s)[/] — {detail}")
        clock = now

    def at(step: str) -> None:
        write_clock(clock_file, TIMELINE[step])

    clock_file = Path(env["AIREX_CLOCK_FILE"])
    clock_file.parent.mkdir(parents=True, exist_ok=True)
    at("declarations")
    config = DatabaseConfig(url=env["AIREX_DATABASE_URL"])
    result.database = result.database or config.display_url()
    engine = create_engine(config)
    try:
        upgrade_all(engine)
        directory = PartyDirectory(engine, settings.parties_dir)
        for party in cast.parties:
            assert party.party_name is not None
            assert party.party_role is not None
            directory.add(party.party_id, party.party_name, party.party_role)
        staging = folder / "staging"
        home = settings.home
        cmo, developer = (Party(home, p.party_id, staging) for p in (cast.cmo, cast.developer))
        holders = [Party(home, p.party_id, staging) for p in cast.rightsholders]
        done("set up", f"{folder}: database, four parties, their drop folders and inboxes")

        fleet = Fleet(folder, env, workers)
        fleet.start()
        try:
            _declarations(scenario, result, holders, fleet, out, done)
            at("offer")
            licence_id = _licence(scenario, result, cmo, developer, fleet, out, done, at)
            result.licence_id = licence_id
            if stop_after_licence:
                return
            at("usage report")
            invoice = _usage(
                scenario,
                result,
                developer,
                cmo,
                licence_id,
                engine,
                fleet,
                out,
                *report,
            )
            total = invoice.invoice.total_amount
            done(
                "usage report",
                f"{scenario.records:,} records → invoice {invoice.invoice.invoice_id}: "
                f"{total.currency} {total.value:,} ({len(invoice.invoice.invoice_lines)} "
                f"lines); {result.held:,} records held back, not priced",
            )
            at("payment")
            with out.step("payment and royalties") as note:
                payment = scenario.payment(invoice)
                sent = developer.send(f"{payment.message_id}.xml", airex.serialise(payment))
                result.files.append(("the developer's payment", cmo.inbox / _named(sent, cast)))
                ack = wait_for(
                    "the payment's acknowledgement",
                    lambda: next(iter(developer.acks_for(payment.message_id)), None),
                    fleet,
                    note,
                )
                _require_accepted(ack, "the payment")
                result.files.append(("the payment's acknowledgement", ack))
                expected = _answers(engine, cast.developer.party_id, payment.message_id)
                wait_for(
                    "the statements and payouts",
                    lambda: True if _delivered(holders) >= expected else None,
                    fleet,
                    note,
                )
                for holder in holders:
                    for root, what in (
                        ("RoyaltyStatementMessage", "royalty statement"),
                        ("PaymentNotificationMessage", "payout"),
                    ):
                        for path in holder.received(root):
                            result.files.append((f"{holder.party_id}'s {what}", path))
            done("payment and royalties", "paid, distributed, statements and payouts delivered")
        finally:
            fleet.stop()
        _summarise(result, engine, holders)
    finally:
        engine.dispose()
    from airex.demo._guide import write_guide

    write_guide(result)


def _named(sent: Path, cast: Any) -> str:
    """The name a message left in the developer's drop folder has in the CMO's inbox."""
    return f"{cast.developer.party_id}_{sent.stem}.xml"


def _declarations(
    scenario: Scenario,
    result: DemoResult,
    holders: list[Party],
    fleet: Fleet,
    out: Console,
    done: Callable[[str, str], None],
) -> None:
    import airex
    from airex.batch import pack

    with out.step("declarations") as note:
        batches = []
        works = 0
        stamp = TIMELINE["declarations"].strftime("%Y%m%d%H%M%S")
        for number, (party, holder) in enumerate(
            zip(scenario.cast.rightsholders, holders, strict=True)
        ):
            messages = [airex.serialise(m) for m in scenario.declarations(party)]
            if not messages:
                continue  # a rightsholder with no works in a tiny catalogue declares nothing
            works += sum(m.count(b"<Work>") for m in messages)
            note(f"{party.party_name} packs {len(messages)} declarations")
            packed = pack(
                messages,
                holder.staging / "batches",
                batch_id=f"{stamp}{number:03d}",
            )
            target = holder.drop / packed.path.name
            os.replace(packed.path, target)
            batches.append((holder, packed.batch_id))
        for holder, batch_id in batches:
            ack = wait_for(
                f"ACK_{batch_id}.xml",
                lambda h=holder, b=batch_id: next(iter(h.acks_for(b)), None),  # type: ignore[misc]
                fleet,
                note,
            )
            _require_accepted(ack, f"batch {batch_id}")
            result.files.append((f"{holder.party_id}'s declarations' acknowledgement", ack))
    done("declarations", f"{len(batches)} batches, {works:,} works declared, acknowledged")


def _licence(
    scenario: Scenario,
    result: DemoResult,
    cmo: Party,
    developer: Party,
    fleet: Fleet,
    out: Console,
    done: Callable[[str, str], None],
    at: Callable[[str], None],
) -> str:
    import airex
    from airex.messages.licence import LicenceMessage

    with out.step("licence") as note:
        offer = scenario.offer()
        cmo.send(f"{offer.message_id}.xml", airex.serialise(offer))
        offered = wait_for(
            "the offer in the developer's inbox",
            lambda: next(iter(developer.received("LicenceOfferMessage")), None),
            fleet,
            note,
        )
        result.files.append(("the CMO's licence offer", offered))
        at("request")
        request = scenario.request()
        sent = developer.send(f"{request.message_id}.xml", airex.serialise(request))
        result.files.append(
            ("the developer's licence request", cmo.inbox / _named(sent, scenario.cast))
        )
        _, _, licence_file = _answered(
            developer, request.message_id, "the licence request", "LicenceMessage", fleet, note
        )
        result.files.append(("the licence", licence_file))
        licence = airex.parse(licence_file.read_bytes())
        assert isinstance(licence, LicenceMessage)
        licence_id = licence.licence.licence_id
    done("licence", f"offer {scenario.offer_id} → request → licence {licence_id} granted")
    return licence_id


def _answered(
    sender: Party,
    message_id: str,
    what: str,
    family: str,
    fleet: Fleet,
    note: Callable[[str], None],
) -> tuple[Path, list[Any], Path]:
    """Wait for ``sender``'s acknowledgement of ``message_id`` (it must be accepted), then for
    the first ``family`` message the CMO sent back: the ACK's path, its acknowledgements, the
    answer's path."""
    ack = wait_for(
        f"the acknowledgement of {what}",
        lambda: next(iter(sender.acks_for(message_id)), None),
        fleet,
        note,
    )
    acks = _require_accepted(ack, what)
    answer = wait_for(
        f"the answer to {what} ({family})",
        lambda: next(iter(sender.received(family)), None),
        fleet,
        note,
    )
    return ack, acks, answer


def _usage(
    scenario: Scenario,
    result: DemoResult,
    developer: Party,
    cmo: Party,
    licence_id: str,
    engine: Any,
    fleet: Fleet,
    out: Console,
    form: ReportForm = "xml",
    split: int = SPLIT_RECORDS,
) -> Any:
    import airex
    from airex.messages.invoice import InvoiceMessage
    from airex.royalties import held_records

    with out.step("usage report") as note:
        header = scenario.usage_header(licence_id)
        message_id = header.message_header.message_id
        note(f"writing {scenario.records:,} records ({form})")
        staged = write_report(scenario, licence_id, developer.staging, form, split_records=split)
        for number, path in enumerate(staged, start=1):  # parts one by one, as they are made
            os.replace(path, developer.drop / path.name)
            name = _named(path, scenario.cast)
            if form == "flat":
                part = f"_{number}of{len(staged)}" if len(staged) > 1 else ""
                name = f"{scenario.cast.developer.party_id}_{message_id}{part}.tsv.gz"
            result.files.append(("the developer's usage report", cmo.inbox / name))
        ack, acks, invoice_file = _answered(
            developer, message_id, "the usage report", "InvoiceMessage", fleet, note
        )
        result.files.append(("the usage report's acknowledgement", ack))
        result.held_warnings = sum(len(a.errors) for a in acks)
        result.files.append(("the invoice", invoice_file))
        invoice = airex.parse(invoice_file.read_bytes())
        assert isinstance(invoice, InvoiceMessage)
        result.invoice_total = invoice.invoice.total_amount.value
        result.report_id = header.report_id
        result.report_sender = scenario.cast.developer.party_id
        note("counting the held records")
        reasons = Counter(
            record.reason
            for record in held_records(engine, header.report_id, sender=result.report_sender)
        )
        result.held = sum(reasons.values())
        result.held_by_reason = dict(reasons.most_common())
    return invoice


def _answers(engine: Any, sender: str, message_id: str) -> int:
    """How many messages the CMO sent in answer to ``sender``'s processed ``message_id``."""
    import sqlalchemy as sa

    from airex.exchange.models import received, sent

    with engine.connect() as connection:
        row = connection.execute(
            sa.select(received.c.id).where(
                received.c.sender == sender, received.c.message_id == message_id
            )
        ).first()
        if row is None:
            return 0
        return int(
            connection.execute(
                sa.select(sa.func.count()).where(sent.c.received_id == row.id)
            ).scalar_one()
        )


def _delivered(holders: list[Party]) -> int:
    return sum(
        len(h.received("RoyaltyStatementMessage")) + len(h.received("PaymentNotificationMessage"))
        for h in holders
    )


def _summarise(result: DemoResult, engine: Any, holders: list[Party]) -> None:
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
