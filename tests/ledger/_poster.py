"""A posting process for the concurrency and crash tests (run as a script, never collected).

    python _poster.py URL SEED KEYS...

Posts one entry per key, in batches of 1 to 8 entries (sizes drawn from SEED), and prints
``committed KEY`` for every key of a batch once its transaction has committed. It prints
``ready`` once connected and waits for a line on standard input before posting, so a test can
start several posters at the same moment. Key ``<anything>-<n>`` always posts the same content:
CASH debited n+1 cents, RECEIVABLE 2(n+1), the POOL credited 3(n+1), effective 2026-01-(1 + n % 28).
"""

from __future__ import annotations

import random
import sys
from datetime import date

from airex.ledger import (
    AccountKey,
    AccountKind,
    DatabaseConfig,
    Journal,
    Money,
    NewEntry,
    PostingLine,
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


def main() -> None:
    """Post every key given on the command line, reporting commits as they happen."""
    url, seed, keys = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    rng = random.Random(seed)
    engine = create_engine(DatabaseConfig(url=url))
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
