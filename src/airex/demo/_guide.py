"""The demo folder's guide, ``README.txt``: what each folder holds, which file is which party's
message, and the commands to look at them (with this run's real names and database)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from airex.demo._run import DemoResult

__all__ = ["GUIDE_NAME", "held_summary", "write_guide"]

GUIDE_NAME = "README.txt"


def _relative(result: DemoResult, path: Path, relative: bool = True) -> str:
    if not relative:
        return str(path)
    try:
        return str(path.relative_to(result.folder))
    except ValueError:
        return str(path)


def held_summary(result: DemoResult) -> list[str]:
    """Lines saying how many records were held back, their share and their reasons."""
    if not result.records:
        return []
    share = result.held / result.records
    if not result.held:
        return [f"No usage record of the {result.records:,} was held back: every one was priced."]
    lines = [
        f"{result.held:,} of {result.records:,} usage records ({share:.1%}) were held back, "
        "not priced (usage the licence does not cover is in the report on purpose):"
    ]
    width = max((len(reason) for reason in result.held_by_reason), default=0)
    for reason, count in result.held_by_reason.items():
        lines.append(f"  {reason:<{width}}  {count:>9,}  ({count / result.records:.1%})")
    return lines


def guide_commands(result: DemoResult, *, relative: bool = True) -> list[str]:
    """The commands to look at what the run made (file names relative to the demo's folder
    unless ``relative`` is False)."""
    database = shlex.quote(result.database)
    report = next((p for what, p in result.files if what == "the developer's usage report"), None)
    invoice = next((p for what, p in result.files if what == "the invoice"), None)
    lines = [f"airex ledger balances --database {database}"]
    if result.report_id:
        lines.append(
            f"airex royalties held {result.report_id} --sender {result.report_sender} "
            f"--database {database}"
        )
    if report is not None:
        lines.append(
            f"airex registry check --database {database} "
            f"{_relative(result, report, relative)} > registry-check.tsv"
        )
    if invoice is not None:
        lines.append(f"airex show {_relative(result, invoice, relative)}")
    lines.append(f"airex ledger check --database {database}")
    return lines


def write_guide(result: DemoResult) -> Path:
    """Write ``README.txt`` into the demo's folder; return its path."""
    folder = result.folder
    text = [
        "airex demo: a whole exchange cycle between a CMO (PADPIDA2026AURORA), two rightsholders",
        "(PADPIDA2026NORDLYS, PADPIDA2026VERSO) and an AI developer (PADPIDA2026LOOMAI).",
        "",
        "What each folder holds",
        "  exchange/parties/<PartyId>/drop    what the party handed in (the exchange takes "
        "each file away)",
        "  exchange/parties/<PartyId>/inbox   what the party received: messages as "
        "<Sender>_<MessageId>.xml,",
        "                                     acknowledgements as ACK_<MessageId>_<n>.xml "
        "or ACK_<BatchId>.xml",
        "  exchange/store/                    every message received, by SHA-256 (the "
        "exchange's own copy)",
        "  exchange/clock.txt                 the scenario's clock the exchange ran on",
        "  staging/                           where each party prepared its files before "
        "dropping them",
        "  logs/worker.log, logs/serve.log    the exchange's processes",
        f"  database                           {result.database}",
        "",
        "Which file is which (in the order they were sent)",
    ]
    width = max((len(what) for what, _ in result.files), default=0)
    for what, path in result.files:
        text.append(f"  {what:<{width}}  {_relative(result, path)}")
    if result.report_id:
        text += ["", *held_summary(result)]
    text += [
        "",
        "To look at them (from this folder)",
        *(f"  {line}" for line in guide_commands(result)),
        "  airex show FILE   (any message above, in readable form)",
        "",
    ]
    path = folder / GUIDE_NAME
    path.write_text("\n".join(text), encoding="utf-8")
    return path
