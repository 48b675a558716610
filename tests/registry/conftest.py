"""Fixtures of the registry tests: a migrated database on SQLite, and on PostgreSQL.

The same pattern as ``tests/ledger/conftest.py``: ``backend`` is parametrised over SQLite (a
file in the test's ``tmp_path``) and PostgreSQL (a throwaway database ``airex_test_<random>``
created for the session on ``$AIREX_TEST_DATABASE_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``, emptied before each test). When the server
cannot be reached the PostgreSQL half is skipped, unless ``AIREX_REQUIRE_SERVICES=1``.
``sqlite_db`` is the SQLite half alone, for the tests that need no second backend.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, create_engine
from airex.ledger import upgrade as upgrade_ledger
from airex.registry import Registry, RegistrySettings, upgrade

PG_ENV = "AIREX_TEST_DATABASE_URL"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REQUIRE_ENV = "AIREX_REQUIRE_SERVICES"


def _server_url() -> sa.URL:
    return sa.make_url(os.environ.get(PG_ENV) or PG_DEFAULT).set(drivername="postgresql")


def _libpq(url: sa.URL, database: str) -> str:
    return url.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def registry_pg_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL database for this session (dropped at the end)."""
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
class Db:
    """One migrated database (ledger and registry) for one test."""

    name: str
    url: str
    engine: Engine

    def registry(self, settings: RegistrySettings | None = None) -> Registry:
        """A registry on the database."""
        return Registry(self.engine, settings)


def _empty_pg(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


def make_db(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Db:
    """A fresh database of backend ``name``, migrated (ledger and registry)."""
    if name == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = request.getfixturevalue("registry_pg_url")
        _empty_pg(url)
    engine = create_engine(DatabaseConfig(url=url))
    upgrade_ledger(engine)
    upgrade(engine)
    return Db(name, url, engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh, migrated database on SQLite, then on PostgreSQL."""
    db = make_db(request.param, tmp_path, request)
    try:
        yield db
    finally:
        db.engine.dispose()


@pytest.fixture
def sqlite_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh, migrated SQLite database."""
    db = make_db("sqlite", tmp_path, request)
    try:
        yield db
    finally:
        db.engine.dispose()
