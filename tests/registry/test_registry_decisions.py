"""Deciding uses: every Reason, reached by a case checked by hand, and the rules' order."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from _registry_data import INPUT, LABEL, MINING, OTHER_TRAINING, Q1, TRAINING, plain, scope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airex.registry import Decision, LicenceScope, Reason, Regime, RegistrySettings

if TYPE_CHECKING:
    from airex.registry import Registry
    from conftest import Db

IN = ("ISRC", "GBAAA2600001")  # OptIn training
OUT_LATE = ("ISRC", "GBAAA2600002")  # OptOut mining from 15 February 2026
NONE = ("ISRC", "GBAAA2600003")  # no preference at all
OUT_US = ("ISRC", "GBAAA2600004")  # OptOut training in the US only
IN_GB_IE = ("ISRC", "GBAAA2600005")  # OptIn training in GB and IE only
IN_LATE = ("ISRC", "GBAAA2600006")  # OptIn training from 1 February 2026
BOOK = ("ISBN", "978-1-91643-182-9")  # a Text work, OptIn training
IN_EXCEPT_FR = ("ISRC", "GBAAA2600007")  # OptIn training Worldwide except FR; OptIn FR later
UNKNOWN = ("ISRC", "GBZZZ2699999")
UNLISTED = ("ISRC", "GBZZZ2699998")

WORKS = [
    plain([IN], preferences=[(TRAINING, "OptIn", None, ())]),
    plain([OUT_LATE], preferences=[(MINING, "OptOut", date(2026, 2, 15), ())]),
    plain([NONE]),
    plain([OUT_US], preferences=[(TRAINING, "OptOut", None, ("US",))]),
    plain([IN_GB_IE], preferences=[(TRAINING, "OptIn", None, ("GB", "IE"))]),
    plain([IN_LATE], preferences=[(TRAINING, "OptIn", date(2026, 2, 1), ())]),
    plain([BOOK], work_type="Text", preferences=[(TRAINING, "OptIn", None, ())]),
    plain(
        [IN_EXCEPT_FR],
        preferences=[
            (TRAINING, "OptIn", None, ("Worldwide",), ("FR",)),
            (TRAINING, "OptIn", date(2026, 3, 1), ("FR",)),
        ],
    ),
]

APRIL = (date(2026, 4, 1), date(2026, 4, 30))
GB = frozenset({"GB"})
OPT_OUT = Regime.OPT_OUT
OPT_IN = Regime.OPT_IN

# (case, scope changes, period, identifier, use type, regime, expected reason)
CASES: list[tuple[str, dict[str, Any], tuple[date, date], tuple[str, str], str, Regime, Reason]] = [
    ("opted in", {}, Q1, IN, TRAINING, OPT_IN, Reason.OPTED_IN),
    ("opted in, whatever the regime", {}, Q1, IN, TRAINING, OPT_OUT, Reason.OPTED_IN),
    ("no preference, opt-in regime", {}, Q1, NONE, TRAINING, OPT_IN,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("no preference, opt-out regime", {}, Q1, NONE, TRAINING, OPT_OUT,
     Reason.NO_PREFERENCE_OPT_OUT_REGIME),
    ("preference for another use type only", {}, Q1, IN, MINING, OPT_IN,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("opt-out from mid-period: one day is enough", {}, Q1, OUT_LATE, MINING, OPT_OUT,
     Reason.OPTED_OUT),
    ("opt-out not yet in effect", {}, (date(2026, 1, 1), date(2026, 2, 14)), OUT_LATE, MINING,
     OPT_OUT, Reason.NO_PREFERENCE_OPT_OUT_REGIME),
    ("opt-out in the US, worldwide licence", {}, Q1, OUT_US, TRAINING, OPT_OUT,
     Reason.OPTED_OUT),
    ("opt-out in the US, GB licence", {"territories": GB}, Q1, OUT_US, TRAINING, OPT_OUT,
     Reason.NO_PREFERENCE_OPT_OUT_REGIME),
    ("opt-out in the US, worldwide licence less the US", {"excluded_territories": frozenset(
        {"US"})}, Q1, OUT_US, TRAINING, OPT_IN, Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("opt-in for GB and IE, worldwide licence", {}, Q1, IN_GB_IE, TRAINING, OPT_IN,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("opt-in for GB and IE, GB licence", {"territories": GB}, Q1, IN_GB_IE, TRAINING, OPT_IN,
     Reason.OPTED_IN),
    ("opt-in from mid-period covers only part of it", {}, Q1, IN_LATE, TRAINING, OPT_IN,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("opt-in in effect the whole period", {}, APRIL, IN_LATE, TRAINING, OPT_IN,
     Reason.OPTED_IN),
    ("two opt-ins that together cover the world, from March", {}, (date(2026, 3, 1),
     date(2026, 3, 31)), IN_EXCEPT_FR, TRAINING, OPT_IN, Reason.OPTED_IN),
    ("the FR opt-in starts after the period does", {}, Q1, IN_EXCEPT_FR, TRAINING, OPT_IN,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("unknown work, opt-in regime", {}, Q1, UNKNOWN, TRAINING, OPT_IN, Reason.UNKNOWN_WORK),
    ("unknown work, opt-out regime", {}, Q1, UNKNOWN, TRAINING, OPT_OUT,
     Reason.UNKNOWN_WORK_OPT_OUT_REGIME),
    ("work type outside a WorkTypeList", {"all_works": False, "work_types": frozenset(
        {"SoundRecording"})}, Q1, BOOK, TRAINING, OPT_IN, Reason.OUTSIDE_REPERTOIRE),
    ("work type inside a WorkTypeList", {"all_works": False, "work_types": frozenset(
        {"SoundRecording"})}, Q1, IN, TRAINING, OPT_IN, Reason.OPTED_IN),
    ("unknown work under a WorkTypeList", {"all_works": False, "work_types": frozenset(
        {"SoundRecording"})}, Q1, UNKNOWN, TRAINING, OPT_OUT, Reason.UNKNOWN_WORK_OPT_OUT_REGIME),
    ("known work listed in a WorkIdList", {"all_works": False, "work_ids": frozenset(
        {("ISRC", "GBAAA2600001", None), ("ISRC", "GBZZZ2699999", None)})}, Q1, IN, TRAINING,
     OPT_IN, Reason.OPTED_IN),
    ("known work not listed", {"all_works": False, "work_ids": frozenset(
        {("ISRC", "GBAAA2600001", None)})}, Q1, NONE, TRAINING, OPT_OUT,
     Reason.OUTSIDE_REPERTOIRE),
    ("unknown work listed: a known work without preference", {"all_works": False, "work_ids":
     frozenset({("ISRC", "GBZZZ2699999", None)})}, Q1, UNKNOWN, TRAINING, OPT_IN,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("unknown work not listed", {"all_works": False, "work_ids": frozenset(
        {("ISRC", "GBZZZ2699999", None)})}, Q1, UNLISTED, TRAINING, OPT_OUT,
     Reason.OUTSIDE_REPERTOIRE),
    ("work listed by another of its identifiers' forms", {"all_works": False, "work_ids":
     frozenset({("ISBN", "9781916431829", None)})}, Q1, BOOK, TRAINING, OPT_IN,
     Reason.OPTED_IN),
    ("use type not permitted", {}, Q1, IN, INPUT, OPT_OUT, Reason.USE_TYPE_NOT_LICENSED),
    ("use type not permitted, unknown work", {}, Q1, UNKNOWN, OTHER_TRAINING, OPT_OUT,
     Reason.USE_TYPE_NOT_LICENSED),
    ("period partly before the term", {}, (date(2025, 12, 1), date(2026, 1, 31)), IN,
     TRAINING, OPT_IN, Reason.OUTSIDE_TERM),
    ("period partly after the term", {"term_end": date(2026, 3, 15)}, Q1, IN, TRAINING,
     OPT_IN, Reason.OUTSIDE_TERM),
    ("open-ended term", {"term_end": None}, APRIL, IN, TRAINING, OPT_IN, Reason.OPTED_IN),
    ("suspended licence", {"status": "Suspended"}, Q1, IN, TRAINING, OPT_IN,
     Reason.LICENCE_NOT_IN_FORCE),
    ("revoked licence, period also outside the term", {"status": "Revoked"},
     (date(2025, 1, 1), date(2025, 3, 31)), IN, TRAINING, OPT_IN, Reason.LICENCE_NOT_IN_FORCE),
]  # fmt: skip

# (case, territory, day, identifier, use type, expected reason): single questions under a
# GB + IE licence for Q1
DECIDE: list[tuple[str, str, date, tuple[str, str], str, Reason]] = [
    ("territory outside the licence", "FR", date(2026, 2, 1), IN, TRAINING,
     Reason.OUTSIDE_TERRITORY),
    ("opted in, in GB", "GB", date(2026, 2, 1), IN, TRAINING, Reason.OPTED_IN),
    ("opted in for GB", "GB", date(2026, 2, 1), IN_GB_IE, TRAINING, Reason.OPTED_IN),
    ("opted out in the US only, asked for IE", "IE", date(2026, 2, 1), OUT_US, TRAINING,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("before an opt-out's date", "GB", date(2026, 2, 14), OUT_LATE, MINING,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("on an opt-out's date", "GB", date(2026, 2, 15), OUT_LATE, MINING, Reason.OPTED_OUT),
    ("the day before an opt-in's date", "IE", date(2026, 1, 31), IN_LATE, TRAINING,
     Reason.NO_PREFERENCE_OPT_IN_REGIME),
    ("on an opt-in's date", "IE", date(2026, 2, 1), IN_LATE, TRAINING, Reason.OPTED_IN),
    ("outside the term, and the territory", "FR", date(2027, 1, 1), IN, TRAINING,
     Reason.OUTSIDE_TERM),
    ("unknown work", "GB", date(2026, 2, 1), UNKNOWN, TRAINING, Reason.UNKNOWN_WORK),
]  # fmt: skip


@pytest.fixture
def loaded(backend: Db) -> Registry:
    """A registry holding the works of this module."""
    registry = backend.registry()
    registry.import_works(
        WORKS, declared_by=LABEL, source="decisions", effective_from=date(2025, 12, 1)
    )
    return registry


def test_the_cases_reach_every_reason() -> None:
    """The hand-checked cases below, together, reach every Reason there is."""
    reached = {case[-1] for case in CASES} | {case[-1] for case in DECIDE}
    assert reached == set(Reason)


def test_every_case_decides_as_checked_by_hand(loaded: Registry) -> None:
    """Each case (scope, period, identifier, use type, regime) gives its expected reason."""
    keys = loaded.resolve([(*ref, None) for ref in (IN, BOOK, UNKNOWN)])
    wrong = []
    for name, changes, (start, end), ref, use_type, regime, expected in CASES:
        registry = type(loaded)(loaded.engine, RegistrySettings(regime))
        decision = registry.checker(scope(**changes), start, end).check(ref, use_type)
        if decision.reason is not expected:
            wrong.append((name, decision.reason, expected))
        assert decision.permitted is expected.permitted
    assert wrong == []
    checker = loaded.checker(scope(), *Q1)
    assert checker.check(IN, TRAINING) == Decision(keys[(*IN, None)], Reason.OPTED_IN)
    assert checker.check(UNKNOWN, TRAINING) == Decision(None, Reason.UNKNOWN_WORK)
    # a blanket reason still says which work the identifier names
    suspended = loaded.checker(scope(status="Suspended"), *Q1)
    assert suspended.check(BOOK, TRAINING).work_key == keys[(*BOOK, None)]


@pytest.mark.parametrize(("name", "territory", "day", "ref", "use_type", "expected"), DECIDE)
def test_single_questions_decide_as_checked_by_hand(
    loaded: Registry,
    name: str,
    territory: str,
    day: date,
    ref: tuple[str, str],
    use_type: str,
    expected: Reason,
) -> None:
    """May W be used for U in T on D under L: each case gives its expected reason."""
    licence = scope(territories=frozenset({"GB", "IE"}), term_end=date(2026, 12, 31))
    assert loaded.decide(ref, use_type, day, territory, licence).reason is expected, name


def test_a_record_named_by_several_identifiers_is_decided_by_the_known_one(
    loaded: Registry,
) -> None:
    """check_any takes the first identifier the registry knows."""
    checker = loaded.checker(scope(), *Q1)
    assert checker.check_any([UNKNOWN, IN], TRAINING).reason is Reason.OPTED_IN
    assert checker.check_any([UNKNOWN, UNLISTED], TRAINING).reason is Reason.UNKNOWN_WORK
    with pytest.raises(ValueError, match="at least one identifier"):
        checker.check_any([], TRAINING)


def test_a_checker_refuses_a_period_that_ends_before_it_starts(loaded: Registry) -> None:
    """The period's order is checked."""
    with pytest.raises(ValueError, match="ends"):
        loaded.checker(scope(), date(2026, 3, 1), date(2026, 2, 1))


def test_decisions_are_cached_per_identifier_and_use_type(loaded: Registry) -> None:
    """Asking twice returns the very same decision object, unless the cache is off."""
    checker = loaded.checker(scope(), *Q1)
    assert checker.check(IN, TRAINING) is checker.check(IN, TRAINING)
    uncached = loaded.checker(scope(), *Q1, cache=False)
    assert uncached.check(IN, TRAINING) is not uncached.check(IN, TRAINING)
    assert uncached.check(IN, TRAINING) == checker.check(IN, TRAINING)


def test_the_checker_sees_the_registry_as_of_its_first_check(sqlite_db: Db) -> None:
    """A checker loads on first use; works imported later need a new checker."""
    registry = sqlite_db.registry()
    checker = registry.checker(scope(), *Q1)
    registry.import_works(WORKS[:1], declared_by=LABEL, source="a", effective_from=Q1[0])
    assert checker.check(IN, TRAINING).reason is Reason.OPTED_IN
    registry.import_works(WORKS[2:3], declared_by=LABEL, source="b", effective_from=Q1[0])
    assert checker.check(NONE, TRAINING).reason is Reason.UNKNOWN_WORK
    assert registry.checker(scope(), *Q1).check(NONE, TRAINING).work_key is not None


days = st.dates(date(2025, 11, 1), date(2026, 6, 30))
countries = st.sampled_from(["GB", "IE", "US", "FR", "DE"])
refs = st.sampled_from([IN, OUT_LATE, NONE, OUT_US, IN_GB_IE, IN_LATE, BOOK, IN_EXCEPT_FR])
uses = st.sampled_from([TRAINING, MINING])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(day=days, country=countries, ref=refs, use_type=uses, regime=st.sampled_from(Regime))
def test_a_single_question_agrees_with_a_one_day_one_country_checker(
    sqlite_db: Db, day: date, country: str, ref: tuple[str, str], use_type: str, regime: Regime
) -> None:
    """decide(W, U, D, T, L) is what a checker of L restricted to T gives for the day D."""
    registry = sqlite_db.registry(RegistrySettings(regime))
    if registry.count() == 0:
        registry.import_works(
            WORKS, declared_by=LABEL, source="w", effective_from=date(2025, 12, 1)
        )
    licence = scope(territories=frozenset({country}), term_start=date(2025, 11, 1))
    single = registry.decide(ref, use_type, day, country, licence)
    bulk = registry.checker(licence, day, day).check(ref, use_type)
    assert single == bulk


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=days, length=st.integers(0, 120), ref=refs, use_type=uses)
def test_a_period_is_opted_out_when_any_of_its_days_is(
    sqlite_db: Db, start: date, length: int, ref: tuple[str, str], use_type: str
) -> None:
    """OptedOut over a period exactly when some day of it, asked alone, is OptedOut."""
    registry = sqlite_db.registry()
    if registry.count() == 0:
        registry.import_works(
            WORKS, declared_by=LABEL, source="w", effective_from=date(2025, 12, 1)
        )
    end = start + timedelta(days=length)
    licence: LicenceScope = dataclasses.replace(scope(), term_start=date(2025, 1, 1), term_end=None)
    whole = registry.checker(licence, start, end).check(ref, use_type).reason
    each = {
        registry.checker(licence, start + timedelta(days=n), start + timedelta(days=n))
        .check(ref, use_type)
        .reason
        for n in range(length + 1)
    }
    assert (whole is Reason.OPTED_OUT) == (Reason.OPTED_OUT in each)
    assert (whole is Reason.OPTED_IN) == (each == {Reason.OPTED_IN})
