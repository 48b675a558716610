"""Separate processes posting at once, and posting processes killed at random (SIGKILL).

Each poster is a real OS process (``_poster.py``) on the same database. Concurrent posters
that share idempotency keys must post each key exactly once and lose none; a poster killed at
a random moment must leave a ledger whose every invariant holds (``airex ledger check``), in
which every commit it reported is present, and which a restarted poster completes exactly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer
from typer.testing import CliRunner

from airex.ledger import AccountKey, AccountKind, check_ledger

if TYPE_CHECKING:
    from conftest import Backend

POSTER = Path(__file__).with_name("_poster.py")
CASH = AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "EUR")
RECEIVABLE = AccountKey("PADPIDA2026DEV01", AccountKind.LICENSEE_RECEIVABLE, "EUR")
POOL = AccountKey("PADPIDA2026CMO01", AccountKind.DISTRIBUTABLE_POOL, "EUR", "LIC-1")
TIMEOUT = 180  # seconds a poster may take before the test gives up on it (never hit normally)


def start_poster(backend: Backend, seed: int, keys: list[str]) -> subprocess.Popen[str]:
    """Start a poster process and wait until it is connected and waiting for 'go'."""
    process = subprocess.Popen(
        [sys.executable, str(POSTER), backend.url, str(seed), *keys],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line != "ready\n":
        process.kill()
        _, err = process.communicate(timeout=TIMEOUT)
        pytest.fail(f"poster did not start: {line!r} {err}")
    return process


def go(process: subprocess.Popen[str]) -> None:
    """Let a started poster post."""
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def committed(stdout: str) -> list[str]:
    """The keys a poster reported as committed."""
    return [line.split()[1] for line in stdout.splitlines() if line.startswith("committed ")]


def expected_minor(keys: set[str]) -> tuple[int, int, int]:
    """CASH, RECEIVABLE and POOL balances after posting ``keys`` once each (see _poster.py)."""
    units = sum(int(k.rsplit("-", 1)[1]) + 1 for k in keys)
    return units, 2 * units, -3 * units


def balances(backend: Backend) -> tuple[int, int, int]:
    """The three accounts' balances, in minor units."""
    journal = backend.journal()
    return tuple(journal.balance(a).minor for a in (CASH, RECEIVABLE, POOL))  # type: ignore[return-value]


def cli_check(backend: Backend) -> tuple[int, str]:
    """Run `airex ledger check` on the backend's database: the real command in a child
    process once the main app registers the ledger commands, and always the sub-app."""
    from airex.cli import app as airex_app
    from airex.cli._ledger import ledger_app

    args = ["ledger", "check", "--database", backend.url]
    if any(group.name == "ledger" for group in airex_app.registered_groups):
        child = subprocess.run(
            [sys.executable, "-m", "airex", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if child.returncode != 0:
            return child.returncode, child.stdout + child.stderr
    app = typer.Typer()
    app.add_typer(ledger_app, name="ledger")
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout + result.stderr


def test_concurrent_posters_never_double_post_or_lose_a_posting(backend: Backend) -> None:
    """Three processes post 60 shared keys (in different orders) and 30 own keys each, at once."""
    shared = [f"shared-{n}" for n in range(60)]
    processes = []
    expected: set[str] = set(shared)
    for index in range(3):
        own = [f"own{index}-{n}" for n in range(30)]
        expected |= set(own)
        keys = shared + own
        random.Random(index).shuffle(keys)
        processes.append(start_poster(backend, seed=index, keys=keys))
    for process in processes:
        go(process)
    for process in processes:
        out, err = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, err
        assert out.endswith("done\n")
    journal = backend.journal()
    keys = [e.idempotency_key for e in journal.entries()]
    assert sorted(keys) == sorted(expected)  # each key once, none lost
    assert balances(backend) == expected_minor(expected)
    report = check_ledger(backend.engine)
    assert report.ok, report.lines()


def test_killed_posters_leave_a_consistent_ledger(backend: Backend) -> None:
    """Five posters killed (SIGKILL) at random moments: check passes each time; a sixth ends."""
    keys = [f"crash-{n}" for n in range(300)]
    rng = random.Random(4)
    reported: set[str] = set()
    for round_ in range(5):
        process = start_poster(backend, seed=round_, keys=keys)
        assert process.stdout is not None
        go(process)
        # Kill after a random number of commits (plus a random instant), which lands inside
        # the next batch's transaction, or between two of them.
        target = len(reported) + rng.randint(1, 40)
        seen = 0
        while seen < target and process.stdout.readline().startswith("committed "):
            seen += 1
        time.sleep(rng.uniform(0, 0.005))
        os.kill(process.pid, signal.SIGKILL)
        out, _ = process.communicate(timeout=TIMEOUT)
        assert process.returncode == -signal.SIGKILL
        assert "done" not in out  # it was killed while posting
        reported |= set(keys[:seen]) | set(committed(out))
        report = check_ledger(backend.engine)
        assert report.ok, report.lines()
        status, text = cli_check(backend)
        assert status == 0, text
        stored = {e.idempotency_key for e in backend.journal().entries()}
        assert reported <= stored  # a reported commit is never lost
        assert stored <= set(keys)
        assert balances(backend) == expected_minor(stored)  # nothing half-posted
    process = start_poster(backend, seed=99, keys=keys)
    go(process)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    stored_keys = [e.idempotency_key for e in backend.journal().entries()]
    assert sorted(stored_keys) == sorted(keys)  # completed, and no key twice
    assert balances(backend) == expected_minor(set(keys))
    assert check_ledger(backend.engine).ok
