"""``airex demo``: a complete exchange cycle on the embedded default, in a folder it names."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["demo"]


class ReportFormChoice(StrEnum):
    """The forms of the demo's usage report."""

    XML = "xml"
    FLAT = "flat"


def demo(
    records: Annotated[
        int,
        typer.Option("--records", "-n", min=1, help="Usage records the developer reports."),
    ] = 100_000,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for everything the demo makes (new or empty; default "
            "./airex-demo-<date>-<time>).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic catalogue and usage.")] = 2026,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (Celery concurrency).")] = 2,
    report_form: Annotated[
        ReportFormChoice,
        typer.Option(
            "--report-form",
            help="Form of the developer's usage report: xml (one file) or flat (.tsv.gz, "
            "split into parts of 1,000,000 records when larger).",
        ),
    ] = ReportFormChoice.XML,
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            metavar="URL",
            help="Run on this database instead of a SQLite file in the folder (a new, empty "
            "database, e.g. postgresql://postgres@127.0.0.1:5432/airex_demo).",
            show_default=False,
        ),
    ] = None,
    broker: Annotated[
        str | None,
        typer.Option(
            "--broker",
            metavar="URL",
            help="Run on this broker instead of the embedded one (e.g. "
            "amqp://guest:guest@127.0.0.1:5672//); the run uses queue names of its own and "
            "removes them at the end.",
            show_default=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", metavar="URL", hidden=True)
    ] = None,
    broker_url: Annotated[
        str | None, typer.Option("--broker-url", metavar="URL", hidden=True)
    ] = None,
) -> None:
    """Run a whole cycle between a CMO, two rightsholders and an AI developer.

    Real messages and batches go through a real exchange (`airex worker` and `airex serve`
    started as separate processes, a SQLite database, the embedded broker): declarations,
    offer, request, licence, a usage report, invoice, payment, distribution, royalty
    statements, payouts and every acknowledgement, all on the scenario's clock (December
    2025 to May 2026). Prints what happened, the ledger's balances, the statements' totals
    and the records held back, checks the ledger, and leaves a README.txt in the folder
    saying which file is which.

    Exit status: 0 every step completed and the ledger check passed; 1 a step failed or the
    ledger check failed; 2 a usage, configuration or environment error (a database or a
    broker that cannot be used or reached, an --out that is a file or not empty); 130
    interrupted (Ctrl-C: it says which step was
    done and where the partial folder is).
    """
    from rich.console import Console
    from rich.table import Table

    from airex.demo import DemoConfigError, DemoError, DemoInterrupted, run_demo

    folder = (out or Path.cwd() / f"airex-demo-{datetime.now(UTC):%Y%m%d-%H%M%S}").resolve()
    console = Console(highlight=False)

    def announce() -> None:
        console.print(f"airex demo: {records:,} usage records, everything in [bold]{folder}[/]\n")

    try:
        result = run_demo(
            folder,
            records=records,
            seed=seed,
            workers=workers,
            database_url=database or database_url,
            broker_url=broker or broker_url,
            announce=announce,
            report_form="flat" if report_form is ReportFormChoice.FLAT else "xml",
        )
    except DemoInterrupted as exc:
        typer.echo(f"airex: demo {exc}", err=True)
        raise typer.Exit(130) from None
    except DemoConfigError as exc:
        typer.echo(f"airex: demo: {exc}", err=True)
        raise typer.Exit(2) from None
    except DemoError as exc:
        typer.echo(f"airex: demo failed: {exc}", err=True)
        raise typer.Exit(1) from None

    balances = Table(title="Ledger balances (debit > 0, credit < 0)")
    for column in ("account", "currency", "balance"):
        balances.add_column(
            column,
            justify="right" if column == "balance" else "left",
            overflow="fold",  # an account or statement id is never cut short
            no_wrap=column != "account",
        )
    for label, currency, amount in result.balances:
        balances.add_row(label, currency, f"{amount:,}")
    console.print(balances)
    statements = Table(title="Royalty statements")
    for column in ("rightsholder", "statement", "gross", "admin fee", "net"):
        statements.add_column(
            column,
            justify="right" if column in ("gross", "admin fee", "net") else "left",
            overflow="fold",
            no_wrap=column != "statement",
        )
    for party, statement_id, gross, fee, net in result.statements:
        statements.add_row(party, statement_id, f"{gross:,}", f"{fee:,}", f"{net:,}")
    console.print(statements)
    console.print(result.ledger_report)
    from airex.demo import GUIDE_NAME, guide_commands, held_summary

    console.print()
    for line in held_summary(result):
        console.print(line, soft_wrap=True)
    console.print(
        f"\nEverything is in {folder} ({GUIDE_NAME} there says which file is which). "
        "To look further:",
        soft_wrap=True,
    )
    for line in guide_commands(result, relative=False):
        console.print(f"  {line}", soft_wrap=True)
    raise typer.Exit(0 if result.ledger_ok else 1)
