"""``airex ledger`` and ``airex db``: read and check the ledger, create and upgrade its schema.

Two Typer sub-apps, registered on the main app as ``ledger`` and ``db``:

* ``ledger_app``: ``accounts``, ``balances``, ``journal``, ``grants`` (read-only views, plain
  aligned columns, or JSON Lines with ``--json``) and ``check`` (every invariant of
  :mod:`airex.ledger.check`);
* ``db_app``: ``upgrade`` (the Alembic migrations shipped in :mod:`airex.ledger`).

Every command takes ``--database URL``; without it the ledger's own configuration applies
(``AIREX_DATABASE_URL``, else ``./airex.db``), which must exist except for ``db upgrade`` (see
:mod:`airex.cli._database`). Exit status: 0 success, 1 ``check`` found a violation, 2 a usage
error or a database that cannot be used (missing, unreachable, not migrated).
Tables are drawn with Rich on a terminal and written as plain text on a pipe or file.

:mod:`airex.ledger` (SQLAlchemy, SQLModel, Alembic: half a second to import) is imported by the
commands that use it, never at import time, so the rest of ``airex`` starts as fast as before.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from airex.cli._common import APP_SETTINGS, emit_json, fail, table
from airex.cli._database import database_config, open_engine
from airex.cli._options import DatabaseOpt

if TYPE_CHECKING:
    from airex.ledger import GrantPublic

__all__ = ["db_app", "ledger_app"]

ledger_app = typer.Typer(
    name="ledger",
    help=(
        "Read and check the ledger: accounts, balances, the journal, the grant register.\n\n"
        "The ledger is double-entry and append-only: every journal entry's postings sum to "
        "zero per currency, amounts are exact minor units, entries are reversed, never "
        "edited. Amounts are signed: debits positive, credits negative."
    ),
    epilog=(
        "\b\nExamples:\n"
        "  airex ledger balances --party PADPIDA2026CMO01    # one party's accounts\n"
        "  airex ledger balances --as-of 2026-03-31 --json   # at a quarter's end, JSON\n"
        "  airex ledger journal --limit 20                   # the newest 20 entries\n"
        "  airex ledger grants --in-force-on 2026-03-01      # licences in force then\n"
        "  airex ledger check                                # verify every invariant\n"
        "\n\nThe database is --database URL, else $AIREX_DATABASE_URL, else ./airex.db."
    ),
    **APP_SETTINGS,
)

db_app = typer.Typer(
    name="db",
    help="Create or upgrade the database schema (SQLite file or PostgreSQL).",
    epilog=(
        "\b\nExamples:\n"
        "  airex db upgrade                                          # ./airex.db\n"
        "  airex db upgrade --database postgresql://airex@db/airex   # a server\n"
        "\n\nThe database is --database URL, else $AIREX_DATABASE_URL, else ./airex.db."
    ),
    **APP_SETTINGS,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON Lines: one JSON object per row.")]
PartyOpt = Annotated[
    str | None,
    typer.Option(
        "--party", metavar="P", help="Only accounts of party P (a party id).", show_default=False
    ),
]
DateOpt = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        formats=["%Y-%m-%d"],
        help="Balances at the end of DATE (YYYY-MM-DD), by effective date. Default: now.",
        show_default=False,
    ),
]


# --- output --------------------------------------------------------------------------------


def _side(minor: int) -> str:
    return "Dr" if minor > 0 else "Cr" if minor < 0 else ""


# --- ledger commands -----------------------------------------------------------------------


@ledger_app.command(
    short_help="List the accounts (party, kind, currency, licence).",
    epilog=(
        "\b\nExamples:\n"
        "  airex ledger accounts\n"
        "  airex ledger accounts --party PADPIDA2026CMO01 --json\n"
        "\n\nAccount kinds: licensee_receivable, cash, distributable_pool (per licence), "
        "rightsholder_payable, admin_fee_revenue, suspense, unclaimed."
    ),
)
def accounts(
    database: DatabaseOpt = None, party: PartyOpt = None, as_json: JsonOpt = False
) -> None:
    """List the accounts: one per (party, kind, currency), per licence for pools."""
    from airex.ledger import Journal

    with open_engine(database) as engine:
        found = Journal(engine).accounts(party=party)
    if as_json:
        emit_json([a.model_dump(mode="json") for a in found])
        return
    table(
        ["ID", "PARTY", "KIND", "CURRENCY", "LICENCE"],
        [[str(a.id), a.party, str(a.kind), a.currency, a.licence_id or "-"] for a in found],
        right={0},
    )


@ledger_app.command(
    short_help="Show account balances, now or as of a date.",
    epilog=(
        "\b\nExamples:\n"
        "  airex ledger balances\n"
        "  airex ledger balances --party PADPIDA2026DEV01 --as-of 2026-03-31\n"
        "  airex ledger balances --json | jq 'select(.balance_minor != 0)'\n"
        "\n\nBALANCE is signed (debit > 0) and followed by its side, Dr or Cr. A JSON object "
        'holds "account", "balance" (a decimal string), "balance_minor", "posting_count" '
        'and "as_of".'
    ),
)
def balances(
    database: DatabaseOpt = None,
    party: PartyOpt = None,
    as_of: DateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show each account's balance: now, or at the end of --as-of DATE (by effective date)."""
    from airex.ledger import Journal

    day: date | None = as_of.date() if as_of is not None else None
    with open_engine(database) as engine:
        found = Journal(engine).balances(party=party, as_of=day)
    if as_json:
        emit_json([b.model_dump(mode="json") for b in found])
        return
    table(
        ["PARTY", "KIND", "LICENCE", "CURRENCY", "BALANCE", "SIDE", "POSTINGS"],
        [
            [
                b.account.party,
                str(b.account.kind),
                b.account.licence_id or "-",
                b.account.currency,
                format(b.balance, "f"),
                _side(b.balance_minor),
                str(b.posting_count),
            ]
            for b in found
        ],
        right={4, 6},
    )


@ledger_app.command(
    short_help="Show journal entries and their postings.",
    epilog=(
        "\b\nExamples:\n"
        "  airex ledger journal --limit 20\n"
        "  airex ledger journal --party PADPIDA2026DEV01 --json\n"
        "\n\nEach entry is a line '#ID EFFECTIVE-DATE KEY DESCRIPTION' followed by its "
        "postings, 'Dr|Cr ACCOUNT AMOUNT CURRENCY', indented."
    ),
)
def journal(
    database: DatabaseOpt = None,
    party: Annotated[
        str | None,
        typer.Option(
            "--party",
            metavar="P",
            help="Only entries with a posting on an account of party P.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", metavar="N", min=1, help="Only the newest N entries.", show_default=False
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show journal entries in posting order, each with its postings."""
    from airex.ledger import Journal

    with open_engine(database) as engine:
        found = Journal(engine).entries(party=party, limit=limit)
    if as_json:
        emit_json([e.model_dump(mode="json") for e in found])
        return
    for entry in found:
        reversal = f" (reverses #{entry.reverses_entry_id})" if entry.reverses_entry_id else ""
        text = f" {entry.description}" if entry.description else ""
        sys.stdout.write(
            f"#{entry.id} {entry.effective_on} {entry.idempotency_key}{reversal}{text}\n"
        )
        for posting in entry.postings:
            sys.stdout.write(
                f"    {_side(posting.amount_minor)} {posting.account.label()} "
                f"{format(abs(posting.amount), 'f')} {posting.account.currency}\n"
            )


def _grant_row(grant: GrantPublic) -> list[str]:
    works = "all works" if grant.all_works else f"{len(grant.work_ids)} work(s)"
    term = f"{grant.term_start}..{grant.term_end or ''}"
    territory = ",".join(grant.territories)
    if grant.excluded_territories:
        territory += " -" + ",".join(grant.excluded_territories)
    return [
        grant.licence_id,
        str(grant.status),
        grant.issued_at.isoformat().replace("+00:00", "Z"),
        grant.licensee,
        term,
        ",".join(grant.use_types),
        works,
        territory,
    ]


@ledger_app.command(
    short_help="Show the grant register: licence states, or licences in force.",
    epilog=(
        "\b\nExamples:\n"
        "  airex ledger grants                                # every state of every licence\n"
        "  airex ledger grants --licence LIC-2026-0001        # one licence's history\n"
        "  airex ledger grants --in-force-on 2026-03-01 --licensee PADPIDA2026DEV01 \\\n"
        "      --use-type UseForTrainingGenerativeAI --work ISRC::SEABC2600001\n"
        "\n\nA licence is in force on a day when its state then (the latest issued by the "
        "end of that day, UTC) is Granted and the day lies within its term."
    ),
)
def grants(
    database: DatabaseOpt = None,
    licence: Annotated[
        str | None,
        typer.Option("--licence", metavar="L", help="Only licence L.", show_default=False),
    ] = None,
    in_force_on: Annotated[
        datetime | None,
        typer.Option(
            "--in-force-on",
            metavar="DATE",
            formats=["%Y-%m-%d"],
            help="Instead of the history, the licences in force on DATE (YYYY-MM-DD).",
            show_default=False,
        ),
    ] = None,
    licensee: Annotated[
        str | None,
        typer.Option(
            "--licensee",
            metavar="P",
            help="With --in-force-on: only for licensee P.",
            show_default=False,
        ),
    ] = None,
    work: Annotated[
        str | None,
        typer.Option(
            "--work",
            metavar="ID",
            help="With --in-force-on: only those covering work ID.",
            show_default=False,
        ),
    ] = None,
    use_type: Annotated[
        str | None,
        typer.Option(
            "--use-type",
            metavar="U",
            help="With --in-force-on: only those permitting U.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show every recorded licence state in time order, or the licences in force on a date."""
    from airex.ledger import GrantRegister

    if in_force_on is None and (licensee or work or use_type):
        raise fail("--licensee, --work and --use-type go with --in-force-on DATE")
    with open_engine(database) as engine:
        register = GrantRegister(engine)
        if in_force_on is None:
            found = register.history(licence)
        else:
            found = register.in_force(
                in_force_on.date(), licensee=licensee, work_id=work, use_type=use_type
            )
            if licence is not None:
                found = [g for g in found if g.licence_id == licence]
    if as_json:
        emit_json([g.model_dump(mode="json") for g in found])
        return
    table(
        ["LICENCE", "STATUS", "ISSUED", "LICENSEE", "TERM", "USE TYPES", "WORKS", "TERRITORY"],
        [_grant_row(g) for g in found],
        right=set(),
    )


@ledger_app.command(
    short_help="Verify every ledger invariant; exit 1 with a report if any fails.",
    epilog=(
        "\b\nExamples:\n"
        "  airex ledger check\n"
        "  airex ledger check --json\n"
        "\n\nInvariants: every row refers to rows that exist; every amount, balance and count "
        "is an integer; every entry has two or more postings that balance per currency; "
        "total debits equal total credits; postings are in their account's currency; one "
        "entry per idempotency key; posted rows are unchanged (content hashes) and the "
        "database refuses to change them (triggers identical to the migration's); reversals "
        "negate their originals and do not precede them; "
        "every balance equals the sum of its postings (now and per day); grant events are "
        "unchanged.\n\nExit status: 0 all hold, 1 any is broken, 2 the database cannot be "
        "read (no database, not reachable, or not upgraded: nothing is checked)."
    ),
)
def check(database: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Verify every invariant over the whole database and report each violation.

    Each violation is one line on standard output, INVARIANT: WHERE: WHAT, for example
    "entry-balances: entry 12: its EUR postings sum to 0.01 EUR, not 0". A summary goes to
    standard error.
    """
    from airex.ledger import check_ledger, require_current

    with open_engine(database) as engine:
        require_current(engine)  # a schema that is not the code's is exit 2, like elsewhere
        report = check_ledger(engine)
    if as_json:
        emit_json([report.as_dict()])
    else:
        lines = report.lines()
        for line in lines[:-1]:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        typer.echo(lines[-1], err=True)
    raise typer.Exit(0 if report.ok else 1)


# --- db commands ---------------------------------------------------------------------------


@db_app.command(
    "upgrade",
    short_help="Create the ledger's tables, or upgrade them to this airex's revision.",
    epilog=(
        "\b\nExamples:\n"
        "  airex db upgrade\n"
        "  AIREX_DATABASE_URL=postgresql://airex@db/airex airex db upgrade\n"
        "\n\nSafe to run again (does nothing when the schema is current) and from several "
        "processes at once (they take turns)."
    ),
)
def upgrade_schema(database: DatabaseOpt = None) -> None:
    """Create or upgrade every part's tables to the newest revision (Alembic migrations).

    Each part (ledger, registry, royalties, exchange) has its own migration history in the same
    database; they are upgraded in dependency order, one line of output each. On PostgreSQL the
    ledger's upgrade also installs the triggers that make the database refuse UPDATE and DELETE
    of posted rows; SQLite gets the equivalent triggers.
    """
    from airex.db import upgrade_all

    with open_engine(database, create=True) as engine:
        where = database_config(database).display_url()
        for step in upgrade_all(engine):
            if not step.changed:
                typer.echo(
                    f"{where}: already at {step.name} schema revision {step.after} "
                    f"(head {step.head})"
                )
            else:
                typer.echo(
                    f"{where}: upgraded {step.name} schema from {step.before or 'nothing'} "
                    f"to {step.after}"
                )
