"""What an import takes and gives, as plain data: declared works, shares, preferences, results.

:class:`DeclaredWork` (with :class:`Share` and :class:`Preference`) is one work of a
WorkDeclarationMessage, or of a bulk load; :class:`SourceInfo` says where an import comes from;
:class:`ImportResult` (with its :class:`Conflict` list) says what it did. The import itself is
:func:`airex.registry._import.run_import`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_CHUNK",
    "OTHER_PARTY",
    "SEVERAL_WORKS",
    "Conflict",
    "DeclaredWork",
    "ImportResult",
    "Preference",
    "Share",
    "SourceInfo",
    "midnight",
]

DEFAULT_CHUNK = 50_000
"""Works written per transaction."""

OTHER_PARTY = "OtherParty"
SEVERAL_WORKS = "SeveralWorks"


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


def midnight(day: date) -> datetime:
    """00:00 UTC of ``day``."""
    return datetime.combine(day, time.min, UTC)
