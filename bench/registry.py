"""Benchmark of the registry: bulk load, usage checks, resolution and shares, against a dict.

    python bench/registry.py                    # 1 000 000 works, SQLite
    python bench/registry.py --works 100000     # quicker
    python bench/registry.py --postgres         # also PostgreSQL

What it measures, in one run:

1. **Bulk load.** ``--works`` synthetic works (the identifiers of
   :func:`airex.formats.usage.generate_works`: ISRCs, ISWCs, ISBN-13s, some with a second
   DOI or proprietary id) with ~1.5 rightsholders each out of ``--parties`` (default 100 000)
   and AI-use preferences drawn from a handful of realistic lists (a catalogue opting in
   alike), loaded with :meth:`Registry.import_works` (validation, normal form, hashes,
   idempotency, one transaction per 50 000 works). Reported as works/s and total time.
2. **Checker load.** A :class:`UsageChecker` for a Granted, Worldwide, all-works licence over
   a quarter loads every identifier, version and preference list on its first check.
3. **Checks.** Every (identifier, use type) pair for two use types — all distinct, so nothing
   comes from the checker's decision cache — plus 10 % unknown identifiers. Baseline: a plain
   ``dict`` lookup of the same identifiers (flat-file form ``Type::Value``) in a dict of all
   identifiers → key, built beforehand, in the same run. Reported: checks/s, lookups/s, ratio.
4. **Shares** of every work for a Worldwide licence (:meth:`Registry.shares`), and
   :meth:`Registry.resolve` of every identifier.

Peak resident memory of the process is printed at the end. Generated data lives in a
temporary directory (SQLite) or a throwaway PostgreSQL database (``airex_bench_<random>``,
dropped at the end). The PostgreSQL server is ``--postgres-url URL``, else
``$AIREX_TEST_DATABASE_URL``, else ``postgresql://postgres@127.0.0.1:5432/test``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import sqlalchemy as sa

from airex.db import DatabaseConfig, create_engine
from airex.formats.usage import WorkRef, generate_works, synthetic_header
from airex.registry import DeclaredWork, LicenceScope, Preference, Registry, Share, upgrade

TRAINING = "UseForTrainingGenerativeAI"
MINING = "UseForDataMining"
START, END = date(2026, 1, 1), date(2026, 3, 31)

PREFERENCE_LISTS: tuple[tuple[Preference, ...], ...] = (
    (Preference(TRAINING, "OptIn"),),
    (Preference(TRAINING, "OptIn"), Preference(MINING, "OptOut", date(2026, 2, 1))),
    (Preference(TRAINING, "OptOut"),),
    (Preference(TRAINING, "OptIn", None, ("GB", "IE")), Preference(MINING, "OptIn")),
    (),
)
LIST_WEIGHTS = (55, 15, 10, 5, 15)


def declared(
    n: int, parties: int, seed: int
) -> tuple[list[DeclaredWork], list[tuple[WorkRef, ...]]]:
    """``n`` works over ``parties`` rightsholders, and their identifiers."""
    rng = random.Random(seed)
    header = synthetic_header(n, seed=seed)
    ids = generate_works(n, seed=seed, works=n, header=header)
    party_ids = [f"PADPIDA2026RH{i:06d}" for i in range(parties)]
    lists = rng.choices(PREFERENCE_LISTS, LIST_WEIGHTS, k=n)
    half = Decimal(50)
    works = []
    for i, refs in enumerate(ids):
        first = party_ids[rng.randrange(parties)]
        if i % 2:
            second = party_ids[rng.randrange(parties)]
            shares: tuple[Share, ...] = (Share(first, half), Share(second, half))
            if second == first:
                shares = (Share(first, Decimal(100)),)
        else:
            shares = (Share(first, Decimal(100)),)
        works.append(
            DeclaredWork(
                work_ids=tuple(tuple(r) for r in refs),  # type: ignore[misc]
                title=f"Work {i}",
                work_type="SoundRecording",
                shares=shares,
                preferences=lists[i],
            )
        )
    return works, ids


def peak_mb() -> float:
    """Peak resident set size of this process, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident set size of this process, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextmanager
def sqlite_db() -> Iterator[str]:
    """A SQLite file in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="airex-bench-registry-") as folder:
        yield f"sqlite:///{Path(folder) / 'registry.db'}"


@contextmanager
def postgres_db(server: str) -> Iterator[str]:
    """A throwaway PostgreSQL database on ``server``."""
    url = sa.make_url(server).set(drivername="postgresql")
    name = f"airex_bench_{secrets.token_hex(6)}"
    admin_url = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(label: str, url: str, works: list[DeclaredWork], ids: list[tuple[WorkRef, ...]]) -> None:
    """Every measurement on one database."""
    n = len(works)
    engine = create_engine(DatabaseConfig(url=url, sqlite_synchronous="NORMAL"))
    upgrade(engine)
    registry = Registry(engine)
    print(f"\n== {label}: {n:,} works")

    rss = rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    result = registry.import_works(
        works, declared_by="PADPIDA2026HARMONIA", source="bench", effective_from=date(2025, 12, 1)
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.new_works == n, result
    print(
        f"bulk load          {elapsed:8.2f} s   {n / elapsed:12,.0f} works/s   "
        f"(CPU {cpu:.2f} s; RSS +{rss_mb() - rss:,.0f} MB)"
    )

    scope = LicenceScope(
        licence_id="LIC-BENCH",
        status="Granted",
        use_types=frozenset({TRAINING, MINING}),
        territories=frozenset({"Worldwide"}),
        excluded_territories=frozenset(),
        term_start=date(2026, 1, 1),
        term_end=date(2026, 12, 31),
    )
    checker = registry.checker(scope, START, END)
    refs = [r[0] for r in ids]
    unknown = [WorkRef("ISRC", f"ZZXXX26{i:05d}") for i in range(n // 10)]
    rss = rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    checker.check(refs[0], TRAINING)
    load, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"checker load       {load:8.2f} s   (CPU {cpu:.2f} s; RSS +{rss_mb() - rss:,.0f} MB)")

    pairs = [(ref, use) for use in (TRAINING, MINING) for ref in refs[1:] + unknown]
    gc.collect()
    check = checker.check
    rss = rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    for ref, use in pairs:
        check(ref, use)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    checks = len(pairs) / elapsed
    grown = rss_mb() - rss

    table = {str(r): i for i, group in enumerate(ids, start=1) for r in group}
    get = table.get
    started, base_cpu = time.perf_counter(), time.process_time()
    for ref, _use in pairs:
        get(str(ref))
    base = len(pairs) / (time.perf_counter() - started)
    base_cpu = time.process_time() - base_cpu
    print(
        f"checks             {checks:12,.0f} /s   (CPU {len(pairs) / cpu:,.0f} /s; decision "
        f"cache RSS +{grown:,.0f} MB) distinct (identifier, use type), {len(pairs):,} of them"
    )
    print(
        f"baseline dict      {base:12,.0f} /s   (CPU {len(pairs) / base_cpu:,.0f} /s)   "
        f"ratio {checks / base:.2f}"
    )
    reasons: dict[str, int] = {}
    for ref, use in pairs[: len(pairs) // 2]:
        reason = str(check(ref, use).reason)
        reasons[reason] = reasons.get(reason, 0) + 1
    print(f"reasons ({TRAINING}): {dict(sorted(reasons.items()))}")

    started, cpu = time.perf_counter(), time.process_time()
    shares = registry.shares(range(1, n + 1), END, ["Worldwide"])
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert all(sum(h for _, h in s) == 10_000 for s in shares.values())
    print(f"shares, all works  {elapsed:8.2f} s   {n / elapsed:12,.0f} works/s   (CPU {cpu:.2f} s)")

    all_ids = [r for group in ids for r in group]
    started = time.perf_counter()
    resolved = registry.resolve(all_ids)
    elapsed = time.perf_counter() - started
    assert None not in resolved.values()
    print(f"resolve, all ids   {elapsed:8.2f} s   {len(all_ids) / elapsed:12,.0f} ids/s")
    engine.dispose()


def main() -> None:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, default=1_000_000)
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AIREX_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    works, ids = declared(args.works, args.parties, args.seed)
    print(f"generated {len(works):,} works in {time.perf_counter() - started:.1f} s")
    with sqlite_db() as url:
        run("SQLite", url, works, ids)
    if args.postgres:
        with postgres_db(args.postgres_url) as url:
            run("PostgreSQL", url, works, ids)
    print(f"\npeak RSS {peak_mb():,.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
