"""Alembic environment of the registry's migrations, run by :func:`airex.registry.schema.upgrade`.

Always driven from Python with an open connection (see :class:`airex.db.MigrationHistory`).
New revisions are written by hand in ``versions/`` (explicit operations, never a copy of the
models: a migration must keep meaning the same thing when the models move on).
"""

from __future__ import annotations

from airex.registry.schema import HISTORY

HISTORY.run_env()
