"""Bulk: 20 000 works loaded through the plain-data path, then resolved, checked, shared."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from _registry_data import LABEL, MINING, OTHER, Q1, TRAINING, scope

from airex.formats.usage import WorkRef, generate_works, synthetic_header
from airex.registry import DeclaredWork, Preference, Reason, Share

if TYPE_CHECKING:
    from conftest import Db

N = 20_000
OPT_IN = (Preference(TRAINING, "OptIn"),)
OPT_OUT = (Preference(TRAINING, "OptOut"), Preference(MINING, "OptOut"))


def catalogue() -> tuple[list[DeclaredWork], list[tuple[WorkRef, ...]]]:
    """N works with the synthetic generator's identifiers: a third opted in to training, a
    third opted out of everything, a third without preference; every other work split 50/50."""
    ids = generate_works(N, seed=3, works=N, header=synthetic_header(N, seed=3))
    works = []
    for n, refs in enumerate(ids):
        shares = (
            (Share(LABEL, Decimal(100)),)
            if n % 2
            else (Share(LABEL, Decimal(50)), Share(OTHER, Decimal(50)))
        )
        works.append(
            DeclaredWork(
                work_ids=tuple((r.type, r.value, r.namespace) for r in refs),
                title=f"Work {n}",
                work_type="SoundRecording",
                shares=shares,
                preferences=(OPT_IN, OPT_OUT, ())[n % 3],
            )
        )
    return works, ids


def test_twenty_thousand_works_load_resolve_check_and_share(sqlite_db: Db) -> None:
    """Every work is created once, every identifier resolves, decisions and shares follow."""
    registry = sqlite_db.registry()
    works, ids = catalogue()
    result = registry.import_works(
        works, declared_by=LABEL, source="bulk", effective_from=date(2025, 12, 1), chunk_size=3000
    )
    assert (result.works, result.new_works, result.new_versions, result.conflicts) == (N, N, N, 0)
    every_id = [r for refs in ids for r in refs]
    resolved = registry.resolve(every_id)
    assert len(resolved) == len(every_id)
    assert [resolved[r] for r in every_id] == [n for n, refs in enumerate(ids, 1) for _ in refs]
    checker = registry.checker(scope(), *Q1)
    reasons = Counter(checker.check(refs[0], TRAINING).reason for refs in ids)
    assert reasons == {
        Reason.OPTED_IN: len(range(0, N, 3)),
        Reason.OPTED_OUT: len(range(1, N, 3)),
        Reason.NO_PREFERENCE_OPT_IN_REGIME: len(range(2, N, 3)),
    }
    shares = registry.shares(range(1, N + 1), Q1[1], ["Worldwide"])
    assert shares[1] == ((LABEL, 5000), (OTHER, 5000))
    assert shares[2] == ((LABEL, 10000),)
    assert all(sum(h for _, h in s) == 10000 for s in shares.values())
    again = registry.import_works(
        works, declared_by=LABEL, source="bulk", effective_from=date(2025, 12, 1)
    )
    assert (again.replayed, again.unchanged) == (True, N)
    assert registry.count() == N


def test_bulk_load_on_postgresql_too(backend: Db) -> None:
    """The COPY path on PostgreSQL loads, resolves and shares like SQLite's executemany."""
    registry = backend.registry()
    works, ids = catalogue()
    works, ids = works[:2000], ids[:2000]
    registry.import_works(
        works, declared_by=LABEL, source="bulk", effective_from=date(2025, 12, 1), chunk_size=700
    )
    resolved = registry.resolve([refs[-1] for refs in ids])
    assert list(resolved.values()) == list(range(1, 2001))
    assert registry.shares([1, 2], Q1[1], ["Worldwide"]) == {
        1: ((LABEL, 5000), (OTHER, 5000)),
        2: ((LABEL, 10000),),
    }
