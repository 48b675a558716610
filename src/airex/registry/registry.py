"""The registry: works, identifiers, rightsholder shares and AI-use preferences, over time.

::

    from airex.registry import Registry, RegistrySettings, LicenceScope

    registry = Registry(engine, RegistrySettings.from_env())   # AIREX_PREFERENCE_REGIME
    registry.import_declaration(airex.parse(xml), raw=xml)      # idempotent by sender + MessageId
    registry.resolve([("ISWC", "T-917.314.220-6", None)])      # {ref: work key}
    checker = registry.checker(scope, date(2026, 1, 1), date(2026, 3, 31))
    checker.check(("ISRC", "GBLFR2500101", None), "UseForDataMining")  # Decision(key, OptedOut)
    registry.shares([key], date(2026, 3, 31), ["Worldwide"])   # {key: (("PADPIDA…", 10000),)}

How declarations become works and versions, and what counts as a conflict, is described in
:mod:`airex.registry._chunk_writer`; how uses are decided, in :mod:`airex.registry._check`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Hashable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex._gc import paused_gc
from airex.db import read_transaction
from airex.registry._check import BulkFacts, SingleFacts, UsageChecker, WorkRefLike
from airex.registry._declared import (
    DEFAULT_CHUNK,
    Conflict,
    DeclaredWork,
    ImportResult,
    SourceInfo,
    midnight,
)
from airex.registry._import import run_import
from airex.registry._read import SCAN_THRESHOLD, history, public_works, shares
from airex.registry._sql import Sql
from airex.registry._territory import Area
from airex.registry._types import Decision, LicenceScope, Reason
from airex.registry.errors import InvalidDeclarationError
from airex.registry.identifiers import identifier_key
from airex.registry.models import VersionPublic, WorkPublic
from airex.registry.schema import require_current
from airex.registry.settings import RegistrySettings

__all__ = ["Registry"]

R = TypeVar("R", bound=Hashable)

_PAGE = 1_000  # works read back per round of queries


class Registry:
    """The registry on one database (see the module doc). ``settings`` holds the CMO's
    preference regime."""

    def __init__(
        self,
        engine: Engine,
        settings: RegistrySettings | None = None,
        *,
        check_schema: bool = True,
    ) -> None:
        if check_schema:
            require_current(engine)
        self.engine = engine
        self.settings = settings if settings is not None else RegistrySettings()

    # --- importing -----------------------------------------------------------------------

    def import_declaration(
        self, message: Any, *, raw: bytes | None = None, chunk_size: int = DEFAULT_CHUNK
    ) -> ImportResult:
        """Import a :class:`~airex.messages.WorkDeclarationMessage` (``raw``: its bytes, kept).

        The works belong to the party the message is sent on behalf of (``SentOnBehalfOf``),
        else to its sender; the declaration takes effect on the UTC date of its
        ``MessageCreatedDateTime``. Idempotent by sender and MessageId; a ``TestMessage`` is
        refused (:class:`~airex.registry.InvalidDeclarationError`): it must not change the
        registry.
        """
        from airex.messages import WorkDeclarationMessage
        from airex.messages.codes import MessageControlType

        if not isinstance(message, WorkDeclarationMessage):
            raise TypeError(
                f"import_declaration takes a WorkDeclarationMessage, not {type(message).__name__}"
            )
        header = message.message_header
        sender = header.message_sender.party_id
        if header.message_control_type == MessageControlType.TEST_MESSAGE:
            raise InvalidDeclarationError(
                f"message {header.message_id} from {sender} is a TestMessage: it is not "
                "imported into the registry"
            )
        on_behalf = header.sent_on_behalf_of
        created = header.message_created_date_time.astimezone(UTC)
        source = SourceInfo(
            key=f"{sender}:{header.message_id}",
            declared_by=on_behalf.party_id if on_behalf is not None else sender,
            effective_from=created.date(),
            declared_at=created,
            sender=sender,
            message_id=header.message_id,
            recipient=header.message_recipients[0].party_id,
        )
        works = (DeclaredWork.from_message(w) for w in message.work_list.works)
        return run_import(self.engine, source, works, raw=raw, chunk_size=chunk_size)

    def import_works(
        self,
        works: Iterable[DeclaredWork],
        *,
        declared_by: str,
        source: str,
        effective_from: date,
        declared_at: datetime | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> ImportResult:
        """Import plain-data works, in bulk, as declared by party ``declared_by`` and in
        effect from ``effective_from`` (``declared_at``, default 00:00 UTC that day, orders
        declarations of the same date).

        ``source`` names the import (idempotent: importing the same source again changes
        nothing; with other content it is refused). Works are written ``chunk_size`` to a
        transaction; an invalid work stops the import with
        :class:`~airex.registry.InvalidDeclarationError`, the chunks before it staying
        written (importing the same source again resumes).
        """
        if isinstance(effective_from, datetime) or not isinstance(effective_from, date):
            raise TypeError(f"effective_from must be a date, not {effective_from!r}")
        if declared_at is None:
            declared_at = midnight(effective_from)
        elif declared_at.utcoffset() is None:
            raise ValueError(f"declared_at {declared_at.isoformat()} has no time zone")
        if not isinstance(source, str) or not source or len(source) > 255:
            raise ValueError(f"source must be a name of 1-255 characters, not {source!r}")
        info = SourceInfo(source, declared_by, effective_from, declared_at)
        return run_import(self.engine, info, works, chunk_size=chunk_size)

    # --- resolving and deciding -------------------------------------------------------------

    def resolve(self, refs: Iterable[R]) -> dict[R, int | None]:
        """The work key of each identifier ``(type, value[, namespace])`` (``None``: no work
        has it). Any identifier of a work resolves to it; values are compared in normal form
        (:mod:`airex.registry.identifiers`)."""
        wanted: dict[R, str] = {}
        for ref in refs:
            if ref not in wanted:
                wanted[ref] = identifier_key(*ref)  # type: ignore[misc]
        if len(wanted) > SCAN_THRESHOLD:
            ids = BulkFacts(self.engine, date.min, date.min, Area.of()).identifiers()
            return {ref: ids.get(key) for ref, key in wanted.items()}
        found = SingleFacts(self.engine, date.min, date.min, Area.of()).works_of(wanted.values())
        return {ref: found[key] for ref, key in wanted.items()}

    def checker(
        self, scope: LicenceScope, start: date, end: date, *, cache: bool = True
    ) -> UsageChecker:
        """A checker of uses under ``scope`` over the period ``[start, end]`` (inclusive).

        It loads every identifier, version and preference list once, on its first check, and
        then decides from memory (see :mod:`airex.registry._check`); its decisions are
        cached per (identifier, use type) unless ``cache`` is false."""
        area = Area.of(scope.territories, scope.excluded_territories)
        facts = BulkFacts(self.engine, start, end, area)
        return UsageChecker(facts, scope, start, end, self.settings.regime, cache=cache)

    def decide(
        self, ref: WorkRefLike, use_type: str, on: date, territory: str, scope: LicenceScope
    ) -> Decision:
        """May work ``ref`` be used for ``use_type`` in ``territory`` (an ISO 3166-1 code)
        on ``on`` under the licence ``scope``? The same rules as :meth:`checker` for the one
        day and country, after the licence's status and term, with one more: a territory
        outside the licence's → ``OutsideTerritory``."""
        if scope.status == "Granted" and (
            scope.term_start <= on and (scope.term_end is None or on <= scope.term_end)
        ):
            area = Area.of(scope.territories, scope.excluded_territories)
            if not area.contains(territory):
                key = identifier_key(*ref)
                facts = SingleFacts(self.engine, on, on, Area.of())
                return Decision(facts.works_of((key,))[key], Reason.OUTSIDE_TERRITORY)
        here = Area.of((territory,))
        local = dataclasses.replace(scope, territories=frozenset({territory}))
        facts = SingleFacts(self.engine, on, on, here)
        return UsageChecker(facts, local, on, on, self.settings.regime).check(ref, use_type)

    # --- shares ------------------------------------------------------------------------------

    def shares(
        self, work_keys: Iterable[int], on: date, territories: Collection[str]
    ) -> dict[int, tuple[tuple[str, int], ...]]:
        """The rightsholders of each work and their shares in hundredths of a percent
        (100.00 % = 10000; each tuple sums to exactly 10000, sorted by party, one entry per
        party), from the version in effect on ``on``.

        ``territories`` is the licence's territory (``["Worldwide"]`` or country codes). The
        share group used: under a Worldwide licence, the Worldwide group (the one with the
        fewest exclusions); under a licence naming countries, the first group (countries in
        alphabetical order) that names one of them, else the first Worldwide group that does
        not exclude one of them. A work with no such group, or no work at that key, maps to
        ``()``: its money goes to suspense.
        """
        with paused_gc(), read_transaction(self.engine) as connection:
            return shares(Sql(connection), work_keys, on, territories)

    # --- reading -----------------------------------------------------------------------------

    def works(self, on: date | None = None) -> Iterator[WorkPublic]:
        """Every work in key order, each with its version in effect on ``on`` (``None``: its
        latest version), read a page at a time."""
        after = 0
        while True:
            with read_transaction(self.engine) as connection:
                sql = Sql(connection)
                page = [
                    (int(key), owner)
                    for key, owner in sql.rows(
                        "SELECT id, owner FROM registry_work WHERE id > ? ORDER BY id LIMIT ?",
                        [after, _PAGE],
                    )
                ]
                found = public_works(sql, page, on)
            yield from found
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    def work(self, key: int, on: date | None = None) -> WorkPublic | None:
        """Work ``key`` with its version in effect on ``on`` (``None``: the latest), or
        ``None`` when there is no such work."""
        with read_transaction(self.engine) as connection:
            sql = Sql(connection)
            rows = sql.rows("SELECT id, owner FROM registry_work WHERE id = ?", [key])
            found = public_works(sql, [(int(k), o) for k, o in rows], on)
        return found[0] if found else None

    def history(self, key: int) -> list[VersionPublic]:
        """Every version of work ``key`` in the order they take effect (empty: no such work)."""
        with read_transaction(self.engine) as connection:
            return history(Sql(connection), key)

    def conflicts(self, work_key: int | None = None) -> list[Conflict]:
        """The recorded conflicts (of declarations recorded for ``work_key`` when given)."""
        query = (
            "SELECT ordinal, reference, id_key, work_id, held_by_work_id, held_by_party, kind "
            "FROM registry_conflict"
        )
        params: list[Any] = []
        if work_key is not None:
            query += " WHERE work_id = ?"
            params.append(work_key)
        with read_transaction(self.engine) as connection:
            rows = Sql(connection).rows(query + " ORDER BY id", params)
        return [Conflict(int(o), r, k, int(w), int(h), p, kind) for o, r, k, w, h, p, kind in rows]

    def count(self) -> int:
        """How many works the registry holds."""
        with read_transaction(self.engine) as connection:
            return int(
                connection.execute(sa.text("SELECT COUNT(*) FROM registry_work")).scalar_one()
            )
