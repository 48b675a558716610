"""Fixtures of the distribution and statement tests: a database with the ledger and royalties
schemas at head, on SQLite and on a real PostgreSQL server.

They follow ``tests/ledger/conftest.py``: PostgreSQL is the session's throwaway database
(``pg_database`` in ``tests/conftest.py``); each test starts from an empty, freshly migrated
schema. When the server cannot be reached the PostgreSQL half is
skipped, unless ``AIREX_REQUIRE_SERVICES=1`` (then it fails, saying why).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _distribution_support import migrated_engine
from sqlalchemy.engine import Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database with the ledger and royalties schemas: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'airex.db'}"
    else:
        url = request.getfixturevalue("pg_database").empty()
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
