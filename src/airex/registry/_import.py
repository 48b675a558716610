"""Importing declarations: plain-data works in, append-only rows out, idempotently.

Both entry points — :meth:`Registry.import_declaration` (a WorkDeclarationMessage) and
:meth:`Registry.import_works` (plain data, for bulk loads) — end here, in :func:`run_import`.

Identity. A work belongs to the party that declares it (the message's ``SentOnBehalfOf``,
else its sender) and is recognised by its identifiers: a declaration by party P naming an
identifier of one of P's works is a new *version* of that work; otherwise it creates a new
work. An identifier resolves to the work that declared it *first*. A declaration by P that
names an identifier another party's work holds is a **conflict**: the declaration is kept
(the work and version are recorded for P), the identifier keeps resolving to the first
holder, and the conflict is recorded and reported (``OtherParty``). A declaration naming
identifiers of two or more of P's own works becomes a version of the oldest of them; the
others keep their identifiers (``SeveralWorks``).

Idempotency. An import is identified by its *source*: ``<sender>:<MessageId>`` for a message.
Importing a source again changes nothing (its content hash is compared: other content under the
same source is refused with :class:`~airex.registry.SourceConflictError`). A declaration that
would change nothing — its content equals the version already in effect from its date — is
counted ``unchanged`` and adds no version. Works are written in chunks, one transaction each;
an import that stopped half-way (a crash) resumes where it stopped when run again: the works
already written are recognised (same source, same position) and skipped.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection, Engine

from airex._gc import paused_gc
from airex.db import read_transaction, run_write
from airex.iso import country_codes
from airex.messages.codes import ContainsAI, UseType, WorkType
from airex.messages.identifiers import WORK_ID_TYPES, check_party_id, check_work_id
from airex.registry._sql import Sql
from airex.registry._territory import WORLDWIDE, Area
from airex.registry.errors import InvalidDeclarationError, SourceConflictError
from airex.registry.identifiers import identifier_key

__all__ = [
    "DEFAULT_CHUNK",
    "Conflict",
    "DeclaredWork",
    "ImportResult",
    "Preference",
    "Share",
    "SourceInfo",
    "run_import",
]

DEFAULT_CHUNK = 50_000
"""Works written per transaction."""

OTHER_PARTY = "OtherParty"
SEVERAL_WORKS = "SeveralWorks"

_LOCK_KEY = 0x4149524558524547  # "AIREXREG": one registry writer at a time on PostgreSQL
_USE_TYPES = frozenset(str(u) for u in UseType)
_WORK_ID_TYPES = frozenset(WORK_ID_TYPES)
_WORK_TYPES = frozenset(str(t) for t in WorkType)
_CONTAINS_AI = frozenset(str(c) for c in ContainsAI)
_PREFERENCES = frozenset({"OptIn", "OptOut"})
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_TITLE_MAX = 1024
_HUNDRED = 10_000  # 100 % in hundredths of a percent


class Share(NamedTuple):
    """A rightsholder's share of a work: ``percentage`` (0 < x ≤ 100, at most 2 fraction
    digits) in a territory group (``()`` = Worldwide; ``excluded`` only with Worldwide)."""

    party_id: str
    percentage: Decimal
    territories: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


class Preference(NamedTuple):
    """An AI-use preference: ``"OptIn"`` or ``"OptOut"`` of ``use_type``, from
    ``effective_date`` (``None``: from the declaration's own date), in a territory
    (``()`` = Worldwide)."""

    use_type: str
    preference: str
    effective_date: date | None = None
    territories: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeclaredWork:
    """One declared work as plain data (what a WorkDeclarationMessage's ``Work`` says).

    ``work_ids`` are ``(type, value, namespace)`` triples (namespace only for Proprietary);
    ``shares`` are :class:`Share` or plain tuples ``(party_id, percentage, territories[,
    excluded])``; ``preferences`` :class:`Preference` or plain tuples ``(use_type,
    "OptIn"|"OptOut", effective_date, territories[, excluded])``. Each territory group of
    shares must sum to exactly 100.
    """

    work_ids: Sequence[tuple[str, str, str | None]]
    title: str
    work_type: str
    shares: Sequence[Share | tuple[Any, ...]]
    preferences: Sequence[Preference | tuple[Any, ...]] = ()
    reference: str | None = None
    contributors: Sequence[tuple[str, str]] = ()
    contains_ai: str | None = None

    @classmethod
    def from_message(cls, work: Any) -> DeclaredWork:
        """The plain data of a :class:`airex.messages.Work`."""

        def territory(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
            """A Territory element's codes and exclusions (``()`` when absent)."""
            if value is None:
                return (), ()
            return tuple(value.territory_codes), tuple(value.excluded_territory_codes)

        shares = []
        for share in work.rights_shares:
            codes, excluded = territory(share.territory)
            shares.append(
                Share(share.rightsholder_party_id, share.share_percentage, codes, excluded)
            )
        preferences = []
        for pref in work.ai_use_preferences:
            codes, excluded = territory(pref.territory)
            preferences.append(
                Preference(
                    str(pref.use_type), str(pref.preference), pref.effective_date, codes, excluded
                )
            )
        return cls(
            work_ids=tuple((str(w.type), w.value, w.namespace) for w in work.work_ids),
            title=work.title,
            work_type=str(work.work_type),
            shares=tuple(shares),
            preferences=tuple(preferences),
            reference=work.work_reference,
            contributors=tuple((c.name, c.role) for c in work.contributors),
            contains_ai=str(work.contains_ai) if work.contains_ai is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Conflict:
    """An identifier a declaration names that resolves to another work.

    ``work_key`` is the work the declaration was recorded for, ``held_by`` the work the
    identifier resolves to (it declared it first) and ``held_by_party`` that work's owner.
    ``kind`` is ``"OtherParty"`` (another party's work holds it) or ``"SeveralWorks"`` (the
    declaration names identifiers of several of the declaring party's own works).
    """

    ordinal: int
    """The work's 1-based position in its import."""
    reference: str | None
    identifier: str
    """The identifier's key (``ISRC::GBLFR2500101``)."""
    work_key: int
    held_by: int
    held_by_party: str
    kind: str

    def __str__(self) -> str:
        work = f"work #{self.ordinal}" + (f" ({self.reference})" if self.reference else "")
        if self.kind == OTHER_PARTY:
            return (
                f"{work}: {self.identifier} belongs to work {self.held_by} of "
                f"{self.held_by_party}; recorded for work {self.work_key}, the identifier "
                f"still resolves to work {self.held_by}"
            )
        return (
            f"{work}: {self.identifier} belongs to work {self.held_by}, another work of the "
            f"same party; the declaration was recorded for work {self.work_key}"
        )


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did.

    ``works`` counts the works in the import; ``new_works`` those that created a work,
    ``new_versions`` those that created a version (a new work's first version included),
    ``unchanged`` those that changed nothing (already imported from this source, or equal to
    the version in effect from their date). ``conflicts`` counts identifiers in conflict
    (listed in ``conflict_details``); ``replayed`` is true when the whole source had been
    imported before.
    """

    source: str
    works: int = 0
    new_works: int = 0
    new_versions: int = 0
    unchanged: int = 0
    conflicts: int = 0
    conflict_details: tuple[Conflict, ...] = ()
    replayed: bool = False

    def __add__(self, other: ImportResult) -> ImportResult:
        """Totals of two imports (``source`` of the first)."""
        return ImportResult(
            self.source,
            self.works + other.works,
            self.new_works + other.new_works,
            self.new_versions + other.new_versions,
            self.unchanged + other.unchanged,
            self.conflicts + other.conflicts,
            self.conflict_details + other.conflict_details,
            self.replayed and other.replayed,
        )

    def summary(self) -> str:
        """``N works: X new works, Y new versions, Z unchanged, C conflicts``."""
        return (
            f"{self.works} works: {self.new_works} new works, {self.new_versions} new "
            f"versions, {self.unchanged} unchanged, {self.conflicts} conflicts"
            + (" (imported before)" if self.replayed else "")
        )


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where an import comes from, and from when it holds."""

    key: str
    declared_by: str
    effective_from: date
    declared_at: datetime
    sender: str | None = None
    message_id: str | None = None
    recipient: str | None = None

    def canonical(self) -> bytes:
        """The header part of the source's content hash."""
        return repr(
            (
                self.key,
                self.declared_by,
                self.effective_from.isoformat(),
                self.declared_at.astimezone(UTC).isoformat(),
                self.sender,
                self.message_id,
                self.recipient,
            )
        ).encode()


# --- preparing a work: validation, normal form, hashes -------------------------------------


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


# --- writing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Counts:
    new_works: int = 0
    new_versions: int = 0
    unchanged: int = 0
    conflicts: list[Conflict] = field(default_factory=list)


class _VersionRef(NamedTuple):
    effective_from: date
    declared_at: datetime
    id: int
    content_hash: str
    source_id: int
    ordinal: int


_SOURCE_COLUMNS = (
    "id",
    "source_key",
    "sender",
    "message_id",
    "recipient",
    "declared_by",
    "declared_at",
    "effective_from",
    "raw_message",
    "recorded_at",
)
_WORK_COLUMNS = ("id", "owner", "source_id")
_VERSION_COLUMNS = (
    "id",
    "work_id",
    "source_id",
    "ordinal",
    "effective_from",
    "declared_at",
    "reference",
    "title",
    "work_type",
    "contains_ai",
    "contributors",
    "preference_set_id",
    "content_hash",
)
_IDENTIFIER_COLUMNS = ("id", "version_id", "work_id", "id_key", "type", "value", "namespace")
_SHARE_COLUMNS = ("version_id", "position", "party", "hundredths", "territory", "excluded")
_PREFERENCE_COLUMNS = (
    "set_id",
    "position",
    "use_type",
    "preference",
    "effective_date",
    "territory",
    "excluded",
)
_CONFLICT_COLUMNS = (
    "id",
    "source_id",
    "ordinal",
    "reference",
    "work_id",
    "id_key",
    "held_by_work_id",
    "held_by_party",
    "kind",
)
_COMPLETE_COLUMNS = (
    "source_id",
    "content_hash",
    "works",
    "new_works",
    "new_versions",
    "unchanged",
    "conflicts",
    "completed_at",
)


def _lock(sql: Sql) -> None:
    if sql.pg:
        sql.scalar("SELECT pg_advisory_xact_lock(?)", [_LOCK_KEY])


class _ChunkWriter:
    """Writes one chunk of prepared works in the caller's write transaction."""

    def __init__(self, connection: Connection, source: SourceInfo, source_id: int) -> None:
        self.sql = Sql(connection)
        self.source = source
        self.source_id = source_id

    def write(self, chunk: Sequence[_Prepared]) -> _Counts:
        """Write ``chunk``: new works, versions, identifiers, shares, conflicts; count them."""
        sql = self.sql
        owner = self.source.declared_by
        counts = _Counts()
        keys = {key for work in chunk for key in work.keys}
        holders: dict[str, list[tuple[int, str]]] = {}
        for key, work_id, work_owner in sql.rows_in(
            "SELECT i.id_key, i.work_id, w.owner FROM registry_identifier i "
            "JOIN registry_work w ON w.id = i.work_id WHERE i.id_key {in} ORDER BY i.id",
            keys,
        ):
            found = holders.setdefault(key, [])
            if all(w != work_id for w, _ in found):
                found.append((int(work_id), work_owner))
        existing = {w for found in holders.values() for w, o in found if o == owner}
        versions: dict[int, list[_VersionRef]] = {}
        for row in sql.rows_in(
            "SELECT work_id, effective_from, declared_at, id, content_hash, source_id, ordinal "
            "FROM registry_version WHERE work_id {in}",
            sorted(existing),
        ):
            versions.setdefault(int(row[0]), []).append(
                _VersionRef(
                    sql.read_day(row[1]) or date.min,
                    sql.read_instant(row[2]),
                    int(row[3]),
                    row[4],
                    int(row[5]),
                    int(row[6]),
                )
            )
        pref_sets = self._preference_sets(chunk)
        next_work = sql.next_id("registry_work")
        next_version = sql.next_id("registry_version")
        next_identifier = sql.next_id("registry_identifier")
        source_id = self.source_id
        effective_from = self.source.effective_from
        declared_at = self.source.declared_at
        day = sql.day(effective_from)
        instant = sql.instant(declared_at)
        work_rows: list[tuple[Any, ...]] = []
        version_rows: list[tuple[Any, ...]] = []
        identifier_rows: list[tuple[Any, ...]] = []
        share_rows: list[tuple[Any, ...]] = []
        conflict_rows: list[tuple[Any, ...]] = []
        get_holders = holders.get
        new_works = new_versions = unchanged_works = 0
        for work in chunk:
            held_by_key = [get_holders(key) for key in work.keys]
            known = any(held_by_key)
            target: int | None = None
            if known:
                own = [w for found in held_by_key if found for w, o in found if o == owner]
                if own:
                    target = min(own)
            if target is None:
                target = next_work
                next_work += 1
                work_rows.append((target, owner, source_id))
                new_works += 1
                history: list[_VersionRef] = []
                versions[target] = history
            else:
                history = versions.setdefault(target, [])
                if self._unchanged(work, history):
                    unchanged_works += 1
                    known = False  # conflicts still reported below
                    self._conflicts(work, target, held_by_key, counts, conflict_rows)
                    continue
            if known:
                self._conflicts(work, target, held_by_key, counts, conflict_rows)
            version_id = next_version
            next_version += 1
            new_versions += 1
            content_hash = work.content_hash
            pref_hash = work.pref_hash
            version_rows.append(
                (
                    version_id,
                    target,
                    source_id,
                    work.ordinal,
                    day,
                    instant,
                    work.reference,
                    work.title,
                    work.work_type,
                    work.contains_ai,
                    work.contributors,
                    pref_sets[pref_hash] if pref_hash is not None else None,
                    content_hash,
                )
            )
            history.append(
                _VersionRef(
                    effective_from, declared_at, version_id, content_hash, source_id, work.ordinal
                )
            )
            for (key, type_, value, namespace), held in zip(work.ids, held_by_key, strict=True):
                identifier_rows.append(
                    (next_identifier, version_id, target, key, type_, value, namespace)
                )
                next_identifier += 1
                if held is None:
                    holders[key] = [(target, owner)]
                elif all(w != target for w, _ in held):
                    held.append((target, owner))
            share_rows.extend(
                (version_id, position, *share) for position, share in enumerate(work.shares, 1)
            )
        counts.new_works = new_works
        counts.new_versions = new_versions
        counts.unchanged = unchanged_works
        if conflict_rows:
            first_conflict = sql.next_id("registry_conflict")
            conflict_rows = [(first_conflict + n, *row) for n, row in enumerate(conflict_rows)]
        sql.insert("registry_work", _WORK_COLUMNS, work_rows)
        sql.insert("registry_version", _VERSION_COLUMNS, version_rows)
        sql.insert("registry_identifier", _IDENTIFIER_COLUMNS, identifier_rows)
        sql.insert("registry_share", _SHARE_COLUMNS, share_rows)
        sql.insert_ignoring("registry_conflict", _CONFLICT_COLUMNS, conflict_rows)
        return counts

    def _conflicts(
        self,
        work: _Prepared,
        target: int,
        held_by_key: list[list[tuple[int, str]] | None],
        counts: _Counts,
        rows: list[tuple[Any, ...]],
    ) -> None:
        """Record the identifiers of ``work`` whose first holder is not ``target``."""
        owner = self.source.declared_by
        for key, held in zip(work.keys, held_by_key, strict=True):
            if held and held[0][0] != target:
                held_by, held_owner = held[0]
                kind = OTHER_PARTY if held_owner != owner else SEVERAL_WORKS
                counts.conflicts.append(
                    Conflict(work.ordinal, work.reference, key, target, held_by, held_owner, kind)
                )
                rows.append(
                    (
                        self.source_id,
                        work.ordinal,
                        work.reference,
                        target,
                        key,
                        held_by,
                        held_owner,
                        kind,
                    )
                )

    def _unchanged(self, work: _Prepared, history: list[_VersionRef]) -> bool:
        """Whether ``work`` was written by this source before (a resumed import), or equals
        the version in effect from its date; refuses other content at the same position."""
        for version in history:
            if version.source_id == self.source_id and version.ordinal == work.ordinal:
                if version.content_hash != work.content_hash:
                    raise SourceConflictError(
                        f"source {self.source.key!r} was partly imported before, and its work "
                        f"#{work.ordinal} then had other content (version {version.id}); a "
                        "source is never reused for other content",
                        source=self.source.key,
                    )
                return True
        position = (self.source.effective_from, self.source.declared_at)
        before = [v for v in history if (v.effective_from, v.declared_at) <= position]
        if not before:
            return False
        latest = max(before, key=lambda v: (v.effective_from, v.declared_at, v.id))
        return latest.content_hash == work.content_hash

    def _preference_sets(self, chunk: Sequence[_Prepared]) -> dict[str, int]:
        """``hash -> set id`` for every preference list of the chunk (new ones inserted)."""
        sql = self.sql
        wanted = {w.pref_hash: w.prefs for w in chunk if w.pref_hash is not None}
        found = {
            h: int(i)
            for h, i in sql.rows_in(
                "SELECT content_hash, id FROM registry_preference_set WHERE content_hash {in}",
                wanted,
            )
        }
        missing = [h for h in wanted if h not in found]
        if not missing:
            return found
        next_set = sql.next_id("registry_preference_set")
        set_rows: list[tuple[Any, ...]] = []
        pref_rows: list[tuple[Any, ...]] = []
        for content_hash in missing:
            set_rows.append((next_set, content_hash))
            for position, (use, pref, day, territory, excluded) in enumerate(
                wanted[content_hash], start=1
            ):
                effective = sql.day(date.fromisoformat(day)) if day else None
                pref_rows.append((next_set, position, use, pref, effective, territory, excluded))
            found[content_hash] = next_set
            next_set += 1
        sql.insert("registry_preference_set", ("id", "content_hash"), set_rows)
        sql.insert("registry_preference", _PREFERENCE_COLUMNS, pref_rows)
        return found


def _find_source(sql: Sql, key: str) -> tuple[int, tuple[Any, ...] | None] | None:
    """``(source id, completion row or None)`` of ``key``, ``None`` when never imported."""
    found = sql.rows("SELECT id FROM registry_source WHERE source_key = ?", [key])
    if not found:
        return None
    source_id = int(found[0][0])
    complete = sql.rows(
        "SELECT content_hash, works, new_works, new_versions, unchanged, conflicts "
        "FROM registry_source_complete WHERE source_id = ?",
        [source_id],
    )
    return source_id, (complete[0] if complete else None)


def _stored_conflicts(sql: Sql, source_id: int) -> list[Conflict]:
    return [
        Conflict(int(o), r, k, int(w), int(h), p, kind)
        for o, r, k, w, h, p, kind in sql.rows(
            "SELECT ordinal, reference, id_key, work_id, held_by_work_id, held_by_party, kind "
            "FROM registry_conflict WHERE source_id = ? ORDER BY ordinal, id",
            [source_id],
        )
    ]


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


def run_import(
    engine: Engine,
    source: SourceInfo,
    works: Iterable[DeclaredWork],
    *,
    raw: bytes | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> ImportResult:
    """Import ``works`` from ``source`` (see the module doc); return what changed."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    with paused_gc():
        return _run_import(engine, source, works, raw, chunk_size)


def _run_import(
    engine: Engine,
    source: SourceInfo,
    works: Iterable[DeclaredWork],
    raw: bytes | None,
    chunk_size: int,
) -> ImportResult:
    hasher = hashlib.sha256(source.canonical())
    prepared = _prepared(works, hasher)
    with read_transaction(engine) as connection:
        known = _find_source(Sql(connection), source.key)
    if known is not None and known[1] is not None:
        return _replay(engine, source, prepared, hasher, known[0], known[1])
    source_id = known[0] if known is not None else None
    total = _Counts()
    works_seen = 0
    chunk = list(islice(prepared, chunk_size))
    while True:
        following = list(islice(prepared, chunk_size)) if chunk else []
        final = not following
        content_hash = hasher.hexdigest() if final else ""
        done = works_seen + len(chunk)

        write = functools.partial(
            _write_chunk,
            source=source,
            source_id=source_id,
            raw=raw,
            chunk=chunk,
            final=final,
            content_hash=content_hash,
            done=done,
            before=total,
        )
        source_id, counts = run_write(engine, write)
        works_seen = done
        total.new_works += counts.new_works
        total.new_versions += counts.new_versions
        total.unchanged += counts.unchanged
        total.conflicts.extend(counts.conflicts)
        if final:
            break
        chunk = following
    return ImportResult(
        source.key,
        works_seen,
        total.new_works,
        total.new_versions,
        total.unchanged,
        len(total.conflicts),
        tuple(total.conflicts),
    )


def _write_chunk(
    connection: Connection,
    *,
    source: SourceInfo,
    source_id: int | None,
    raw: bytes | None,
    chunk: list[_Prepared],
    final: bool,
    content_hash: str,
    done: int,
    before: _Counts,
) -> tuple[int, _Counts]:
    """One chunk in one write transaction (and, for the last, the completion row)."""
    sql = Sql(connection)
    _lock(sql)
    if source_id is None:
        source_id = _start_source(sql, source, raw)
    counts = _ChunkWriter(connection, source, source_id).write(chunk)
    if final:
        sql.insert(
            "registry_source_complete",
            _COMPLETE_COLUMNS,
            [
                (
                    source_id,
                    content_hash,
                    done,
                    before.new_works + counts.new_works,
                    before.new_versions + counts.new_versions,
                    before.unchanged + counts.unchanged,
                    len(before.conflicts) + len(counts.conflicts),
                    sql.instant(datetime.now(UTC)),
                )
            ],
        )
    return source_id, counts


def _start_source(sql: Sql, source: SourceInfo, raw: bytes | None) -> int:
    """The id of ``source``'s row, inserted now unless a concurrent import just did."""
    found = _find_source(sql, source.key)
    if found is not None:
        if found[1] is not None:
            raise SourceConflictError(
                f"source {source.key!r} was imported by another process meanwhile; "
                "import it again to compare",
                source=source.key,
            )
        return found[0]
    source_id = sql.next_id("registry_source")
    sql.insert(
        "registry_source",
        _SOURCE_COLUMNS,
        [
            (
                source_id,
                source.key,
                source.sender,
                source.message_id,
                source.recipient,
                source.declared_by,
                sql.instant(source.declared_at),
                sql.day(source.effective_from),
                raw,
                sql.instant(datetime.now(UTC)),
            )
        ],
    )
    return source_id


def _replay(
    engine: Engine,
    source: SourceInfo,
    prepared: Iterator[_Prepared],
    hasher: Any,
    source_id: int,
    complete: tuple[Any, ...],
) -> ImportResult:
    count = sum(1 for _ in prepared)
    if hasher.hexdigest() != complete[0]:
        raise SourceConflictError(
            f"source {source.key!r} was imported before with different content; a MessageId "
            "is never reused for other content (send the change as a new message)",
            source=source.key,
        )
    with read_transaction(engine) as connection:
        conflicts = _stored_conflicts(Sql(connection), source_id)
    return ImportResult(
        source.key,
        count,
        0,
        0,
        count,
        len(conflicts),
        tuple(conflicts),
        replayed=True,
    )


def midnight(day: date) -> datetime:
    """00:00 UTC of ``day``."""
    return datetime.combine(day, time.min, UTC)
