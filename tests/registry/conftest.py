"""Fixtures of the registry tests: a migrated database on SQLite, and on PostgreSQL.

The same pattern as ``tests/ledger/conftest.py``: ``backend`` is parametrised over SQLite (a
file in the test's ``tmp_path``) and PostgreSQL (the session's throwaway database,
``pg_database`` in ``tests/conftest.py``, emptied before each test). When the server cannot be
reached the PostgreSQL half is skipped, unless ``AIREX_REQUIRE_SERVICES=1``.
``sqlite_db`` is the SQLite half alone, for the tests that need no second backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, create_engine
from airex.ledger import upgrade as upgrade_ledger
from airex.registry import Registry, RegistrySettings, upgrade


@dataclass
class Db:
    """One migrated database (ledger and registry) for one test."""

    name: str
    url: str
    engine: Engine

    def registry(self, settings: RegistrySettings | None = None) -> Registry:
        """A registry on the database."""
        return Registry(self.engine, settings)


def make_db(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Db:
    """A fresh database of backend ``name``, migrated (ledger and registry)."""
    if name == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = request.getfixturevalue("pg_database").empty()
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
