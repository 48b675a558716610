"""``airex registry``: import work declarations, check usage against preferences, list works.

* ``import FILE...`` — WorkDeclarationMessages into the registry (each validated first);
* ``check --licence L USAGE_FILE...`` — every record of a usage report: permitted or not, and
  why (opted in, opted out, unknown work, outside the repertoire or term...);
* ``works`` — the registry's works, as a table or JSON Lines.

Every command takes ``--database URL`` like ``airex ledger`` (default ``$AIREX_DATABASE_URL``,
else ``./airex.db``; create the tables with ``airex db upgrade``). ``check`` takes
``--regime`` (default ``$AIREX_PREFERENCE_REGIME``, else opt-in). Exit status: 0 success,
1 a file was invalid or (``check``) a record is not permitted, 2 a usage error or a database
that cannot be used.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from airex.cli._files import display_name, format_error, require_files
from airex.cli._ledger import DatabaseOpt, _engine, _fail, _table

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airex.registry import LicenceScope, Registry, WorkPublic

__all__ = ["registry_app"]

PROGRESS_THRESHOLD = 20
"""``import`` shows a progress bar (on a terminal) when it imports more files than this."""

registry_app = typer.Typer(
    name="registry",
    help=(
        "The registry of works: identifiers, rightsholder shares and AI-use preferences, "
        "with every declaration kept as a version. Import WorkDeclarationMessages, check "
        "usage reports against the works' preferences, list the works."
    ),
    epilog=(
        "\b\nExamples:\n"
        "  airex db upgrade                                       # create the tables\n"
        "  airex registry import samples/work-declaration/*.xml   # declarations in\n"
        "  airex registry check --licence HARM-LIC-2026-0042 q1.tsv.gz > q1-check.tsv\n"
        "  airex registry works --json                            # JSON Lines\n"
        "\n\nThe database is --database URL, else $AIREX_DATABASE_URL, else ./airex.db."
    ),
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
)

RegimeOpt = Annotated[
    str | None,
    typer.Option(
        "--regime",
        metavar="REGIME",
        help=(
            "What works without a stated preference get: opt-in (not permitted; UK CLA, "
            "STIM) or opt-out (permitted; EU TDM exception). Default: "
            "$AIREX_PREFERENCE_REGIME, else opt-in."
        ),
        show_default=False,
    ),
]


@contextmanager
def _registry(database: str | None, regime: str | None = None) -> Iterator[Registry]:
    """The registry on the chosen database; its errors exit with status 2."""
    from airex.registry import Registry, RegistryConfigError, RegistrySettings

    try:
        settings = (
            RegistrySettings(regime=regime)  # type: ignore[arg-type]
            if regime is not None
            else RegistrySettings.from_env()
        )
    except RegistryConfigError as exc:
        raise _fail(str(exc)) from None
    with _engine(database) as engine:
        yield Registry(engine, settings)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A Rich progress bar on stderr (terminal only, many files); yields ``advance``."""
    if not (total > PROGRESS_THRESHOLD and sys.stderr.isatty()):
        yield _no_advance
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True, soft_wrap=True),
        transient=True,
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=False,
    )
    task = progress.add_task("importing", total=total)
    with progress:
        yield lambda: progress.advance(task)


def _no_advance() -> None:
    """Nothing to advance when no progress bar is shown."""


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")


# --- import ----------------------------------------------------------------------------------


@registry_app.command(
    "import",
    short_help="Import WorkDeclarationMessages (validated first).",
    epilog=(
        "\b\nExamples:\n"
        "  airex registry import samples/work-declaration/*.xml\n"
        "  airex registry import --database postgresql://airex@db/airex inbox/*.xml\n"
        "\n\nEach file is validated (XSD and business rules) first: an invalid file is "
        "reported FILE:LINE: CODE PATH: MESSAGE, as by airex validate, and skipped. Each "
        "imported file prints FILE: N works: new works, new versions, unchanged, conflicts; "
        "each conflict (an identifier another work holds) follows on its own line. Importing "
        "the same message again changes nothing.\n\nExit status: 0 when every file was "
        "imported, 1 when any was invalid or refused, 2 on a usage, configuration or database "
        "error (e.g. no database: run airex db upgrade first)."
    ),
)
def import_(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE", help="WorkDeclarationMessage files to import.", show_default=False
        ),
    ],
    database: DatabaseOpt = None,
) -> None:
    """Import WorkDeclarationMessages into the registry.

    The works belong to the party a message is sent on behalf of (SentOnBehalfOf), else to
    its sender; a declaration takes effect on the UTC date of its MessageCreatedDateTime and
    supersedes the same party's earlier declaration of the work from then on. A summary goes
    to standard error.
    """
    import airex
    from airex.registry import ImportResult, RegistryError

    require_files(files)
    failed = 0
    total = ImportResult("")
    with _registry(database) as registry, _progress(len(files)) as advance:
        for path in files:
            name = display_name(path)
            result = _import_file(registry, path, name, airex, RegistryError)
            if result is None:
                failed += 1
            else:
                total = total + result
            advance()
    sys.stdout.flush()
    typer.echo(
        f"imported {_plural(len(files) - failed, 'file')} ({total.summary()}), {failed} failed",
        err=True,
    )
    raise typer.Exit(1 if failed else 0)


def _import_file(
    registry: Registry, path: str, name: str, airex: Any, registry_error: type[Exception]
) -> Any:
    """Validate and import one file; print what happened; ``None`` when it failed."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        _write(f"{name}: FileUnreadable: cannot read the file: {exc.strerror or exc}")
        return None
    result = airex.check(raw)
    if result.errors:
        for error in result.errors:
            _write(format_error(name, error))
        return None
    if result.message_type != "WorkDeclarationMessage":
        _write(f"{name}: a {result.message_type}, not a WorkDeclarationMessage; skipped")
        return None
    try:
        imported = registry.import_declaration(airex.parse(raw), raw=raw)
    except registry_error as exc:
        _write(f"{name}: {exc}")
        return None
    _write(f"{name}: {imported.summary()}")
    for conflict in imported.conflict_details:
        _write(f"{name}: conflict: {conflict}")
    return imported


# --- check -----------------------------------------------------------------------------------


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _scope_from_register(engine: Engine, licence_id: str, start: date, end: date) -> LicenceScope:
    """The licence's scope from the grant register: its terms as of the period's end; its
    status Granted only if every state in effect during the period was."""
    import airex
    from airex.ledger import GrantRegister
    from airex.messages import LicenceMessage
    from airex.registry import LicenceScope

    register = GrantRegister(engine)
    latest = register.state_on(licence_id, end)
    if latest is None:
        raise _fail(
            f"licence {licence_id} is not in the grant register on {end} (record its "
            "LicenceMessage, or give it with --licence-file LICENCE.xml)"
        )
    source = register.source_message(latest.id)
    if source is None:
        raise _fail(
            f"the grant register keeps no message for licence {licence_id} (state "
            f"{latest.source_message_id}); give it with --licence-file LICENCE.xml"
        )
    message = airex.parse(source)
    if not isinstance(message, LicenceMessage):
        raise _fail(f"grant {latest.id} of licence {licence_id} holds a {message.message_type}")
    status = str(latest.status)
    first = register.state_on(licence_id, start)
    during = [
        g
        for g in register.history(licence_id)
        if _start(start) < g.effective_at < _start(end + timedelta(days=1))
    ]
    for state in [first, *during]:
        if state is not None and str(state.status) != "Granted":
            status = str(state.status)
            break
    return LicenceScope.from_terms(licence_id, status, message.licence.licence_terms)


def _scope_from_file(path: str, licence_id: str | None) -> LicenceScope:
    import airex
    from airex.messages import LicenceMessage
    from airex.registry import LicenceScope

    require_files([path], param="--licence-file")
    name = display_name(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise _fail(f"cannot read {name}: {exc.strerror or exc}") from None
    result = airex.check(raw)
    if result.errors:
        for error in result.errors:
            typer.echo(format_error(name, error), err=True)
        raise _fail(f"{name} is not a valid LicenceMessage", 1)
    message = airex.parse(raw)
    if not isinstance(message, LicenceMessage):
        raise _fail(f"{name} is a {message.message_type}, not a LicenceMessage", 1)
    licence = message.licence
    if licence_id is not None and licence.licence_id != licence_id:
        raise _fail(f"{name} is licence {licence.licence_id}, not {licence_id}")
    return LicenceScope.from_terms(
        licence.licence_id, str(licence.licence_status), licence.licence_terms
    )


@registry_app.command(
    short_help="Check a usage report's records against the registry: permitted or not, why.",
    epilog=(
        "\b\nExamples:\n"
        "  airex registry check --licence HARM-LIC-2026-0042 q1.tsv.gz > q1-check.tsv\n"
        "  airex registry check --licence-file licence.xml --out check.tsv report.xml\n"
        "  airex registry check --json --regime opt-out report_1of3.tsv.gz | jq .\n"
        "\n\nOutput: a heading line, then one tab-separated line per record: FILE, LINE, "
        "WORK_ID (the record's first identifier), USE_TYPE, REASON (OptedIn, OptedOut, "
        "NoPreferenceOptInRegime, NoPreferenceOptOutRegime, UnknownWork, "
        "UnknownWorkOptOutRegime, OutsideRepertoire, UseTypeNotLicensed, OutsideTerm, "
        "LicenceNotInForce), PERMITTED (yes/no). With --json, one JSON object per record "
        "instead. The counts per reason go to standard error.\n\nThe licence's terms and "
        "status come from the grant register (the terms in force at the end of the "
        "reporting period; not in force if any state during the period was not Granted), or "
        "from --licence-file.\n\nExit status: 0 when every record is permitted, 1 when any "
        "is not, the report has errors or the --licence-file is not a valid LicenceMessage, "
        "2 on a usage, configuration or database error."
    ),
)
def check(
    files: Annotated[
        list[str],
        typer.Argument(
            metavar="USAGE_FILE",
            help="The usage report: one XML file, or a flat file (one part of a split "
            "report finds the others by name).",
            show_default=False,
        ),
    ],
    licence: Annotated[
        str | None,
        typer.Option(
            "--licence",
            metavar="L",
            help="The licence to check against. Default: the report's LicenceId.",
            show_default=False,
        ),
    ] = None,
    licence_file: Annotated[
        str | None,
        typer.Option(
            "--licence-file",
            metavar="LICENCE.xml",
            help="Take the licence's terms and status from this LicenceMessage instead of "
            "the grant register.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Write the records' lines to FILE instead of standard output.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='One JSON object per record: {"file", "line", "work_id", "use_type", '
            '"work_key", "reason", "permitted"}.',
        ),
    ] = False,
    database: DatabaseOpt = None,
    regime: RegimeOpt = None,
) -> None:
    """Decide every record of a usage report: may the work be used for the use type?"""
    from airex.errors import MessageInvalidError
    from airex.formats.usage import open_report

    require_files(files, param="USAGE_FILE")
    try:
        reader = open_report(files, strict=False)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="USAGE_FILE") from exc
    try:
        header = reader.header
    except MessageInvalidError:
        for error in reader.errors:
            typer.echo(format_error(error.file or display_name(files[0]), error), err=True)
        typer.echo("airex: the report cannot be read (see the errors above)", err=True)
        raise typer.Exit(1) from None
    licence_id = licence or header.licence_id
    if licence is not None and licence != header.licence_id:
        typer.echo(
            f"airex: warning: the report is for licence {header.licence_id}; checking it "
            f"against {licence}",
            err=True,
        )
    start, end = header.reporting_period.start_date, header.reporting_period.end_date
    counts: dict[str, int] = {}
    with _registry(database, regime) as registry:
        if licence_file is not None:
            scope = _scope_from_file(licence_file, licence)
        else:
            scope = _scope_from_register(registry.engine, licence_id, start, end)
        checker = registry.checker(scope, start, end)
        with _output(out) as stream:
            if not as_json:
                stream.write("file\tline\twork_id\tuse_type\treason\tpermitted\n")
            try:
                for row in reader:
                    decision = checker.check_any(row.work_ids, row.use_type)
                    reason = str(decision.reason)
                    counts[reason] = counts.get(reason, 0) + 1
                    if as_json:
                        stream.write(
                            json.dumps(
                                {
                                    "file": row.file,
                                    "line": row.line,
                                    "work_id": str(row.work),
                                    "use_type": row.use_type,
                                    "work_key": decision.work_key,
                                    "reason": reason,
                                    "permitted": decision.permitted,
                                },
                                ensure_ascii=False,
                            )
                            + "\n"
                        )
                    else:
                        permitted = "yes" if decision.permitted else "no"
                        stream.write(
                            f"{row.file}\t{row.line}\t{row.work}\t{row.use_type}\t"
                            f"{reason}\t{permitted}\n"
                        )
            except MessageInvalidError:
                pass  # the reader has recorded why in reader.errors
            if out is not None and _damaged(reader.errors):
                raise _Discarded  # a report not read whole: no decisions file
    for error in reader.errors:
        typer.echo(format_error(error.file or display_name(files[0]), error), err=True)
    if out is not None and _damaged(reader.errors):
        typer.echo(f"airex: the report is damaged: nothing written to {out}", err=True)
    _summary(scope.licence_id, start, end, counts, registry.settings.regime)
    from airex.registry import Reason

    refused = sum(n for reason, n in counts.items() if not Reason(reason).permitted)
    raise typer.Exit(1 if refused or reader.errors else 0)


_DAMAGE_CODES = frozenset({"FootMissing", "ReportPartMissing", "FileUnreadable"})


class _Discarded(Exception):
    """Raised in an ``_output`` block: what was written there is thrown away."""


def _damaged(errors: list[Any]) -> bool:
    """True when the report could not be read whole (cut short, broken, a part missing)."""
    return any(e.status == "XmlNotWellFormed" or e.code in _DAMAGE_CODES for e in errors)


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """Standard output, or ``path`` written under a temporary name and moved into place."""
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    temporary = f"{path}.part"
    try:
        handle = open(temporary, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise _fail(f"cannot write {display_name(path)}: {exc.strerror or exc}") from None
    try:
        with handle:
            yield handle
        os.replace(temporary, path)
    except _Discarded:
        pass  # the caller decided that what was written is not to be kept
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _summary(licence_id: str, start: date, end: date, counts: dict[str, int], regime: Any) -> None:
    from airex.registry import Reason

    records = sum(counts.values())
    permitted = sum(n for reason, n in counts.items() if Reason(reason).permitted)
    typer.echo(
        f"{_plural(records, 'record')} under licence {licence_id}, {start} to {end} "
        f"({regime} regime): {permitted} permitted, {records - permitted} not permitted",
        err=True,
    )
    for reason in Reason:
        if counts.get(reason):
            yes = "permitted" if reason.permitted else "not permitted"
            typer.echo(f"  {reason.value:<26} {counts[reason]:>10}  {yes}", err=True)


# --- works -----------------------------------------------------------------------------------


def _work_row(work: WorkPublic) -> list[str]:
    shares = ", ".join(
        f"{s.party_id} {s.percentage}%"
        + ("" if s.territories == ["Worldwide"] else f" {s.territories}")
        for s in work.shares
    )
    preferences = ", ".join(f"{p.use_type} {p.preference}" for p in work.preferences)
    return [
        str(work.key),
        work.owner,
        work.work_type,
        work.title,
        " ".join(f"{i.type}::{i.value}" for i in work.ids),
        shares,
        preferences or "-",
        str(work.versions),
    ]


@registry_app.command(
    short_help="List the works: ids, title, type, shares, preferences, versions.",
    epilog=(
        "\b\nExamples:\n"
        "  airex registry works\n"
        "  airex registry works --json --on 2026-03-31 > works.jsonl\n"
        "\n\nEach work is shown with its version in effect on --on DATE (default: its latest "
        "version). A JSON object holds the work's key, owner, versions (how many) and the "
        "version's version_id, effective_from, declared_at, source, reference, title, "
        "work_type, contains_ai, contributors, ids (type, value, namespace, key, resolves), "
        "shares (party_id, percentage, territories, excluded) and preferences (use_type, "
        "preference, effective_date, territories, excluded)."
    ),
)
def works(
    database: DatabaseOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON Lines: one work a line.")
    ] = False,
    on: Annotated[
        datetime | None,
        typer.Option(
            "--on",
            metavar="DATE",
            formats=["%Y-%m-%d"],
            help="Show each work as declared on DATE (YYYY-MM-DD). Default: the latest.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List every work of the registry with its version in effect."""
    day = on.date() if on is not None else None
    with _registry(database) as registry:
        if as_json:
            for work in registry.works(day):
                _write(json.dumps(work.model_dump(mode="json"), ensure_ascii=False))
            return
        rows = [_work_row(work) for work in registry.works(day)]
    _table(
        ["KEY", "OWNER", "TYPE", "TITLE", "IDS", "SHARES", "PREFERENCES", "VERSIONS"],
        rows,
        right={0, 7},
    )
