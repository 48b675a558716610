"""Alembic environment of the ledger's migrations, run by :func:`airex.ledger.upgrade`.

Always driven from Python with an open connection (see :class:`airex.db.MigrationHistory`).
To write a new revision::

    python -c "from airex.ledger.schema import revision; revision('add x')"

and edit the file it creates in ``versions/`` by hand (explicit operations, never a copy of
the models: a migration must keep meaning the same thing when the models move on).
"""

from __future__ import annotations

from airex.ledger.schema import HISTORY

HISTORY.run_env()
