"""Every part's migration history, in the order they are upgraded, and ``upgrade_all``.

The parts that keep tables (ledger, registry, royalties, exchange) sit on floors above this one,
so the list names them the way Alembic names a script location: by module path, imported when
the histories are first asked for, never at import time. A part's ``schema`` module holds its
``HISTORY`` (a :class:`~airex.db.MigrationHistory`); the order is the parts' dependency order
(royalties' tables refer to the ledger's and the registry's keys).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from airex.db._migrations import MigrationHistory

__all__ = ["SCHEMA_MODULES", "UpgradeStep", "schema_histories", "upgrade_all"]

SCHEMA_MODULES = (
    "airex.ledger.schema",
    "airex.registry.schema",
    "airex.royalties.schema",
    "airex.exchange.schema",
)
"""Modules holding a ``HISTORY`` (:class:`~airex.db.MigrationHistory`), in upgrade order."""


def schema_histories() -> list[MigrationHistory]:
    """Every part's migration history, in the order :func:`upgrade_all` applies them."""
    histories = []
    for name in SCHEMA_MODULES:
        history = importlib.import_module(name).HISTORY
        if not isinstance(history, MigrationHistory):  # pragma: no cover - a packaging mistake
            raise TypeError(f"{name}.HISTORY is not a MigrationHistory")
        histories.append(history)
    return histories


@dataclass(frozen=True)
class UpgradeStep:
    """What :func:`upgrade_all` did to one part: its revision before and after, and the head."""

    name: str
    before: str | None
    after: str | None
    head: str

    @property
    def changed(self) -> bool:
        """True when the part's schema moved."""
        return self.before != self.after


def upgrade_all(engine: Engine) -> list[UpgradeStep]:
    """Create or upgrade every part's tables to the code's revision, in dependency order.

    Each part's upgrade is one transaction holding the database's write lock (or PostgreSQL's
    advisory lock), so processes that upgrade at once take turns.
    """
    steps = []
    for history in schema_histories():
        before = history.current_revision(engine)
        after = history.upgrade(engine)
        steps.append(UpgradeStep(history.name, before, after, history.head_revision()))
    return steps
