"""Every command that writes where it is told says, in one line and with status 2, why it
cannot write there (``airex: PATH: cannot write there: why``): never a traceback, never the
raw strerror, and nothing written, half or whole."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from airex.cli import app

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
REPORT = SAMPLES / "usage-report" / "music-cadenza-q1-2026.xml"
CANNOT = "cannot write there"


def run(*args: object) -> Result:
    """``airex ARGS`` in process, without $AIREX_DATABASE_URL."""
    env: dict[str, str | None] = {"AIREX_DATABASE_URL": None, "AIREX_HOME": None}
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path below ``folder`` with its content (None for a folder)."""
    found: dict[str, bytes | None] = {}
    for current, folders, files in os.walk(folder):
        for name in folders:
            found[os.path.relpath(os.path.join(current, name), folder)] = None
        for name in files:
            path = os.path.join(current, name)
            found[os.path.relpath(path, folder)] = Path(path).read_bytes()
    return found


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a regular file ``afile``, a folder ``adir``, a database, a
    usage report and a batch of it (``batch.zip``); the current folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "report.xml").write_bytes(REPORT.read_bytes())
    assert run("db", "upgrade", "--database", "sqlite:///airex.db").exit_code == 0
    packed = run("batch", "pack", "--out", "batch.zip", "report.xml")
    assert packed.exit_code == 0, packed.output
    return tmp_path


DATABASE = ("--database", "sqlite:///airex.db")

CASES: list[tuple[tuple[str, ...], str, str]] = [
    # (the command, the path it is told to write, why it cannot)
    (("usage", "convert", "report.xml", "missing/x.tsv"), "missing/x.tsv", "no such folder"),
    (("usage", "convert", "report.xml", "afile/x.tsv"), "afile/x.tsv", "afile is a file"),
    (("usage", "convert", "report.xml", "adir"), "adir", "it is a folder, not a file"),
    (("usage", "convert", "--split", "2", "report.xml", "afile/x.tsv"), "afile/x.tsv", "afile"),
    (("usage", "generate", "-n", "5", "missing/g.xml"), "missing/g.xml", "no such folder"),
    (("usage", "generate", "-n", "5", "afile/g.xml"), "afile/g.xml", "afile is a file"),
    (
        ("royalties", "statements", "--period", "2026-Q2", "--out", "afile", *DATABASE),
        "afile",
        "it is a file, not a folder",
    ),
    (
        ("royalties", "statements", "--period", "2026-Q2", "--out", "afile/x", *DATABASE),
        "afile/x",
        "afile is a file, not a folder",
    ),
    (
        ("royalties", "invoice", "report.xml", "--out", "afile", *DATABASE),
        "afile",
        "it is a file, not a folder",
    ),
    (
        ("royalties", "invoice", "report.xml", "--out", "afile/x", *DATABASE),
        "afile/x",
        "afile is a file, not a folder",
    ),
    (
        ("registry", "check", "report.xml", "--out", "afile/x.tsv", *DATABASE),
        "afile/x.tsv",
        "afile is a file",
    ),
    (
        ("registry", "check", "report.xml", "--out", "adir", *DATABASE),
        "adir",
        "it is a folder, not a file",
    ),
    (("batch", "pack", "--out", "afile/x", "report.xml"), "afile/x", "afile is a file"),
    (("batch", "pack", "--out", "afile", "report.xml"), "afile", "it is a file, not a folder"),
    (("batch", "pack", "--out", "afile/x.zip", "report.xml"), "afile/x.zip", "afile is a file"),
    (("batch", "unpack", "--out", "afile/x", "batch.zip"), "afile/x", "afile is a file"),
    (
        ("batch", "verify", "--write-ack", "--ack-dir", "afile", "batch.zip"),
        "afile",
        "it is a file, not a folder",
    ),
    (
        ("batch", "verify", "--write-ack", "--ack-dir", "missing", "batch.zip"),
        "missing",
        "no such folder",
    ),
]


@pytest.mark.parametrize(("command", "path", "why"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_an_output_path_that_cannot_be_written_is_one_line_and_status_2(
    place: Path, command: tuple[str, ...], path: str, why: str
) -> None:
    """One line ``airex: PATH: cannot write there: why``, exit 2, nothing written."""
    before = _tree(place)
    result = run(*command)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"airex: {path}: {CANNOT}: "), line
    assert why in line
    assert _tree(place) == before


def test_a_write_that_fails_later_is_phrased_the_same_way(
    place: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the checks could not foresee (here: the file system refusing the write) is
    the same one line, with the reason in words, never ``[Errno`` nor ``File exists``."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "outbox/.ACK.part")

    monkeypatch.setattr("airex.cli._royalties_pricing._write_file", refuse)
    result = run("royalties", "invoice", "report.xml", "--out", "outbox", *DATABASE)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == f"airex: outbox: {CANNOT}: permission denied"
