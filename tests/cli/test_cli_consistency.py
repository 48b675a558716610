"""Every `airex` command alike: option names, metavars, exit statuses, and no database made
behind the user's back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from airex.cli import app

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DECLARATION = SAMPLES / "work-declaration" / "music-publisher-to-cmo.xml"
REPORT = SAMPLES / "usage-report" / "music-cadenza-q1-2026.xml"
PAYMENT = SAMPLES / "payment-notification" / "music-cadenza-pays-q1-invoice.xml"

TYPE_NAMES = re.compile(
    r"<|>|list\[|range|\b(INTEGER|TEXT|FLOAT|BOOLEAN|FILENAME|DIRECTORY|UUID|DATETIME)\b"
)
"""What a metavar must never show: Python or click type names (``<list[str]>``, ``<path>``,
``INTEGER``). ``PATH`` is left out: it is the metavar ``validate`` chose for its arguments."""

NO_DATABASE = "airex: no database at ./airex.db: run `airex db upgrade` first, or give --database"


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, click command) of every command of the tree, groups included."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))
LEAVES = [path for path, command in COMMANDS if not hasattr(command, "commands")]
GROUPS = [path for path, command in COMMANDS if hasattr(command, "commands") and path]


def run(*args: str, cwd: Path | None = None) -> Result:
    """``airex ARGS`` in process, without $AIREX_DATABASE_URL, on a wide terminal."""
    env: dict[str, str | None] = {"AIREX_DATABASE_URL": None, "AIREX_HOME": None}
    env["COLUMNS"] = "250"
    return CliRunner().invoke(app, list(args), env=env, terminal_width=250)


def help_of(path: tuple[str, ...]) -> str:
    """The --help of ``airex PATH``."""
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    return result.output


def _labels(text: str) -> list[str]:
    """The left column of the Arguments and Options sections of a --help text."""
    labels: list[str] = []
    section = None
    for line in text.splitlines():
        if line in ("Arguments:", "Options:"):
            section = line
        elif not line.startswith("  "):
            section = None
        elif section and not line.startswith("   "):
            labels.append(re.split(r"\s{2,}", line.strip())[0])
    return labels


def test_the_tree_is_walked_whole() -> None:
    """The walk finds every command, leaves and groups (a sanity check of the tests below)."""
    assert {("ledger", "check"), ("royalties", "invoice"), ("party", "add"), ("demo",)} <= set(
        LEAVES
    )
    assert len(LEAVES) >= 29


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "airex")
def test_help_never_shows_a_type_name(path: tuple[str, ...]) -> None:
    """Arguments and options are shown by their metavar (FILE, N, URL), never by a Python or
    click type (<list[str]>, <int range>, INTEGER RANGE, TEXT), in the lists and the usage."""
    text = help_of(path)
    labels = _labels(text)
    assert labels, text
    for label in labels:
        assert not TYPE_NAMES.search(label), f"{label!r} in the help of {path}"
    usage = text.splitlines()[0]
    assert not TYPE_NAMES.search(usage), usage


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_command_states_its_exit_statuses(path: tuple[str, ...]) -> None:
    """Each command's --help says what its exit statuses mean: 0, 1 and 2."""
    text = " ".join(help_of(path).split())
    match = re.search(r"Exit status:? 0 (.*)", text)
    assert match, text
    assert re.search(r"\b1\b", match.group(1)), match.group(1)
    assert re.search(r"\b2\b", match.group(1)), match.group(1)  # "2", not in "2026"


@pytest.mark.parametrize("path", GROUPS, ids=" ".join)
def test_every_group_states_the_exit_statuses(path: tuple[str, ...]) -> None:
    """airex usage|ledger|db|registry|batch|royalties|party|exchange --help say them too."""
    text = " ".join(help_of(path).split())
    assert "Exit status: 0 done, 1 input refused or invalid, 2 usage" in text, text


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_one_name_for_the_database_and_the_broker(path: tuple[str, ...]) -> None:
    """A command that takes a database takes --database (a broker: --broker); the other
    spellings are accepted but never shown."""
    command = dict(COMMANDS)[path]
    names = {name for param in command.params for name in param.opts}
    labels = " ".join(_labels(help_of(path)))
    for concept in ("--database", "--broker"):
        if names & {concept, f"{concept}-url"}:
            assert concept in names, path
            assert re.search(rf"{concept} URL\b", labels), labels
        assert f"{concept}-url" not in labels, labels


def test_the_old_spellings_still_work(tmp_path: Path) -> None:
    """--database-url is the hidden alias of --database."""
    database = tmp_path / "books.db"
    assert run("db", "upgrade", "--database-url", f"sqlite:///{database}").exit_code == 0
    result = run("ledger", "balances", "--database-url", f"sqlite:///{database}")
    assert result.exit_code == 0, result.output


def test_the_root_help_describes_the_whole_tool() -> None:
    """airex --help names every part of the tool (not only "check and read its XML messages")
    and lists the exit statuses."""
    text = " ".join(help_of(()).split())
    first = text.split("Usage: airex [OPTIONS] COMMAND [ARGS]... ", 1)[1]
    assert not first.startswith("airex, the AI Rights Exchange: check and read its XML")
    for part in ("registry", "licences", "usage", "royalties", "ledger", "batch", "demo"):
        assert part in first.split(". ")[0] + first.split("Options:")[0], part
    assert "exchange" in first.split("Options:")[0]
    assert (
        "Exit status: 0 done, 1 input refused or invalid, 2 usage, configuration or "
        "environment error" in text
    )


NEEDS_DATABASE = [
    ("registry", "import", str(DECLARATION)),
    ("registry", "works"),
    ("registry", "check", str(REPORT)),
    ("ledger", "balances"),
    ("ledger", "check"),
    ("ledger", "grants"),
    ("royalties", "invoice", str(REPORT)),
    ("royalties", "held", "UR-1"),
    ("royalties", "pay", str(PAYMENT)),
    ("royalties", "distribute", "--period", "2026-Q1"),
    ("party", "list"),
    ("party", "add", "PADPIDA2026RH01", "--name", "R", "--role", "Rightsholder"),
    ("exchange", "status"),
    ("send", str(DECLARATION)),
    ("serve", "--once"),
    ("worker",),
]


@pytest.mark.parametrize("args", NEEDS_DATABASE, ids=" ".join)
def test_no_command_creates_a_database_it_was_not_asked_to(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a database, a command says so in one line and exits 2; no ./airex.db (nor
    anything else) appears."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert (result.exit_code, result.stderr) == (2, NO_DATABASE + "\n"), result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", NEEDS_DATABASE[::3], ids=" ".join)
def test_a_named_database_that_does_not_exist_is_not_created(
    args: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--database naming a SQLite file that is not there: exit 2, the file is not created."""
    monkeypatch.chdir(tmp_path)
    result = run(*args, "--database", f"sqlite:///{tmp_path / 'books.db'}")
    assert result.exit_code == 2, result.output
    assert result.stderr == "airex: no database at ./books.db: run `airex db upgrade` first\n"
    assert list(tmp_path.iterdir()) == []


def test_db_upgrade_creates_the_database_it_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """airex db upgrade is the command that creates ./airex.db; then the others use it."""
    monkeypatch.chdir(tmp_path)
    assert run("db", "upgrade").exit_code == 0
    assert (tmp_path / "airex.db").is_file()
    assert run("ledger", "check").exit_code == 0


def test_an_empty_database_file_is_not_upgraded_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that is there but not upgraded: exit 2, saying to run airex db upgrade
    (ledger check too: nothing is checked on a schema that is not the code's)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "airex.db").write_bytes(b"")
    for args in (("ledger", "check"), ("registry", "works"), ("exchange", "status")):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "run `airex db upgrade`" in result.stderr
        assert result.stdout == ""


def test_refused_inputs_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An input refused is exit 1 whatever the command: a --licence-file that is not a
    LicenceMessage, a batch sent without its BatchComplete file."""
    monkeypatch.chdir(tmp_path)
    assert run("db", "upgrade").exit_code == 0
    not_a_licence = run("registry", "check", "--licence-file", str(DECLARATION), str(REPORT))
    assert not_a_licence.exit_code == 1, not_a_licence.output
    assert "is a WorkDeclarationMessage, not a LicenceMessage" in not_a_licence.stderr
    batch = tmp_path / "20260420091500000"
    batch.mkdir()
    (batch / "request.xml").write_bytes(DECLARATION.read_bytes())
    incomplete = run("send", str(batch), "--home", str(tmp_path / "exchange"))
    assert incomplete.exit_code == 1, incomplete.output
    assert "the batch has no BatchComplete file; not sent" in incomplete.stderr
