"""The exchange's commands through the CLI: party add/list, send, exchange status, db upgrade."""

from __future__ import annotations

import json
from pathlib import Path

from exchange_support import CMO, DEV, Env, licence_request
from typer.testing import CliRunner

from airex.cli import app

runner = CliRunner()


def _invoke(env: Env, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env.environ())
    return result.exit_code, result.stdout, result.stderr


def test_db_upgrade_includes_the_exchange(tmp_path: Path) -> None:
    """airex db upgrade creates the exchange's schema too."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    result = runner.invoke(app, ["db", "upgrade", "--database", url])
    assert result.exit_code == 0, result.stderr
    assert "upgraded exchange schema from nothing to 0002" in result.stdout


def test_party_add_and_list(embedded: Env, tmp_path: Path) -> None:
    """party add records a party with its route; party list shows every party."""
    folder = tmp_path / "registry-folder"
    code, out, err = _invoke(
        embedded,
        "party", "add", "PADPIDA2026REG01", "--name", "Works Registry", "--role", "Registry",
        "--folder", str(folder), "--queue",
    )  # fmt: skip
    assert code == 0, err
    assert out == f"PADPIDA2026REG01 (Registry): {folder} + queue\n"
    assert (folder / "drop").is_dir()
    assert (folder / "inbox").is_dir()
    code, out, _ = _invoke(embedded, "party", "list", "--json")
    listed = {p["party_id"]: p for p in map(json.loads, out.splitlines())}
    assert listed["PADPIDA2026REG01"] == {
        "party_id": "PADPIDA2026REG01",
        "name": "Works Registry",
        "role": "Registry",
        "folder": str(folder),
        "queue": True,
    }
    assert listed[DEV]["queue"] is True


def test_party_add_refuses_bad_parties(embedded: Env) -> None:
    """A malformed id, an unknown role, a party twice, no route: exit 2 saying why."""
    cases = [
        (["party", "add", "CMO-1", "--name", "X", "--role", "Registry"], "not a DDEX party id"),
        (["party", "add", "PADPIDAX1", "--name", "X", "--role", "Boss"], "is not one of"),
        (
            ["party", "add", CMO, "--name", "X", "--role", "Registry"],
            "already in the directory",
        ),
        (
            ["party", "add", "PADPIDAX2", "--name", "X", "--role", "Registry", "--no-folder"],
            "needs a delivery route",
        ),
    ]
    for args, message in cases:
        code, _, err = _invoke(embedded, *args)
        assert (code, message in err, err.startswith("airex: ")) == (2, True, True), err


def test_send_without_wait_queues_and_status_counts(embedded: Env, tmp_path: Path) -> None:
    """send records the message and prints its id; status shows it pending."""
    path = tmp_path / "request.xml"
    path.write_bytes(licence_request())
    code, out, err = _invoke(embedded, "send", str(path), "--as", DEV)
    assert code == 0, err
    assert out == f"{path}: received #1\n"
    code, out, _ = _invoke(embedded, "exchange", "status", "--json")
    status = json.loads(out)
    assert status["received"] == {"pending": 1}
    assert status["outbox_open"] == {"process": 1}  # published, not yet processed
    code, out, _ = _invoke(embedded, "exchange", "status")
    assert "pending" in out
    assert "dead letters: 0" in out


def test_send_refuses_unknown_party_and_missing_file(embedded: Env, tmp_path: Path) -> None:
    """send --as an unknown party, or a file that is not there: exit 2, nothing received."""
    path = tmp_path / "request.xml"
    path.write_bytes(licence_request())
    code, _, err = _invoke(embedded, "send", str(path), "--as", "PADPIDANOBODY")
    assert (code, "not in the directory" in err) == (2, True)
    code, _, err = _invoke(embedded, "send", str(tmp_path / "missing.xml"))
    assert (code, "no such file" in err) == (2, True)
    assert embedded.scalar("SELECT count(*) FROM exchange_received") == 0


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    """Without airex db upgrade the commands say so (exit 2) instead of failing obscurely."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(app, ["exchange", "status", "--database", url, "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "airex db upgrade" in result.stderr


def test_help_lists_the_exchange_commands() -> None:
    """airex --help names send, worker, serve, party and exchange."""
    out = runner.invoke(app, ["--help"]).stdout
    for command in ("send", "worker", "serve", "party", "exchange"):
        assert f"  {command} " in out
