"""The registry's settings: a typed object passed in, read from the environment in one place.

``AIREX_PREFERENCE_REGIME``
    ``opt-in`` (the default) or ``opt-out``: what the CMO does with a work that states no
    preference for a use type (see :class:`~airex.registry.Regime`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from airex.registry._types import Regime
from airex.registry.errors import RegistryConfigError

__all__ = ["ENV_PREFERENCE_REGIME", "RegistrySettings"]

ENV_PREFERENCE_REGIME = "AIREX_PREFERENCE_REGIME"
"""The environment variable naming the regime (read only by :meth:`RegistrySettings.from_env`)."""


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """How a CMO runs its registry.

    ``regime`` decides works that state no preference for a use type: under
    :attr:`Regime.OPT_IN` they may not be used (collective AI licences such as the UK CLA's
    and STIM's), under :attr:`Regime.OPT_OUT` they may (the EU text-and-data-mining
    exception, where only a reservation keeps a work out).
    """

    regime: Regime = Regime.OPT_IN

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "regime", Regime(self.regime))
        except ValueError:
            raise RegistryConfigError(
                f"preference regime {self.regime!r} is not one of "
                f"{', '.join(r.value for r in Regime)}"
            ) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RegistrySettings:
        """The settings the environment asks for (``AIREX_PREFERENCE_REGIME``), else defaults."""
        env = os.environ if environ is None else environ
        value = env.get(ENV_PREFERENCE_REGIME, "").strip().lower()
        if not value:
            return cls()
        try:
            return cls(regime=Regime(value))
        except ValueError:
            raise RegistryConfigError(
                f"${ENV_PREFERENCE_REGIME} is {value!r}; expected opt-in or opt-out"
            ) from None
