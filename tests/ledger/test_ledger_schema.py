"""Migrations create the same schema on both backends, and the database refuses edits."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from airex.ledger import (
    AccountKey,
    AccountKind,
    DatabaseConfig,
    DatabaseConfigError,
    GrantRecord,
    NewEntry,
    create_engine,
    credit,
    current_revision,
    debit,
    head_revision,
    upgrade,
)
from airex.ledger._triggers import IMMUTABLE_TABLES
from airex.ledger.schema import VERSION_TABLE, downgrade, ledger_metadata

if TYPE_CHECKING:
    from conftest import Backend

CASH = AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "EUR")
FEE = AccountKey("PADPIDA2026CMO01", AccountKind.ADMIN_FEE_REVENUE, "EUR")


def fill(backend: Backend) -> None:
    """One entry and one grant event: a row in every append-only table."""
    backend.journal().post(NewEntry("E1", date(2026, 4, 1), [debit(CASH, "5"), credit(FEE, "5")]))
    backend.register().record(
        GrantRecord(
            "LIC-1",
            "Granted",
            "PADPIDA2026CMO01",
            "PADPIDA2026DEV01",
            datetime(2026, 1, 5, tzinfo=UTC),
            date(2026, 1, 1),
            use_types=["UseForDataMining"],
            work_ids=["ISRC::SEABC2600001"],
            source_message_id="M1",
        )
    )


def test_upgrade_reaches_head_and_is_idempotent(backend: Backend) -> None:
    """After upgrade the database is at the head revision; upgrading again changes nothing."""
    assert current_revision(backend.engine) == head_revision()
    assert upgrade(backend.engine) == head_revision()


def test_migrated_schema_matches_the_models(backend: Backend) -> None:
    """Alembic finds no difference between the migrated database and the SQLModel tables."""
    with backend.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, ledger_metadata())
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]
    assert diff == []


def test_downgrade_to_base_and_up_again(backend: Backend) -> None:
    """The migrations go down to nothing and back up."""
    assert downgrade(backend.engine, "base") is None
    with backend.engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert not tables & set(IMMUTABLE_TABLES)
    assert upgrade(backend.engine) == head_revision()


def test_concurrent_upgrades_take_turns(empty_backend: Backend) -> None:
    """Two upgrades of an empty database at once both end at head, without an error."""
    errors: list[BaseException] = []

    def run() -> None:
        engine = create_engine(empty_backend.config)
        try:
            upgrade(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(empty_backend.engine) == head_revision()


@pytest.mark.parametrize("table", IMMUTABLE_TABLES)
@pytest.mark.parametrize(
    "statement", ["UPDATE {table} SET {column} = {column}", "DELETE FROM {table}"]
)
def test_the_database_refuses_to_change_posted_rows(
    backend: Backend, table: str, statement: str
) -> None:
    """Raw SQL UPDATE or DELETE of an append-only table fails in the database itself."""
    fill(backend)
    column = {"ledger_grant_use_type": "use_type", "ledger_grant_work": "work_id"}.get(table, "id")
    sql = statement.format(table=table, column=column)
    count = sa.text(f"SELECT COUNT(*) FROM {table}")
    with backend.engine.connect() as connection:
        before = connection.execute(count).scalar()
    with (
        pytest.raises(sa.exc.DatabaseError, match="posted rows are immutable"),
        backend.engine.begin() as connection,
    ):
        connection.execute(sa.text(sql))
    with backend.engine.connect() as connection:
        after = connection.execute(count).scalar()
    assert before == after
    assert after is not None
    assert after > 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgresql_refuses_truncate(backend: Backend) -> None:
    """On PostgreSQL, TRUNCATE (which skips row triggers) is refused as well."""
    fill(backend)
    with backend.engine.connect() as connection:
        for table in IMMUTABLE_TABLES:
            with pytest.raises(sa.exc.IntegrityError, match="TRUNCATE on"), connection.begin():
                connection.execute(sa.text(f"TRUNCATE {table} CASCADE"))


def test_balances_stay_updatable(backend: Backend) -> None:
    """The derived balance tables are the only ones the ledger updates."""
    fill(backend)
    with backend.engine.begin() as connection:
        connection.execute(sa.text("UPDATE ledger_balance SET posting_count = posting_count"))


def test_default_database_is_airex_db_in_the_working_directory(tmp_path: Path) -> None:
    """Without AIREX_DATABASE_URL the ledger is the SQLite file ./airex.db (absolute)."""
    config = DatabaseConfig.from_env({}, cwd=tmp_path)
    assert config.url == f"sqlite:///{tmp_path / 'airex.db'}"
    assert config.backend == "sqlite"
    assert DatabaseConfig.from_env({"AIREX_DATABASE_URL": "  "}, cwd=tmp_path) == config


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:secret@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:////var/airex.db", "sqlite+pysqlite"),
    ],
)
def test_urls_get_the_driver_airex_uses(url: str, driver: str) -> None:
    """PostgreSQL goes through psycopg 3, SQLite through sqlite3; passwords are masked."""
    config = DatabaseConfig.from_env({"AIREX_DATABASE_URL": url})
    assert config.sqlalchemy_url().drivername == driver
    assert "secret" not in config.display_url()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://u@h/db", "backend 'mysql' is not supported"),
        ("postgresql+psycopg2://u@h/db", "through psycopg 3"),
        ("sqlite://", "needs a SQLite \\*file\\*"),
        ("sqlite:///:memory:", "needs a SQLite \\*file\\*"),
        ("not a url", "malformed"),
    ],
)
def test_unusable_urls_are_refused(url: str, match: str) -> None:
    """A URL the ledger cannot use fails when the engine is made, saying why."""
    with pytest.raises(DatabaseConfigError, match=match):
        create_engine(DatabaseConfig(url))
