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

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airex.cli._common import APP_SETTINGS, out, plural
from airex.cli._database import open_registry
from airex.cli._files import display_name, format_error, require_files
from airex.cli._options import DatabaseOpt
from airex.cli._registry_check import check_app
from airex.cli._registry_works import works_app

if TYPE_CHECKING:
    from airex.registry import Registry

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
    **APP_SETTINGS,
)


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
    with open_registry(database) as registry, _progress(len(files)) as advance:
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
        f"imported {plural(len(files) - failed, 'file')} ({total.summary()}), {failed} failed",
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
        out(f"{name}: FileUnreadable: cannot read the file: {exc.strerror or exc}")
        return None
    result = airex.check(raw)
    if result.errors:
        for error in result.errors:
            out(format_error(name, error))
        return None
    if result.message_type != "WorkDeclarationMessage":
        out(f"{name}: a {result.message_type}, not a WorkDeclarationMessage; skipped")
        return None
    try:
        imported = registry.import_declaration(airex.parse(raw), raw=raw)
    except registry_error as exc:
        out(f"{name}: {exc}")
        return None
    out(f"{name}: {imported.summary()}")
    for conflict in imported.conflict_details:
        out(f"{name}: conflict: {conflict}")
    return imported


# ``check`` and ``works``, after ``import`` in this order, each from its own module.
registry_app.add_typer(check_app)
registry_app.add_typer(works_app)
