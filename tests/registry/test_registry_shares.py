"""Rightsholders' shares: the group for the licence territory, the version in effect, exact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from _registry_data import DECLARATIONS, LABEL, OTHER, plain
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airex
from airex.registry import Share
from airex.registry._read import choose_group
from airex.registry._territory import Area

if TYPE_CHECKING:
    from airex.registry import Registry
    from conftest import Db

ON = date(2026, 3, 31)
AOKAFOR, QUILLMARK, HARBORLANE = (
    "PADPIDA2026AOKAFOR",
    "PADPIDA2026QUILLMARK",
    "PADPIDA2026HARBORLANE",
)


@pytest.fixture
def samples(backend: Db) -> tuple[Registry, dict[str, int]]:
    """The sample declarations imported; work keys by first identifier key."""
    registry = backend.registry()
    for path in DECLARATIONS:
        raw = path.read_bytes()
        registry.import_declaration(airex.parse(raw), raw=raw)
    return registry, {w.ids[0].key: w.key for w in registry.works()}


@pytest.mark.parametrize(
    ("territories", "expected"),
    [
        (["Worldwide"], ((AOKAFOR, 6000), (QUILLMARK, 4000))),
        (["GB"], ((AOKAFOR, 6000), (QUILLMARK, 4000))),
        (["US"], ((AOKAFOR, 5000), (HARBORLANE, 3250), (QUILLMARK, 1750))),
        (["DE", "CA"], ((AOKAFOR, 5000), (HARBORLANE, 3250), (QUILLMARK, 1750))),
        (["GB", "IE"], ((AOKAFOR, 6000), (QUILLMARK, 4000))),
    ],
)
def test_the_share_group_follows_the_licence_territory(
    samples: tuple[Registry, dict[str, int]], territories: list[str], expected: tuple[object]
) -> None:
    """The Cartographer's Daughter: 60/40 outside the US and Canada, 50/17.5/32.5 inside."""
    registry, keys = samples
    key = keys["ISBN::9781916431829"]
    assert registry.shares([key], ON, territories) == {key: expected}


def test_every_sample_work_has_its_shares_in_hundredths(
    samples: tuple[Registry, dict[str, int]],
) -> None:
    """Each work's worldwide shares, as declared, summing to 10000; unknown keys map to ()."""
    registry, keys = samples
    found = registry.shares([*keys.values(), 999], ON, ["Worldwide"])
    assert found[keys["ISWC::T9173205588"]] == (
        ("PADPIDA2026BLUEBIRD", 7500),
        ("PADPIDA2026NORTHQUAY", 2500),
    )
    assert found[keys["ISRC::GBLFR2500101"]] == ((LABEL, 10000),)
    assert found[999] == ()
    assert all(sum(h for _, h in s) == 10000 for k, s in found.items() if k != 999)


def test_a_work_without_a_group_for_the_territory_maps_to_nothing(sqlite_db: Db) -> None:
    """Shares declared for the US only: under a Worldwide or GB licence, money goes to suspense."""
    registry = sqlite_db.registry()
    registry.import_works(
        [plain([("ISRC", "GBLFR2500101")], shares=[Share(LABEL, Decimal(100), ("US",))])],
        declared_by=LABEL,
        source="s",
        effective_from=date(2026, 1, 1),
    )
    assert registry.shares([1], ON, ["Worldwide"]) == {1: ()}
    assert registry.shares([1], ON, ["GB"]) == {1: ()}
    assert registry.shares([1], ON, ["US", "GB"]) == {1: ((LABEL, 10000),)}


def test_a_party_named_twice_in_a_group_is_one_entry(sqlite_db: Db) -> None:
    """Two shares of one party in a group add up: one entry per party."""
    registry = sqlite_db.registry()
    registry.import_works(
        [
            plain(
                [("ISRC", "GBLFR2500101")],
                shares=[(LABEL, "33.33"), (OTHER, "33.34"), (LABEL, "33.33")],
            )
        ],
        declared_by=LABEL,
        source="s",
        effective_from=date(2026, 1, 1),
    )
    assert registry.shares([1], ON, ["Worldwide"]) == {1: ((LABEL, 6666), (OTHER, 3334))}


def test_shares_before_the_first_declaration_are_the_first_versions(sqlite_db: Db) -> None:
    """A date before a work was first declared is answered by its first version."""
    registry = sqlite_db.registry()
    registry.import_works(
        [plain([("ISRC", "GBLFR2500101")])],
        declared_by=LABEL,
        source="s",
        effective_from=date(2026, 6, 1),
    )
    assert registry.shares([1], date(2026, 1, 1), ["Worldwide"]) == {1: ((LABEL, 10000),)}


def test_bulk_and_small_lookups_agree(sqlite_db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole-table scans (many works) give what IN-list queries (few works) give."""
    from airex.registry import _read

    registry = sqlite_db.registry()
    works = [
        plain([("ISRC", f"GBLFR25{n:05d}")], shares=[(LABEL, "50"), (OTHER, "50")])
        for n in range(30)
    ]
    registry.import_works(works, declared_by=LABEL, source="a", effective_from=date(2026, 1, 1))
    later = [plain([("ISRC", f"GBLFR25{n:05d}")]) for n in range(0, 30, 3)]
    registry.import_works(later, declared_by=LABEL, source="b", effective_from=date(2026, 3, 1))
    small = registry.shares(range(1, 32), ON, ["Worldwide"])
    monkeypatch.setattr(_read, "SCAN_THRESHOLD", 5)
    assert registry.shares(range(1, 32), ON, ["Worldwide"]) == small
    assert small[1] == ((LABEL, 10000),)
    assert small[2] == ((LABEL, 5000), (OTHER, 5000))
    assert registry.shares([1], date(2026, 2, 1), ["Worldwide"]) == {1: small[2]}


groups = st.sampled_from(
    [("Worldwide", ""), ("Worldwide", "CA US"), ("CA US", ""), ("GB", ""), ("DE FR", "")]
)


@given(
    chosen=st.sets(groups, min_size=1, max_size=4),
    licence=st.sampled_from([["Worldwide"], ["GB"], ["US"], ["FR", "US"], ["JP"]]),
)
def test_the_chosen_group_covers_a_licence_country(
    chosen: set[tuple[str, str]], licence: list[str]
) -> None:
    """The group picked names or (Worldwide) includes one of the licence's countries."""
    pick = choose_group(chosen, Area.of(licence))
    if pick is None:
        if licence == ["Worldwide"]:
            assert all(g[0] != "Worldwide" for g in chosen)
        else:
            assert not any(Area.parse(*g).overlaps(Area.of(licence)) for g in chosen)
        return
    assert pick in chosen
    if licence == ["Worldwide"]:
        assert pick[0] == "Worldwide"
    else:
        assert Area.parse(*pick).overlaps(Area.of(licence))


@st.composite
def share_groups(draw: st.DrawFn) -> list[tuple[str, Decimal]]:
    """One territory group: parties and percentages (2 fraction digits) summing to 100."""
    count = draw(st.integers(1, 6))
    cuts = sorted(
        draw(st.lists(st.integers(1, 9999), min_size=count - 1, max_size=count - 1, unique=True))
    )
    bounds = [0, *cuts, 10000]
    parties = draw(
        st.lists(
            st.sampled_from([LABEL, OTHER, "PADPIDA2026X", "PADPIDA2026Y"]),
            min_size=count,
            max_size=count,
        )
    )
    pairs = zip(parties, bounds, bounds[1:], strict=False)
    return [(p, Decimal(b - a).scaleb(-2)) for p, a, b in pairs]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(worldwide=share_groups(), us=share_groups())
def test_shares_are_exact_and_sum_to_ten_thousand(
    sqlite_db: Db, worldwide: list[tuple[str, Decimal]], us: list[tuple[str, Decimal]]
) -> None:
    """Whatever the split, each work's shares sum to exactly 10000 and match the declaration."""
    registry = sqlite_db.registry()
    shares = [Share(p, pct) for p, pct in worldwide] + [Share(p, pct, ("US",)) for p, pct in us]
    n = registry.count() + 1
    registry.import_works(
        [plain([("ISRC", f"GBHYP26{n:05d}")], shares=shares)],
        declared_by=LABEL,
        source=f"h{n}",
        effective_from=date(2026, 1, 1),
    )
    for licence, declared in ((["Worldwide"], worldwide), (["US"], us)):
        found = registry.shares([n], ON, licence)[n]
        assert sum(h for _, h in found) == 10000
        expected: dict[str, int] = {}
        for party, pct in declared:
            expected[party] = expected.get(party, 0) + int(pct * 100)
        assert dict(found) == expected
        assert [p for p, _ in found] == sorted(expected)
