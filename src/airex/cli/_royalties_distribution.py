"""``airex royalties pay``, ``distribute`` and ``statements``: record licensees' payments,
distribute them to works and rightsholders, write the rightsholders' royalty statements
(:mod:`airex.royalties.distribution`, :mod:`airex.royalties.statements`).

Registered on ``airex royalties`` by :mod:`airex.cli._royalties`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airex.cli._common import fail
from airex.cli._database import open_engine
from airex.cli._files import cannot_write, print_errors, require_files, require_output_folder
from airex.cli._options import DatabaseOpt

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airex.royalties.distribution import DistributionSummary, Distributor, PeriodSpec

__all__ = ["distribution_app"]

distribution_app = typer.Typer()
"""Holds ``pay``, ``distribute`` and ``statements``; merged into ``airex royalties``."""

PeriodOpt = Annotated[
    str,
    typer.Option(
        "--period",
        metavar="P",
        help="2026-Q1 (a quarter), 2026-03 (a month), 2026 (a year) or "
        "2026-01-01..2026-03-31 (days, both included): payments whose PaymentDate is in P.",
        show_default=False,
    ),
]
FeeOpt = Annotated[
    str | None,
    typer.Option(
        "--admin-fee",
        metavar="PERCENT",
        help="The CMO's administration fee on new distributions, 0-100. "
        "Default: $AIREX_ADMIN_FEE_PERCENT, else 15.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object per line.")]


def _period(text: str) -> PeriodSpec:
    from airex.royalties.distribution import PeriodSpec

    try:
        return PeriodSpec.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None


@contextmanager
def _engine(database: str | None) -> Iterator[Engine]:
    """An engine on the database; a payment refused exits with status 1, other airex errors
    with status 2, saying what."""
    from airex.errors import AirexError
    from airex.royalties.distribution import PaymentError

    with open_engine(database) as engine:
        try:
            yield engine
        except PaymentError as exc:
            raise fail(str(exc), 1) from None
        except AirexError as exc:
            raise fail(str(exc)) from None


def _distributor(engine: Engine, admin_fee: str | None) -> Distributor:
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


def _money(minor: int, currency: str) -> str:
    from airex.ledger import Money

    return f"{Money(minor, currency).amount} {currency}"


def _as_json(summary: DistributionSummary) -> dict[str, Any]:
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


def _print_summaries(summaries: list[DistributionSummary], as_json: bool) -> None:
    import json

    if as_json:
        for summary in summaries:
            typer.echo(json.dumps(_as_json(summary), ensure_ascii=False))
        return
    totals: dict[str, list[int]] = {}
    for s in summaries:
        ccy = s.currency
        typer.echo(
            f"{s.payment_date} {s.payer} {s.payment_id} invoice {s.invoice_id}: paid "
            f"{_money(s.paid_minor, ccy)}; to {s.parties} rightsholders "
            f"{_money(s.gross_minor, ccy)} (administration fee "
            f"{_money(s.fee_minor, ccy)}, net {_money(s.net_minor, ccy)}); "
            f"suspense {_money(s.suspense_minor, ccy)}"
        )
        total = totals.setdefault(ccy, [0, 0, 0, 0])
        for i, value in enumerate((s.paid_minor, s.gross_minor, s.fee_minor, s.suspense_minor)):
            total[i] += value
    for ccy, (paid, gross, fee, suspense) in sorted(totals.items()):
        typer.echo(
            f"total {ccy}: paid {_money(paid, ccy)}, to rightsholders "
            f"{_money(gross, ccy)}, administration fee {_money(fee, ccy)}, net "
            f"{_money(gross - fee, ccy)}, suspense {_money(suspense, ccy)}"
        )


@distribution_app.command(
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
    files: Annotated[
        list[str], typer.Argument(metavar="FILE", help="PaymentNotificationMessage files.")
    ],
    no_distribute: Annotated[
        bool,
        typer.Option("--no-distribute", help="Record only; `distribute` shares it out later."),
    ] = False,
    admin_fee: FeeOpt = None,
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
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
            print_errors(result.errors, name)
            raise typer.Exit(1)
        message = airex.parse(name)
        if not isinstance(message, PaymentNotificationMessage):
            raise fail(f"{name} is a {message.message_type}, not a PaymentNotificationMessage", 1)
        messages.append(message)
    with _engine(database) as engine:
        distributor = _distributor(engine, admin_fee)
        summaries = []
        for name, message in zip(files, messages, strict=True):
            for recorded in distributor.record_payment(message, distribute=not no_distribute):
                if not as_json:
                    state = "recorded" if recorded.created else "already recorded"
                    typer.echo(
                        f"{name}: {state}: {recorded.payment_id} from {recorded.payer}, "
                        f"{_money(recorded.applied_minor, recorded.currency)} on invoice "
                        f"{recorded.invoice_id}"
                    )
                if recorded.distribution is not None:
                    summaries.append(recorded.distribution)
        _print_summaries(summaries, as_json)


@distribution_app.command(
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
    period: PeriodOpt,
    admin_fee: FeeOpt = None,
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Share every recorded payment of the period out to works and rightsholders, less the
    administration fee, and post it in the ledger (rightsholders' payables, fee revenue,
    suspense)."""
    spec = _period(period)
    with _engine(database) as engine:
        done = _distributor(engine, admin_fee).distribute_pending(spec)
    if not done and not as_json:
        typer.echo(f"nothing to distribute: every payment of {period} is distributed")
        return
    _print_summaries(done, as_json)


@distribution_app.command(
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
    period: PeriodOpt,
    out: Annotated[
        str,
        typer.Option(
            "--out", metavar="DIR", help="Folder to write the statements into.", show_default=False
        ),
    ],
    licensor: Annotated[
        str | None,
        typer.Option(
            "--licensor", metavar="PARTY", help="Only this CMO's distributions.", show_default=False
        ),
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Write the royalty statements of the period: what each rightsholder was credited, per
    licence, work, use type and tariff, with the administration fee."""
    from airex.royalties.statements import write_statements

    spec = _period(period)
    require_output_folder(out)
    with _engine(database) as engine:
        try:
            result = write_statements(engine, spec, out, licensor=licensor)
        except OSError as exc:  # the database's errors are not OSErrors: this is the output's
            raise cannot_write(out, exc) from None
    typer.echo(
        f"{result.count} statements ({result.lines} lines) from {result.distributions} "
        f"distributions written to {result.directory}"
    )
    for ccy in sorted(result.net_minor):
        typer.echo(
            f"  {ccy}: gross {_money(result.gross_minor[ccy], ccy)}, administration fee "
            f"{_money(result.fee_minor[ccy], ccy)}, "
            f"net {_money(result.net_minor[ccy], ccy)}"
        )
