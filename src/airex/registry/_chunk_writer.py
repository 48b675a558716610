"""Writing one chunk of prepared works: new works, versions, identifiers, shares, conflicts.

Identity. A work belongs to the party that declares it (the message's ``SentOnBehalfOf``,
else its sender) and is recognised by its identifiers: a declaration by party P naming an
identifier of one of P's works is a new *version* of that work; otherwise it creates a new
work. An identifier resolves to the work that declared it *first*. A declaration by P that
names an identifier another party's work holds is a **conflict**: the declaration is kept
(the work and version are recorded for P), the identifier keeps resolving to the first
holder, and the conflict is recorded and reported (``OtherParty``). A declaration naming
identifiers of two or more of P's own works becomes a version of the oldest of them; the
others keep their identifiers (``SeveralWorks``).

A work whose content equals the version in effect from its date, or that this source wrote
before (an import resumed after a crash), adds no version (``unchanged``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from airex.registry._declared import OTHER_PARTY, SEVERAL_WORKS, Conflict, SourceInfo
from airex.registry._prepare import _Prepared
from airex.registry._sql import Sql
from airex.registry.errors import SourceConflictError

__all__: list[str] = []


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
