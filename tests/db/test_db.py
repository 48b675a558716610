"""The shared database layer: its public surface, and one history per part."""

from __future__ import annotations

from pathlib import Path

import pytest

import airex.db
from airex.db import (
    SCHEMA_MODULES,
    DatabaseConfig,
    DatabaseError,
    MigrationHistory,
    create_engine,
    schema_histories,
    upgrade_all,
)


def test_exports_are_pinned() -> None:
    """airex.db exports exactly its documented names."""
    assert sorted(airex.db.__all__) == sorted(
        [
            "DEFAULT_SQLITE_FILE",
            "ENV_DATABASE_URL",
            "DatabaseBusyError",
            "DatabaseConfig",
            "DatabaseConfigError",
            "DatabaseError",
            "MigrationHistory",
            "SCHEMA_MODULES",
            "SchemaNotCurrentError",
            "UTCDateTime",
            "UpgradeStep",
            "backend_of",
            "chunked",
            "create_engine",
            "display_url",
            "insert_for",
            "read_transaction",
            "run_write",
            "schema_histories",
            "upgrade_all",
            "write_transaction",
        ]
    )


def test_every_part_has_its_own_version_table_and_scripts() -> None:
    """No two histories share a version table or a script location, and each has a head."""
    histories = schema_histories()
    assert len(histories) == len(SCHEMA_MODULES)
    assert all(isinstance(history, MigrationHistory) for history in histories)
    assert len({h.version_table for h in histories}) == len(histories)
    assert len({h.script_location for h in histories}) == len(histories)
    assert all(history.head_revision() for history in histories)


def test_upgrade_all_then_every_part_is_current(tmp_path: Path) -> None:
    """After upgrading each history in order, every part accepts the database."""
    engine = create_engine(DatabaseConfig.sqlite(tmp_path / "all.db"))
    for history in schema_histories():
        with pytest.raises(DatabaseError, match="airex db upgrade"):
            history.require_current(engine)
        assert history.upgrade(engine) == history.head_revision()
    for history in schema_histories():
        history.require_current(engine)
        assert history.upgrade(engine) == history.head_revision()  # idempotent


def test_the_switch_to_wal_waits_for_a_writer_that_holds_the_file(tmp_path: Path) -> None:
    """A new connection finds the file locked by a writer still in rollback-journal mode: it
    waits for the writer (retrying the switch) and ends in WAL, instead of failing at once."""
    import sqlite3
    import threading
    import time

    from airex.db._engine import _switch_to_wal

    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE t (x)")

    def release() -> None:
        time.sleep(0.3)
        holder.execute("COMMIT")

    releaser = threading.Thread(target=release)
    releaser.start()
    newcomer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        _switch_to_wal(newcomer.cursor(), patience=10)
        (mode,) = newcomer.execute("PRAGMA journal_mode").fetchone()
        assert mode == "wal"
    finally:
        releaser.join()
        newcomer.close()
        holder.close()


def test_upgrade_all_brings_every_part_to_its_head_once(tmp_path: Path) -> None:
    """upgrade_all creates every part's tables in SCHEMA_MODULES order and reports each step;
    a second run changes nothing."""
    engine = create_engine(DatabaseConfig(url=f"sqlite:///{tmp_path / 'airex.db'}"))
    try:
        first = upgrade_all(engine)
        assert [step.name for step in first] == [h.name for h in schema_histories()]
        assert all(step.before is None and step.after == step.head for step in first)
        assert all(step.changed for step in first)
        second = upgrade_all(engine)
        assert [(s.before, s.after, s.changed) for s in second] == [
            (s.head, s.head, False) for s in first
        ]
    finally:
        engine.dispose()


def test_messages_show_the_url_as_the_user_wrote_it(tmp_path: Path) -> None:
    """display_url leaves out the driver airex picks and masks the password."""
    from airex.db import display_url

    sqlite = create_engine(DatabaseConfig(url=f"sqlite:///{tmp_path / 'a.db'}"))
    postgres = create_engine(DatabaseConfig(url="postgresql://u:secret@127.0.0.1:5999/x"))
    try:
        assert display_url(sqlite) == f"sqlite:///{tmp_path / 'a.db'}"
        assert display_url(postgres) == "postgresql://u:***@127.0.0.1:5999/x"
    finally:
        sqlite.dispose()
        postgres.dispose()
