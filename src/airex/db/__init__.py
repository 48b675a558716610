"""The database every stateful part of airex shares: configuration, engine, transactions, and
one migration history per part.

A SQLite file by default (``./airex.db``, no server needed), PostgreSQL when
``AIREX_DATABASE_URL`` says so. The ledger, the registry, the royalties and the exchange keep
their tables in the same database, each with its own :class:`MigrationHistory`; ``airex db
upgrade`` runs them all (:func:`upgrade_all`, over :func:`schema_histories`). Read
:mod:`airex.db._engine` for how concurrent writers are kept safe.
"""

from airex.db._engine import (
    DEFAULT_SQLITE_FILE,
    ENV_DATABASE_URL,
    DatabaseConfig,
    backend_of,
    chunked,
    create_engine,
    display_url,
    insert_for,
    read_transaction,
    run_write,
    write_transaction,
)
from airex.db._errors import (
    DatabaseBusyError,
    DatabaseConfigError,
    DatabaseError,
    SchemaNotCurrentError,
)
from airex.db._histories import SCHEMA_MODULES, UpgradeStep, schema_histories, upgrade_all
from airex.db._migrations import MigrationHistory
from airex.db._types import UTCDateTime

__all__ = [
    "DEFAULT_SQLITE_FILE",
    "ENV_DATABASE_URL",
    "SCHEMA_MODULES",
    "DatabaseBusyError",
    "DatabaseConfig",
    "DatabaseConfigError",
    "DatabaseError",
    "MigrationHistory",
    "SchemaNotCurrentError",
    "UTCDateTime",
    "UpgradeStep",
    "backend_of",
    "chunked",
    "create_engine",
    "display_url",
    "insert_for",
    "read_transaction",
    "run_write",
    "schema_histories",
    "upgrade_all",
    "write_transaction",
]
