"""Separate processes posting at once, and posting processes killed inside a transaction.

Each poster is a real OS process (``_poster.py``) on the same database. Concurrent posters
that share idempotency keys must post each key exactly once and lose none; a poster killed
(SIGKILL) inside a posting transaction, at each phase of it in turn, must leave a ledger whose
every invariant holds (``airex ledger check``), with every commit it reported and nothing of the
killed transaction, and which a restarted poster completes exactly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
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


def start_poster(
    backend: Backend, seed: int, keys: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start a poster process and wait until it is connected and waiting for 'go'."""
    process = subprocess.Popen(
        [sys.executable, str(POSTER), backend.url, str(seed), *keys],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
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


KILL_PHASES = (
    "before-entry",
    "after-entry-insert",
    "after-postings",
    "after-balances",
    "before-commit",
)


def test_posters_killed_inside_a_transaction_leave_no_partial_entry(backend: Backend) -> None:
    """A poster is SIGKILLed inside its second posting transaction, at each phase in turn
    (before the entries, after them, after the postings, after the balances, just before the
    COMMIT): the first transaction stays, nothing of the second does, every invariant holds
    (checker and the real `airex ledger check`), and a restarted poster completes exactly."""
    all_keys: list[str] = []
    for round_, phase in enumerate(KILL_PHASES):
        keys = [f"crash-{n}" for n in range(20 * round_, 20 * round_ + 20)]
        all_keys += keys
        process = start_poster(
            backend, seed=round_, keys=keys, env={"AIREX_KILL_AT": phase, "AIREX_KILL_IN": "2"}
        )
        assert process.stdout is not None
        go(process)
        reported: list[str] = []
        for line in process.stdout:
            if line.startswith("committed "):
                reported.append(line.split()[1])
                continue
            assert line == f"at {phase}\n", line
            break
        else:
            pytest.fail(f"the poster ended without reaching {phase}: {process.communicate()}")
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=TIMEOUT)
        assert process.returncode == -signal.SIGKILL
        assert reported  # the first transaction committed, the second was killed inside
        stored = {e.idempotency_key for e in backend.journal().entries()}
        assert stored - set(all_keys[: 20 * round_]) == set(reported), phase  # no partial entry
        assert balances(backend) == expected_minor(stored)
        report = check_ledger(backend.engine)
        assert report.ok, (phase, report.lines())
        status, text = cli_check(backend)
        assert status == 0, (phase, text)
    process = start_poster(backend, seed=99, keys=all_keys)
    go(process)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    stored_keys = [e.idempotency_key for e in backend.journal().entries()]
    assert sorted(stored_keys) == sorted(all_keys)  # completed, and no key twice
    assert balances(backend) == expected_minor(set(all_keys))
    assert check_ledger(backend.engine).ok
