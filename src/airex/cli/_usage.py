"""``airex usage``: statistics, conversion and synthetic generation of huge usage reports.

Everything streams: reports of any size are read record by record (XML or flat file, plain
or gzip) in constant memory; only the aggregates grow, with the number of distinct works.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from airex.cli._files import cannot_write, format_error, require_files, require_output_file
from airex.errors import AirexError, MessageError, MessageInvalidError
from airex.formats.usage import (
    UsageReader,
    UsageTotals,
    convert,
    form_of,
    generate_report,
    open_report,
)

__all__ = ["usage_app"]

usage_app = typer.Typer(
    name="usage",
    help="Huge usage reports: statistics, conversion between XML and flat file, test data.",
    epilog=(
        "\b\nExamples:\n"
        "  airex usage generate --records 1000000 q1.tsv.gz   # a synthetic report\n"
        "  airex usage stats q1.tsv.gz                        # records, works, totals\n"
        "  airex usage convert q1.tsv.gz q1.xml               # flat file -> XML"
    ),
    rich_markup_mode=None,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_UPDATE_EVERY = 8192  # records between progress-bar refreshes (a refresh costs microseconds)


def _name(error: MessageError, fallback: str) -> str:
    return error.file or fallback


@contextmanager
def _progress(reader: UsageReader, label: str, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A Rich progress bar in bytes on stderr (terminal only); yields a refresh callable."""
    if not (enabled and sys.stderr.isatty() and reader.total_bytes):
        yield _no_refresh
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[records]:>12,} records"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task(label, total=reader.total_bytes, records=0)
    with progress:
        yield lambda: progress.update(task, completed=reader.bytes_read, records=reader.records)


def _no_refresh() -> None:
    """Nothing to refresh when no progress bar is shown."""


FilesArg = Annotated[
    list[str],
    typer.Argument(
        metavar="FILE",
        help="The report: one XML file, or the file(s) of a flat-file report "
        "(one part of a split report finds the others by name).",
    ),
]


@usage_app.command(
    short_help="Records, distinct works and totals per use type and unit of a report.",
    epilog=(
        "\b\nExamples:\n"
        "  airex usage stats report.xml\n"
        "  airex usage stats report_1of3.tsv.gz           # finds _2of3 and _3of3 beside it\n"
        "  airex usage stats --json report.tsv > stats.json\n"
        "\n\nExit status: 0 for a valid report, 1 when it has errors (all are printed), "
        "2 on a usage error."
    ),
)
def stats(
    files: FilesArg,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print {"records", "distinct_works", "totals": [{"use_type", "unit", '
            '"quantity"}], "errors": [...]} instead of a table.',
        ),
    ] = False,
) -> None:
    """Read a usage report in one pass and summarise it; list every error with file and line.

    Works on XML and flat-file reports, plain or gzip, of any size, in constant memory (the
    totals grow with distinct works, not records). Records with errors are reported and left
    out of the totals, never counted silently.
    """
    require_files(files)
    try:
        reader = open_report(files, strict=False)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    totals = UsageTotals()
    add = totals.add
    header = None
    with _progress(reader, "reading", enabled=not as_json) as refresh:
        try:
            header = reader.header
            for count, row in enumerate(reader, start=1):
                add(row)
                if not count % _UPDATE_EVERY:
                    refresh()
        except MessageInvalidError:
            pass  # the reader has recorded why in reader.errors
    errors = reader.errors
    if as_json:
        result = totals.as_json()
        result["errors"] = [dict(e.as_dict(), file=_name(e, files[0])) for e in errors]
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        raise typer.Exit(1 if errors else 0)
    for error in errors:
        sys.stdout.write(format_error(_name(error, files[0]), error) + "\n")
    out = sys.stdout
    if header is not None:
        period = header.reporting_period
        out.write(
            f"report {header.report_id} under licence {header.licence_id}, "
            f"{period.start_date} to {period.end_date}, "
            f"from {header.message_header.message_sender.party_id}\n"
        )
    out.write(f"records: {totals.records}\ndistinct works: {totals.distinct_works}\n")
    rows = totals.totals_by_use_type_unit()
    if rows:
        width = max(len(use) for use, _, _ in rows)
        out.write(f"{'use type':<{width}}  {'unit':<9}  quantity\n")
        for use, unit, quantity in rows:
            out.write(f"{use:<{width}}  {unit:<9}  {quantity}\n")
    if errors:
        sys.stderr.write(f"{len(errors)} error(s): the report is invalid\n")
    raise typer.Exit(1 if errors else 0)


@usage_app.command(
    name="convert",
    short_help="Convert a report between XML and flat file (form chosen by OUT's name).",
    epilog=(
        "\b\nExamples:\n"
        "  airex usage convert report.xml report.tsv.gz\n"
        "  airex usage convert report.tsv report.xml\n"
        "  airex usage convert --split 1000000 big.xml big.tsv.gz   # big_1ofN.tsv.gz ...\n"
        "\n\nExit status: 0 when converted, 1 when the input is invalid (nothing written), "
        "2 on a usage error."
    ),
)
def convert_command(
    source: Annotated[str, typer.Argument(metavar="IN", help="The report to read.")],
    target: Annotated[
        str,
        typer.Argument(
            metavar="OUT", help="Where to write: .xml, .xml.gz, .tsv or .tsv.gz decides the form."
        ),
    ],
    split: Annotated[
        int | None,
        typer.Option(
            "--split",
            metavar="N",
            min=1,
            help="Flat files only: at most N records per file (OUT_1ofK.tsv ...).",
        ),
    ] = None,
) -> None:
    """Convert a usage report to the other form, streaming, in constant memory.

    The input is checked as it is read; an invalid report is refused and nothing is left at
    OUT. Fields the flat-file form cannot carry (models, reported revenue, correction of,
    party names) are listed on stderr when converting XML to flat file.
    """
    require_files([source])
    require_output_file(target)
    try:
        form_of(target, sniff=False)
        result = convert(source, target, split_records=split)
    except OSError as exc:  # the readers report their own as invalid input: this is OUT's
        raise cannot_write(target, exc) from None
    except MessageInvalidError as exc:
        for error in exc.errors:
            sys.stdout.write(format_error(_name(error, source), error) + "\n")
        sys.stderr.write(f"{source}: invalid report, nothing written\n")
        raise typer.Exit(1) from exc
    except (ValueError, AirexError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    for field in result.dropped:
        sys.stderr.write(f"warning: the flat-file form cannot carry {field}; not written\n")
    sys.stderr.write(f"{result.records} records written to {', '.join(result.paths)}\n")


@usage_app.command(
    short_help="Write a realistic synthetic usage report (for benchmarks and demos).",
    epilog=(
        "\b\nExamples:\n"
        "  airex usage generate --records 100000 demo.xml\n"
        "  airex usage generate --records 5000000 --split 1000000 big.tsv.gz\n"
    ),
)
def generate(
    target: Annotated[
        str,
        typer.Argument(metavar="OUT", help="Where to write: .xml, .xml.gz, .tsv or .tsv.gz."),
    ],
    records: Annotated[
        int, typer.Option("--records", "-n", metavar="N", min=1, help="How many records.")
    ] = 100_000,
    works: Annotated[
        int | None,
        typer.Option("--works", metavar="W", min=1, help="Distinct works (default N/10)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same report.")] = 0,
    split: Annotated[
        int | None,
        typer.Option("--split", metavar="N", min=1, help="Flat files only: records per file."),
    ] = None,
) -> None:
    """Generate a synthetic report: an AI developer's quarter of usage of a CMO's repertoire.

    Works have valid ISRC, ISWC and ISBN identifiers, popularity is skewed (a few works are
    used a lot), use types and units are realistic. Deterministic for a seed.
    """
    require_output_file(target)
    try:
        form_of(target, sniff=False)
        paths = generate_report(target, records, seed=seed, works=works, split_records=split)
    except OSError as exc:
        raise cannot_write(target, exc) from None
    except (ValueError, AirexError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    sys.stderr.write(f"{records} records written to {', '.join(paths)}\n")
