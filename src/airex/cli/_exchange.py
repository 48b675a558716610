"""``airex send``, ``airex worker``, ``airex serve``, ``airex party`` and ``airex exchange``.

The exchange's commands (see :mod:`airex.exchange`):

* ``send FILE|BATCH...`` hands messages or batches to the exchange (stored, recorded, their
  processing queued), optionally waiting for the acknowledgements;
* ``worker`` runs a Celery worker (any number, on any machines sharing the database, the
  broker and ``AIREX_HOME``);
* ``serve`` runs the drop-folder watcher and the outbox relay;
* ``party add`` / ``party list``: the party directory;
* ``exchange status``: messages per state and status, the outbox, the dead letters.

Every command reads its configuration from the environment (``AIREX_DATABASE_URL``,
``AIREX_BROKER_URL``, ``AIREX_HOME``, ``AIREX_CMO_PARTY_ID``…), which ``--database``,
``--broker`` and ``--home`` override. Celery and the exchange are imported by the commands,
never at import time. Errors are ``airex: <what> (<where>)`` on standard error, exit 2.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airex.cli._database import fail, require_database
from airex.cli._options import BrokerOpt, DatabaseOpt

if TYPE_CHECKING:
    from airex.exchange import CmoActions, Exchange, ExchangeSettings

__all__ = ["exchange_app", "party_app", "register"]

_APP_SETTINGS: dict[str, Any] = {
    "rich_markup_mode": None,
    "add_completion": False,
    "pretty_exceptions_show_locals": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
    "no_args_is_help": True,
}

_CONFIG_NOTE = (
    "\n\nConfiguration: $AIREX_DATABASE_URL (else ./airex.db), $AIREX_BROKER_URL (else the "
    "embedded broker in $AIREX_HOME/broker), $AIREX_HOME (else ./airex-exchange), "
    "$AIREX_CMO_PARTY_ID (the CMO the exchange acts for)."
)

party_app = typer.Typer(
    name="party",
    help="The party directory: who takes part, in which role, and where they receive.",
    epilog=(
        "\b\nExamples:\n"
        "  airex party add PADPIDA2026CMO01 --name 'Music CMO' \\\n"
        "      --role CollectiveManagementOrganisation\n"
        "  airex party add PADPIDA2026DEV01 --name 'Lookout AI' --role AIDeveloper --queue\n"
        "  airex party list --json" + _CONFIG_NOTE
    ),
    **_APP_SETTINGS,
)

exchange_app = typer.Typer(
    name="exchange",
    help="The exchange's state: messages per state and status, outbox, dead letters.",
    epilog="\b\nExamples:\n  airex exchange status\n  airex exchange status --json" + _CONFIG_NOTE,
    **_APP_SETTINGS,
)

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        metavar="DIR",
        help="The exchange's folder (default: $AIREX_HOME, else ./airex-exchange).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (one object per line).")]


_fail = fail


def _settings(database: str | None, broker: str | None, home: Path | None) -> ExchangeSettings:
    from airex.db import DatabaseConfig
    from airex.exchange import ExchangeSettings

    overrides: dict[str, Any] = {}
    if database:
        overrides["database"] = DatabaseConfig(url=database)
    if broker:
        overrides["broker_url"] = broker
    if home is not None:
        overrides["home"] = home.resolve()
    return ExchangeSettings.from_env(**overrides)


@contextmanager
def _exchange(database: str | None, broker: str | None, home: Path | None) -> Iterator[Exchange]:
    """An Exchange on the configured database; airex errors exit with status 2."""
    import sqlalchemy as sa

    from airex.errors import AirexError
    from airex.exchange import Exchange, celery_publisher

    try:
        settings = _settings(database, broker, home)
        require_database(settings.database, database)
        exchange = Exchange(settings, publisher=celery_publisher(settings))
    except AirexError as exc:
        raise _fail(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise _fail(f"cannot use the database: {' '.join(str(exc.orig).split())}") from None
    try:
        yield exchange
    except AirexError as exc:
        raise _fail(str(exc)) from None
    except sa.exc.OperationalError as exc:
        where = settings.database.display_url()
        raise _fail(
            f"{where}: cannot use the database: {' '.join(str(exc.orig).split())}"
        ) from None
    finally:
        exchange.close()


# --- send ----------------------------------------------------------------------------------


def send(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE|BATCH",
            help="Message files, batch folders or batch zips.",
            show_default=False,
        ),
    ],
    as_party: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="PARTY",
            help=(
                "Send in the name of PARTY (a party id of the directory); the messages must "
                "say they are from it. Default: whoever each message says it is from."
            ),
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            metavar="SECONDS",
            min=0,
            help="Wait up to SECONDS for each message's acknowledgement and print it (0: don't).",
        ),
    ] = 0,
    as_json: JsonOpt = False,
    database: DatabaseOpt = None,
    broker: BrokerOpt = None,
    home: HomeOpt = None,
) -> None:
    """Hand messages or batches to the exchange: stored, recorded, their processing queued.

    Prints one line per message, FILE: #ID received; with --wait, FILE: #ID STATUS and its
    errors, once a worker processed it. Exit status: 0 when every message was received (and,
    with --wait, accepted), 1 when any was rejected or not processed in time or a batch is
    incomplete (no BatchComplete file: nothing sent), 2 on a usage, configuration or
    environment error (no such file, no database, ...).
    """
    for path in paths:
        if not path.exists():
            raise _fail(f"no such file or folder: {path}")
    with _exchange(database, broker, home) as exchange:
        if as_party is not None:
            exchange.directory.require(as_party)
        taken: list[tuple[Path, Any]] = []
        for path in paths:
            try:
                intake = exchange.receive_path(path, arrival_party=as_party)
            except OSError as exc:
                raise _fail(f"cannot read {path}: {exc.strerror or exc}") from None
            if not intake.complete:
                raise _fail(f"{path}: the batch has no BatchComplete file; not sent", 1)
            taken.append((path, intake))
        if wait <= 0:
            for path, intake in taken:
                _emit(
                    as_json,
                    {"file": str(path), "received": list(intake.received_ids)},
                    f"{path}: received "
                    + ", ".join(f"#{i}" for i in intake.received_ids)
                    + (f" (batch {intake.batch_id})" if intake.batch_id else ""),
                )
            return
        ok = _wait_and_report(exchange, taken, wait, as_json)
    raise typer.Exit(0 if ok else 1)


def _emit(as_json: bool, obj: dict[str, Any], line: str) -> None:
    sys.stdout.write((json.dumps(obj, ensure_ascii=False) if as_json else line) + "\n")


def _followed(exchange: Exchange, received_id: int) -> Any:
    """The received message ``received_id``; for a part of a split flat report joined into
    its set, the set (processed as one message)."""
    record = exchange.received_message(received_id)
    if record.status is None and record.parent_id is not None and record.batch_row_id is None:
        return exchange.received_message(record.parent_id)
    return record


def _wait_and_report(
    exchange: Exchange, taken: list[tuple[Path, Any]], wait: float, as_json: bool
) -> bool:
    from airex.errors import MessageStatus
    from airex.exchange import ReceivedState

    deadline = time.monotonic() + wait
    ids = [i for _, intake in taken for i in intake.received_ids]
    while True:
        records = {i: _followed(exchange, i) for i in ids}
        if all(r.state != ReceivedState.PENDING for r in records.values()):
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    ok = True
    for path, intake in taken:
        for received_id in intake.received_ids:
            record = records[received_id]
            waiting = record.state == ReceivedState.WAITING
            status = record.status.value if record.status else "Pending"
            status = "WaitingForParts" if waiting else status
            accepted = record.status is MessageStatus.MESSAGE_ACCEPTED
            ok = ok and accepted
            name = f"{path}/{record.file_name}" if intake.batch_id else str(path)
            _emit(
                as_json,
                {
                    "file": name,
                    "received": received_id,
                    "message_id": record.message_id,
                    "status": status,
                    "errors": [e.as_dict() for e in record.errors],
                },
                f"{name}: #{received_id} {status}" + "".join(f"\n  {e}" for e in record.errors),
            )
    return ok


# --- worker, serve ---------------------------------------------------------------------------


def cmo_actions(settings: ExchangeSettings) -> CmoActions:
    """The CMO's actions the exchange's workers plug in: the CMO's business
    (:func:`airex.cmo.make_actions`), unless an operator names another factory in
    ``AIREX_CMO_ACTIONS`` (``airex.exchange.hooks:no_actions`` routes only). Called once
    per worker process."""
    from airex.cmo import make_actions
    from airex.exchange import load_actions

    return load_actions(settings, make_actions)


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            metavar="N",
            min=1,
            help="Worker processes (default: the number of CPUs).",
            show_default=False,
        ),
    ] = None,
    loglevel: Annotated[
        str, typer.Option("--loglevel", "-l", metavar="LEVEL", help="DEBUG, INFO, WARNING...")
    ] = "INFO",
    hostname: Annotated[
        str | None,
        typer.Option(
            "--hostname",
            "-n",
            metavar="NAME",
            help="The worker's node name, e.g. worker1@%h (default: airex-<pid>@<host>).",
            show_default=False,
        ),
    ] = None,
    database: DatabaseOpt = None,
    broker: BrokerOpt = None,
    home: HomeOpt = None,
) -> None:
    """Run a Celery worker that processes received messages until it is stopped (SIGTERM).

    Run as many as you like, on as many machines as you like: they share the database, the
    broker and the exchange's folder. Each task is acknowledged to the broker only after it
    ran (acks_late), one message per process at a time (prefetch 1).
    """
    from airex.errors import AirexError
    from airex.exchange import start_worker

    try:
        settings = _settings(database, broker, home)
        require_database(settings.database, database)
        start_worker(
            settings,
            concurrency=concurrency,
            loglevel=loglevel,
            hostname=hostname,
            actions=cmo_actions,
        )
    except AirexError as exc:
        raise _fail(str(exc)) from None


def serve_command(
    once: Annotated[
        bool, typer.Option("--once", help="One round of watching and relaying, then exit.")
    ] = False,
    database: DatabaseOpt = None,
    broker: BrokerOpt = None,
    home: HomeOpt = None,
) -> None:
    """Watch every party's drop folder and relay the outbox, until stopped (SIGTERM, Ctrl-C).

    A party's messages and batches are taken from <folder>/drop once complete (a batch folder
    once its BatchComplete file is there, any file once its size stopped changing; *.tmp and
    *.part are skipped); what the exchange owes (processing tasks, deliveries to folders and
    queues, acknowledgements) is published until done.
    """
    import logging

    from airex.exchange import serve

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)
    with _exchange(database, broker, home) as exchange:
        serve(exchange, once=once)


# --- party -------------------------------------------------------------------------------------


@party_app.command(
    "add",
    short_help="Add a party (or change it with --replace).",
    epilog=(
        "\b\nExamples:\n"
        "  airex party add PADPIDA2026RH01 --name 'Harmonia Publishing' --role Rightsholder\n"
        "  airex party add PADPIDA2026DEV01 --name 'Lookout AI' --role AIDeveloper \\\n"
        "      --no-folder --queue\n"
        "\n\nRoles: Rightsholder, CollectiveManagementOrganisation, AIDeveloper, Registry. "
        "The folder (default $AIREX_HOME/parties/<PartyId>) gets drop/ (what the party sends) "
        "and inbox/ (what it receives, with its acknowledgements); --queue also delivers to "
        "the queue party.<PartyId>."
    ),
)
def party_add(
    party_id: Annotated[str, typer.Argument(metavar="PARTY_ID", help="A DDEX party id.")],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="The party's name.")],
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help="The party's role.")],
    folder: Annotated[
        Path | None,
        typer.Option(
            "--folder",
            metavar="DIR",
            help="The party's folder (default: $AIREX_HOME/parties/<PartyId>).",
            show_default=False,
        ),
    ] = None,
    no_folder: Annotated[
        bool, typer.Option("--no-folder", help="No folder: deliver by queue only.")
    ] = False,
    queue: Annotated[
        bool, typer.Option("--queue", help="Also deliver to the queue party.<PartyId>.")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Change an existing party.")] = False,
    database: DatabaseOpt = None,
    home: HomeOpt = None,
) -> None:
    """Add a party to the directory: its id, name, role and delivery route."""
    if no_folder and folder is not None:
        raise _fail("--folder and --no-folder exclude each other")
    route: Path | bool = False if no_folder else (folder if folder is not None else True)
    with _exchange(database, None, home) as exchange:
        record = exchange.directory.add(
            party_id, name, role, folder=route, queue=queue, replace=replace
        )
    where = [record.folder or "", "queue" if record.queue else ""]
    typer.echo(f"{record.party_id} ({record.role}): {' + '.join(w for w in where if w)}")


@party_app.command(
    "list",
    short_help="List the parties.",
    epilog="\b\nExamples:\n  airex party list\n  airex party list --json",
)
def party_list(
    as_json: JsonOpt = False, database: DatabaseOpt = None, home: HomeOpt = None
) -> None:
    """List the parties of the directory: id, role, name, folder, queue."""
    with _exchange(database, None, home) as exchange:
        parties = exchange.directory.all()
    for party in parties:
        _emit(
            as_json,
            party.as_dict(),
            f"{party.party_id}  {party.role}  {party.name}  "
            f"{party.folder or '-'}  {'queue' if party.queue else '-'}",
        )


# --- exchange status -------------------------------------------------------------------------


@exchange_app.command(
    "status",
    short_help="Messages per state and status, open outbox rows, dead letters.",
    epilog=(
        "\b\nExamples:\n  airex exchange status\n  airex exchange status --json\n"
        "\n\nStates: pending (waiting for a worker), done (processed and acknowledged), dead "
        "(given up on: see the dead letters and their reasons)."
    ),
)
def exchange_status(
    as_json: JsonOpt = False, database: DatabaseOpt = None, home: HomeOpt = None
) -> None:
    """Show how many messages are pending, done or dead, per status, and the dead letters."""
    with _exchange(database, None, home) as exchange:
        status = exchange.status()
    if as_json:
        _emit(True, status.as_dict(), "")
        return
    lines = ["received:"]
    lines += [f"  {k:<10} {v:>8}" for k, v in sorted(status.states.items())] or ["  (none)"]
    lines.append("statuses:")
    lines += [f"  {k:<34} {v:>8}" for k, v in sorted(status.statuses.items())] or ["  (none)"]
    lines.append(f"acknowledgements sent: {status.acknowledgements}")
    lines.append(f"batches waiting for entries: {status.open_batches}")
    open_rows = ", ".join(f"{k} {v}" for k, v in sorted(status.outbox_open.items())) or "none"
    lines.append(f"outbox rows not yet done: {open_rows}")
    lines.append(f"dead letters: {status.dead_letter_count}")
    lines += [
        f"  #{d.received_id} after {d.attempts} attempt(s), {d.created_at:%Y-%m-%d %H:%M:%S}: "
        f"{d.reason}"
        for d in status.dead_letters
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def register(app: typer.Typer) -> None:
    """Add the exchange's commands to the main ``airex`` app."""
    app.command(
        "send",
        short_help="Hand messages or batches to the exchange.",
        epilog=(
            "\b\nExamples:\n"
            "  airex send request.xml --as PADPIDA2026DEV01\n"
            "  airex send outbox/20260420091500000 --wait 30   # a batch; print the ACK\n"
            "  airex send *.xml --json" + _CONFIG_NOTE
        ),
    )(send)
    app.command(
        "worker",
        short_help="Run a worker that processes received messages.",
        epilog=(
            "\b\nExamples:\n"
            "  airex worker --concurrency 4\n"
            "  AIREX_BROKER_URL=amqp://airex:secret@mq:5672/airex \\\n"
            "  AIREX_DATABASE_URL=postgresql://airex@db/airex airex worker -n w1@%h" + _CONFIG_NOTE
        ),
    )(worker)
    app.command(
        "serve",
        short_help="Watch the drop folders and relay the outbox.",
        epilog="\b\nExamples:\n  airex serve\n  airex serve --once" + _CONFIG_NOTE,
    )(serve_command)
    app.add_typer(party_app, name="party")
    app.add_typer(exchange_app, name="exchange")
