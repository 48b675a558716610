"""Availability, all at once (issue 13): a running ``airex serve`` (and ``airex worker``) under
a scripted mix of every availability attack from one party keeps acknowledging another party's
messages.

The attacker (the developer's folder) leaves a FIFO, a UNIX socket, a file whose name is not
UTF-8, a batch folder nested 1 200 deep, links to a host file and to another party's inbox, and
a file over the byte limit, one after another while the well-behaved party (a rightsholder)
drops its messages. Measured: every one of the well-behaved party's messages is acknowledged,
every attack is moved aside, and ``serve`` is still running.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from exchange_support import (
    CMO,
    DEV,
    RH1,
    Env,
    Services,
    explain,
    payment,
    remove_deep,
    wait_for,
)

MESSAGES = 20


def _attack(drop: Path, tmp_path: Path, round_number: int) -> None:
    """One of the attacks, by round."""
    kind = round_number % 6
    if kind == 0:
        os.mkfifo(drop / f"fifo-{round_number}.xml")
    elif kind == 1:
        short = Path(tempfile.mkdtemp(prefix="s", dir="/tmp"))
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(short / "s"))
            os.rename(short / "s", drop / f"sock-{round_number}.xml")
        short.rmdir()
    elif kind == 2:
        with open(os.fsencode(drop) + f"/bad-{round_number}-".encode() + b"\xff.xml", "wb") as f:
            f.write(b"<x/>")
    elif kind == 3:
        deep = tmp_path / f"2026010100000000{round_number % 10}"
        deep.mkdir()
        (deep / f"BatchComplete_{deep.name}.xml").write_bytes(b"<x/>")
        current = deep
        for _ in range(1200):
            current = current / "d"
            current.mkdir()
        os.rename(deep, drop / deep.name)
    elif kind == 4:
        secret = tmp_path / f"secret-{round_number}.xml"
        secret.write_bytes(b"<secret/>")
        (drop / f"secret-{round_number}.xml").symlink_to(secret)
    else:
        (drop / f"big-{round_number}.xml").write_bytes(b"<x/>" * 2048)


def test_serve_keeps_acknowledging_under_every_attack(
    embedded: Env, services: Services, tmp_path: Path
) -> None:
    env = embedded
    extra = {
        "AIREX_MAX_MESSAGE_BYTES": "4096",
        "AIREX_CMO_ACTIONS": "airex.exchange.hooks:no_actions",
    }
    serve = services.start(env, ["serve"], tmp_path / "serve.log", **extra)
    services.start(env, ["worker", "--concurrency", "2"], tmp_path / "worker.log", **extra)
    attacker, victim = env.drop(DEV), env.drop(RH1)
    for number in range(MESSAGES):
        _attack(attacker, tmp_path, number)
        staged = tmp_path / f"p{number}.xml"
        staged.write_bytes(payment(RH1, CMO, message_id=f"RH1-PAY-{number:03d}"))
        os.replace(staged, victim / staged.name)

    def acknowledged() -> bool:
        names = env.inbox_files(RH1)
        return all(
            any(n.startswith(f"ACK_RH1-PAY-{i:03d}") for n in names) for i in range(MESSAGES)
        )

    wait_for(
        acknowledged,
        timeout=180,
        what="every well-behaved message acknowledged",
        explain=explain(env, tmp_path / "serve.log", tmp_path / "worker.log"),
    )
    assert serve.process.poll() is None, "serve stopped"
    wait_for(
        lambda: (
            len([p for p in (attacker / ".rejected").iterdir() if not p.name.endswith(".txt")])
            >= MESSAGES
        ),
        timeout=60,
        what="every attack moved aside",
    )
    assert [p.name for p in attacker.iterdir() if not p.name.startswith(".")] == []
    for path in (attacker / ".rejected").iterdir():
        if path.is_dir() and not path.is_symlink():
            remove_deep(path)  # pytest's own clean-up would recurse 1 200 deep
