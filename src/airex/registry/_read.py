"""Reading works back: the read models (:class:`WorkPublic`, :class:`VersionPublic`) and the
rightsholders' shares, in bulk."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from airex.registry._sql import Sql
from airex.registry._territory import WORLDWIDE, Area
from airex.registry.models import (
    ContributorPublic,
    PreferencePublic,
    SharePublic,
    VersionPublic,
    WorkIdPublic,
    WorkPublic,
)

__all__ = ["SCAN_THRESHOLD", "choose_group", "history", "public_works", "shares"]

SCAN_THRESHOLD = 20_000
"""Above this many works, read whole tables in one pass instead of ``IN`` lists."""

_VERSION_COLUMNS = (
    "id, work_id, source_id, effective_from, declared_at, reference, title, work_type, "
    "contains_ai, contributors, preference_set_id"
)
_HUNDRED = Decimal(100)

GroupKey = tuple[str, str]
"""A share group's territory in the stored form: ``(territory, excluded)``."""


def _order(row: tuple[Any, ...]) -> tuple[Any, Any, int]:
    """Sort key of a version row ``(id, work_id, source_id, effective_from, declared_at...)``."""
    return (row[3], row[4], row[0])


def _in_effect(rows: Sequence[tuple[Any, ...]], on: Any | None) -> tuple[Any, ...]:
    """The version in effect on ``on`` (``None``: the latest), of one work's version rows
    (``effective_from`` at index 3, in the backend's own form)."""
    ordered = sorted(rows, key=_order)
    if on is None:
        return ordered[-1]
    before = [row for row in ordered if row[3] <= on]
    return before[-1] if before else ordered[0]


def _versions(sql: Sql, where: str, values: Sequence[Any]) -> dict[int, list[tuple[Any, ...]]]:
    found: dict[int, list[tuple[Any, ...]]] = {}
    for row in sql.rows_in(
        f"SELECT {_VERSION_COLUMNS} FROM registry_version WHERE {where}",  # noqa: S608
        values,
    ):
        found.setdefault(int(row[1]), []).append(row)
    return found


def _public_versions(sql: Sql, rows: Sequence[tuple[Any, ...]]) -> dict[int, VersionPublic]:
    """``version id -> VersionPublic`` for version rows."""
    ids = [int(row[0]) for row in rows]
    identifiers: dict[int, list[tuple[str, str, str, str | None]]] = {}
    for version, key, type_, value, namespace in sql.rows_in(
        "SELECT version_id, id_key, type, value, namespace FROM registry_identifier "
        "WHERE version_id {in} ORDER BY id",
        ids,
    ):
        identifiers.setdefault(int(version), []).append((key, type_, value, namespace))
    holders: dict[str, int] = {}
    keys = {entry[0] for entries in identifiers.values() for entry in entries}
    for key, work in sql.rows_in(
        "SELECT id_key, work_id FROM registry_identifier WHERE id_key {in} ORDER BY id DESC", keys
    ):
        holders[key] = int(work)
    shares: dict[int, list[SharePublic]] = {}
    for version, party, hundredths, territory, excluded in sql.rows_in(
        "SELECT version_id, party, hundredths, territory, excluded FROM registry_share "
        "WHERE version_id {in} ORDER BY version_id, position",
        ids,
    ):
        shares.setdefault(int(version), []).append(
            SharePublic(
                party_id=party,
                percentage=Decimal(int(hundredths)) / _HUNDRED,
                territories=territory.split(),
                excluded=excluded.split(),
            )
        )
    set_ids = {int(row[10]) for row in rows if row[10] is not None}
    preferences: dict[int, list[PreferencePublic]] = {}
    for set_id, use_type, pref, effective, territory, excluded in sql.rows_in(
        "SELECT set_id, use_type, preference, effective_date, territory, excluded "
        "FROM registry_preference WHERE set_id {in} ORDER BY set_id, position",
        set_ids,
    ):
        preferences.setdefault(int(set_id), []).append(
            PreferencePublic(
                use_type=use_type,
                preference=pref,
                effective_date=sql.read_day(effective),
                territories=territory.split(),
                excluded=excluded.split(),
            )
        )
    sources = dict(
        sql.rows_in(
            "SELECT id, source_key FROM registry_source WHERE id {in}",
            {int(row[2]) for row in rows},
        )
    )
    found: dict[int, VersionPublic] = {}
    for row in rows:
        version_id, work_id = int(row[0]), int(row[1])
        effective = sql.read_day(row[3])
        assert effective is not None
        contributors = json.loads(row[9]) if row[9] else []
        found[version_id] = VersionPublic(
            version_id=version_id,
            effective_from=effective,
            declared_at=sql.read_instant(row[4]),
            source=sources[row[2]],
            reference=row[5],
            title=row[6],
            work_type=row[7],
            contains_ai=row[8],
            contributors=[ContributorPublic(name=n, role=r) for n, r in contributors],
            ids=[
                WorkIdPublic(
                    type=type_,
                    value=value,
                    namespace=namespace,
                    key=key,
                    resolves=holders.get(key) == work_id,
                )
                for key, type_, value, namespace in identifiers.get(version_id, [])
            ],
            shares=shares.get(version_id, []),
            preferences=preferences.get(int(row[10]), []) if row[10] is not None else [],
        )
    return found


def public_works(sql: Sql, works: Sequence[tuple[int, str]], on: date | None) -> list[WorkPublic]:
    """The read models of ``works`` (``(key, owner)``): each with the version in effect on
    ``on`` (``None``: the latest)."""
    if not works:
        return []
    versions = _versions(sql, "work_id {in}", [key for key, _ in works])
    when = sql.day(on) if on is not None else None
    chosen = {key: _in_effect(rows, when) for key, rows in versions.items()}
    public = _public_versions(sql, list(chosen.values()))
    return [
        WorkPublic(
            **public[int(chosen[key][0])].model_dump(),
            key=key,
            owner=owner,
            versions=len(versions[key]),
        )
        for key, owner in works
        if key in chosen
    ]


def history(sql: Sql, key: int) -> list[VersionPublic]:
    """Every version of work ``key``, in the order they take effect."""
    rows = sorted(_versions(sql, "work_id {in}", [key]).get(key, []), key=_order)
    public = _public_versions(sql, rows)
    return [public[int(row[0])] for row in rows]


def choose_group(groups: Collection[GroupKey], licence: Area) -> GroupKey | None:
    """The share group that applies under a licence's territory (see :func:`shares`)."""
    worldwide = sorted(
        (g for g in groups if g[0] == WORLDWIDE), key=lambda g: (len(g[1].split()), g[1])
    )
    if licence.worldwide:
        return worldwide[0] if worldwide else None
    countries = sorted(licence.codes)
    named = sorted(g for g in groups if g[0] != WORLDWIDE)
    for country in countries:
        for group in named:
            if country in group[0].split():
                return group
    for country in countries:
        for group in worldwide:
            if country not in group[1].split():
                return group
    return None


def shares(
    sql: Sql, work_keys: Iterable[int], on: date, territories: Collection[str]
) -> dict[int, tuple[tuple[str, int], ...]]:
    """The rightsholders and their shares, in hundredths of a percent, of the version of each
    work in effect on ``on``, in the share group that applies under the licence territory
    ``territories`` (see :meth:`airex.registry.Registry.shares`)."""
    keys = set(work_keys)
    result: dict[int, tuple[tuple[str, int], ...]] = dict.fromkeys(keys, ())
    if not keys:
        return result
    scan = len(keys) > SCAN_THRESHOLD
    # Works with several versions: which one is in effect (the others' shares are skipped)
    versions_of: dict[int, list[tuple[Any, Any, int]]] = {}
    multi_query = (
        "SELECT v.work_id, v.effective_from, v.declared_at, v.id FROM registry_version v "
        "JOIN (SELECT work_id FROM registry_version GROUP BY work_id HAVING COUNT(*) > 1) m "
        "ON m.work_id = v.work_id"
    )
    multi_rows = (
        sql.stream(multi_query)
        if scan
        else sql.rows_in(multi_query + " WHERE v.work_id {in}", sorted(keys))
    )
    for work, effective, declared, version in multi_rows:
        versions_of.setdefault(work, []).append((effective, declared, version))
    when = sql.day(on)
    in_effect: dict[int, int] = {}
    for work, found in versions_of.items():
        before = [v for v in found if v[0] <= when]
        in_effect[work] = max(before)[2] if before else min(found)[2]
    share_query = (
        "SELECT s.version_id, v.work_id, s.party, s.hundredths, s.territory, s.excluded "
        "FROM registry_share s JOIN registry_version v ON v.id = s.version_id"
    )
    rows: Iterable[tuple[Any, ...]] = (
        sql.stream(share_query + " ORDER BY s.version_id, s.position")
        if scan
        else sql.rows_in(
            share_query + " WHERE v.work_id {in} ORDER BY s.version_id, s.position", sorted(keys)
        )
    )
    licence = Area.of(territories)
    picks: dict[frozenset[GroupKey], GroupKey | None] = {}
    parties: dict[str, str] = {}
    intern = parties.setdefault

    def finish(work: int, members: list[tuple[str, int, str, str]]) -> None:
        """Record ``work``'s shares from its version's rows ``members``."""
        groups = frozenset((t, e) for _, _, t, e in members)
        pick = picks.get(groups, False)
        if pick is False:
            pick = picks[groups] = choose_group(groups, licence)
        if pick is None:
            return
        if len(members) == 1:
            result[work] = ((members[0][0], members[0][1]),)
            return
        merged: dict[str, int] = {}
        for party, hundredths, territory, excluded in members:
            if (territory, excluded) == pick:
                merged[party] = merged.get(party, 0) + hundredths
        result[work] = tuple(sorted(merged.items()))

    current = -1
    current_work = -1
    members: list[tuple[str, int, str, str]] = []
    for version, work, party, hundredths, territory, excluded in rows:
        if version != current:
            if members:
                finish(current_work, members)
            current, current_work, members = version, work, []
            if work not in keys or in_effect.get(work, version) != version:
                current_work = -1
        if current_work < 0:
            continue
        members.append((intern(party, party), hundredths, territory, excluded))
    if members:
        finish(current_work, members)
    return result
