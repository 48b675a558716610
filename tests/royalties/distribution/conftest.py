"""Fixtures of the distribution and statement tests: a database with the ledger and royalties
schemas at head, on SQLite and on a real PostgreSQL server.

They follow ``tests/ledger/conftest.py``: PostgreSQL is the server of
``AIREX_TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``), on which
the session creates a throwaway database and drops it at the end; each test starts from an
empty, freshly migrated schema. When the server cannot be reached the PostgreSQL half is
skipped, unless ``AIREX_REQUIRE_SERVICES=1`` (then it fails, saying why).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, create_engine
from airex.ledger import upgrade as ledger_upgrade
from airex.royalties.schema import upgrade as royalties_upgrade

PG_ENV = "AIREX_TEST_DATABASE_URL"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REQUIRE_ENV = "AIREX_REQUIRE_SERVICES"


def _server_url() -> sa.URL:
    return sa.make_url(os.environ.get(PG_ENV) or PG_DEFAULT).set(drivername="postgresql")


@pytest.fixture(scope="session")
def distribution_pg_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL database for this session (dropped at the end)."""
    server = _server_url()
    admin_url = server.set(database="postgres").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL (${PG_ENV}) is unreachable: {' '.join(str(exc).split())}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}; {REQUIRE_ENV}=1 requires it", pytrace=False)
        pytest.skip(reason)
    name = f"airex_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_engine(url: str) -> Engine:
    """An engine on ``url`` with the ledger and royalties schemas at head."""
    engine = create_engine(DatabaseConfig(url=url))
    ledger_upgrade(engine)
    royalties_upgrade(engine)
    return engine


def _empty_pg(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database with the ledger and royalties schemas: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'airex.db'}"
    else:
        url = request.getfixturevalue("distribution_pg_url")
        _empty_pg(url)
    engine = migrated_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite database with the ledger and royalties schemas."""
    engine = migrated_engine(f"sqlite:///{tmp_path / 'airex.db'}")
    try:
        yield engine
    finally:
        engine.dispose()
