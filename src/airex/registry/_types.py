"""The registry's answers, as plain data (the contract the royalties rely on).

A work is known inside airex by its *work key* (an int, the registry's primary key); outside,
by any of its identifiers (:class:`airex.formats.usage.WorkRef`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airex.messages.terms import LicenceTerms

__all__ = ["Decision", "LicenceScope", "Reason", "Regime"]


class Regime(StrEnum):
    """What a CMO does with a work that states no preference for a use type (a CMO setting)."""

    OPT_IN = "opt-in"
    """No preference = not permitted (collective AI licences such as the UK CLA's and STIM's)."""
    OPT_OUT = "opt-out"
    """No preference = permitted (the EU text-and-data-mining exception: reserved if opted out)."""


class Reason(StrEnum):
    """Why a use of a work is, or is not, permitted under a licence."""

    OPTED_IN = "OptedIn"
    """Permitted: the work's rightsholder opted in for this use type."""
    NO_PREFERENCE_OPT_OUT_REGIME = "NoPreferenceOptOutRegime"
    """Permitted: no preference stated, and the CMO runs an opt-out regime."""
    UNKNOWN_WORK_OPT_OUT_REGIME = "UnknownWorkOptOutRegime"
    """Permitted (money to suspense): not in the registry, blanket repertoire, opt-out regime."""
    OPTED_OUT = "OptedOut"
    """Not permitted: the rightsholder opted out of this use type (in the licence's territory)."""
    NO_PREFERENCE_OPT_IN_REGIME = "NoPreferenceOptInRegime"
    """Not permitted: no preference stated, and the CMO runs an opt-in regime."""
    UNKNOWN_WORK = "UnknownWork"
    """Not permitted: no work in the registry has this identifier."""
    OUTSIDE_REPERTOIRE = "OutsideRepertoire"
    """Not permitted: the work is not in the licence's repertoire (work list or work types)."""
    USE_TYPE_NOT_LICENSED = "UseTypeNotLicensed"
    """Not permitted: the licence does not permit this use type."""
    OUTSIDE_TERM = "OutsideTerm"
    """Not permitted: the date (or period) is not inside the licence's term."""
    OUTSIDE_TERRITORY = "OutsideTerritory"
    """Not permitted: the territory is not covered by the licence."""
    LICENCE_NOT_IN_FORCE = "LicenceNotInForce"
    """Not permitted: the licence was suspended, revoked or expired on that date."""

    @property
    def permitted(self) -> bool:
        """Whether this reason permits the use."""
        return self in _PERMITTED


_PERMITTED = frozenset(
    {Reason.OPTED_IN, Reason.NO_PREFERENCE_OPT_OUT_REGIME, Reason.UNKNOWN_WORK_OPT_OUT_REGIME}
)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one (work identifier, use type): the work it resolves to, and why."""

    work_key: int | None
    """The registry's key of the work, ``None`` when no work has the identifier."""
    reason: Reason

    @property
    def permitted(self) -> bool:
        """Whether the use is permitted."""
        return self.reason.permitted


@dataclass(frozen=True, slots=True)
class LicenceScope:
    """What a licence covers, as plain data (built from a LicenceMessage or the grant register).

    ``status`` is the licence's state in force on the date asked about (``"Granted"`` is the
    only one under which anything is permitted). ``work_ids`` are ``(type, value, namespace)``
    triples for a WorkIdList repertoire; ``work_types`` the types of a WorkTypeList; both empty
    for AllRepresentedWorks.
    """

    licence_id: str
    status: str
    use_types: frozenset[str]
    territories: frozenset[str]
    excluded_territories: frozenset[str]
    term_start: date
    term_end: date | None
    all_works: bool = True
    work_ids: frozenset[tuple[str, str, str | None]] = frozenset()
    work_types: frozenset[str] = frozenset()

    @classmethod
    def from_terms(cls, licence_id: str, status: str, terms: LicenceTerms) -> LicenceScope:
        """The scope of a licence's terms (a LicenceMessage's ``licence.licence_terms``) in
        state ``status`` (``"Granted"``, ``"Suspended"``...)."""
        repertoire = terms.repertoire
        work_ids: frozenset[tuple[str, str, str | None]] = frozenset()
        work_types: frozenset[str] = frozenset()
        if repertoire.work_id_list is not None:
            work_ids = frozenset(
                (str(w.type), w.value, w.namespace) for w in repertoire.work_id_list.work_ids
            )
        if repertoire.work_type_list is not None:
            work_types = frozenset(str(t) for t in repertoire.work_type_list.work_types)
        return cls(
            licence_id=licence_id,
            status=str(status),
            use_types=frozenset(str(u) for u in terms.permitted_use_types),
            territories=frozenset(terms.territory.territory_codes),
            excluded_territories=frozenset(terms.territory.excluded_territory_codes),
            term_start=terms.term.start_date,
            term_end=terms.term.end_date,
            all_works=repertoire.all_represented_works is not None,
            work_ids=work_ids,
            work_types=work_types,
        )
