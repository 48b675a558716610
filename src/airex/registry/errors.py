"""The errors of the registry.

::

    AirexError
    └── RegistryError
        ├── RegistryConfigError (ValueError)    a registry setting airex cannot use
        ├── InvalidDeclarationError (ValueError) a declared work breaks a rule (shares, ids...)
        └── SourceConflictError (ValueError)    the same source (sender + MessageId) was
                                                imported before with different content

Database errors (unreachable database, schema not current) are :mod:`airex.db`'s.
"""

from __future__ import annotations

from airex.errors import AirexError

__all__ = [
    "InvalidDeclarationError",
    "RegistryConfigError",
    "RegistryError",
    "SourceConflictError",
]


class RegistryError(AirexError):
    """Root of the registry's errors."""


class RegistryConfigError(RegistryError, ValueError):
    """A registry setting (e.g. ``AIREX_PREFERENCE_REGIME``) has a value airex cannot use."""


class InvalidDeclarationError(RegistryError, ValueError):
    """A declared work breaks a rule: an invalid identifier, shares that do not sum to 100...

    ``ordinal`` is the work's 1-based position in its import, ``reference`` its
    WorkReference when it has one.
    """

    def __init__(self, message: str, *, ordinal: int | None = None, reference: str | None = None):
        super().__init__(message)
        self.ordinal = ordinal
        self.reference = reference


class SourceConflictError(RegistryError, ValueError):
    """A source (``sender:MessageId``, or a bulk import's name) was imported before with
    different content: a MessageId is never reused for other content."""

    def __init__(self, message: str, *, source: str):
        super().__init__(message)
        self.source = source
