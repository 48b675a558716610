"""What the ``airex`` sub-commands share: a sub-app's Typer settings, the one-line failure,
lines, JSON Lines and tables on standard output, counted nouns.

Nothing here imports more than Typer at import time (Rich is imported by :func:`table` when
it draws on a terminal), so every command module may use it without slowing ``airex``'s start.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer

from airex.cli._options import EXIT_USAGE

__all__ = ["APP_SETTINGS", "emit_json", "fail", "out", "plural", "table"]

APP_SETTINGS: dict[str, Any] = {
    "rich_markup_mode": None,
    "add_completion": False,
    "pretty_exceptions_show_locals": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
    "no_args_is_help": True,
}
"""The settings of every sub-app (``airex ledger``, ``airex royalties``...): plain help, no
completion, ``-h`` and ``--help``, the help when no command is given."""


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``airex: <message>`` on standard error; the Exit to raise (status 2 by default)."""
    typer.echo(f"airex: {message}", err=True)
    return typer.Exit(code)


def out(line: str) -> None:
    """Write ``line`` and a newline to standard output."""
    # sys.stdout is looked up on every call: a progress bar may proxy it while it runs.
    sys.stdout.write(line + "\n")


def plural(count: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def emit_json(objects: Sequence[dict[str, Any]]) -> None:
    """Each object as one JSON line on standard output (dates and decimals as strings)."""
    for obj in objects:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int]) -> None:
    """Rows under headers: a Rich table on a terminal, aligned plain text otherwise."""
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(*headers, box=None, header_style="bold", pad_edge=False)
        for index, column in enumerate(table.columns):
            if index in right:
                column.justify = "right"
        for row in rows:
            table.add_row(*row)
        Console(markup=False, highlight=False, emoji=False).print(table)
        return
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    for row in [list(headers), *rows]:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")
