"""The ``airex`` command: Typer application, its commands and their options.

Rich is imported only by the commands that draw with it (``show``, and the progress bar of
``validate`` on a terminal), so ``airex --help`` and ``airex validate`` in a pipeline stay quick.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from airex import __version__
from airex.cli._batch import batch_app
from airex.cli._common import out, plural
from airex.cli._demo import demo
from airex.cli._exchange import register as register_exchange
from airex.cli._files import Outcome, check_file, collect, parse_file, require_files
from airex.cli._ledger import db_app, ledger_app
from airex.cli._options import EXIT_STATUSES, use_airex_commands
from airex.cli._registry import registry_app
from airex.cli._royalties import royalties_app
from airex.cli._usage import usage_app
from airex.xml import ParseLimits

__all__ = ["app", "main"]

PROGRESS_THRESHOLD = 20
"""``validate`` shows a progress bar (on a terminal) when it checks more files than this."""

_DEFAULT_MAX_BYTES = ParseLimits().max_bytes

app = typer.Typer(
    name="airex",
    epilog=(
        "\b\nExamples:\n"
        "  airex validate samples --exclude invalid   # every sample: XSD + business rules\n"
        "  airex show samples/licence/*.xml           # licences in readable form\n"
        "  airex demo -n 2000                         # a whole cycle, in a new folder\n"
        "  airex db upgrade                           # create ./airex.db\n"
        "  airex validate --help                      # a command's options and examples\n"
        "\n\nThe database is --database URL, else $AIREX_DATABASE_URL, else ./airex.db; "
        "only airex db upgrade (and airex demo, in its folder) creates one.\n\n" + EXIT_STATUSES
    ),
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"airex {__version__}")
        raise typer.Exit


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the airex version (airex X.Y.Z) and exit.",
            callback=_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """airex, the AI Rights Exchange: messages, registry, licences, usage, royalties, ledger.

    The whole exchange in one command: its messages, the registry of works, licences, usage
    reports, invoices and royalties, the ledger, batches, the exchange's folders and queues,
    and a demo that plays a whole cycle.

    Rightsholders, collective management organisations (CMOs) and AI developers exchange
    airex messages (standard 1.0, namespace urn:airex:xml:1) to declare works and AI-use
    preferences, offer and grant licences, report usage, invoice, pay and distribute
    royalties. This one command does all of it: validate and show check and read messages;
    registry keeps the works and their preferences and checks usage against them; usage
    reads, converts and generates huge usage reports; royalties prices usage into invoices,
    records payments, distributes them and writes royalty statements; ledger reads and
    checks the double-entry ledger and the grant register; batch packs, verifies and unpacks
    batches; send, worker, serve, party and exchange run the exchange itself (drop folders,
    queues, acknowledgements); db upgrade creates the database; demo plays a whole cycle.
    """
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit


PathsArg = Annotated[
    list[str],
    typer.Argument(
        metavar="PATH",
        help="Message files, or folders to search recursively for *.xml files.",
        show_default=False,
    ),
]
MaxBytesOpt = Annotated[
    int,
    typer.Option(
        "--max-bytes",
        metavar="N",
        min=1,
        help=(
            "Refuse (SizeLimitExceeded) any file larger than N bytes, before parsing it. "
            "Example: --max-bytes 1000000."
        ),
    ),
]


@contextmanager
def _progress_bar(total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A Rich progress bar on stderr, only on a terminal and for many files; yields `advance`."""
    if not (enabled and total > PROGRESS_THRESHOLD and sys.stderr.isatty()):
        yield _no_advance
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True, soft_wrap=True),  # never break long lines of stdout
        transient=True,
        # Lines for stdout must not tear the bar: when stdout is the same terminal, Rich
        # prints them above it; when stdout is a file or a pipe, they go there untouched.
        redirect_stdout=sys.stdout.isatty(),
        redirect_stderr=False,
    )
    task = progress.add_task("checking", total=total)
    with progress:
        yield lambda: progress.advance(task)


def _no_advance() -> None:
    """Nothing to advance when no progress bar is shown."""


def _report(outcome: Outcome, *, as_json: bool, verbose: bool) -> None:
    if as_json:
        out(json.dumps(outcome.as_json(), ensure_ascii=False))
        return
    for line in outcome.lines():
        out(line)
    if outcome.valid and verbose:
        result = outcome.result
        out(f"{outcome.name}: OK {result.message_type} {result.message_id}")


@app.command(
    short_help="Check messages (XSD + business rules); print every error.",
    epilog=(
        "\b\nExamples:\n"
        "  airex validate licence.xml                    # one message\n"
        "  airex validate samples --exclude invalid      # a folder, less samples/invalid/\n"
        "  airex validate --json inbox/ > report.jsonl   # one JSON object per file\n"
        "\n\nExit status: 0 when every file is valid, 1 when any is invalid, "
        "2 on a usage error (e.g. no such path)."
    ),
)
def validate(
    paths: PathsArg,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            "-x",
            metavar="GLOB",
            help=(
                "Skip what a folder search finds when its path relative to the folder, its "
                "name, or the name of a folder on the way matches GLOB (repeatable). "
                "Example: --exclude invalid, or --exclude 'drafts/*.xml'."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help=(
                'Print one JSON object per file: {"file", "valid", "message_type", '
                '"message_id", "errors": [{"code", "path", "line", "message"}]}.'
            ),
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also print a line for each valid file: FILE: OK TYPE ID."
        ),
    ] = False,
    max_bytes: MaxBytesOpt = _DEFAULT_MAX_BYTES,
) -> None:
    """Check messages against the XSD and the business rules; print every error.

    Each error is one line on standard output, FILE:LINE: CODE PATH: MESSAGE, for example
    "licence.xml:12: UnknownCurrency /LicenceMessage/Licence/...: ...". A summary goes to
    standard error. Folders are searched recursively for *.xml files, in sorted order.
    """
    files = collect(paths, exclude or [])
    limits = ParseLimits(max_bytes=max_bytes)
    invalid = errors = 0
    with _progress_bar(len(files), enabled=not as_json) as advance:
        for path in files:
            outcome = check_file(path, limits)
            _report(outcome, as_json=as_json, verbose=verbose)
            if not outcome.valid:
                invalid += 1
                errors += len(outcome.result.errors)
            advance()
    sys.stdout.flush()
    if not as_json:
        summary = (
            f"checked {plural(len(files), 'file')}: {len(files) - invalid} valid, "
            f"{invalid} invalid ({plural(errors, 'error')})"
        )
        typer.echo(summary, err=True)
    raise typer.Exit(1 if invalid else 0)


@app.command(
    short_help="Summarise messages in readable form (parties, terms, figures).",
    epilog=(
        "\b\nExamples:\n"
        "  airex show samples/licence/*.xml     # licences: parties, terms, tariffs\n"
        "  airex show report.xml | less         # plain text when not on a terminal\n"
        "\n\nExit status: 0 when every file is valid, 1 when any is invalid (its errors "
        "are printed as by airex validate), 2 on a usage error."
    ),
)
def show(
    files: Annotated[
        list[str],
        typer.Argument(metavar="FILE", help="Message files to summarise.", show_default=False),
    ],
    max_bytes: MaxBytesOpt = _DEFAULT_MAX_BYTES,
) -> None:
    """Summarise messages in readable form: header, parties and the key figures of each family.

    For example the tariffs and territory of a licence, the totals per use type and unit of
    a usage report, the lines and total of an invoice. An invalid file shows its errors
    instead, in the format of airex validate.
    """
    require_files(files)
    from airex.cli._show import make_console, render

    console = make_console()
    limits = ParseLimits(max_bytes=max_bytes)
    invalid = False
    for path in files:
        outcome = parse_file(path, limits)
        if outcome.message is None:
            invalid = True
            console.file.flush()
            for line in outcome.lines():
                out(line)
            sys.stdout.flush()
        else:
            render(console, outcome.name, outcome.message)
    raise typer.Exit(1 if invalid else 0)


app.add_typer(usage_app, name="usage")
app.add_typer(ledger_app, name="ledger")
app.add_typer(db_app, name="db")
app.add_typer(registry_app, name="registry")
app.add_typer(batch_app, name="batch")
app.add_typer(royalties_app, name="royalties")
register_exchange(app)
app.command(
    "demo",
    short_help="Run a whole cycle (declarations to royalty statements) on the embedded default.",
    epilog=(
        "\b\nExamples:\n"
        "  airex demo                       # 100 000 usage records, in ./airex-demo-<time>\n"
        "  airex demo --records 1000000 --out /tmp/big-demo\n"
        "  airex demo -n 2000               # a quick one\n"
        "  createdb airex_demo && airex demo --database postgresql:///airex_demo \\\n"
        "      --broker amqp://guest:guest@127.0.0.1:5672//   # on servers"
    ),
)(demo)
use_airex_commands(app)


def main() -> None:
    """Entry point of the ``airex`` console script (and of ``python -m airex``)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:  # never die on a character the terminal cannot show
            reconfigure(errors="backslashreplace")
    app(prog_name="airex")
