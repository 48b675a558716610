"""Benchmark of the ledger: batched posting against a plain insert, and balance-query cost.

    python bench/ledger.py                      # SQLite and PostgreSQL, 100 000 entries
    python bench/ledger.py --entries 20000      # quicker
    python bench/ledger.py --no-postgres        # SQLite only

What it measures, on each backend, in the same run:

1. **Posting throughput.** ``--entries`` journal entries of 2 to 4 postings each (random
   amounts over a few hundred accounts, dates over a year) posted with
   ``Journal.post_many`` (batched mode: one transaction per ``--batch`` entries, with
   validation, content hashes, idempotency checks, account resolution and the balance tables
   kept in the same transaction). The baseline is a plain DB-API ``executemany`` of the *same
   rows* (entries and postings, ids precomputed) into the *same tables* (a second database
   migrated the same way, its accounts inserted beforehand), committed every ``--batch``
   entries too. Both are reported as rows per second (entries + postings); the target is
   ours ≥ 0.5 × baseline. For information, the same executemany into bare tables (same
   columns and indexes, no foreign keys) is reported too.
2. **Balance-query cost.** The time of ``Journal.balance(account)`` (and, for information,
   ``balance(account, as_of=...)`` and a naive ``SUM`` over the postings) on a busy account
   when the journal holds 10 000 postings and again at 1 000 000; the target is a ratio ≤ 2.

Generated data lives in a temporary directory (SQLite) or a throwaway PostgreSQL database
(``airex_bench_<random>``, dropped at the end); nothing is written into the repository.
The PostgreSQL server is ``--postgres URL``, else ``$AIREX_TEST_DATABASE_URL``, else
``postgresql://postgres@127.0.0.1:5432/test``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from airex.ledger import (
    AccountKey,
    AccountKind,
    DatabaseConfig,
    Journal,
    Money,
    NewEntry,
    PostingLine,
    create_engine,
    upgrade,
)

START = date(2026, 1, 1)
HOT = AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "EUR")
KINDS = [k for k in AccountKind if not k.needs_licence]


def accounts(count: int) -> list[AccountKey]:
    """``count`` EUR accounts over parties and kinds (per-licence pools included)."""
    keys: list[AccountKey] = []
    party = 0
    while len(keys) < count:
        name = f"PADPIDA2026P{party:05d}"
        keys += [AccountKey(name, kind, "EUR") for kind in KINDS]
        keys.append(AccountKey(name, AccountKind.DISTRIBUTABLE_POOL, "EUR", f"LIC-{party}"))
        party += 1
    return keys[:count]


def entries(prefix: str, count: int, pool: list[AccountKey], seed: int) -> Iterator[NewEntry]:
    """``count`` balanced entries of 2-4 postings over a year, in date order (as a journal is
    posted); a third of them touch the HOT account."""
    rng = random.Random(seed)
    for n in range(count):
        size = rng.randint(2, 4)
        debits = [rng.randint(1, 10**6) for _ in range(size - 1)]
        targets = rng.sample(pool, size)
        if n % 3 == 0:
            targets[0] = HOT
        lines = [PostingLine(a, Money(m, "EUR")) for a, m in zip(targets, debits, strict=False)]
        lines.append(PostingLine(targets[-1], Money(-sum(debits), "EUR")))
        day = START + timedelta(days=n * 365 // count)
        yield NewEntry(f"{prefix}-{n}", day, lines, f"bench {n}")


# --- baseline: plain executemany of the same rows ----------------------------------------------

BASELINE_DDL = {
    "sqlite": [
        "CREATE TABLE bench_entry (id INTEGER PRIMARY KEY, idempotency_key VARCHAR(255) NOT NULL"
        " UNIQUE, effective_on DATE NOT NULL, description TEXT NOT NULL, reverses_entry_id"
        " INTEGER, content_hash VARCHAR(64) NOT NULL, posted_at DATETIME NOT NULL)",
        "CREATE INDEX ix_bench_entry_effective_on ON bench_entry (effective_on)",
        "CREATE TABLE bench_posting (id INTEGER PRIMARY KEY, entry_id INTEGER NOT NULL,"
        " account_id INTEGER NOT NULL, currency VARCHAR(3) NOT NULL, amount_minor BIGINT NOT NULL)",
        "CREATE INDEX ix_bench_posting_entry ON bench_posting (entry_id)",
        "CREATE INDEX ix_bench_posting_account ON bench_posting (account_id, entry_id)",
    ],
    "postgresql": [
        "CREATE TABLE bench_entry (id BIGINT PRIMARY KEY, idempotency_key VARCHAR(255) NOT NULL"
        " UNIQUE, effective_on DATE NOT NULL, description TEXT NOT NULL, reverses_entry_id"
        " BIGINT, content_hash VARCHAR(64) NOT NULL, posted_at TIMESTAMPTZ NOT NULL)",
        "CREATE INDEX ix_bench_entry_effective_on ON bench_entry (effective_on)",
        "CREATE TABLE bench_posting (id BIGSERIAL PRIMARY KEY, entry_id BIGINT NOT NULL,"
        " account_id BIGINT NOT NULL, currency VARCHAR(3) NOT NULL, amount_minor BIGINT NOT NULL)",
        "CREATE INDEX ix_bench_posting_entry ON bench_posting (entry_id)",
        "CREATE INDEX ix_bench_posting_account ON bench_posting (account_id, entry_id)",
    ],
}


@dataclass
class Rows:
    """The rows a set of entries makes, ready for executemany (ids precomputed)."""

    accounts: list[AccountKey]  # account id n is accounts[n - 1]
    entries: list[tuple[Any, ...]]
    postings: list[tuple[Any, ...]]


def baseline_rows(batch: list[NewEntry], backend: str) -> Rows:
    """The entry and posting rows of ``batch``, as the driver takes them."""
    ids: dict[AccountKey, int] = {}
    now = datetime.now(UTC)
    stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if backend == "sqlite" else now
    entry_rows, posting_rows = [], []
    for number, entry in enumerate(batch, start=1):
        day: Any = entry.effective_on.isoformat() if backend == "sqlite" else entry.effective_on
        entry_rows.append(
            (number, entry.idempotency_key, day, entry.description, entry.content_hash, stamp)
        )
        for line in entry.lines:
            account = ids.setdefault(line.account, len(ids) + 1)
            posting_rows.append((number, account, "EUR", line.amount.minor))
    return Rows(list(ids), entry_rows, posting_rows)


def prepare_baseline(engine: sa.Engine, backend: str, rows: Rows) -> None:
    """The baseline database: the ledger schema, its accounts, and the bare tables."""
    upgrade(engine)
    account = sa.table(
        "ledger_account",
        *(sa.column(c) for c in ("id", "party", "kind", "currency", "licence_id", "created_at")),
    )
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(account),
            [
                {
                    "id": n,
                    "party": key.party,
                    "kind": str(key.kind),
                    "currency": key.currency,
                    "licence_id": key.licence_id,
                    "created_at": now.replace(tzinfo=None) if backend == "sqlite" else now,
                }
                for n, key in enumerate(rows.accounts, start=1)
            ],
        )
        for statement in BASELINE_DDL[backend]:
            connection.exec_driver_sql(statement)


def run_baseline(engine: sa.Engine, backend: str, rows: Rows, batch: int, prefix: str) -> float:
    """Seconds to executemany ``rows`` into ``<prefix>_entry`` and ``<prefix>_posting``,
    committing every ``batch`` entries."""
    mark = "?" if backend == "sqlite" else "%s"
    insert_entry = (
        f"INSERT INTO {prefix}_entry (id, idempotency_key, effective_on, description,"
        f" content_hash, posted_at) VALUES ({', '.join([mark] * 6)})"
    )
    insert_posting = (
        f"INSERT INTO {prefix}_posting (entry_id, account_id, currency, amount_minor)"
        f" VALUES ({', '.join([mark] * 4)})"
    )
    raw = engine.raw_connection()
    try:
        dbapi: Any = raw.driver_connection
        cursor = dbapi.cursor()
        began = time.perf_counter()
        posting_at = 0
        for start in range(0, len(rows.entries), batch):
            chunk = rows.entries[start : start + batch]
            last_id = chunk[-1][0]
            end = posting_at
            while end < len(rows.postings) and rows.postings[end][0] <= last_id:
                end += 1
            if backend == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(insert_entry, chunk)
            cursor.executemany(insert_posting, rows.postings[posting_at:end])
            dbapi.commit()
            posting_at = end
        elapsed = time.perf_counter() - began
        cursor.close()
    finally:
        raw.close()
    return elapsed


# --- measurements ----------------------------------------------------------------------------


def timed(call: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``call`` over ``repeat`` runs (after a warm-up)."""
    for _ in range(min(20, repeat)):
        call()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


@dataclass
class BalanceCost:
    """Median seconds of the balance queries at one journal size."""

    postings: int
    now: float
    as_of: float
    naive_sum: float


def balance_cost(engine: sa.Engine, journal: Journal, repeat: int) -> BalanceCost:
    """Time the balance of the HOT account now, as of a date, and by a naive SUM."""
    with engine.connect() as connection:
        postings = int(
            connection.exec_driver_sql("SELECT COUNT(*) FROM ledger_posting").scalar() or 0
        )
        hot_id = journal.accounts(party=HOT.party)
        account_id = next(a.id for a in hot_id if a.kind == HOT.kind)
    as_of = START + timedelta(days=300)
    naive = sa.text("SELECT SUM(amount_minor) FROM ledger_posting WHERE account_id = :a")

    def naive_sum() -> object:
        with engine.connect() as connection:
            return connection.execute(naive, {"a": account_id}).scalar()

    return BalanceCost(
        postings=postings,
        now=timed(lambda: journal.balance(HOT), repeat),
        as_of=timed(lambda: journal.balance(HOT, as_of=as_of), repeat),
        naive_sum=timed(naive_sum, max(5, repeat // 20)),
    )


def post_until(
    journal: Journal,
    engine: sa.Engine,
    target: int,
    pool: list[AccountKey],
    prefix: str,
    batch: int,
) -> None:
    """Post entries (untimed) until the journal holds at least ``target`` postings."""
    with engine.connect() as connection:
        have = int(connection.exec_driver_sql("SELECT COUNT(*) FROM ledger_posting").scalar() or 0)
    seed = 1000
    while have < target:
        count = max(1, min(20_000, (target - have) // 3 + 1))
        made = list(entries(f"{prefix}{seed}", count, pool, seed))
        journal.post_many(made, batch_size=batch)
        have += sum(len(e.lines) for e in made)
        seed += 1


@contextmanager
def input_frozen() -> Iterator[None]:
    """Keep the prepared input out of the cyclic garbage collector while timing.

    The benchmark holds its whole input in memory (100 000 entries: over a million objects);
    without this, every collection triggered by the code under test would rescan that input,
    a cost of the benchmark's shape (a real caller streams its entries), not of the ledger.
    Applied to the baseline and to the ledger alike.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class Result:
    """One backend's figures."""

    backend: str
    entries: int
    rows: int
    ours: float
    baseline: float
    bare: float
    single_rate: float
    small: BalanceCost
    big: BalanceCost


@contextmanager
def sqlite_databases() -> Iterator[tuple[str, str]]:
    """Two SQLite files in a temporary directory (ledger, baseline)."""
    with tempfile.TemporaryDirectory(prefix="airex-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'ledger.db'}", f"sqlite:///{Path(folder) / 'base.db'}"


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A throwaway PostgreSQL database on ``server`` (dropped at the end)."""
    url = sa.make_url(server).set(drivername="postgresql")
    admin_url = url.set(database="postgres").render_as_string(hide_password=False)
    name = f"airex_bench_{secrets.token_hex(5)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_databases(server: str) -> Iterator[tuple[str, str]]:
    """Two throwaway PostgreSQL databases (ledger, baseline)."""
    with postgres_database(server) as ledger, postgres_database(server) as base:
        yield ledger, base


def run_backend(backend: str, url: str, baseline_url: str, args: argparse.Namespace) -> Result:
    """Every measurement on one database (and the baseline on another)."""
    engine = create_engine(DatabaseConfig(url=url))
    baseline_engine = create_engine(DatabaseConfig(url=baseline_url))
    try:
        upgrade(engine)
        journal = Journal(engine)
        pool = accounts(args.accounts)
        say(f"[{backend}] warming up to {args.small:,} postings")
        post_until(journal, engine, args.small, pool, "warm", args.batch)
        small = balance_cost(engine, journal, args.repeat)

        say(f"[{backend}] generating {args.entries:,} entries")
        batch = list(entries("e", args.entries, pool, seed=1))
        rows = baseline_rows(batch, backend)
        row_count = len(rows.entries) + len(rows.postings)
        say(f"[{backend}] baseline: executemany of {row_count:,} rows")
        prepare_baseline(baseline_engine, backend, rows)
        with input_frozen():
            baseline = run_baseline(baseline_engine, backend, rows, args.batch, "ledger")
            bare = run_baseline(baseline_engine, backend, rows, args.batch, "bench")
        say(f"[{backend}] posting {args.entries:,} entries with post_many")
        del rows
        with input_frozen():
            began = time.perf_counter()
            refs = journal.post_many(batch, batch_size=args.batch)
            ours = time.perf_counter() - began
        assert sum(r.created for r in refs) == len(batch)

        singles = list(entries("single", args.singles, pool, seed=2))
        began = time.perf_counter()
        for entry in singles:
            journal.post(entry)
        single_rate = len(singles) / (time.perf_counter() - began)

        say(f"[{backend}] growing to {args.big:,} postings")
        post_until(journal, engine, args.big, pool, "grow", args.batch)
        big = balance_cost(engine, journal, args.repeat)
        return Result(backend, len(batch), row_count, ours, baseline, bare, single_rate, small, big)
    finally:
        engine.dispose()
        baseline_engine.dispose()


def say(text: str) -> None:
    """Progress, on stderr."""
    print(text, file=sys.stderr, flush=True)


def report(result: Result) -> None:
    """Print one backend's figures and ratios."""
    ours_rate = result.rows / result.ours
    base_rate = result.rows / result.baseline
    bare_rate = result.rows / result.bare
    ratio = ours_rate / base_rate
    now_ratio = result.big.now / result.small.now
    as_of_ratio = result.big.as_of / result.small.as_of
    naive_ratio = result.big.naive_sum / result.small.naive_sum
    us = 1e6
    print(f"\n== {result.backend} ==")
    print(f"posting {result.entries:,} entries ({result.rows:,} rows: entries + postings)")
    print(
        f"  baseline executemany : {result.baseline:8.2f} s  {base_rate:10,.0f} rows/s"
        "  (same rows, same tables)"
    )
    print(f"  post_many (batched)  : {result.ours:8.2f} s  {ours_rate:10,.0f} rows/s")
    print(f"  ratio ours/baseline  : {ratio:8.2f}   (target >= 0.5: {verdict(ratio >= 0.5)})")
    print(
        f"  bare-table insert    : {result.bare:8.2f} s  {bare_rate:10,.0f} rows/s"
        f"  (no foreign keys; ours/bare {ours_rate / bare_rate:.2f}, for information)"
    )
    print(f"  post() one at a time : {result.single_rate:10,.0f} entries/s (for information)")
    print(
        f"balance of one account at {result.small.postings:,} vs {result.big.postings:,} postings"
    )
    print(
        f"  balance now          : {result.small.now * us:8.0f} us vs {result.big.now * us:8.0f} us"
        f"  ratio {now_ratio:5.2f} (target <= 2: {verdict(now_ratio <= 2)})"
    )
    print(
        f"  balance as of a date : {result.small.as_of * us:8.0f} us vs {result.big.as_of * us:8.0f} us"
        f"  ratio {as_of_ratio:5.2f} (one row per account and day)"
    )
    print(
        f"  naive SUM(postings)  : {result.small.naive_sum * us:8.0f} us vs "
        f"{result.big.naive_sum * us:8.0f} us  ratio {naive_ratio:5.2f} (what the table avoids)"
    )


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def main() -> None:
    """Parse the options, run each backend, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="entries to post (100000)")
    parser.add_argument("--batch", type=int, default=2000, help="entries per transaction (2000)")
    parser.add_argument("--accounts", type=int, default=400, help="accounts in use (400)")
    parser.add_argument("--singles", type=int, default=1000, help="entries posted one by one")
    parser.add_argument("--small", type=int, default=10_000, help="postings, small journal")
    parser.add_argument("--big", type=int, default=1_000_000, help="postings, big journal")
    parser.add_argument("--repeat", type=int, default=500, help="balance queries timed")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server to use")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    results = []
    if not args.no_sqlite:
        with sqlite_databases() as (url, base):
            results.append(run_backend("sqlite", url, base, args))
    if not args.no_postgres:
        server = (
            args.postgres
            or os.environ.get("AIREX_TEST_DATABASE_URL")
            or ("postgresql://postgres@127.0.0.1:5432/test")
        )
        with postgres_databases(server) as (url, base):
            results.append(run_backend("postgresql", url, base, args))
    for result in results:
        report(result)


if __name__ == "__main__":
    main()
