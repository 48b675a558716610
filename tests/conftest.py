"""What every part's tests share: one throwaway PostgreSQL database per test session.

PostgreSQL is the server of ``AIREX_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``): the session (each xdist worker) creates a
database ``airex_test_<random>`` on it, through the ``postgres`` database, and drops it at the
end, so runs never collide; a test that uses it starts with :meth:`ThrowawayDatabase.empty`
(the ledger, registry and royalties fixtures do). When the server cannot be reached, the tests
that need it are skipped, unless ``AIREX_REQUIRE_SERVICES=1`` (CI sets it): then they fail,
saying why.

The parties the tests play are in ``parties.py``, each id once. The exchange and CMO tests
use the same database (their ``pg_url`` empties it), with a broker beside it
(``tests/exchange/exchange_fixtures.py``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from throwaway_db import ThrowawayDatabase

PG_ENV = "AIREX_TEST_DATABASE_URL"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REQUIRE_ENV = "AIREX_REQUIRE_SERVICES"


def _server_url() -> sa.URL:
    return sa.make_url(os.environ.get(PG_ENV) or PG_DEFAULT).set(drivername="postgresql")


def _libpq(url: sa.URL, database: str) -> str:
    return url.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[ThrowawayDatabase]:
    """A throwaway PostgreSQL database for this test session (dropped at the end)."""
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
            yield ThrowawayDatabase(_libpq(server, name))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
