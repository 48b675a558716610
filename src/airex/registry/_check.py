"""Deciding "may this work be used for this use type under this licence?", fast and in bulk.

A :class:`UsageChecker` answers for one licence scope and one period. Its decision rules, in
this order (the first that applies gives the reason):

1. the licence's status is not Granted → ``LicenceNotInForce``;
2. the period is not wholly inside the licence's term → ``OutsideTerm``;
3. the use type is not permitted by the licence → ``UseTypeNotLicensed``;
4. the work is resolved by its identifier. An unknown work, under an AllRepresentedWorks or
   WorkTypeList repertoire: ``UnknownWorkOptOutRegime`` (permitted, its money to suspense)
   under the opt-out regime, else ``UnknownWork``. Under a WorkIdList repertoire an unknown
   work the licence lists is treated as a known work without preference, one it does not list
   is ``OutsideRepertoire``;
5. a known work outside the repertoire (not listed, or of a type not listed: every version in
   effect during the period must have a listed type) → ``OutsideRepertoire``;
6. the preferences of the version(s) in effect during the period, for the use type: an OptOut
   in effect on *any* day of the period in a territory overlapping the licence's →
   ``OptedOut``; else OptIns that cover *every* day of the period and the licence's *whole*
   territory → ``OptedIn``; else the regime's ``NoPreference…`` reason (where OptIns cover
   only part, the rest has no preference).

Rule 6 is conservative on purpose: a usage record carries neither a date nor a territory, so
a single day or country of opt-out within the licence's period and territory excludes the
work. Versions: the version in effect on a day is the latest declared with an effective date on
or before it (same date: the later declaration); before a work's first declaration its first
version answers (the registry knows no earlier state). A preference with an EffectiveDate holds
from that date within its version; one without holds for the whole version.

Speed: the checker loads what it needs in bulk on first use (every identifier → work key, the
works' versions and the distinct preference lists), then answers from memory; decisions are
cached per (identifier, use type), and preference outcomes per (preference list, use type),
since works that state the same list (a whole catalogue opting in alike) decide alike.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from airex._gc import paused_gc
from airex.db import read_transaction
from airex.registry._sql import Sql
from airex.registry._territory import Area
from airex.registry._types import Decision, LicenceScope, Reason, Regime
from airex.registry.identifiers import identifier_key

__all__ = ["BulkFacts", "Facts", "SingleFacts", "UsageChecker", "WorkRefLike"]

WorkRefLike = tuple[str, str] | tuple[str, str, str | None]
"""An identifier: ``(type, value)`` or ``(type, value, namespace)``
(:class:`airex.formats.usage.WorkRef` is one)."""

GRANTED = "Granted"
OPT_OUT = 2
OPT_IN = 1
NO_PREFERENCE = 0
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PrefRule:
    """One stored preference, ready to evaluate."""

    opt_out: bool
    effective: date | None
    area: Area


PreferenceSets = Mapping[int, Mapping[str, Sequence[PrefRule]]]
"""``set id -> use type -> rules``."""

VersionRow = tuple[date, Any, int, int | None, str]
"""``(effective_from, declared_at, version id, preference set id, work type)``."""

Segment = tuple[date, date, int | None, str]
"""``(first day, last day, preference set id, work type)``: one version's days in a period."""


def segments(versions: Sequence[VersionRow], start: date, end: date) -> list[Segment]:
    """The versions of one work in effect during ``[start, end]``, with their days (see the
    module doc for which version is in effect when)."""
    ordered = sorted(versions, key=lambda v: (v[0], v[1], v[2]))
    collapsed: list[VersionRow] = []
    for version in ordered:
        if collapsed and collapsed[-1][0] == version[0]:
            collapsed[-1] = version  # same day: only the later declaration is ever in effect
        else:
            collapsed.append(version)
    first = 0
    for index, version in enumerate(collapsed):
        if version[0] <= start:
            first = index
        else:
            break
    found: list[Segment] = []
    for index in range(first, len(collapsed)):
        begin = start if index == first else collapsed[index][0]
        if begin > end:
            break
        last = end if index + 1 == len(collapsed) else min(end, collapsed[index + 1][0] - _DAY)
        found.append((begin, last, collapsed[index][3], collapsed[index][4]))
    return found


def outcome(parts: Sequence[Segment], sets: PreferenceSets, use_type: str, area: Area) -> int:
    """``OPT_OUT``, ``OPT_IN`` or ``NO_PREFERENCE`` for ``use_type`` over the segments, in
    ``area`` (rule 6 of the module doc)."""
    covered = True
    for begin, last, set_id, _type in parts:
        rules: Sequence[PrefRule] = ()
        if set_id is not None:
            rules = sets.get(set_id, {}).get(use_type, ())
        union = Area(False, frozenset())
        for rule in rules:
            if rule.effective is not None and rule.effective > last:
                continue  # not yet in effect during this version's days
            if rule.opt_out:
                if rule.area.overlaps(area):
                    return OPT_OUT
            elif rule.effective is None or rule.effective <= begin:
                union = union.union(rule.area)  # in effect from the segment's first day
        if covered and not union.covers(area):
            covered = False  # OptIns active from later days cannot cover the first one
    return OPT_IN if covered else NO_PREFERENCE


class Facts(Protocol):
    """What a checker needs to know about works (bulk-loaded, or queried one at a time)."""

    def works_of(self, keys: Iterable[str]) -> dict[str, int | None]:
        """``identifier key -> work key`` (``None``: unknown)."""

    def lookup(self) -> Callable[[str], int | None]:
        """A function ``identifier key -> work key`` (``None``: unknown), for many calls."""

    def outcome(self, work: int, use_type: str) -> int:
        """The preference outcome of ``work`` for ``use_type`` (over the checker's period and
        area)."""

    def types_in(self, work: int, allowed: frozenset[str]) -> bool:
        """Whether every version of ``work`` in effect during the period has an allowed type."""


def load_sets(
    sql: Sql, set_ids: Iterable[int] | None = None
) -> dict[int, dict[str, list[PrefRule]]]:
    """The preference sets ``set_ids`` (every set when ``None``), as rules by use type."""
    query = (
        "SELECT set_id, use_type, preference, effective_date, territory, excluded "
        "FROM registry_preference"
    )
    if set_ids is None:
        rows = list(sql.stream(query))
    else:
        rows = sql.rows_in(query + " WHERE set_id {in}", sorted(set(set_ids)))
    sets: dict[int, dict[str, list[PrefRule]]] = {}
    areas: dict[tuple[str, str], Area] = {}
    for set_id, use_type, pref, effective, territory, excluded in rows:
        area = areas.get((territory, excluded))
        if area is None:
            area = areas[territory, excluded] = Area.parse(territory, excluded)
        rule = PrefRule(pref == "OptOut", sql.read_day(effective), area)
        sets.setdefault(int(set_id), {}).setdefault(use_type, []).append(rule)
    return sets


class BulkFacts:
    """Every work's facts, loaded at once on first use (for checking whole reports)."""

    def __init__(self, engine: Engine, start: date, end: date, area: Area) -> None:
        self.engine = engine
        self.start = start
        self.end = end
        self.area = area
        self._ids: dict[str, int] | None = None
        self._loaded = False
        self._set_of = array("q")
        self._type_of = array("h")
        self._types: list[str] = []
        self._multi: dict[int, list[VersionRow]] = {}
        self._sets: dict[int, dict[str, list[PrefRule]]] = {}
        self._by_set: dict[str, bytearray] = {}
        self._by_work: dict[tuple[int, str], int] = {}

    def identifiers(self) -> dict[str, int]:
        """``identifier key -> work key`` for every identifier (its first holder)."""
        if self._ids is None:
            with paused_gc(), read_transaction(self.engine) as connection:
                rows = Sql(connection).stream(
                    "SELECT id_key, work_id FROM registry_identifier ORDER BY id DESC"
                )
                self._ids = dict(rows)  # the first holder, the lowest id, is written last
        return self._ids

    def works_of(self, keys: Iterable[str]) -> dict[str, int | None]:
        """``identifier key -> work key`` (``None``: unknown)."""
        ids = self.identifiers()
        return {key: ids.get(key) for key in keys}

    def lookup(self) -> Callable[[str], int | None]:
        """The loaded dictionary's ``get``."""
        return self.identifiers().get

    def _load(self) -> None:
        with paused_gc(), read_transaction(self.engine) as connection:
            sql = Sql(connection)
            top = int(sql.scalar("SELECT COALESCE(MAX(id), 0) FROM registry_work"))
            set_of = array("q", bytes(8 * (top + 1)))
            type_of = array("h", bytes(2 * (top + 1)))
            type_codes: dict[str, int] = {}
            for work, set_id, work_type in sql.stream(
                "SELECT work_id, preference_set_id, work_type FROM registry_version"
            ):
                set_of[work] = set_id or 0
                code = type_codes.get(work_type)
                if code is None:
                    code = type_codes[work_type] = len(type_codes)
                type_of[work] = code
            multi: dict[int, list[VersionRow]] = {}
            for work, effective, declared, version, set_id, work_type in sql.stream(
                "SELECT v.work_id, v.effective_from, v.declared_at, v.id, v.preference_set_id, "
                "v.work_type FROM registry_version v JOIN (SELECT work_id FROM registry_version "
                "GROUP BY work_id HAVING COUNT(*) > 1) m ON m.work_id = v.work_id"
            ):
                day = sql.read_day(effective)
                assert day is not None
                multi.setdefault(work, []).append((day, declared, version, set_id, work_type))
            for work in multi:
                set_of[work] = -1
            self._sets = load_sets(sql)
        self._set_of = set_of
        self._type_of = type_of
        self._types = list(type_codes)
        self._multi = multi
        self._loaded = True

    def _table(self, use_type: str) -> bytearray:
        """The outcome for ``use_type`` of every preference set, indexed by set id (the
        outcome of a work with one version depends on its set alone)."""
        table = bytearray(max(self._sets, default=0) + 1)
        whole = [(self.start, self.end, 0, "")]
        for set_id in self._sets:
            whole[0] = (self.start, self.end, set_id, "")
            table[set_id] = outcome(whole, self._sets, use_type, self.area)
        self._by_set[use_type] = table
        return table

    def outcome(self, work: int, use_type: str) -> int:
        """The preference outcome of ``work`` for ``use_type``."""
        if not self._loaded:
            self._load()
        set_id = self._set_of[work] if work < len(self._set_of) else 0
        if set_id > 0:
            table = self._by_set.get(use_type)
            if table is None:
                table = self._table(use_type)
            return table[set_id]
        if set_id == 0:
            return NO_PREFERENCE
        work_key = (work, use_type)
        found = self._by_work.get(work_key)
        if found is None:
            parts = segments(self._multi[work], self.start, self.end)
            found = outcome(parts, self._sets, use_type, self.area)
            self._by_work[work_key] = found
        return found

    def types_in(self, work: int, allowed: frozenset[str]) -> bool:
        """Whether every version of ``work`` in effect during the period has an allowed type."""
        if not self._loaded:
            self._load()
        if work in self._multi:
            parts = segments(self._multi[work], self.start, self.end)
            return all(part[3] in allowed for part in parts)
        if work >= len(self._type_of):
            return False
        return self._types[self._type_of[work]] in allowed


class SingleFacts:
    """Facts queried work by work (for single questions, where loading everything would be
    wasted)."""

    def __init__(self, engine: Engine, start: date, end: date, area: Area) -> None:
        self.engine = engine
        self.start = start
        self.end = end
        self.area = area
        self._segments: dict[int, list[Segment]] = {}
        self._sets: dict[int, dict[str, list[PrefRule]]] = {}

    def works_of(self, keys: Iterable[str]) -> dict[str, int | None]:
        """``identifier key -> work key`` (``None``: unknown)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, int | None] = dict.fromkeys(wanted)
        with read_transaction(self.engine) as connection:
            rows = Sql(connection).rows_in(
                "SELECT id_key, work_id FROM registry_identifier WHERE id_key {in} "
                "ORDER BY id DESC",
                wanted,
            )
        for key, work in rows:
            found[key] = int(work)
        return found

    def lookup(self) -> Callable[[str], int | None]:
        """One query per identifier."""
        return lambda key: self.works_of((key,))[key]

    def _parts(self, work: int) -> list[Segment]:
        parts = self._segments.get(work)
        if parts is None:
            with read_transaction(self.engine) as connection:
                sql = Sql(connection)
                rows: list[VersionRow] = []
                for effective, declared, version, set_id, work_type in sql.rows(
                    "SELECT effective_from, declared_at, id, preference_set_id, work_type "
                    "FROM registry_version WHERE work_id = ?",
                    [work],
                ):
                    day = sql.read_day(effective)
                    assert day is not None
                    rows.append((day, sql.read_instant(declared), int(version), set_id, work_type))
                parts = segments(rows, self.start, self.end)
                missing = {p[2] for p in parts if p[2] is not None and p[2] not in self._sets}
                if missing:
                    self._sets.update(load_sets(sql, missing))
            self._segments[work] = parts
        return parts

    def outcome(self, work: int, use_type: str) -> int:
        """The preference outcome of ``work`` for ``use_type``."""
        return outcome(self._parts(work), self._sets, use_type, self.area)

    def types_in(self, work: int, allowed: frozenset[str]) -> bool:
        """Whether every version of ``work`` in effect during the period has an allowed type."""
        return all(part[3] in allowed for part in self._parts(work))


class UsageChecker:
    """Decides uses of works under one licence scope over one period (see the module doc).

    Build it with :meth:`airex.registry.Registry.checker`. :meth:`check` is cached per
    (identifier, use type) unless ``cache`` is false (for callers that ask about each pair
    once: the cache holds some 150 bytes per pair).
    """

    def __init__(
        self,
        facts: Facts,
        scope: LicenceScope,
        start: date,
        end: date,
        regime: Regime,
        *,
        cache: bool = True,
    ) -> None:
        if end < start:
            raise ValueError(f"the period ends ({end}) before it starts ({start})")
        self.scope = scope
        self.start = start
        self.end = end
        self.regime = Regime(regime)
        self._facts = facts
        self._cache: dict[tuple[Any, str], Decision] | None = {} if cache else None
        self._blanket: Reason | None = None
        if scope.status != GRANTED:
            self._blanket = Reason.LICENCE_NOT_IN_FORCE
        elif start < scope.term_start or (scope.term_end is not None and end > scope.term_end):
            self._blanket = Reason.OUTSIDE_TERM
        opt_out = self.regime is Regime.OPT_OUT
        self._unknown = Reason.UNKNOWN_WORK_OPT_OUT_REGIME if opt_out else Reason.UNKNOWN_WORK
        self._none = (
            Reason.NO_PREFERENCE_OPT_OUT_REGIME if opt_out else Reason.NO_PREFERENCE_OPT_IN_REGIME
        )
        self._by_list = not scope.all_works and bool(scope.work_ids)
        self._by_type = not scope.all_works and not scope.work_ids and bool(scope.work_types)
        self._listed_keys: frozenset[str] = frozenset()
        self._listed_works: frozenset[int] | None = None
        self._work_of: Callable[[str], int | None] | None = None
        if self._by_list:
            self._listed_keys = frozenset(identifier_key(*ref) for ref in scope.work_ids)

    def _listed(self) -> frozenset[int]:
        if self._listed_works is None:
            found = self._facts.works_of(self._listed_keys)
            self._listed_works = frozenset(w for w in found.values() if w is not None)
        return self._listed_works

    def check(self, ref: WorkRefLike, use_type: str) -> Decision:
        """The decision for one identifier (``(type, value[, namespace])``) and use type."""
        cache = self._cache
        if cache is None:
            return self._decide(ref, use_type)
        cache_key = (ref, use_type)
        decision = cache.get(cache_key)
        if decision is None:
            decision = cache[cache_key] = self._decide(ref, use_type)
        return decision

    def check_any(self, refs: Sequence[WorkRefLike], use_type: str) -> Decision:
        """The decision for a usage record naming one work by several identifiers: that of
        the first identifier the registry knows (of the first one when it knows none)."""
        first: Decision | None = None
        for ref in refs:
            decision = self.check(ref, use_type)
            if decision.work_key is not None:
                return decision
            if first is None:
                first = decision
        if first is None:
            raise ValueError("a usage record names its work by at least one identifier")
        return first

    def _decide(self, ref: WorkRefLike, use_type: str) -> Decision:
        work_of = self._work_of
        if work_of is None:
            work_of = self._work_of = self._facts.lookup()
        type_ = ref[0]
        if type_ == "Proprietary":
            key = identifier_key(*ref)
            work = work_of(key)
        else:
            # Reports mostly write identifiers in normal form: try the value as given first
            # (normalising is idempotent, so a hit is the same key), then its normal form.
            key = f"{type_}::{ref[1]}"
            work = work_of(key)
            if work is None:
                normal = identifier_key(type_, ref[1])
                if normal != key:
                    key = normal
                    work = work_of(key)
        if self._blanket is not None:
            return Decision(work, self._blanket)
        if use_type not in self.scope.use_types:
            return Decision(work, Reason.USE_TYPE_NOT_LICENSED)
        if work is None:
            if self._by_list:
                reason = self._none if key in self._listed_keys else Reason.OUTSIDE_REPERTOIRE
                return Decision(None, reason)
            return Decision(None, self._unknown)
        if self._by_list and work not in self._listed():
            return Decision(work, Reason.OUTSIDE_REPERTOIRE)
        if self._by_type and not self._facts.types_in(work, self.scope.work_types):
            return Decision(work, Reason.OUTSIDE_REPERTOIRE)
        found = self._facts.outcome(work, use_type)
        if found == OPT_OUT:
            return Decision(work, Reason.OPTED_OUT)
        if found == OPT_IN:
            return Decision(work, Reason.OPTED_IN)
        return Decision(work, self._none)
