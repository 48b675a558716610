"""Importing declarations: samples, history, idempotency, conflicts, refusals, append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from _registry_data import (
    DECLARATIONS,
    LABEL,
    MINING,
    OTHER,
    TRAINING,
    declaration,
    message_work,
    plain,
    scope,
)

import airex
from airex.registry import (
    InvalidDeclarationError,
    Reason,
    Share,
    SourceConflictError,
)
from airex.registry.schema import APPEND_ONLY_TABLES

if TYPE_CHECKING:
    from airex.registry import Registry
    from conftest import Db

ISRC_1 = ("ISRC", "GBLFR2500101")
ISRC_2 = ("ISRC", "GBLFR2500214")


def import_samples(registry: Registry) -> dict[str, int]:
    """Import the three sample declarations; return each work's key by its first id key."""
    for path in DECLARATIONS:
        raw = path.read_bytes()
        registry.import_declaration(airex.parse(raw), raw=raw)
    return {work.ids[0].key: work.key for work in registry.works()}


def row_counts(db: Db) -> dict[str, int]:
    """Rows in every registry table."""
    with db.engine.connect() as connection:
        return {
            name: connection.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
            for name in APPEND_ONLY_TABLES
        }


def test_samples_import_every_work_with_ids_shares_and_preferences(backend: Db) -> None:
    """The three sample declarations give 10 works, each as declared (owner, ids, shares)."""
    registry = backend.registry()
    results = []
    for path in DECLARATIONS:
        raw = path.read_bytes()
        results.append(registry.import_declaration(airex.parse(raw), raw=raw))
    assert [(r.works, r.new_works, r.new_versions, r.unchanged, r.conflicts) for r in results] == [
        (3, 3, 3, 0, 0),
        (3, 3, 3, 0, 0),
        (4, 4, 4, 0, 0),
    ]
    works = {w.ids[0].key: w for w in registry.works()}
    assert len(works) == 10
    bluebird = works["ISWC::T9173142206"]
    assert bluebird.owner == "PADPIDA2026BLUEBIRD"  # SentOnBehalfOf, not the administrator
    assert bluebird.source == "PADPIDA2026TESSELLATE:TESS-MSG-2025-004417"
    assert bluebird.effective_from == date(2025, 11, 3)  # 09:12:44+01:00 is 08:12:44Z
    assert [(s.party_id, s.percentage) for s in bluebird.shares] == [
        ("PADPIDA2026BLUEBIRD", Decimal(50)),
        ("PADPIDA2026MARAVOSS", Decimal(50)),
    ]
    assert [(i.type, i.value) for i in bluebird.ids] == [
        ("ISWC", "T-917.314.220-6"),
        ("ISCC", "ISCC:AAA7KMJHV5EXTYEQ"),
    ]
    book = works["ISBN::9781916431829"]
    assert [(s.party_id, s.percentage, s.territories, s.excluded) for s in book.shares] == [
        ("PADPIDA2026AOKAFOR", Decimal(60), ["Worldwide"], ["CA", "US"]),
        ("PADPIDA2026QUILLMARK", Decimal(40), ["Worldwide"], ["CA", "US"]),
        ("PADPIDA2026AOKAFOR", Decimal(50), ["CA", "US"], []),
        ("PADPIDA2026QUILLMARK", Decimal("17.5"), ["CA", "US"], []),
        ("PADPIDA2026HARBORLANE", Decimal("32.5"), ["CA", "US"], []),
    ]
    mining = [p for p in book.preferences if p.use_type == MINING]
    assert [(p.preference, p.effective_date, p.territories, p.excluded) for p in mining] == [
        ("OptOut", date(2025, 9, 1), ["Worldwide"], ["US"])
    ]
    essay = works["URL::https://www.quillmark.example/longform/field-notes-from-the-salt-marsh"]
    assert essay.ids[1].key == "Proprietary::PADPIDA2026QUILLMARK::QM-ESSAY-0193"
    assert all(w.versions == 1 for w in works.values())


def test_reimporting_a_message_changes_nothing(backend: Db) -> None:
    """The same message imported again is recognised: nothing is written, all unchanged."""
    registry = backend.registry()
    import_samples(registry)
    before = row_counts(backend)
    raw = DECLARATIONS[0].read_bytes()
    again = registry.import_declaration(airex.parse(raw), raw=raw)
    assert (again.replayed, again.works, again.unchanged, again.new_versions) == (True, 3, 3, 0)
    assert row_counts(backend) == before


def test_same_message_id_with_other_content_is_refused(sqlite_db: Db) -> None:
    """A MessageId reused by its sender for different content is refused, naming the source."""
    registry = sqlite_db.registry()
    first, raw = declaration([message_work("W1", [ISRC_1])])
    registry.import_declaration(first, raw=raw)
    changed, raw = declaration([message_work("W1", [ISRC_1], title="Another title")])
    with pytest.raises(SourceConflictError, match=f"{LABEL}:MSG-1.*different content"):
        registry.import_declaration(changed, raw=raw)


def test_same_message_id_from_another_sender_is_another_source(sqlite_db: Db) -> None:
    """Idempotency is by sender and MessageId: another sender's MSG-1 is a new message."""
    registry = sqlite_db.registry()
    registry.import_declaration(declaration([message_work("W1", [ISRC_1])])[0])
    result = registry.import_declaration(
        declaration([message_work("W1", [ISRC_2], shares=((OTHER, "100"),))], sender=OTHER)[0]
    )
    assert (result.replayed, result.new_works) == (False, 1)


def test_test_messages_are_not_imported(sqlite_db: Db) -> None:
    """A TestMessage must not change the registry."""
    message, _ = declaration([message_work("W1", [ISRC_1])], test=True)
    with pytest.raises(InvalidDeclarationError, match="TestMessage"):
        sqlite_db.registry().import_declaration(message)
    assert sqlite_db.registry().count() == 0


def test_a_later_declaration_supersedes_from_its_date_and_keeps_history(backend: Db) -> None:
    """Version 2 (1 March) supersedes version 1 (10 January) from its date; both are kept."""
    registry = backend.registry()
    v1 = message_work("W1", [ISRC_1], title="Old", preferences=[(TRAINING, "OptIn")])
    v2 = message_work(
        "W1",
        [ISRC_1, ("ISCC", "ISCC:AAA7KMJHV7IIF6PV")],
        title="New",
        shares=((LABEL, "60"), (OTHER, "40")),
        preferences=[(TRAINING, "OptOut")],
    )
    registry.import_declaration(
        declaration([v1], message_id="M1", created=datetime(2026, 1, 10, 9, tzinfo=UTC))[0]
    )
    result = registry.import_declaration(
        declaration([v2], message_id="M2", created=datetime(2026, 3, 1, 9, tzinfo=UTC))[0]
    )
    assert (result.new_works, result.new_versions) == (0, 1)
    (key,) = [w.key for w in registry.works()]
    assert registry.work(key, date(2026, 2, 28)).title == "Old"  # type: ignore[union-attr]
    assert registry.work(key, date(2026, 3, 1)).title == "New"  # type: ignore[union-attr]
    assert registry.work(key).versions == 2  # type: ignore[union-attr]
    history = registry.history(key)
    assert [(v.title, v.effective_from, v.source) for v in history] == [
        ("Old", date(2026, 1, 10), f"{LABEL}:M1"),
        ("New", date(2026, 3, 1), f"{LABEL}:M2"),
    ]
    assert registry.shares([key], date(2026, 2, 1), ["Worldwide"]) == {key: ((LABEL, 10000),)}
    assert registry.shares([key], date(2026, 3, 1), ["Worldwide"]) == {
        key: ((LABEL, 6000), (OTHER, 4000))
    }
    january = registry.checker(scope(), date(2026, 1, 1), date(2026, 1, 31))
    assert january.check(ISRC_1, TRAINING).reason is Reason.OPTED_IN
    march = registry.checker(scope(), date(2026, 3, 1), date(2026, 3, 31))
    assert march.check(ISRC_1, TRAINING).reason is Reason.OPTED_OUT
    quarter = registry.checker(scope(), date(2026, 1, 1), date(2026, 3, 31))
    assert quarter.check(ISRC_1, TRAINING).reason is Reason.OPTED_OUT  # one day is enough
    # the identifier added by version 2 resolves to the same work
    assert registry.resolve([("ISCC", "ISCC:AAA7KMJHV7IIF6PV", None)]) == {
        ("ISCC", "ISCC:AAA7KMJHV7IIF6PV", None): key
    }


def test_a_late_delivered_earlier_declaration_lands_in_its_place(sqlite_db: Db) -> None:
    """A declaration dated before the newest one takes effect from its own date, in between."""
    registry = sqlite_db.registry()
    for message_id, day, title in (("M1", 5, "Jan"), ("M3", 20, "Mar"), ("M2", 15, "Feb")):
        month = {"Jan": 1, "Feb": 2, "Mar": 3}[title]
        registry.import_declaration(
            declaration(
                [message_work("W1", [ISRC_1], title=title)],
                message_id=message_id,
                created=datetime(2026, month, day, tzinfo=UTC),
            )[0]
        )
    (key,) = [w.key for w in registry.works()]
    assert [v.title for v in registry.history(key)] == ["Jan", "Feb", "Mar"]
    assert registry.work(key, date(2026, 2, 28)).title == "Feb"  # type: ignore[union-attr]


def test_a_redeclaration_without_change_adds_no_version(sqlite_db: Db) -> None:
    """A new message declaring exactly what is in effect counts as unchanged."""
    registry = sqlite_db.registry()
    work = message_work("W1", [ISRC_1], preferences=[(TRAINING, "OptIn")])
    registry.import_declaration(declaration([work], message_id="M1")[0])
    later = datetime(2026, 2, 1, tzinfo=UTC)
    result = registry.import_declaration(declaration([work], message_id="M2", created=later)[0])
    assert (result.replayed, result.unchanged, result.new_versions) == (False, 1, 0)
    assert registry.work(1).versions == 1  # type: ignore[union-attr]


def test_another_partys_claim_to_an_identifier_is_kept_and_reported(backend: Db) -> None:
    """A rival declaring a held ISRC: its work is recorded, the ISRC stays with the first."""
    registry = backend.registry()
    registry.import_declaration(declaration([message_work("W1", [ISRC_1])], message_id="M1")[0])
    rival = message_work("R1", [ISRC_1, ISRC_2], title="Rival", shares=((OTHER, "100"),))
    result = registry.import_declaration(declaration([rival], sender=OTHER, message_id="R-1")[0])
    assert (result.new_works, result.new_versions, result.conflicts) == (1, 1, 1)
    (conflict,) = result.conflict_details
    assert (conflict.identifier, conflict.held_by, conflict.held_by_party, conflict.kind) == (
        "ISRC::GBLFR2500101",
        1,
        LABEL,
        "OtherParty",
    )
    assert conflict.work_key == 2
    assert "still resolves to work 1" in str(conflict)
    assert registry.resolve([ISRC_1, ISRC_2]) == {ISRC_1: 1, ISRC_2: 2}
    rival_work = registry.work(2)
    assert rival_work is not None
    assert (rival_work.owner, [(i.key, i.resolves) for i in rival_work.ids]) == (
        OTHER,
        [("ISRC::GBLFR2500101", False), ("ISRC::GBLFR2500214", True)],
    )
    assert registry.conflicts() == [conflict]
    # importing the rival's message again reports the conflict again, and changes nothing
    again = registry.import_declaration(declaration([rival], sender=OTHER, message_id="R-1")[0])
    assert (again.replayed, again.conflict_details) == (True, (conflict,))
    # the rival's later declaration is a version of its own work, not of the first holder's
    third = registry.import_declaration(
        declaration(
            [message_work("R1", [ISRC_1], title="Rival 2", shares=((OTHER, "100"),))],
            sender=OTHER,
            message_id="R-2",
            created=datetime(2026, 1, 1, tzinfo=UTC),
        )[0]
    )
    assert (third.new_works, third.new_versions, third.conflicts) == (0, 1, 1)
    assert registry.work(1).title == "A Work"  # type: ignore[union-attr]
    assert registry.work(2).title == "Rival 2"  # type: ignore[union-attr]


def test_a_declaration_joining_two_own_works_goes_to_the_oldest(sqlite_db: Db) -> None:
    """Ids of two of the party's works in one declaration: a version of the older, reported."""
    registry = sqlite_db.registry()
    registry.import_declaration(
        declaration([message_work("W1", [ISRC_1]), message_work("W2", [ISRC_2])], message_id="M1")[
            0
        ]
    )
    result = registry.import_declaration(
        declaration(
            [message_work("W1", [ISRC_1, ISRC_2], title="Joined")],
            message_id="M2",
            created=datetime(2026, 1, 1, tzinfo=UTC),
        )[0]
    )
    assert (result.new_works, result.new_versions) == (0, 1)
    (conflict,) = result.conflict_details
    assert (conflict.kind, conflict.work_key, conflict.held_by) == ("SeveralWorks", 1, 2)
    assert registry.work(1).title == "Joined"  # type: ignore[union-attr]
    assert registry.resolve([ISRC_2]) == {ISRC_2: 2}


@pytest.mark.parametrize(
    ("work", "message"),
    [
        (
            plain([ISRC_1], shares=[Share(LABEL, Decimal(60))]),
            "the shares for Worldwide sum to 60.00, not 100",
        ),
        (plain([("ISWC", "T-345.246.800-2")]), "check digit is 2, expected 3"),
        (plain([ISRC_1], shares=[(LABEL, "100.001")]), "at most 2 fraction digits"),
        (plain([ISRC_1], shares=[("LANTERNFISH", Decimal(100))]), "not a PartyId"),
        (plain([("Proprietary", "X-1")]), "needs a Namespace"),
        (plain([ISRC_1], work_type="Novel"), "WorkType 'Novel'"),
        (plain([ISRC_1], preferences=[(TRAINING, "Maybe", None, ())]), "OptIn or OptOut"),
        (plain([ISRC_1], preferences=[(TRAINING, "OptIn", None, ("UK",))]), "'UK'"),
        (plain([ISRC_1], shares=[(LABEL, Decimal(100), ("GB",), ("US",))]), "only with"),
    ],
)
def test_invalid_plain_works_are_refused_saying_which_and_why(
    sqlite_db: Db, work: object, message: str
) -> None:
    """Every rule of a declared work is checked on the plain-data path too."""
    with pytest.raises(InvalidDeclarationError, match=f"work #2: .*({message})"):
        sqlite_db.registry().import_works(
            [plain([ISRC_2]), work],  # type: ignore[list-item]
            declared_by=LABEL,
            source="bad",
            effective_from=date(2026, 1, 1),
        )


def test_an_interrupted_bulk_import_resumes_where_it_stopped(sqlite_db: Db) -> None:
    """Chunks written before an error stay; running the same source again completes it."""
    registry = sqlite_db.registry()
    good = [plain([("ISRC", f"GBLFR25{n:05d}")]) for n in range(10)]
    broken = [*good[:6], plain([("ISRC", "not an isrc")]), *good[7:]]
    with pytest.raises(InvalidDeclarationError, match="work #7"):
        registry.import_works(
            broken, declared_by=LABEL, source="load", effective_from=date(2026, 1, 1), chunk_size=3
        )
    # the chunk after the one being written is read (and checked) before it is committed, so
    # that the last chunk and the completion share a transaction: works 1-3 were written
    assert registry.count() == 3
    result = registry.import_works(
        good, declared_by=LABEL, source="load", effective_from=date(2026, 1, 1), chunk_size=3
    )
    assert (result.works, result.new_works, result.unchanged) == (10, 7, 3)
    assert registry.count() == 10
    again = registry.import_works(
        good, declared_by=LABEL, source="load", effective_from=date(2026, 1, 1), chunk_size=3
    )
    assert (again.replayed, again.unchanged) == (True, 10)
    other = [*good[:9], plain([("ISRC", "GBLFR2599999")])]
    with pytest.raises(SourceConflictError, match="'load'"):
        registry.import_works(
            other, declared_by=LABEL, source="load", effective_from=date(2026, 1, 1)
        )


def test_a_resumed_import_with_other_content_is_refused(sqlite_db: Db) -> None:
    """A half-written source cannot be completed with different works at the same places."""
    registry = sqlite_db.registry()
    first = [plain([("ISRC", f"GBLFR25{n:05d}")]) for n in range(6)]
    with pytest.raises(InvalidDeclarationError):
        registry.import_works(
            [*first[:4], plain([("ISRC", "x")])],
            declared_by=LABEL,
            source="s",
            effective_from=date(2026, 1, 1),
            chunk_size=2,
        )
    assert registry.count() == 2
    changed = [plain([("ISRC", "GBLFR2500000")], title="Changed"), *first[1:]]
    with pytest.raises(SourceConflictError, match="partly imported before"):
        registry.import_works(
            changed, declared_by=LABEL, source="s", effective_from=date(2026, 1, 1), chunk_size=2
        )


def test_the_database_refuses_to_change_registry_rows(backend: Db) -> None:
    """UPDATE and DELETE of every registry table fail, whatever client issues them."""
    registry = backend.registry()
    import_samples(registry)
    rival = message_work("R1", [("ISRC", "GBLFR2500101")], shares=((OTHER, "100"),))
    assert registry.import_declaration(declaration([rival], sender=OTHER)[0]).conflicts == 1
    assert all(row_counts(backend).values())  # a row in every table
    for name in APPEND_ONLY_TABLES:
        for statement in (
            f"UPDATE {name} SET {_column(name)} = {_column(name)}",
            f"DELETE FROM {name}",
        ):
            with (
                pytest.raises(sa.exc.DatabaseError, match="append-only"),
                backend.engine.begin() as connection,
            ):
                connection.execute(sa.text(statement))


def _column(table: str) -> str:
    """A column of ``table`` to set to itself."""
    return {
        "registry_source_complete": "works",
        "registry_preference": "position",
        "registry_share": "position",
    }.get(table, "id")


def test_import_works_and_messages_share_one_path(sqlite_db: Db) -> None:
    """A plain-data import and a message import of the same work give the same content."""
    registry = sqlite_db.registry()
    registry.import_works(
        [plain([ISRC_1], preferences=[(TRAINING, "OptIn", None, ())])],
        declared_by=LABEL,
        source="plain",
        effective_from=date(2025, 11, 7),
    )
    message, _ = declaration([message_work("W1", [ISRC_1], preferences=[(TRAINING, "OptIn")])])
    result = registry.import_declaration(message)
    assert (result.new_works, result.unchanged) == (0, 1)  # same content: no new version
    assert registry.work(1).source == "plain"  # type: ignore[union-attr]
