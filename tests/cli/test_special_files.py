"""A pipe, a device or a socket given where a file is expected is refused at once, never opened:
opening a FIFO blocks until a writer comes, and /dev/zero never ends. Each command is run as a
real process with a timeout, so a command that blocks fails the test instead of hanging it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOT_REGULAR = "it is not a regular file"
REFUSAL = f"cannot read the file: {NOT_REGULAR} (a pipe, a device or a socket)"


def _airex(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airex", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def specials(tmp_path: Path) -> dict[str, Path]:
    """A FIFO named like a report, and a link named like one to /dev/zero."""
    fifo = tmp_path / "report.xml"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.xml"
    zero.symlink_to("/dev/zero")
    return {"fifo": fifo, "device": zero}


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'airex.db'}"
    assert _airex("db", "upgrade", "--database", url, cwd=tmp_path).returncode == 0
    return url


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_commands_that_take_a_file_refuse_a_special_one_with_status_2(
    kind: str, specials: dict[str, Path], database: str, tmp_path: Path
) -> None:
    """usage stats/convert, show, registry check and royalties invoice: one line, exit 2."""
    path = specials[kind]
    commands = [
        ("usage", "stats", path),
        ("usage", "convert", path, tmp_path / "out.tsv"),
        ("show", path),
        ("registry", "check", path, "--database", database),
        ("royalties", "invoice", path, "--database", database, "--out", tmp_path / "acks"),
    ]
    for command in commands:
        result = _airex(*command, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr == f"airex: {path}: {REFUSAL}\n", command
    assert not (tmp_path / "out.tsv").exists()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_validate_reports_a_special_file_as_unreadable(
    kind: str, specials: dict[str, Path], tmp_path: Path
) -> None:
    """validate names the special file with FileUnreadable (exit 1), alone or found in a folder,
    and goes on with the other files."""
    path = specials[kind]
    good = Path(__file__).resolve().parents[2] / "samples" / "licence"
    named = _airex("validate", path, cwd=tmp_path)
    assert named.returncode == 1
    assert f"{path}: FileUnreadable: cannot read the file: {NOT_REGULAR}" in named.stdout
    folder = _airex("validate", tmp_path, good, cwd=tmp_path)
    assert folder.returncode == 1
    unreadable = sorted(line.split(":")[0] for line in folder.stdout.splitlines() if line)
    assert unreadable == sorted(str(p) for p in specials.values())  # the samples are valid


def test_a_missing_path_is_named_in_one_phrasing(tmp_path: Path) -> None:
    """validate and usage stats say ``airex: PATH: no such file [or folder]`` and exit 2."""
    missing = tmp_path / "missing.xml"
    validate = _airex("validate", missing, cwd=tmp_path)
    assert (validate.returncode, validate.stderr) == (
        2,
        f"airex: {missing}: no such file or folder\n",
    )
    stats = _airex("usage", "stats", missing, cwd=tmp_path)
    assert (stats.returncode, stats.stderr) == (2, f"airex: {missing}: no such file\n")
