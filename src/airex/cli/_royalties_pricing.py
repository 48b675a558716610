"""``airex royalties invoice`` and ``held``: price a usage report (XML or flat file, split or
gzip) into invoices and an acknowledgement; list the usage records held back from it.

Registered on ``airex royalties`` by :mod:`airex.cli._royalties`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from airex.cli._common import emit_json, fail, table
from airex.cli._database import open_engine
from airex.cli._files import (
    cannot_write,
    display_name,
    print_errors,
    require_files,
    require_output_folder,
)
from airex.cli._options import DatabaseOpt

if TYPE_CHECKING:
    from airex.errors import MessageError
    from airex.formats.usage import UsageReader, UsageRow
    from airex.messages.common import MessageHeader
    from airex.royalties import InvoiceResult

__all__ = ["pricing_app"]

_EXIT_REFUSED = 1
_EXIT_USAGE = 2
_UPDATE_EVERY = 8192  # records between progress-bar refreshes

pricing_app = typer.Typer()
"""Holds ``invoice`` and ``held``; merged into ``airex royalties`` (no group of its own)."""


def _no_refresh() -> None:
    """Nothing to refresh when no progress bar is shown."""


@contextmanager
def _progress(reader: UsageReader) -> Iterator[Callable[[], None]]:
    """A Rich progress bar in bytes on stderr (terminal only); yields a refresh callable."""
    if not (sys.stderr.isatty() and reader.total_bytes):
        yield _no_refresh
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("pricing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[records]:>12,} records"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("pricing", total=reader.total_bytes, records=0)
    with progress:
        yield lambda: progress.update(task, completed=reader.bytes_read, records=reader.records)


def _counted(reader: UsageReader, refresh: Callable[[], None]) -> Iterator[UsageRow]:
    """The reader's rows, refreshing the progress bar every few thousand records."""
    count = 0
    for row in reader:
        count += 1
        if count == _UPDATE_EVERY:
            count = 0
            refresh()
        yield row


def _money(minor: int, currency: str) -> str:
    from decimal import Decimal

    from airex.ledger.money import currency_exponent

    return f"{Decimal(minor).scaleb(-currency_exponent(currency)):f}"


def _write_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` through a temporary name (never a half file)."""
    path = folder / name
    temporary = folder / f".{name}.part"
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


def _summary(result: InvoiceResult, written: list[Path]) -> None:
    out = sys.stdout
    state = "priced" if result.created else "already priced (nothing new posted)"
    out.write(
        f"report {result.report_id} of {result.sender} under licence {result.licence_id}, "
        f"{result.period_start} to {result.period_end}: {state}\n"
    )
    if result.correction_of:
        out.write(
            f"corrects report {result.correction_of} (replaces version "
            f"{result.replaced_report_id})\n"
        )
    priced = result.records - result.held_records
    out.write(
        f"records: {result.records:,} read, {priced:,} priced, {result.held_records:,} held\n"
    )
    if result.held_by_reason:
        table(
            ["HELD", "RECORDS"],
            [[reason, f"{count:,}"] for reason, count in result.held_by_reason.items()],
            right={1},
        )
    if result.lines:
        table(
            ["LINE", "TARIFF", "TYPE", "QUANTITY", "UNIT PRICE", "AMOUNT", "WORKS"],
            [
                [
                    str(line.line_number),
                    line.tariff_id,
                    line.tariff_type,
                    "-" if line.quantity is None else f"{line.quantity:f}",
                    "-" if line.unit_price is None else f"{line.unit_price:f}",
                    _money(line.amount_minor, result.currency),
                    f"{line.basis_rows:,}",
                ]
                for line in result.lines
            ],
            right={0, 3, 4, 5, 6},
        )
    out.write(f"total: {_money(result.total_minor, result.currency)} {result.currency}\n")
    if not result.documents:
        out.write("no document issued: nothing to invoice or credit\n")
    for document in result.documents:
        out.write(
            f"{document.invoice_type} {document.invoice_id}: {document.total:f} "
            f"{document.currency}, due {document.due_date}\n"
        )
    for warning in result.warnings:
        if warning.line is None and warning.code != "MoreHeldRecords":
            out.write(f"warning: {warning.code}: {warning.message}\n")
    for note in result.notes:
        out.write(f"note: {note}\n")
    for path in written:
        out.write(f"wrote {path}\n")


@pricing_app.command(
    short_help="Price a usage report into an invoice; write it and the acknowledgement.",
    epilog=(
        "\b\nExamples:\n"
        "  airex royalties invoice q1.xml                          # invoice into .\n"
        "  airex royalties invoice q1_1of4.tsv.gz --out outbox/    # a split flat file\n"
        "  airex royalties invoice q1.tsv --today 2026-04-20 --database sqlite:///cmo.db\n"
        "\n\nWrites <InvoiceId>.xml for each document issued and ACK_<MessageId>.xml (status "
        "MessageAccepted; usage held back listed as warnings, at most 1000, then a count). "
        "A report refused (unknown licence, damaged or invalid) gets only its ACK_ file, "
        "with the refusal's status and errors (none when not even its header can be read); "
        "nothing of it is stored or posted. "
        "Pricing the same report again writes the stored documents and posts nothing new. "
        "The CMO is $AIREX_CMO_PARTY_ID (default: the licensor of the licence); the "
        "registry's regime is $AIREX_PREFERENCE_REGIME. Exit status: 0 priced, 1 report "
        "refused or invalid, 2 usage or database error."
    ),
)
def invoice(
    report: Annotated[
        list[str],
        typer.Argument(
            metavar="REPORT",
            help="The usage report: one XML file, or the file(s) of a flat-file report "
            "(any part finds the others; .gz allowed).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for the InvoiceMessage(s) and the AcknowledgementMessage "
            "(created when missing). Default: the current folder.",
        ),
    ] = Path(),
    today: Annotated[
        datetime | None,
        typer.Option(
            "--today",
            metavar="DATE",
            formats=["%Y-%m-%d"],
            help="The invoices' IssueDate (YYYY-MM-DD). Default: today (UTC).",
            show_default=False,
        ),
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Price a usage report under its licence's tariffs; issue, store and post the invoice."""
    from airex.errors import MessageInvalidError
    from airex.formats.usage import open_report
    from airex.messages import serialise
    from airex.registry import Registry, RegistryError, RegistrySettings
    from airex.royalties import (
        InvoiceService,
        PricingError,
        ReportRefusedError,
        RoyaltiesError,
        RoyaltySettings,
    )

    require_files(report)
    require_output_folder(out)
    try:
        reader = open_report(report)
    except ValueError as exc:  # the form cannot be told, or XML and flat files mixed
        raise fail(f"{exc}", _EXIT_USAGE) from None
    try:
        settings = RoyaltySettings.from_env()
        registry_settings = RegistrySettings.from_env()
    except (RoyaltiesError, RegistryError) as exc:
        raise fail(str(exc), _EXIT_USAGE) from None
    refusal = _Refusal(report[0], out, settings.cmo_party_id)
    try:
        header = reader.header
    except MessageInvalidError as exc:  # answered when at least its MessageHeader was read
        print_errors(exc.errors, report[0])
        what = f"{display_name(report[0])}: the report cannot be read"
        refusal.send(reader.message_header, exc.errors, what)
    issue_date: date | None = today.date() if today is not None else None
    refused: list[MessageError] = []
    with open_engine(database) as engine:
        try:
            service = InvoiceService(engine, settings, Registry(engine, registry_settings))
            with _progress(reader) as refresh:
                result = service.invoice(
                    _counted(reader, refresh), header=header, today=issue_date, form=_form(reader)
                )
        except MessageInvalidError as exc:
            refused = list(exc.errors)
        except ReportRefusedError as exc:
            refused = [exc.message_error()]
        except PricingError as exc:
            refused = [ReportRefusedError(str(exc)).message_error()]
        except (RoyaltiesError, RegistryError) as exc:
            raise fail(str(exc), _EXIT_USAGE) from None
    if refused:
        print_errors(refused, report[0])
        refusal.send(header.message_header, refused, f"report {header.report_id} refused")
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [
            _write_file(out, f"{document.invoice_id}.xml", document.message)
            for document in result.documents
        ]
        ack = result.acknowledgement(file_name=os.path.basename(report[0]))
        written.append(
            _write_file(out, f"ACK_{header.message_header.message_id}.xml", serialise(ack))
        )
    except OSError as exc:
        raise cannot_write(out, exc) from None
    _summary(result, written)


class _Refusal:
    """Answers a report refused whole: the ACK_ of the refusal, to the sender its
    MessageHeader names, then exit 1 (no ACK_ when not even that header was read whole)."""

    def __init__(self, report: str, out: Path, cmo: str | None) -> None:
        self.report = report
        self.out = out
        self.cmo = cmo

    def send(
        self, message: MessageHeader | None, errors: Sequence[MessageError], what: str
    ) -> NoReturn:
        from airex.messages import serialise
        from airex.royalties import refusal_acknowledgement

        if message is None:
            raise fail(
                f"{what}: nothing priced, and no acknowledgement "
                "written (the report's header names no one to send it to)",
                _EXIT_REFUSED,
            )
        ack = refusal_acknowledgement(
            message,
            errors,
            sender=self.cmo or message.message_recipients[0].party_id,
            file_name=os.path.basename(self.report),
        )
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            path = _write_file(self.out, f"ACK_{message.message_id}.xml", serialise(ack))
        except OSError as exc:
            raise cannot_write(self.out, exc) from None
        raise fail(f"{what}: nothing priced, stored or posted; wrote {path}", _EXIT_REFUSED)


def _form(reader: UsageReader) -> str:
    from airex.formats.usage import FlatUsageReader

    return "flat" if isinstance(reader, FlatUsageReader) else "xml"


@pricing_app.command(
    short_help="List the usage records held back from a priced report.",
    epilog=(
        "\b\nExamples:\n"
        "  airex royalties held DEV-UR-2026-Q1\n"
        "  airex royalties held DEV-UR-2026-Q1 --reason OptedOut --limit 20\n"
        "  airex royalties held DEV-UR-2026-Q1 --json > held.jsonl\n"
        "\n\nOne line per record: FILE:LINE REASON WORK USE_TYPE QUANTITY UNIT. Reasons: "
        "OptedOut, NoPreferenceOptInRegime, UnknownWork, OutsideRepertoire, "
        "UseTypeNotLicensed, OutsideTerm, OutsideTerritory, LicenceNotInForce, "
        "NoTariffForUsage, RevenueNotReported."
    ),
)
def held(
    report_id: Annotated[
        str, typer.Argument(metavar="REPORT_ID", help="The ReportId of a priced report.")
    ],
    reason: Annotated[
        str | None,
        typer.Option("--reason", metavar="R", help="Only records held for R.", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", metavar="N", min=1, help="At most N records.", show_default=False),
    ] = None,
    sender: Annotated[
        str | None,
        typer.Option(
            "--sender", metavar="P", help="Only the report of sender P.", show_default=False
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON Lines: one object per held record.")
    ] = False,
    database: DatabaseOpt = None,
) -> None:
    """List the usage records held back (not priced) from a report, in file and line order."""
    from airex.royalties import held_records

    count = 0
    with open_engine(database) as engine:
        for record in held_records(engine, report_id, sender=sender, reason=reason, limit=limit):
            count += 1
            if as_json:
                emit_json(
                    [
                        {
                            "file": record.file,
                            "line": record.line,
                            "reason": record.reason,
                            "work_ids": list(record.work_ids),
                            "use_type": record.use_type,
                            "quantity": f"{record.quantity:f}",
                            "unit": record.unit,
                        }
                    ]
                )
            else:
                sys.stdout.write(
                    f"{record.file}:{record.line} {record.reason} {'|'.join(record.work_ids)} "
                    f"{record.use_type} {record.quantity:f} {record.unit}\n"
                )
    if not count and not as_json:
        typer.echo(f"no held records for report {report_id}", err=True)
