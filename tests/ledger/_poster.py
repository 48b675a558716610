"""A posting process for the concurrency and crash tests (run as a script, never collected).

    python _poster.py URL SEED KEYS...

Posts one entry per key, in batches of 1 to 8 entries (sizes drawn from SEED), and prints
``committed KEY`` for every key of a batch once its transaction has committed. It prints
``ready`` once connected and waits for a line on standard input before posting, so a test can
start several posters at the same moment. Key ``<anything>-<n>`` always posts the same content:
CASH debited n+1 cents, RECEIVABLE 2(n+1), the POOL credited 3(n+1), effective 2026-01-(1 + n % 28).

Kill points: with ``AIREX_KILL_AT=<phase>`` (and ``AIREX_KILL_IN=<k>``, default 1) the poster
stops inside its k-th posting transaction at that phase, prints ``at <phase>`` and blocks, so
that the test can SIGKILL it exactly there. The phases, in transaction order:
``before-entry`` (accounts resolved, no entry inserted yet), ``after-entry-insert``,
``after-postings``, ``after-balances`` (every row written), ``before-commit`` (the COMMIT is
about to be sent).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from airex.ledger import (
    AccountKey,
    AccountKind,
    DatabaseConfig,
    Journal,
    Money,
    NewEntry,
    PostingLine,
    _bulk,
    create_engine,
)

CASH = AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "EUR")
RECEIVABLE = AccountKey("PADPIDA2026DEV01", AccountKind.LICENSEE_RECEIVABLE, "EUR")
POOL = AccountKey("PADPIDA2026CMO01", AccountKind.DISTRIBUTABLE_POOL, "EUR", "LIC-1")


def entry(key: str) -> NewEntry:
    """The one content key ``key`` always posts."""
    n = int(key.rsplit("-", 1)[1])
    return NewEntry(
        key,
        date(2026, 1, 1 + n % 28),
        [
            PostingLine(CASH, Money(n + 1, "EUR")),
            PostingLine(RECEIVABLE, Money(2 * (n + 1), "EUR")),
            PostingLine(POOL, Money(-3 * (n + 1), "EUR")),
        ],
        f"entry {key}",
    )


PHASES = ("before-entry", "after-entry-insert", "after-postings", "after-balances", "before-commit")


def _install_kill_point(engine: Any, phase: str, transaction: int) -> None:
    """Stop (print ``at <phase>``, then block) at ``phase`` of the ``transaction``-th posting
    transaction, by wrapping the journal's bulk writes and listening for the commit."""
    if phase not in PHASES:
        raise SystemExit(f"unknown kill phase {phase!r}; one of {', '.join(PHASES)}")
    seen = [0]  # posting transactions started (insert_entries runs once per transaction)

    def stop(here: str) -> None:
        if here == phase and seen[0] == transaction:
            print(f"at {phase}", flush=True)
            while True:
                time.sleep(60)  # killed here

    def wrap(name: str, before: str | None, after: str | None) -> None:
        original: Callable[..., Any] = getattr(_bulk, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if name == "insert_entries":
                seen[0] += 1
            if before:
                stop(before)
            result = original(*args, **kwargs)
            if after:
                stop(after)
            return result

        setattr(_bulk, name, wrapped)

    wrap("insert_entries", "before-entry", "after-entry-insert")
    wrap("insert_postings", None, "after-postings")
    wrap("add_movements", None, "after-balances")

    from sqlalchemy import event

    @event.listens_for(engine, "commit")
    def _before_commit(connection: Any) -> None:  # fires before COMMIT is sent
        if connection.get_execution_options().get("airex_write"):
            stop("before-commit")


def main() -> None:
    """Post every key given on the command line, reporting commits as they happen."""
    url, seed, keys = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    rng = random.Random(seed)
    engine = create_engine(DatabaseConfig(url=url))
    if os.environ.get("AIREX_KILL_AT"):
        _install_kill_point(
            engine, os.environ["AIREX_KILL_AT"], int(os.environ.get("AIREX_KILL_IN", "1"))
        )
    journal = Journal(engine)
    print("ready", flush=True)
    sys.stdin.readline()
    start = 0
    while start < len(keys):
        size = rng.randint(1, 8)
        batch = keys[start : start + size]
        if size == 1:
            journal.post(entry(batch[0]))
        else:
            journal.post_many([entry(k) for k in batch], batch_size=size)
        print("\n".join(f"committed {k}" for k in batch), flush=True)
        start += size
    engine.dispose()
    print("done", flush=True)


if __name__ == "__main__":
    main()
