"""The errors of the database layer shared by every stateful part of airex.

::

    AirexError
    └── DatabaseError
        ├── DatabaseConfigError (ValueError)      a database URL airex cannot use
        ├── DatabaseBusyError (RuntimeError)      the database stayed locked, or kept aborting
        │                                         the transaction, after every retry
        └── SchemaNotCurrentError (RuntimeError)  a part's tables are missing or at another
                                                  revision than the code's (run
                                                  ``airex db upgrade``)
"""

from __future__ import annotations

from airex.errors import AirexError

__all__ = [
    "DatabaseBusyError",
    "DatabaseConfigError",
    "DatabaseError",
    "SchemaNotCurrentError",
]


class DatabaseError(AirexError):
    """Root of the errors about reaching, locking or migrating the database."""


class DatabaseConfigError(DatabaseError, ValueError):
    """The database URL names a backend airex does not support, or is malformed."""


class DatabaseBusyError(DatabaseError, RuntimeError):
    """The database stayed locked (SQLite) or kept aborting the transaction (PostgreSQL)."""


class SchemaNotCurrentError(DatabaseError, RuntimeError):
    """A part's tables are missing or at another revision than the code's."""
