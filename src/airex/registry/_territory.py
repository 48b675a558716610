"""Territories as sets of countries: overlap, cover and union, exactly.

A spec Territory is either a list of ISO 3166-1 alpha-2 codes, or ``Worldwide`` less some
excluded codes. :class:`Area` holds either form as a set: ``worldwide=False`` and the codes
included, or ``worldwide=True`` and the codes excluded. Every operation is exact set algebra
(the world is taken to be larger than any finite list of codes).

Stored form (registry tables): ``territory`` is ``"Worldwide"`` or the sorted codes joined by
one space, ``excluded`` the sorted excluded codes joined by one space (empty when none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["WORLDWIDE", "Area"]

WORLDWIDE = "Worldwide"


@dataclass(frozen=True, slots=True)
class Area:
    """A set of countries: ``codes`` included, or with ``worldwide`` every country but them."""

    worldwide: bool
    codes: frozenset[str]

    @classmethod
    def of(cls, territories: Iterable[str] = (), excluded: Iterable[str] = ()) -> Area:
        """The area of a Territory: its codes (``()`` or one ``Worldwide``: worldwide), less the
        excluded codes when worldwide."""
        codes = frozenset(territories)
        if not codes or WORLDWIDE in codes:
            return cls(True, frozenset(excluded))
        return cls(False, codes)

    @classmethod
    def parse(cls, territory: str, excluded: str) -> Area:
        """The area of the stored form (see the module doc)."""
        if territory == WORLDWIDE:
            return cls(True, frozenset(excluded.split()))
        return cls(False, frozenset(territory.split()))

    def stored(self) -> tuple[str, str]:
        """``(territory, excluded)`` in the stored form."""
        if self.worldwide:
            return WORLDWIDE, " ".join(sorted(self.codes))
        return " ".join(sorted(self.codes)), ""

    def covers(self, other: Area) -> bool:
        """Whether every country of ``other`` is in this area."""
        if self.worldwide:
            if other.worldwide:
                return self.codes <= other.codes
            return not (self.codes & other.codes)
        if other.worldwide:
            return False
        return other.codes <= self.codes

    def overlaps(self, other: Area) -> bool:
        """Whether the two areas have a country in common."""
        if self.worldwide:
            if other.worldwide:
                return True
            return bool(other.codes - self.codes)
        if other.worldwide:
            return bool(self.codes - other.codes)
        return bool(self.codes & other.codes)

    def union(self, other: Area) -> Area:
        """The countries in either area."""
        if self.worldwide:
            if other.worldwide:
                return Area(True, self.codes & other.codes)
            return Area(True, self.codes - other.codes)
        if other.worldwide:
            return Area(True, other.codes - self.codes)
        return Area(False, self.codes | other.codes)

    def contains(self, code: str) -> bool:
        """Whether the country ``code`` (or, for ``Worldwide``, the whole world) is in the area."""
        if code == WORLDWIDE:
            return self.worldwide and not self.codes
        return (code not in self.codes) if self.worldwide else (code in self.codes)

    def __str__(self) -> str:
        if self.worldwide:
            return WORLDWIDE + "".join(f" -{c}" for c in sorted(self.codes))
        return " ".join(sorted(self.codes)) or "(nowhere)"
