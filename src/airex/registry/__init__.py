"""The registry: works, identifiers, rightsholder shares and AI-use preferences, over time.

Rightsholders declare their works to a CMO in WorkDeclarationMessages; the registry keeps every
declaration as a *version* of its work (a later declaration by the same party supersedes from
its date; nothing is overwritten) and answers, in bulk:

* which work an identifier (ISCC, ISRC, ISWC, ISBN, DOI, URL, proprietary) names
  (:meth:`Registry.resolve`);
* may work W be used for use type U under licence L over a period — and why
  (:meth:`Registry.checker`, :class:`UsageChecker`, :class:`Reason`), or in territory T on
  date D (:meth:`Registry.decide`);
* who holds the work's rights, and in what shares, for a territory and date
  (:meth:`Registry.shares`).

Works that state no preference are decided by the CMO's regime (:class:`RegistrySettings`,
``AIREX_PREFERENCE_REGIME``): opt-in or opt-out.

Getting started::

    from airex.db import DatabaseConfig, create_engine
    from airex.registry import Registry, RegistrySettings, upgrade

    engine = create_engine(DatabaseConfig.from_env())
    upgrade(engine)                          # or `airex db upgrade`
    registry = Registry(engine, RegistrySettings.from_env())
"""

from airex.registry._check import UsageChecker, WorkRefLike
from airex.registry._declared import (
    DEFAULT_CHUNK,
    Conflict,
    DeclaredWork,
    ImportResult,
    Preference,
    Share,
)
from airex.registry._types import Decision, LicenceScope, Reason, Regime
from airex.registry.errors import (
    InvalidDeclarationError,
    RegistryConfigError,
    RegistryError,
    SourceConflictError,
)
from airex.registry.identifiers import identifier_key, normalise_identifier
from airex.registry.models import (
    ContributorPublic,
    PreferencePublic,
    SharePublic,
    VersionPublic,
    WorkIdPublic,
    WorkPublic,
)
from airex.registry.registry import Registry
from airex.registry.schema import current_revision, head_revision, require_current, upgrade
from airex.registry.settings import ENV_PREFERENCE_REGIME, RegistrySettings

__all__ = [
    "DEFAULT_CHUNK",
    "ENV_PREFERENCE_REGIME",
    "Conflict",
    "ContributorPublic",
    "Decision",
    "DeclaredWork",
    "ImportResult",
    "InvalidDeclarationError",
    "LicenceScope",
    "Preference",
    "PreferencePublic",
    "Reason",
    "Regime",
    "Registry",
    "RegistryConfigError",
    "RegistryError",
    "RegistrySettings",
    "Share",
    "SharePublic",
    "SourceConflictError",
    "UsageChecker",
    "VersionPublic",
    "WorkIdPublic",
    "WorkPublic",
    "WorkRefLike",
    "current_revision",
    "head_revision",
    "identifier_key",
    "normalise_identifier",
    "require_current",
    "upgrade",
]
