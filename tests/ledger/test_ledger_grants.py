"""The grant register: append-only licence states, and what was in force on any date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from airex.ledger import (
    GrantRecord,
    GrantStatus,
    IdempotencyConflictError,
    InvalidGrantError,
)
from parties import CMO01 as CMO
from parties import DEV01 as DEV
from parties import DEV02 as DEV2

if TYPE_CHECKING:
    from conftest import Backend

TRAIN = "UseForTrainingGenerativeAI"
MINE = "UseForDataMining"
WORK = "ISWC::T-034.524.680-1"
OTHER_WORK = "ISRC::SEABC2600001"


def at(day: int, month: int = 1, hour: int = 9) -> datetime:
    """An instant in 2026, UTC."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def grant(
    source: str, status: str = "Granted", issued: datetime | None = None, **terms: Any
) -> GrantRecord:
    """A licence state of LIC-1 (CMO to DEV, training, all works, 2026) with overrides."""
    values: dict[str, Any] = {
        "licence_id": "LIC-1",
        "status": status,
        "licensor": CMO,
        "licensee": DEV,
        "issued_at": issued or at(5),
        "term_start": date(2026, 1, 1),
        "term_end": date(2026, 12, 31),
        "use_types": [TRAIN],
        "all_works": True,
        "source_message_id": source,
    }
    values.update(terms)
    return GrantRecord(**values)


def test_a_state_is_recorded_with_its_terms_and_source(backend: Backend) -> None:
    """Recording returns the stored state; the raw source message is kept with it."""
    register = backend.register()
    record = grant(
        "M1",
        work_ids=[WORK, OTHER_WORK, WORK],
        all_works=False,
        source_message=b"<LicenceMessage/>",
        territories=["Worldwide"],
        excluded_territories=["US"],
    )
    result = register.record(record)
    stored = result.grant
    assert result.created is True
    assert (stored.licence_id, stored.status, stored.licensee, stored.issued_at) == (
        "LIC-1",
        GrantStatus.GRANTED,
        DEV,
        at(5),
    )
    assert (stored.work_ids, stored.use_types, stored.excluded_territories) == (
        [OTHER_WORK, WORK],
        [TRAIN],
        ["US"],
    )
    assert register.source_message(stored.id) == b"<LicenceMessage/>"


def test_recording_the_same_message_again_records_it_once(backend: Backend) -> None:
    """A re-delivered message returns the first record; the same id with other terms raises."""
    register = backend.register()
    first = register.record(grant("M1"))
    again = register.record(grant("M1"))
    assert (again.created, again.grant.id) == (False, first.grant.id)
    with pytest.raises(IdempotencyConflictError, match="'M1' was recorded before"):
        register.record(grant("M1", status="Revoked"))
    assert len(register.history()) == 1


def test_the_message_bytes_identify_it_when_no_id_is_given(backend: Backend) -> None:
    """Without a source message id, the SHA-256 of the raw bytes makes recording idempotent."""
    register = backend.register()
    first = register.record(grant(None, source_message=b"<x/>"))  # type: ignore[arg-type]
    assert first.grant.source_message_id.startswith("sha256:")
    assert register.record(grant(None, source_message=b"<x/>")).created is False  # type: ignore[arg-type]


def test_state_on_a_date_is_the_latest_issued_by_then(backend: Backend) -> None:
    """Granted on Jan 5, suspended Mar 1, granted again Apr 1: each day sees its state."""
    register = backend.register()
    register.record(grant("M3", "Granted", at(1, 4)))  # delivered out of order
    register.record(grant("M1", "Granted", at(5)))
    register.record(grant("M2", "Suspended", at(1, 3), status_reason="Late report"))
    assert register.state_on("LIC-1", date(2026, 1, 4)) is None
    assert [
        register.state_on("LIC-1", date(2026, m, d)).status
        for m, d in ((1, 5), (2, 28), (3, 1), (4, 1))
    ] == [  # type: ignore[union-attr]
        "Granted",
        "Granted",
        "Suspended",
        "Granted",
    ]
    assert register.state_on("LIC-1", at(1, 3, 8)).status == "Granted"  # type: ignore[union-attr]
    assert [(g.status, g.source_message_id) for g in register.history("LIC-1")] == [
        ("Granted", "M1"),
        ("Suspended", "M2"),
        ("Granted", "M3"),
    ]


def test_in_force_needs_granted_state_and_the_term(backend: Backend) -> None:
    """In force: Granted on the day and within the term (an open end never ends)."""
    register = backend.register()
    register.record(grant("M1", issued=at(5), term_end=date(2026, 6, 30)))
    register.record(grant("M2", "Suspended", at(1, 3)))
    register.record(grant("M3", "Granted", at(1, 4), term_end=date(2026, 6, 30)))
    register.record(grant("B1", licence_id="LIC-2", licensee=DEV2, term_end=None, use_types=[MINE]))

    def ids(day: date, **filters: Any) -> list[str]:
        return [g.licence_id for g in register.in_force(day, **filters)]

    assert ids(date(2026, 1, 4)) == []  # issued on the 5th
    assert ids(date(2026, 2, 1)) == ["LIC-1", "LIC-2"]
    assert ids(date(2026, 3, 15)) == ["LIC-2"]  # LIC-1 suspended
    assert ids(date(2026, 4, 1)) == ["LIC-1", "LIC-2"]
    assert ids(date(2026, 7, 1)) == ["LIC-2"]  # LIC-1's term is over
    assert ids(date(2031, 1, 1)) == ["LIC-2"]  # open-ended


def test_in_force_for_a_licensee_work_use_type_and_territory(backend: Backend) -> None:
    """The filters select on the terms of the state in force that day."""
    register = backend.register()
    register.record(grant("M1", work_ids=[WORK], all_works=False, territories=["DE", "FR"]))
    register.record(
        grant(
            "B1",
            licence_id="LIC-2",
            licensee=DEV2,
            use_types=[MINE, TRAIN],
            territories=["Worldwide"],
            excluded_territories=["FR"],
        )
    )
    day = date(2026, 2, 1)

    def ids(**filters: Any) -> list[str]:
        return [g.licence_id for g in register.in_force(day, **filters)]

    assert ids(licensee=DEV) == ["LIC-1"]
    assert ids(licensor=CMO) == ["LIC-1", "LIC-2"]
    assert ids(work_id=WORK) == ["LIC-1", "LIC-2"]  # LIC-2 covers all works
    assert ids(work_id=OTHER_WORK) == ["LIC-2"]
    assert ids(use_type=MINE) == ["LIC-2"]
    assert ids(use_type=TRAIN, work_id=WORK, licensee=DEV) == ["LIC-1"]
    assert ids(territory="FR") == ["LIC-1"]
    assert ids(territory="JP") == ["LIC-2"]
    assert ids(use_type="UseAsAIInput") == []


def test_a_revoked_licence_leaves_the_in_force_list_but_not_the_history(backend: Backend) -> None:
    """Revocation is a new state; the grant before it stays in the history."""
    register = backend.register()
    register.record(grant("M1"))
    register.record(grant("M2", "Revoked", at(1, 2)))
    register.record(grant("M3", "Expired", at(31, 12, 23)))
    assert register.in_force(date(2026, 1, 31)) != []
    assert register.in_force(date(2026, 2, 1)) == []
    assert [g.status for g in register.history()] == ["Granted", "Revoked", "Expired"]


def test_an_instant_in_another_zone_is_compared_in_utc(backend: Backend) -> None:
    """Issued 2026-01-05T09:00Z is 10:00 in UTC+1: state_on sees it from that instant on."""
    register = backend.register()
    register.record(
        grant("M1", issued=datetime(2026, 1, 5, 10, tzinfo=timezone(timedelta(hours=1))))
    )
    plus_one = timezone(timedelta(hours=1))
    assert register.state_on("LIC-1", datetime(2026, 1, 5, 9, 59, tzinfo=plus_one)) is None
    assert register.state_on("LIC-1", datetime(2026, 1, 5, 10, tzinfo=plus_one)) is not None
    assert register.history()[0].issued_at == at(5)


@pytest.mark.parametrize(
    ("terms", "match"),
    [
        ({"status": "Pending"}, "status 'Pending' is not one of"),
        ({"use_types": []}, "at least one use type"),
        ({"all_works": False}, "either work_ids or all_works"),
        ({"work_ids": [WORK]}, "either work_ids or all_works"),
        ({"term_end": date(2025, 12, 31)}, "term ends"),
        ({"issued_at": datetime(2026, 1, 5)}, "with a time zone"),
        ({"term_start": at(1)}, "term_start must be a date"),
        ({"excluded_territories": ["US"], "territories": ["DE"]}, "only go with Worldwide"),
        ({"licensee": ""}, "licensee must be a non-empty string"),
        ({"source_message_id": None}, "give source_message_id or source_message"),
        ({"use_types": "UseForDataMining"}, "list of strings"),
    ],
)
def test_impossible_records_are_refused(terms: dict[str, Any], match: str) -> None:
    """A grant record that cannot be right is refused with what is wrong."""
    with pytest.raises(InvalidGrantError, match=match):
        grant("M1", **terms)


def test_a_later_state_cannot_change_the_licences_parties(backend: Backend) -> None:
    """A state of LIC-1 from another licensor, or for another licensee, is refused: it would
    otherwise take over the licence (the review's OTHERCMO/EVIL case)."""
    register = backend.register()
    register.record(grant("M1"))
    with pytest.raises(InvalidGrantError, match="cannot change its parties"):
        register.record(grant("M2", issued=at(5, 2), licensor="PADPIDA2026OTH01", licensee=DEV2))
    with pytest.raises(InvalidGrantError, match="cannot change its parties"):
        register.record(grant("M3", issued=at(5, 2), licensee=DEV2))
    with pytest.raises(InvalidGrantError, match="cannot change its parties"):
        register.record(grant("M4", issued=at(1, 1, 0), licensor="PADPIDA2026OTH01"))  # earlier
    assert [g.licensee for g in register.in_force(date(2026, 3, 1))] == [DEV]
    assert register.in_force(date(2026, 3, 1), licensee=DEV2) == []
    assert len(register.history("LIC-1")) == 1


def test_day_semantics_revoked_regranted_and_expired_on_the_last_day(backend: Backend) -> None:
    """The module doc's rules, on the review's history: Granted 01-05, Revoked 03-01 09:00,
    Granted again 04-01 09:00 (Revoked is not final), Expired 12-31 23:00 (term to 12-31)."""
    register = backend.register()
    register.record(grant("M1", issued=at(5)))
    register.record(grant("M2", "Revoked", issued=at(1, 3)))
    register.record(grant("M3", "Granted", issued=at(1, 4)))
    expired = register.record(grant("M4", "Expired", issued=at(31, 12, 23))).grant
    # Expired never cuts the inclusive term short: it takes effect when the term is over.
    assert expired.effective_at == datetime(2027, 1, 1, tzinfo=UTC)

    def state(on: date | datetime) -> str | None:
        found = register.state_on("LIC-1", on)
        return None if found is None else str(found.status)

    def in_force(on: date | datetime) -> bool:
        return [g.licence_id for g in register.in_force(on)] == ["LIC-1"]

    expected = [
        (date(2026, 2, 28), "Granted", True),
        (date(2026, 3, 1), "Revoked", False),  # the last state of the day
        (date(2026, 3, 15), "Revoked", False),
        (date(2026, 4, 1), "Granted", True),  # re-granted during the day
        (date(2026, 12, 30), "Granted", True),
        (date(2026, 12, 31), "Granted", True),  # the term's last day, Expired at 23:00
        (date(2027, 1, 1), "Expired", False),
        (at(1, 3, 8), "Granted", True),  # an instant: just before the revocation
        (at(1, 3, 9), "Revoked", False),  # the revocation's own instant
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "Granted", True),
    ]
    assert [(on, state(on), in_force(on)) for on, _, _ in expected] == expected


def test_expired_after_the_term_or_with_an_open_end_takes_effect_when_issued(
    backend: Backend,
) -> None:
    """Expired issued after the term end is consistent (effective when issued); with an open
    term it ends the licence at its issue instant; without any Expired, the term end does."""
    register = backend.register()
    late = register.record(grant("L1", "Granted", licence_id="LIC-1"))
    late = register.record(
        grant("L2", "Expired", issued=at(2, 1, 10).replace(year=2027), licence_id="LIC-1")
    )
    assert late.grant.effective_at == late.grant.issued_at
    register.record(grant("O1", licence_id="LIC-3", term_end=None))
    register.record(
        grant(
            "O2",
            "Expired",
            issued=datetime(2026, 6, 30, 0, 0, 1, tzinfo=UTC),
            licence_id="LIC-3",
            term_end=None,
        )
    )
    register.record(grant("T1", licence_id="LIC-2", term_end=date(2026, 6, 30)))

    def ids(on: date) -> list[str]:
        return [g.licence_id for g in register.in_force(on)]

    assert ids(date(2026, 6, 29)) == ["LIC-1", "LIC-2", "LIC-3"]
    assert ids(date(2026, 6, 30)) == ["LIC-1", "LIC-2"]  # LIC-3 expired during the day
    assert ids(date(2026, 7, 1)) == ["LIC-1"]  # LIC-2's term (inclusive) is over
    state = register.state_on("LIC-2", date(2026, 7, 1))
    assert state is not None
    assert state.status == GrantStatus.GRANTED  # the last declared state
