"""``airex royalties``: price usage reports into invoices, list held usage; distribution.

A Typer sub-app registered on the main app as ``royalties``:

* ``invoice REPORT...`` prices a usage report (XML or flat file, split or gzip) under its
  licence's tariffs, stores it, posts the invoice in the ledger, and writes the
  InvoiceMessage (a CreditNote too, for a correction that lowers the amount) and the
  AcknowledgementMessage (held usage as warnings) to ``--out``;
* ``held REPORT_ID`` lists the usage records held back from a priced report;
* ``pay``, ``distribute``, ``statements`` record licensees' payments, distribute them to the
  rightsholders and write their royalty statements.

The commands live in :mod:`airex.cli._royalties_pricing` (``invoice``, ``held``) and
:mod:`airex.cli._royalties_distribution` (``pay``, ``distribute``, ``statements``).
:mod:`airex.royalties` (and with it SQLAlchemy, the registry and the ledger) is imported by
the commands that use it, never at import time, so the rest of ``airex`` starts as fast as
before. Exit status: 0 success (warnings included), 1 the report was refused or is invalid
(the reason on stderr), 2 a usage error or a database that cannot be used.
"""

from __future__ import annotations

import typer

from airex.cli._common import APP_SETTINGS
from airex.cli._royalties_distribution import distribution_app
from airex.cli._royalties_pricing import pricing_app

__all__ = ["royalties_app"]

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
    **APP_SETTINGS,
)

# The commands in their order: invoice, held (pricing), then pay, distribute, statements.
royalties_app.add_typer(pricing_app)
royalties_app.add_typer(distribution_app)
