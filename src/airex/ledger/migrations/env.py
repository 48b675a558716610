"""Alembic environment of the ledger's migrations, run by :func:`airex.ledger.upgrade`.

Always driven from Python with an open connection in ``config.attributes["connection"]``
(the caller owns the transaction, so the whole upgrade commits or rolls back as one). There is
no ``alembic.ini``: to write a new revision, run for example::

    python -c "from airex.ledger.schema import revision; revision('add x')"

and edit the file it creates in ``versions/`` by hand (explicit operations, never a copy of
the models: a migration must keep meaning the same thing when the models move on).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from airex.ledger.models import ledger_tables
from airex.ledger.schema import VERSION_TABLE, ledger_metadata

config = context.config
connection = config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "the airex ledger migrations run from Python (airex.ledger.upgrade or `airex db "
        "upgrade`), which passes an open connection; the alembic command line is not supported"
    )

ledger_tables()  # the models are imported: their tables are in the metadata
context.configure(
    connection=connection,
    target_metadata=ledger_metadata(),
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
