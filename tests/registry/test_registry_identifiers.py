"""Identifier normalisation and resolution; territory algebra; the registry's settings."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pytest
from _registry_data import LABEL, plain
from hypothesis import given
from hypothesis import strategies as st

from airex.formats.usage import WorkRef
from airex.registry import (
    ENV_PREFERENCE_REGIME,
    Regime,
    RegistryConfigError,
    RegistrySettings,
    identifier_key,
    normalise_identifier,
)
from airex.registry._territory import Area

if TYPE_CHECKING:
    from conftest import Db


@pytest.mark.parametrize(
    ("type_", "given_value", "normal"),
    [
        ("ISWC", "T-345.246.800-3", "T3452468003"),
        ("ISWC", "T3452468003", "T3452468003"),
        ("ISWC", " t-345246800-3 ", "T3452468003"),
        ("ISBN", "978-1-91643-182-9", "9781916431829"),
        ("ISBN", "978 1 91643 182 9", "9781916431829"),
        ("ISRC", "gb-lfr-25-00101", "GBLFR2500101"),
        ("ISCC", "iscc:aaa7kmjhv7iif6pv", "ISCC:AAA7KMJHV7IIF6PV"),
        ("DOI", "10.5555/Quillmark.Tidewater", "10.5555/quillmark.tidewater"),
        ("URL", "HTTPS://WWW.Example.COM/Path/To", "https://www.example.com/Path/To"),
        ("URL", "not a url", "not a url"),
        ("Proprietary", "QM-Essay-0193", "QM-Essay-0193"),
    ],
)
def test_values_normalise_as_documented(type_: str, given_value: str, normal: str) -> None:
    """Each type's normal form, as the module's table documents it."""
    assert normalise_identifier(type_, given_value) == normal


def test_keys_are_the_flat_file_form() -> None:
    """A key is Type::value, or Proprietary::Namespace::value, like WorkRef's text."""
    assert identifier_key("ISWC", "T-345.246.800-3") == "ISWC::T3452468003"
    assert (
        identifier_key("Proprietary", "X-1", "PADPIDA2026QM") == "Proprietary::PADPIDA2026QM::X-1"
    )
    ref = WorkRef("Proprietary", "X-1", "PADPIDA2026QM")
    assert identifier_key(*ref) == str(ref)
    assert identifier_key("Proprietary", "X-1", "A") != identifier_key("Proprietary", "X-1", "B")
    assert identifier_key("ISRC", "GBLFR2500101") != identifier_key("ISWC", "GBLFR2500101")


types = st.sampled_from(["ISWC", "ISBN", "ISRC", "ISCC", "DOI", "URL", "Proprietary"])


@given(type_=types, value=st.text(max_size=40))
def test_normalising_is_idempotent(type_: str, value: str) -> None:
    """Normalising a normal form changes nothing (so a lookup by it is a lookup by the key)."""
    once = normalise_identifier(type_, value)
    assert normalise_identifier(type_, once) == once


@given(digits=st.text("0123456789", min_size=10, max_size=10), hyphens=st.booleans())
def test_iswc_forms_share_a_key(digits: str, hyphens: bool) -> None:
    """T-ddd.ddd.ddd-c and Tddddddddddc are one identifier."""
    formatted = f"T-{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9]}"
    plain_form = f"T{digits}" if not hyphens else f"T-{digits[:9]}-{digits[9]}"
    assert identifier_key("ISWC", formatted) == identifier_key("ISWC", plain_form)


def test_any_identifier_of_a_work_resolves_in_any_form(backend: Db) -> None:
    """Every identifier type resolves to its work, written as declared or otherwise."""
    registry = backend.registry()
    ids = [
        ("ISWC", "T-345.246.800-3"),
        ("ISBN", "978-1-91643-182-9"),
        ("ISRC", "GBLFR2500101"),
        ("ISCC", "ISCC:AAA7KMJHV7IIF6PV"),
        ("DOI", "10.5555/Quillmark.Tidewater"),
        ("URL", "https://www.quillmark.example/essay"),
        ("Proprietary", "QM-1", "PADPIDA2026QUILLMARK"),
    ]
    registry.import_works(
        [plain(ids[:4]), plain(ids[4:])],
        declared_by=LABEL,
        source="ids",
        effective_from=date(2026, 1, 1),
    )
    asked = [
        ("ISWC", "T3452468003", None),
        ("ISWC", "T-345.246.800-3", None),
        ("ISBN", "9781916431829", None),
        ("ISRC", "GBLFR2500101", None),
        ("ISCC", "ISCC:AAA7KMJHV7IIF6PV", None),
        ("DOI", "10.5555/quillmark.tidewater", None),
        ("URL", "HTTPS://WWW.QUILLMARK.EXAMPLE/essay", None),
        ("Proprietary", "QM-1", "PADPIDA2026QUILLMARK"),
        ("Proprietary", "QM-1", "PADPIDA2026OTHER"),
        ("ISRC", "GBLFR2500102", None),
        WorkRef("ISBN", "978-1-91643-182-9"),
    ]
    assert list(registry.resolve(asked).values()) == [1, 1, 1, 1, 1, 2, 2, 2, None, None, 1]


def test_unnormalised_usage_identifiers_are_checked_like_normal_ones(sqlite_db: Db) -> None:
    """The checker's fast path (value as given) and slow path (normal form) agree."""
    from _registry_data import TRAINING, scope

    registry = sqlite_db.registry()
    registry.import_works(
        [plain([("ISWC", "T3452468003")], preferences=[(TRAINING, "OptIn", None, ())])],
        declared_by=LABEL,
        source="n",
        effective_from=date(2026, 1, 1),
    )
    checker = registry.checker(scope(), date(2026, 1, 1), date(2026, 3, 31))
    assert checker.check(("ISWC", "T-345.246.800-3"), TRAINING).work_key == 1
    assert checker.check(("ISWC", "T3452468003"), TRAINING).work_key == 1


# --- territories -----------------------------------------------------------------------------

CODES = ["GB", "IE", "US", "CA", "FR"]
WORLD = frozenset([*CODES, "ZZ-ELSEWHERE"])  # a country no area ever names


def members(area: Area) -> frozenset[str]:
    """The countries of an area within the model world."""
    return WORLD - area.codes if area.worldwide else area.codes


areas = st.builds(Area, st.booleans(), st.frozensets(st.sampled_from(CODES)))


@given(a=areas, b=areas)
def test_area_operations_are_set_operations(a: Area, b: Area) -> None:
    """covers, overlaps and union agree with the same operations on sets of countries."""
    assert a.covers(b) == (members(b) <= members(a))
    assert a.overlaps(b) == bool(members(a) & members(b))
    assert members(a.union(b)) == members(a) | members(b)
    for code in CODES:
        assert a.contains(code) == (code in members(a))


@given(a=areas)
def test_areas_survive_their_stored_form(a: Area) -> None:
    """The stored text form reads back as the same area."""
    assert Area.parse(*a.stored()) == a


def test_area_of_a_territory() -> None:
    """Absent or Worldwide territories are worldwide; exclusions go with Worldwide only."""
    assert Area.of() == Area(True, frozenset())
    assert Area.of(["Worldwide", "GB"]) == Area(True, frozenset())
    assert Area.of(["Worldwide"], ["US"]) == Area(True, frozenset({"US"}))
    assert Area.of(["GB", "IE"]) == Area(False, frozenset({"GB", "IE"}))
    assert Area.of(["Worldwide"]).contains("Worldwide")
    assert not Area.of(["Worldwide"], ["US"]).contains("Worldwide")
    assert str(Area.of(["Worldwide"], ["US", "CA"])) == "Worldwide -CA -US"


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "regime"),
    [
        ({}, Regime.OPT_IN),
        ({ENV_PREFERENCE_REGIME: ""}, Regime.OPT_IN),
        ({ENV_PREFERENCE_REGIME: "opt-out"}, Regime.OPT_OUT),
        ({ENV_PREFERENCE_REGIME: " Opt-In "}, Regime.OPT_IN),
    ],
)
def test_the_regime_comes_from_the_environment(environ: dict[str, str], regime: Regime) -> None:
    """AIREX_PREFERENCE_REGIME chooses the regime; opt-in when unset."""
    assert RegistrySettings.from_env(environ).regime is regime


def test_an_unknown_regime_is_refused_saying_what_is_expected() -> None:
    """A typo in the setting is an error naming the variable and the allowed values."""
    with pytest.raises(RegistryConfigError, match=r"AIREX_PREFERENCE_REGIME is 'optout'.*opt-in"):
        RegistrySettings.from_env({ENV_PREFERENCE_REGIME: "optout"})
    with pytest.raises(RegistryConfigError, match="not one of opt-in, opt-out"):
        RegistrySettings(regime="sometimes")  # type: ignore[arg-type]
    assert RegistrySettings(regime="opt-out").regime is Regime.OPT_OUT  # type: ignore[arg-type]
