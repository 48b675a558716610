"""Fixtures of the ledger tests: the same test on SQLite and on a real PostgreSQL server.

``backend`` is parametrised over both. SQLite is a file in the test's ``tmp_path``.
PostgreSQL is the session's throwaway database (``pg_database``, ``tests/conftest.py``); each
test starts from an empty, freshly migrated schema. When the server cannot be reached, the
PostgreSQL half is skipped, unless ``AIREX_REQUIRE_SERVICES=1`` (CI sets it): then it fails,
saying why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.ledger import DatabaseConfig, GrantRegister, Journal, create_engine, upgrade

BACKENDS = ["sqlite", "postgresql"]


@dataclass
class Backend:
    """One database for one test: its URL, an engine on it, and ways to start over."""

    name: str
    url: str
    engine: Engine
    sqlite_dir: Path | None = None
    _pg_database: Any = field(default=None, repr=False)
    _resets: int = field(default=0, repr=False)

    @property
    def config(self) -> DatabaseConfig:
        """The config the engine was made from."""
        return DatabaseConfig(url=self.url)

    def journal(self) -> Journal:
        """A journal on the database."""
        return Journal(self.engine)

    def register(self) -> GrantRegister:
        """A grant register on the database."""
        return GrantRegister(self.engine)

    def reset(self) -> None:
        """Start over: an empty database, migrated to head (a new engine)."""
        self.engine.dispose()
        if self.sqlite_dir is not None:
            self._resets += 1
            self.url = f"sqlite:///{self.sqlite_dir / f'ledger-{self._resets}.db'}"
        else:
            self._pg_database.empty()
        self.engine = create_engine(self.config)
        upgrade(self.engine)


def make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    """A fresh, migrated database of backend ``name``."""
    if name == "sqlite":
        backend = Backend(name, "", sa.create_engine("sqlite://"), sqlite_dir=tmp_path)
    else:
        database = request.getfixturevalue("pg_database")
        backend = Backend(name, database.url, sa.create_engine("sqlite://"), _pg_database=database)
    backend.reset()
    return backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, migrated ledger database on SQLite, then on PostgreSQL."""
    made = make_backend(request.param, tmp_path, request)
    try:
        yield made
    finally:
        made.engine.dispose()


@pytest.fixture
def empty_backend(backend: Backend) -> Backend:
    """Like ``backend``, but with no ledger schema at all (not migrated)."""
    backend.engine.dispose()
    if backend.sqlite_dir is not None:
        backend.url = f"sqlite:///{backend.sqlite_dir / 'empty.db'}"
    else:
        backend._pg_database.empty()
    backend.engine = create_engine(backend.config)
    return backend
