"""Fixtures of the ledger tests: the same test on SQLite and on a real PostgreSQL server.

``backend`` is parametrised over both. SQLite is a file in the test's ``tmp_path``.
PostgreSQL is the server of ``AIREX_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``): the session creates a throwaway database
``airex_test_<random>`` on it (through the ``postgres`` database) and drops it at the end, so
runs never collide; each test starts from an empty, freshly migrated schema. When the server
cannot be reached, the PostgreSQL half is skipped, unless ``AIREX_REQUIRE_SERVICES=1`` (CI
sets it): then it fails, saying why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.ledger import DatabaseConfig, GrantRegister, Journal, create_engine, upgrade

PG_ENV = "AIREX_TEST_DATABASE_URL"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REQUIRE_ENV = "AIREX_REQUIRE_SERVICES"

BACKENDS = ["sqlite", "postgresql"]


def _server_url() -> sa.URL:
    return sa.make_url(os.environ.get(PG_ENV) or PG_DEFAULT).set(drivername="postgresql")


def _libpq(url: sa.URL, database: str) -> str:
    return url.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL database for this test session (dropped at the end)."""
    server = _server_url()
    try:
        admin = psycopg.connect(_libpq(server, "postgres"), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = (
            f"PostgreSQL at {server.render_as_string(hide_password=True)} "
            f"(${PG_ENV}) is unreachable: {' '.join(str(exc).split())}"
        )
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires it", pytrace=False)
        pytest.skip(reason)
    name = f"airex_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _libpq(server, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Backend:
    """One database for one test: its URL, an engine on it, and ways to start over."""

    name: str
    url: str
    engine: Engine
    sqlite_dir: Path | None = None
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
            _empty_pg(self.url)
        self.engine = create_engine(self.config)
        upgrade(self.engine)


def _empty_pg(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def make_backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    """A fresh, migrated database of backend ``name``."""
    if name == "sqlite":
        backend = Backend(name, "", sa.create_engine("sqlite://"), sqlite_dir=tmp_path)
    else:
        backend = Backend(name, request.getfixturevalue("pg_url"), sa.create_engine("sqlite://"))
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
        _empty_pg(backend.url)
    backend.engine = create_engine(backend.config)
    return backend
