"""What every ``airex`` command shares: the database and broker options, the exit statuses,
and the layout of ``--help``.

One name per concept: ``--database URL`` and ``--broker URL`` on every command that takes
them (``--database-url`` and ``--broker-url`` are accepted too, and not shown). One meaning per
exit status, everywhere:

0
    done;
1
    an input was refused or is invalid (a message, a report, a payment, a batch);
2
    a usage, configuration or environment error: a bad option, no such file, a database that
    does not exist, cannot be reached or is not upgraded, a broker that cannot be reached.

:class:`AirexCommand` draws ``--help`` so that no Python or click type names show up in
it: an argument is shown by its metavar, an option by its names and metavar (the hidden
aliases left out); and it ends every command's help with the exit statuses unless the
command states its own.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import DefaultPlaceholder

__all__ = [
    "EXIT_DONE",
    "EXIT_REFUSED",
    "EXIT_STATUSES",
    "EXIT_USAGE",
    "HIDDEN_ALIASES",
    "AirexCommand",
    "AirexGroup",
    "BrokerOpt",
    "DatabaseOpt",
    "use_airex_commands",
]

EXIT_DONE = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

EXIT_STATUSES = (
    "Exit status: 0 done, 1 input refused or invalid, 2 usage, configuration or environment "
    "error (e.g. a bad option, no such file, no database or one not upgraded, a server that "
    "cannot be reached)."
)
"""What the exit statuses mean, the same for every command."""

HIDDEN_ALIASES = frozenset({"--database-url", "--broker-url"})
"""Other spellings of an option that are accepted but not shown in ``--help``."""

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        "--database-url",
        metavar="URL",
        help=(
            "Database URL, e.g. sqlite:///books/airex.db or postgresql://user@host/airex. "
            "Default: $AIREX_DATABASE_URL, else the SQLite file ./airex.db."
        ),
        show_default=False,
    ),
]
BrokerOpt = Annotated[
    str | None,
    typer.Option(
        "--broker",
        "--broker-url",
        metavar="URL",
        help=(
            "Broker URL, e.g. amqp://guest:guest@127.0.0.1:5672// (default: "
            "$AIREX_BROKER_URL, else the embedded broker)."
        ),
        show_default=False,
    ),
]


def _label(param: Any) -> str:
    """The left column of ``param``'s line in --help: names and metavar, never a type."""
    placeholder = param.metavar or (param.name or "value").upper()
    if param.param_type_name == "argument":
        return placeholder if param.nargs == 1 else f"{placeholder}..."
    shown = []
    for names in (param.opts, param.secondary_opts):
        visible = [name for name in names if name not in HIDDEN_ALIASES] or names
        if visible:  # short names first, as click does
            ordered = sorted(visible, key=lambda name: len(name) - len(name.lstrip("-")))
            shown.append(", ".join(ordered))
    label = " / ".join(shown)
    if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
        label += f" {placeholder}"
    return label


class AirexCommand(TyperCommand):
    """A command whose --help shows metavars (no type names) and its exit statuses."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            row = (_label(param), record[1])
            (arguments if param.param_type_name == "argument" else options).append(row)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        super().format_epilog(ctx, formatter)
        if "Exit status" not in f"{self.help or ''} {self.epilog or ''}":
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(EXIT_STATUSES)


class AirexGroup(TyperGroup):
    """A group of commands whose --help ends with the exit statuses, like its commands'."""

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        super().format_epilog(ctx, formatter)
        if "Exit status" not in f"{self.help or ''} {self.epilog or ''}":
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(EXIT_STATUSES)


def _value(setting: Any) -> Any:
    """A Typer setting's value (Typer wraps defaults it was not given in a placeholder)."""
    return setting.value if isinstance(setting, DefaultPlaceholder) else setting


def use_airex_commands(app: typer.Typer) -> None:
    """Make every command of ``app`` and of its sub-apps an :class:`AirexCommand`, and every
    named sub-app an :class:`AirexGroup` (unless they asked for a class of their own)."""
    for command in app.registered_commands:
        if command.cls is None or command.cls is TyperCommand:
            command.cls = AirexCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            asked = [_value(group.cls), _value(group.typer_instance.info.cls)]
            if all(cls in (None, TyperGroup) for cls in asked):
                group.cls = AirexGroup
            use_airex_commands(group.typer_instance)
