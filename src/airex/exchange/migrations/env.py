"""Alembic environment of the exchange's migrations, run by :func:`airex.exchange.schema.upgrade`.

Always driven from Python with an open connection (see :class:`airex.db.MigrationHistory`).
New revisions are written by hand, with explicit operations.
"""

from __future__ import annotations

from airex.exchange.schema import HISTORY

HISTORY.run_env()
