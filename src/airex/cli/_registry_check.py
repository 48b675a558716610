"""``airex registry check``: decide every record of a usage report against the registry's
preferences and the licence's scope (from the grant register or a LicenceMessage file).

Registered on ``airex registry`` by :mod:`airex.cli._registry`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from airex.cli._common import fail, plural
from airex.cli._database import open_registry
from airex.cli._files import (
    cannot_write,
    display_name,
    format_error,
    require_files,
    require_output_file,
)
from airex.cli._options import DatabaseOpt

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airex.registry import LicenceScope

__all__ = ["check_app"]

check_app = typer.Typer()
"""Holds ``check``; merged into ``airex registry`` (no group of its own)."""

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
        raise fail(
            f"licence {licence_id} is not in the grant register on {end} (record its "
            "LicenceMessage, or give it with --licence-file LICENCE.xml)"
        )
    source = register.source_message(latest.id)
    if source is None:
        raise fail(
            f"the grant register keeps no message for licence {licence_id} (state "
            f"{latest.source_message_id}); give it with --licence-file LICENCE.xml"
        )
    message = airex.parse(source)
    if not isinstance(message, LicenceMessage):
        raise fail(f"grant {latest.id} of licence {licence_id} holds a {message.message_type}")
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

    require_files([path])
    name = display_name(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise fail(f"cannot read {name}: {exc.strerror or exc}") from None
    result = airex.check(raw)
    if result.errors:
        for error in result.errors:
            typer.echo(format_error(name, error), err=True)
        raise fail(f"{name} is not a valid LicenceMessage", 1)
    message = airex.parse(raw)
    if not isinstance(message, LicenceMessage):
        raise fail(f"{name} is a {message.message_type}, not a LicenceMessage", 1)
    licence = message.licence
    if licence_id is not None and licence.licence_id != licence_id:
        raise fail(f"{name} is licence {licence.licence_id}, not {licence_id}")
    return LicenceScope.from_terms(
        licence.licence_id, str(licence.licence_status), licence.licence_terms
    )


@check_app.command(
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

    require_files(files)
    if out is not None:
        require_output_file(out)
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
    with open_registry(database, regime) as registry:
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
        raise cannot_write(path, exc) from None
    try:
        with handle:
            yield handle
        try:
            os.replace(temporary, path)
        except OSError as exc:
            raise cannot_write(path, exc) from None
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
        f"{plural(records, 'record')} under licence {licence_id}, {start} to {end} "
        f"({regime} regime): {permitted} permitted, {records - permitted} not permitted",
        err=True,
    )
    for reason in Reason:
        if counts.get(reason):
            yes = "permitted" if reason.permitted else "not permitted"
            typer.echo(f"  {reason.value:<26} {counts[reason]:>10}  {yes}", err=True)
