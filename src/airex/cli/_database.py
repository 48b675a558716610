"""How the commands open the database: only one that exists, with one line when they cannot.

A SQLite connection creates its file when there is none; so every command but ``airex db
upgrade`` (and ``airex demo``, which makes its own) first makes sure the file is there, and
otherwise says so in one line and exits 2, leaving nothing behind. Database errors (a malformed
URL, a server that cannot be reached, tables not upgraded) are one line and exit 2 too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from airex.cli._common import fail

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airex.db import DatabaseConfig
    from airex.registry import Registry

__all__ = [
    "database_config",
    "fail",
    "missing_database",
    "open_engine",
    "open_registry",
    "require_database",
]


def database_config(database: str | None) -> DatabaseConfig:
    """The database ``--database`` names, else the environment's, else ``./airex.db``."""
    from airex.db import DatabaseConfig

    return DatabaseConfig(url=database) if database else DatabaseConfig.from_env()


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is under it (``./airex.db``)."""
    try:
        return f"./{path.resolve().relative_to(Path.cwd().resolve())}"
    except ValueError:
        return str(path)


def missing_database(config: DatabaseConfig, *, chosen: bool = True) -> str | None:
    """Why ``config``'s database cannot be opened without creating it (a SQLite file that
    does not exist), or None; ``chosen`` False when it is the default nobody asked for. A
    malformed URL raises :class:`~airex.db.DatabaseConfigError`."""
    url = config.sqlalchemy_url()
    if url.get_backend_name() != "sqlite" or url.query.get("uri") or not url.database:
        return None
    path = Path(url.database)
    if path.is_file():
        return None
    what = "no database" if not path.exists() else "not a database file"
    return f"{what} at {_shown(path)}: run `airex db upgrade` first" + (
        "" if chosen else ", or give --database"
    )


def require_database(config: DatabaseConfig, database: str | None) -> None:
    """Exit 2 with one line unless ``config`` (the one ``--database`` gave, when not None)
    names a database that exists (see :func:`missing_database`)."""
    from airex.db import ENV_DATABASE_URL, DatabaseError

    chosen = bool(database or os.environ.get(ENV_DATABASE_URL, "").strip())
    try:
        missing = missing_database(config, chosen=chosen)
    except DatabaseError as exc:
        raise fail(str(exc)) from None
    if missing is not None:
        raise fail(missing)


@contextmanager
def open_engine(database: str | None, *, create: bool = False) -> Iterator[Engine]:
    """An engine on the chosen database, which must exist unless ``create``; airex and
    database errors exit with status 2, in one line."""
    import sqlalchemy as sa

    from airex.db import DatabaseError, create_engine
    from airex.ledger import LedgerError

    try:
        config = database_config(database)
        if not create:
            require_database(config, database)
        engine = create_engine(config)
    except (LedgerError, DatabaseError) as exc:
        raise fail(str(exc)) from None
    try:
        yield engine
    except (LedgerError, DatabaseError) as exc:
        raise fail(str(exc)) from None
    except sa.exc.OperationalError as exc:
        where = config.display_url()
        reason = " ".join(str(exc.orig).split())
        raise fail(f"{where}: cannot use the database: {reason}") from None
    finally:
        engine.dispose()


@contextmanager
def open_registry(database: str | None, regime: str | None = None) -> Iterator[Registry]:
    """The registry on the chosen database; its errors exit with status 2."""
    from airex.registry import Registry, RegistryConfigError, RegistrySettings

    try:
        settings = (
            RegistrySettings(regime=regime)  # type: ignore[arg-type]
            if regime is not None
            else RegistrySettings.from_env()
        )
    except RegistryConfigError as exc:
        raise fail(str(exc)) from None
    with open_engine(database) as engine:
        yield Registry(engine, settings)
