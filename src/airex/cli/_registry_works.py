"""``airex registry works``: the registry's works with their version in effect, as a table or
JSON Lines.

Registered on ``airex registry`` by :mod:`airex.cli._registry`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from airex.cli._common import out, table
from airex.cli._database import open_registry
from airex.cli._options import DatabaseOpt

if TYPE_CHECKING:
    from airex.registry import WorkPublic

__all__ = ["works_app"]

works_app = typer.Typer()
"""Holds ``works``; merged into ``airex registry`` (no group of its own)."""


def _work_row(work: WorkPublic) -> list[str]:
    shares = ", ".join(
        f"{s.party_id} {s.percentage}%"
        + ("" if s.territories == ["Worldwide"] else f" {s.territories}")
        for s in work.shares
    )
    preferences = ", ".join(f"{p.use_type} {p.preference}" for p in work.preferences)
    return [
        str(work.key),
        work.owner,
        work.work_type,
        work.title,
        " ".join(f"{i.type}::{i.value}" for i in work.ids),
        shares,
        preferences or "-",
        str(work.versions),
    ]


@works_app.command(
    short_help="List the works: ids, title, type, shares, preferences, versions.",
    epilog=(
        "\b\nExamples:\n"
        "  airex registry works\n"
        "  airex registry works --json --on 2026-03-31 > works.jsonl\n"
        "\n\nEach work is shown with its version in effect on --on DATE (default: its latest "
        "version). A JSON object holds the work's key, owner, versions (how many) and the "
        "version's version_id, effective_from, declared_at, source, reference, title, "
        "work_type, contains_ai, contributors, ids (type, value, namespace, key, resolves), "
        "shares (party_id, percentage, territories, excluded) and preferences (use_type, "
        "preference, effective_date, territories, excluded)."
    ),
)
def works(
    database: DatabaseOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON Lines: one work a line.")
    ] = False,
    on: Annotated[
        datetime | None,
        typer.Option(
            "--on",
            metavar="DATE",
            formats=["%Y-%m-%d"],
            help="Show each work as declared on DATE (YYYY-MM-DD). Default: the latest.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List every work of the registry with its version in effect."""
    day = on.date() if on is not None else None
    with open_registry(database) as registry:
        if as_json:
            for work in registry.works(day):
                out(json.dumps(work.model_dump(mode="json"), ensure_ascii=False))
            return
        rows = [_work_row(work) for work in registry.works(day)]
    table(
        ["KEY", "OWNER", "TYPE", "TITLE", "IDS", "SHARES", "PREFERENCES", "VERSIONS"],
        rows,
        right={0, 7},
    )
