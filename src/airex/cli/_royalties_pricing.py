"""``airex royalties``: price usage reports into invoices, list held usage; distribution.

A Typer sub-app registered on the main app as ``royalties``:

* ``invoice REPORT...`` prices a usage report (XML or flat file, split or gzip) under its
  licence's tariffs, stores it, posts the invoice in the ledger, and writes the
  InvoiceMessage (a CreditNote too, for a correction that lowers the amount) and the
  AcknowledgementMessage (held usage as warnings) to ``--out``;
* ``held REPORT_ID`` lists the usage records held back from a priced report.

:mod:`airex.royalties` (and with it SQLAlchemy, the registry and the ledger) is imported by
the commands that use it, never at import time, so the rest of ``airex`` starts as fast as
before. Exit status: 0 success (warnings included), 1 the report was refused or is invalid
(the reason on stderr), 2 a usage error or a database that cannot be used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airex.cli._files import display_name, format_error, require_files
from airex.cli._ledger import DatabaseOpt, _emit_json, _engine, _table

if TYPE_CHECKING:
    from airex.errors import MessageError
    from airex.formats.usage import UsageReader, UsageRow
    from airex.royalties import InvoiceResult

__all__ = ["royalties_app"]

_EXIT_REFUSED = 1
_EXIT_USAGE = 2
_UPDATE_EVERY = 8192  # records between progress-bar refreshes

_APP_SETTINGS: dict[str, Any] = {
    "rich_markup_mode": None,
    "add_completion": False,
    "pretty_exceptions_show_locals": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
    "no_args_is_help": True,
}

royalties_app = typer.Typer(
    name="royalties",
    help=(
        "Royalties: price usage reports under their licence's tariffs into invoices, list "
        "the usage held back, distribute paid money and write royalty statements."
    ),
    epilog=(
        "\b\nExamples:\n"
        "  airex royalties invoice q1.tsv.gz --out outbox/   # price a report, write the invoice\n"
        "  airex royalties held DEV-UR-2026-Q1               # the records held for follow-up\n"
        "\n\nThe database is --database URL, else $AIREX_DATABASE_URL, else ./airex.db."
    ),
    **_APP_SETTINGS,
)


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"airex: {message}", err=True)
    return typer.Exit(code)


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
        _table(
            ["HELD", "RECORDS"],
            [[reason, f"{count:,}"] for reason, count in result.held_by_reason.items()],
            right={1},
        )
    if result.lines:
        _table(
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


@royalties_app.command(
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
        refusal_acknowledgement,
    )

    require_files(report, param="REPORT")
    try:
        reader = open_report(report)
    except ValueError as exc:  # the form cannot be told, or XML and flat files mixed
        raise _fail(f"{exc}", _EXIT_USAGE) from None
    try:
        header = reader.header
    except MessageInvalidError as exc:  # no header to answer: no acknowledgement either
        _print_errors(exc.errors, report[0])
        raise _fail(
            f"{display_name(report[0])}: the report cannot be read: nothing priced, and no "
            "acknowledgement written (the report's header names no one to send it to)",
            _EXIT_REFUSED,
        ) from None
    try:
        settings = RoyaltySettings.from_env()
        registry_settings = RegistrySettings.from_env()
    except (RoyaltiesError, RegistryError) as exc:
        raise _fail(str(exc), _EXIT_USAGE) from None
    issue_date: date | None = today.date() if today is not None else None
    refused: list[MessageError] = []
    with _engine(database) as engine:
        try:
            service = InvoiceService(engine, settings, Registry(engine, registry_settings))
            with _progress(reader) as refresh:
                result = service.invoice(
                    _counted(reader, refresh), header=header, today=issue_date, form=_form(reader)
                )
        except MessageInvalidError as exc:
            _print_errors(exc.errors, report[0])
            refused = list(exc.errors)
        except ReportRefusedError as exc:
            typer.echo(f"airex: report {header.report_id} not priced: {exc}", err=True)
            refused = [exc.message_error()]
        except PricingError as exc:
            typer.echo(f"airex: report {header.report_id} not priced: {exc}", err=True)
            refused = [ReportRefusedError(str(exc)).message_error()]
        except (RoyaltiesError, RegistryError) as exc:
            raise _fail(str(exc), _EXIT_USAGE) from None
    if refused:
        cmo = settings.cmo_party_id or header.message_header.message_recipients[0].party_id
        ack = refusal_acknowledgement(
            header.message_header,
            refused,
            sender=cmo,
            file_name=os.path.basename(report[0]),
        )
        try:
            out.mkdir(parents=True, exist_ok=True)
            path = _write_file(out, f"ACK_{header.message_header.message_id}.xml", serialise(ack))
        except OSError as exc:
            raise _fail(f"cannot write to {out}: {exc.strerror or exc}", _EXIT_USAGE) from None
        raise _fail(
            f"report {header.report_id} refused: nothing priced, stored or posted; wrote {path}",
            _EXIT_REFUSED,
        )
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
        raise _fail(f"cannot write to {out}: {exc.strerror or exc}", _EXIT_USAGE) from None
    _summary(result, written)


def _print_errors(errors: list[MessageError], fallback: str) -> None:
    """Each error as ``file:line: CODE path: message`` on standard error."""
    for error in errors:
        typer.echo(format_error(display_name(error.file or fallback), error), err=True)


def _form(reader: UsageReader) -> str:
    from airex.formats.usage import FlatUsageReader

    return "flat" if isinstance(reader, FlatUsageReader) else "xml"


@royalties_app.command(
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
    with _engine(database) as engine:
        for record in held_records(engine, report_id, sender=sender, reason=reason, limit=limit):
            count += 1
            if as_json:
                _emit_json(
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


# =============================================================================================
# Distribution and statements: `pay`, `distribute`, `statements`
# (airex.royalties.distribution / airex.royalties.statements; kept apart from pricing's
# commands above: its own imports and helpers, all prefixed `_dist`)
# =============================================================================================

from collections.abc import Iterator as _DistIterator  # noqa: E402
from contextlib import contextmanager as _dist_contextmanager  # noqa: E402
from typing import TYPE_CHECKING as _DIST_TYPE_CHECKING  # noqa: E402
from typing import Annotated as _DistAnnotated  # noqa: E402
from typing import Any as _DistAny  # noqa: E402

from airex.cli._ledger import DatabaseOpt as _DistDatabaseOpt  # noqa: E402
from airex.cli._ledger import _engine as _dist_ledger_engine  # noqa: E402

if _DIST_TYPE_CHECKING:
    from sqlalchemy.engine import Engine as _DistEngine

    from airex.royalties.distribution import DistributionSummary, Distributor, PeriodSpec

_DistPeriodOpt = _DistAnnotated[
    str,
    typer.Option(
        "--period",
        metavar="P",
        help="2026-Q1 (a quarter), 2026-03 (a month), 2026 (a year) or "
        "2026-01-01..2026-03-31 (days, both included): payments whose PaymentDate is in P.",
        show_default=False,
    ),
]
_DistFeeOpt = _DistAnnotated[
    str | None,
    typer.Option(
        "--admin-fee",
        metavar="PERCENT",
        help="The CMO's administration fee on new distributions, 0-100. "
        "Default: $AIREX_ADMIN_FEE_PERCENT, else 15.",
        show_default=False,
    ),
]
_DistJsonOpt = _DistAnnotated[bool, typer.Option("--json", help="Print one JSON object per line.")]


def _dist_fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"airex: {message}", err=True)
    return typer.Exit(code)


def _dist_period(text: str) -> PeriodSpec:
    from airex.royalties.distribution import PeriodSpec

    try:
        return PeriodSpec.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None


@_dist_contextmanager
def _dist_engine(database: str | None) -> _DistIterator[_DistEngine]:
    """An engine on the database; a payment refused exits with status 1, other airex errors
    with status 2, saying what."""
    from airex.errors import AirexError
    from airex.royalties.distribution import PaymentError

    with _dist_ledger_engine(database) as engine:
        try:
            yield engine
        except PaymentError as exc:
            raise _dist_fail(str(exc), 1) from None
        except AirexError as exc:
            raise _dist_fail(str(exc)) from None


def _distributor(engine: _DistEngine, admin_fee: str | None) -> Distributor:
    from decimal import Decimal, InvalidOperation

    from airex.royalties.distribution import DistributionSettings, Distributor
    from airex.royalties.settings import RoyaltySettings

    settings = DistributionSettings.from_settings(RoyaltySettings.from_env())
    if admin_fee is not None:
        try:
            settings = DistributionSettings(Decimal(admin_fee), settings.parties_per_entry)
        except InvalidOperation:
            raise typer.BadParameter(
                f"{admin_fee!r} is not a percentage", param_hint="--admin-fee"
            ) from None
    return Distributor(engine, settings)


def _dist_money(minor: int, currency: str) -> str:
    from airex.ledger import Money

    return f"{Money(minor, currency).amount} {currency}"


def _dist_json(summary: DistributionSummary) -> dict[str, _DistAny]:
    from airex.ledger import Money

    def amount(minor: int) -> str:
        return str(Money(minor, summary.currency).amount)

    return {
        "payer": summary.payer,
        "payment_id": summary.payment_id,
        "invoice_id": summary.invoice_id,
        "licence_id": summary.licence_id,
        "payment_date": summary.payment_date.isoformat(),
        "currency": summary.currency,
        "paid": amount(summary.paid_minor),
        "to_rightsholders": amount(summary.gross_minor),
        "admin_fee": amount(summary.fee_minor),
        "net": amount(summary.net_minor),
        "suspense": amount(summary.suspense_minor),
        "rightsholders": summary.parties,
        "lines": summary.lines,
        "new": summary.created,
    }


def _dist_print(summaries: list[DistributionSummary], as_json: bool) -> None:
    import json

    if as_json:
        for summary in summaries:
            typer.echo(json.dumps(_dist_json(summary), ensure_ascii=False))
        return
    totals: dict[str, list[int]] = {}
    for s in summaries:
        ccy = s.currency
        typer.echo(
            f"{s.payment_date} {s.payer} {s.payment_id} invoice {s.invoice_id}: paid "
            f"{_dist_money(s.paid_minor, ccy)}; to {s.parties} rightsholders "
            f"{_dist_money(s.gross_minor, ccy)} (administration fee "
            f"{_dist_money(s.fee_minor, ccy)}, net {_dist_money(s.net_minor, ccy)}); "
            f"suspense {_dist_money(s.suspense_minor, ccy)}"
        )
        total = totals.setdefault(ccy, [0, 0, 0, 0])
        for i, value in enumerate((s.paid_minor, s.gross_minor, s.fee_minor, s.suspense_minor)):
            total[i] += value
    for ccy, (paid, gross, fee, suspense) in sorted(totals.items()):
        typer.echo(
            f"total {ccy}: paid {_dist_money(paid, ccy)}, to rightsholders "
            f"{_dist_money(gross, ccy)}, administration fee {_dist_money(fee, ccy)}, net "
            f"{_dist_money(gross - fee, ccy)}, suspense {_dist_money(suspense, ccy)}"
        )


@royalties_app.command(
    short_help="Record licensees' payments (PaymentNotificationMessage files); distribute them.",
    epilog=(
        "\b\nExamples:\n"
        "  airex royalties pay inbox/payment-2026-05-02.xml\n"
        "  airex royalties pay --no-distribute inbox/*.xml   # record now, distribute later\n"
        "\n\nEach SettledDocument must be an invoice issued here by the payee to the payer, "
        "in its currency, applying no more than is still open on it; otherwise nothing of "
        "that file is recorded. A file recorded before changes nothing.\n\n"
        "Exit status: 0 all recorded, 1 a file is not a valid payment notification or a "
        "payment was refused, 2 a usage, configuration or database error."
    ),
)
def pay(
    files: _DistAnnotated[
        list[str], typer.Argument(metavar="FILE", help="PaymentNotificationMessage files.")
    ],
    no_distribute: _DistAnnotated[
        bool,
        typer.Option("--no-distribute", help="Record only; `distribute` shares it out later."),
    ] = False,
    admin_fee: _DistFeeOpt = None,
    database: _DistDatabaseOpt = None,
    as_json: _DistJsonOpt = False,
) -> None:
    """Record PaymentNotificationMessages of licence fees: cash in, receivable settled, and
    (unless --no-distribute) each payment distributed to the rightsholders at once."""
    import airex
    from airex.messages import PaymentNotificationMessage

    require_files(files)
    messages = []
    for name in files:
        result = airex.check(name)
        if result.errors:
            _print_errors(result.errors, name)
            raise typer.Exit(1)
        message = airex.parse(name)
        if not isinstance(message, PaymentNotificationMessage):
            raise _dist_fail(
                f"{name} is a {message.message_type}, not a PaymentNotificationMessage", 1
            )
        messages.append(message)
    with _dist_engine(database) as engine:
        distributor = _distributor(engine, admin_fee)
        summaries = []
        for name, message in zip(files, messages, strict=True):
            for recorded in distributor.record_payment(message, distribute=not no_distribute):
                if not as_json:
                    state = "recorded" if recorded.created else "already recorded"
                    typer.echo(
                        f"{name}: {state}: {recorded.payment_id} from {recorded.payer}, "
                        f"{_dist_money(recorded.applied_minor, recorded.currency)} on invoice "
                        f"{recorded.invoice_id}"
                    )
                if recorded.distribution is not None:
                    summaries.append(recorded.distribution)
        _dist_print(summaries, as_json)


@royalties_app.command(
    short_help="Distribute the payments of a period that are not distributed yet.",
    epilog=(
        "\b\nExamples:\n"
        "  airex royalties distribute --period 2026-Q2\n"
        "  airex royalties distribute --period 2026-05 --json\n"
        "\n\nIdempotent: running it again distributes and posts nothing new. Each line: the "
        "paid amount, what went to rightsholders (administration fee, net) and to suspense "
        "(works with no known rightsholder)."
    ),
)
def distribute(
    period: _DistPeriodOpt,
    admin_fee: _DistFeeOpt = None,
    database: _DistDatabaseOpt = None,
    as_json: _DistJsonOpt = False,
) -> None:
    """Share every recorded payment of the period out to works and rightsholders, less the
    administration fee, and post it in the ledger (rightsholders' payables, fee revenue,
    suspense)."""
    spec = _dist_period(period)
    with _dist_engine(database) as engine:
        done = _distributor(engine, admin_fee).distribute_pending(spec)
    if not done and not as_json:
        typer.echo(f"nothing to distribute: every payment of {period} is distributed")
        return
    _dist_print(done, as_json)


@royalties_app.command(
    short_help="Write one RoyaltyStatementMessage per rightsholder for a period.",
    epilog=(
        "\b\nExamples:\n"
        "  airex royalties statements --period 2026-Q2 --out outbox/statements\n"
        "  airex royalties statements --period 2026 --out year/ --licensor PADPIDA2026HARMONIA\n"
        "\n\nFiles are <StatementId>.xml (RS-<period>-<currency>-<party>), one per "
        "rightsholder and currency, covering every distribution of a payment made in the "
        "period; each is written under a temporary name and renamed when complete."
    ),
)
def statements(
    period: _DistPeriodOpt,
    out: _DistAnnotated[
        str,
        typer.Option(
            "--out", metavar="DIR", help="Folder to write the statements into.", show_default=False
        ),
    ],
    licensor: _DistAnnotated[
        str | None,
        typer.Option(
            "--licensor", metavar="PARTY", help="Only this CMO's distributions.", show_default=False
        ),
    ] = None,
    database: _DistDatabaseOpt = None,
) -> None:
    """Write the royalty statements of the period: what each rightsholder was credited, per
    licence, work, use type and tariff, with the administration fee."""
    from airex.royalties.statements import write_statements

    spec = _dist_period(period)
    with _dist_engine(database) as engine:
        result = write_statements(engine, spec, out, licensor=licensor)
    typer.echo(
        f"{result.count} statements ({result.lines} lines) from {result.distributions} "
        f"distributions written to {result.directory}"
    )
    for ccy in sorted(result.net_minor):
        typer.echo(
            f"  {ccy}: gross {_dist_money(result.gross_minor[ccy], ccy)}, administration fee "
            f"{_dist_money(result.fee_minor[ccy], ccy)}, "
            f"net {_dist_money(result.net_minor[ccy], ccy)}"
        )
