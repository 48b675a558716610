"""The shared database layer: its public surface, and one history per part."""

from __future__ import annotations

from pathlib import Path

import pytest

import airex.db
from airex.cli._ledger import SCHEMA_MODULES, schema_histories
from airex.db import DatabaseConfig, DatabaseError, MigrationHistory, create_engine


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
            "SchemaNotCurrentError",
            "UTCDateTime",
            "backend_of",
            "chunked",
            "create_engine",
            "insert_for",
            "read_transaction",
            "run_write",
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
