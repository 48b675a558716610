"""Preparing a declared work for the registry: validation, normal form, content hashes.

Every work of an import is checked (a bad one raises :class:`InvalidDeclarationError` naming its
position) and put in a normal form whose hash tells an unchanged declaration from a new version;
what repeats across works (parties, percentages, territories, whole preference lists) is cached,
which keeps bulk loads of millions of works fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from airex.iso import country_codes
from airex.messages.codes import ContainsAI, UseType, WorkType
from airex.messages.identifiers import WORK_ID_TYPES, check_party_id, check_work_id
from airex.registry._declared import DeclaredWork, Preference, Share
from airex.registry._territory import WORLDWIDE, Area
from airex.registry.errors import InvalidDeclarationError
from airex.registry.identifiers import identifier_key

__all__: list[str] = []

_USE_TYPES = frozenset(str(u) for u in UseType)
_WORK_ID_TYPES = frozenset(WORK_ID_TYPES)
_WORK_TYPES = frozenset(str(t) for t in WorkType)
_CONTAINS_AI = frozenset(str(c) for c in ContainsAI)
_PREFERENCES = frozenset({"OptIn", "OptOut"})
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_TITLE_MAX = 1024
_HUNDRED = 10_000  # 100 % in hundredths of a percent


@dataclass(slots=True)
class _Prepared:
    ordinal: int
    reference: str | None
    keys: tuple[str, ...]  # declared order, distinct
    ids: list[tuple[str, str, str, str | None]]  # (key, type, value, namespace)
    title: str
    work_type: str
    contains_ai: str | None
    contributors: str | None
    shares: list[tuple[str, int, str, str]]  # (party, hundredths, territory, excluded)
    prefs: tuple[tuple[str, str, str, str, str], ...]  # (use, pref, date or "", terr, excl)
    pref_hash: str | None
    content_hash: str


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


_NO_PREFS: tuple[tuple[str, str, str, str, str], ...] = ()
_SEP = "\x1f"  # unit separator: cannot occur in ids, titles (XML text) or party ids
_RECORD = "\x1e"


class _Preparer:
    """Validates works and puts them in normal form; caches what repeats (parties,
    percentages, territories, whole preference lists), which keeps bulk loads fast."""

    def __init__(self) -> None:
        self._areas: dict[tuple[Any, Any], tuple[str, str]] = {}
        self._countries = country_codes()
        self._parties: set[str] = set()
        self._hundredths: dict[Any, int] = {}
        self._prefs: dict[Any, tuple[tuple[tuple[str, str, str, str, str], ...], str | None]] = {}

    def _fail(self, ordinal: int, reference: str | None, what: str) -> InvalidDeclarationError:
        where = f"work #{ordinal}" + (f" ({reference})" if reference else "")
        return InvalidDeclarationError(f"{where}: {what}", ordinal=ordinal, reference=reference)

    def _area(
        self, territories: Any, excluded: Any, ordinal: int, ref: str | None
    ) -> tuple[str, str]:
        try:
            found = self._areas.get((territories, excluded))
        except TypeError:  # lists: not hashable, take the long way
            found = None
        if found is not None:
            return found
        codes, exclusions = tuple(territories), tuple(excluded)
        for code in codes:
            if code != WORLDWIDE and code not in self._countries:
                raise self._fail(ordinal, ref, f"territory {code!r} is not an ISO 3166-1 code")
        for code in exclusions:
            if code not in self._countries:
                raise self._fail(
                    ordinal, ref, f"excluded territory {code!r} is not an ISO 3166-1 code"
                )
        if exclusions and codes and WORLDWIDE not in codes:
            raise self._fail(ordinal, ref, "excluded territories go only with Worldwide")
        stored = Area.of(codes, exclusions).stored()
        self._areas[codes, exclusions] = stored
        return stored

    def _party(self, party: Any, ordinal: int, ref: str | None) -> str:
        if party in self._parties:
            return str(party)
        if not isinstance(party, str) or check_party_id(party) is not None:
            raise self._fail(ordinal, ref, f"rightsholder {party!r} is not a PartyId (PADPIDA...)")
        self._parties.add(party)
        return party

    def _percentage(self, value: Any, party: str, ordinal: int, ref: str | None) -> int:
        try:
            found = self._hundredths.get(value)
        except TypeError:
            found = None
        if found is not None:
            return found
        hundredths = _hundredths(value)
        if hundredths is None or not 0 < hundredths <= _HUNDRED:
            raise self._fail(
                ordinal,
                ref,
                f"SharePercentage {value!r} of {party} must be more than 0 and at most 100, "
                "with at most 2 fraction digits",
            )
        self._hundredths[value] = hundredths
        return hundredths

    def prepare(self, work: DeclaredWork, ordinal: int) -> _Prepared:
        """``work`` (the ``ordinal``-th of its import) checked, in normal form, hashed."""
        ref = work.reference
        if ref is not None and (not isinstance(ref, str) or not _IDENTIFIER.fullmatch(ref)):
            raise self._fail(ordinal, None, f"WorkReference {ref!r} is not 1-64 of [A-Za-z0-9._:-]")
        if not work.work_ids:
            raise self._fail(ordinal, ref, "a work needs at least one WorkId")
        ids: list[tuple[str, str, str, str | None]] = []
        keys: list[str] = []
        for entry in work.work_ids:
            try:
                type_, value, namespace = entry
            except (TypeError, ValueError):
                raise self._fail(
                    ordinal, ref, f"WorkId {entry!r} is not (type, value, namespace)"
                ) from None
            if type_ not in _WORK_ID_TYPES or not isinstance(value, str):
                raise self._fail(
                    ordinal, ref, f"WorkId type {type_!r} is not one of {', '.join(WORK_ID_TYPES)}"
                )
            problem = check_work_id(type_, value)
            if problem is not None:
                raise self._fail(ordinal, ref, f"WorkId {type_} {value!r}: {problem}")
            if (type_ == "Proprietary") != (namespace is not None):
                what = "needs a Namespace" if namespace is None else "takes no Namespace"
                raise self._fail(ordinal, ref, f"WorkId {type_} {value!r} {what}")
            if namespace is not None and (
                not isinstance(namespace, str) or not _IDENTIFIER.fullmatch(namespace)
            ):
                raise self._fail(
                    ordinal, ref, f"Namespace {namespace!r} is not a PartyId or a token"
                )
            key = identifier_key(type_, value, namespace)
            if key not in keys:
                keys.append(key)
                ids.append((key, type_, value, namespace))
        title = work.title
        if not isinstance(title, str) or not title or len(title) > _TITLE_MAX:
            raise self._fail(ordinal, ref, f"Title must be 1-{_TITLE_MAX} characters")
        work_type = work.work_type
        if work_type not in _WORK_TYPES:
            raise self._fail(
                ordinal,
                ref,
                f"WorkType {work_type!r} is not one of {', '.join(sorted(_WORK_TYPES))}",
            )
        contains_ai = work.contains_ai
        if contains_ai is not None and contains_ai not in _CONTAINS_AI:
            raise self._fail(ordinal, ref, f"ContainsAI {contains_ai!r} is not All, None or Partly")
        contributors = None
        if work.contributors:
            pairs = [[str(name), str(role)] for name, role in work.contributors]
            contributors = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
        shares = self._shares(work, ordinal, ref)
        prefs, pref_hash = self._preferences(work, ordinal, ref)
        declared_keys = tuple(keys)
        if len(keys) > 1:
            keys.sort()
        share_text = [f"{p}{_SEP}{h}{_SEP}{t}{_SEP}{e}" for p, h, t, e in shares]
        if len(share_text) > 1:
            share_text.sort()
        content = _RECORD.join(
            (
                _SEP.join(keys),
                title,
                work_type,
                contains_ai or "",
                contributors or "",
                _SEP.join(share_text),
                pref_hash or "",
            )
        )
        return _Prepared(
            ordinal,
            ref,
            declared_keys,
            ids,
            title,
            work_type,
            contains_ai,
            contributors,
            shares,
            prefs,
            pref_hash,
            _digest(content),
        )

    def _shares(
        self, work: DeclaredWork, ordinal: int, ref: str | None
    ) -> list[tuple[str, int, str, str]]:
        entries = work.shares
        if not entries:
            raise self._fail(ordinal, ref, "a work needs at least one RightsShare")
        shares: list[tuple[str, int, str, str]] = []
        totals: dict[tuple[str, str], int] = {}
        known_parties = self._parties
        known_hundredths = self._hundredths
        known_areas = self._areas
        for entry in entries:
            share = entry if type(entry) is Share else Share(*entry)
            party = share.party_id
            if party not in known_parties:
                party = self._party(party, ordinal, ref)
            try:  # the cached values first: most shares repeat a percentage and a territory
                hundredths = known_hundredths[share.percentage]
                group = known_areas[share.territories, share.excluded]
            except (KeyError, TypeError):
                hundredths = self._percentage(share.percentage, party, ordinal, ref)
                group = self._area(share.territories, share.excluded, ordinal, ref)
            shares.append((party, hundredths, *group))
            totals[group] = totals.get(group, 0) + hundredths
        for (territory, excluded), total in totals.items():
            if total != _HUNDRED:
                where = territory + (f" less {excluded}" if excluded else "")
                raise self._fail(
                    ordinal,
                    ref,
                    f"the shares for {where} sum to {Decimal(total).scaleb(-2)}, not 100",
                )
        return shares

    def _preferences(
        self, work: DeclaredWork, ordinal: int, ref: str | None
    ) -> tuple[tuple[tuple[str, str, str, str, str], ...], str | None]:
        entries = work.preferences
        if not entries:
            return _NO_PREFS, None
        try:
            found = self._prefs.get(entries)
        except TypeError:
            found = None
        if found is not None:
            return found
        prefs: set[tuple[str, str, str, str, str]] = set()
        for entry in entries:
            pref = entry if type(entry) is Preference else Preference(*entry)
            if pref.use_type not in _USE_TYPES:
                raise self._fail(
                    ordinal,
                    ref,
                    f"UseType {pref.use_type!r} is not one of {', '.join(sorted(_USE_TYPES))}",
                )
            if pref.preference not in _PREFERENCES:
                raise self._fail(
                    ordinal, ref, f"Preference {pref.preference!r} is not OptIn or OptOut"
                )
            day = pref.effective_date
            if day is not None and (isinstance(day, datetime) or not isinstance(day, date)):
                raise self._fail(ordinal, ref, f"EffectiveDate {day!r} is not a date")
            territory, excluded = self._area(pref.territories, pref.excluded, ordinal, ref)
            prefs.add(
                (
                    pref.use_type,
                    pref.preference,
                    day.isoformat() if day else "",
                    territory,
                    excluded,
                )
            )
        canonical = tuple(sorted(prefs))
        result = canonical, _digest(repr(canonical))
        with contextlib.suppress(TypeError):  # a list is not hashable: not cached
            self._prefs[entries] = result
        return result


def _hundredths(value: Any) -> int | None:
    """``value`` percent in hundredths of a percent, ``None`` unless a whole number of them."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        scaled = number.scaleb(2)
        if not scaled.is_finite() or scaled != scaled.to_integral_value():
            return None
        return int(scaled)
    except (InvalidOperation, ValueError, TypeError):
        return None


def _prepared(works: Iterable[DeclaredWork], hasher: Any) -> Iterator[_Prepared]:
    preparer = _Preparer()
    for ordinal, work in enumerate(works, start=1):
        if not isinstance(work, DeclaredWork):
            raise InvalidDeclarationError(
                f"work #{ordinal}: expected a DeclaredWork, not {type(work).__name__}",
                ordinal=ordinal,
            )
        prepared = preparer.prepare(work, ordinal)
        hasher.update(
            f"{ordinal}{_SEP}{prepared.reference or ''}{_SEP}{prepared.content_hash}\n".encode()
        )
        yield prepared
