"""The registry's schema, migrations and public surface."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import airex.registry
from airex.db import DatabaseConfig, SchemaNotCurrentError, create_engine, schema_histories
from airex.registry import Registry, current_revision, head_revision, upgrade
from airex.registry.schema import (
    APPEND_ONLY_TABLES,
    VERSION_TABLE,
    downgrade,
    registry_metadata,
)

if TYPE_CHECKING:
    from conftest import Db

REGISTRY_ALL = [
    "DEFAULT_CHUNK",
    "ENV_PREFERENCE_REGIME",
    "Conflict",
    "ContributorPublic",
    "Decision",
    "DeclaredWork",
    "ImportResult",
    "InvalidDeclarationError",
    "LicenceScope",
    "Preference",
    "PreferencePublic",
    "Reason",
    "Regime",
    "Registry",
    "RegistryConfigError",
    "RegistryError",
    "RegistrySettings",
    "Share",
    "SharePublic",
    "SourceConflictError",
    "UsageChecker",
    "VersionPublic",
    "WorkIdPublic",
    "WorkPublic",
    "WorkRefLike",
    "current_revision",
    "head_revision",
    "identifier_key",
    "normalise_identifier",
    "require_current",
    "upgrade",
]


def test_registry_all_is_pinned() -> None:
    """airex.registry.__all__ is exactly the pinned list, and every name resolves."""
    assert airex.registry.__all__ == REGISTRY_ALL
    for name in REGISTRY_ALL:
        assert getattr(airex.registry, name) is not None


def test_every_public_name_has_a_docstring() -> None:
    """Every class and function the registry exports documents itself."""
    import inspect

    for name in REGISTRY_ALL:
        value = getattr(airex.registry, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_upgrade_reaches_head_and_is_idempotent(backend: Db) -> None:
    """After upgrade the registry is at the head revision; upgrading again changes nothing."""
    assert current_revision(backend.engine) == head_revision()
    assert upgrade(backend.engine) == head_revision()


def test_migrated_schema_matches_the_models(backend: Db) -> None:
    """Alembic finds no difference between the migrated registry tables and the models."""
    with backend.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, registry_metadata())
    ours = [
        d
        for d in diff
        if not (d[0] == "remove_table" and not d[1].name.startswith("registry_"))
        and not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)
        and not (d[0] == "remove_index" and not d[1].table.name.startswith("registry_"))
    ]
    assert ours == []


def test_downgrade_to_base_and_up_again(backend: Db) -> None:
    """The migrations go down to nothing (tables and guards) and back up."""
    assert downgrade(backend.engine, "base") is None
    with backend.engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert not tables & set(APPEND_ONLY_TABLES)
    assert "ledger_entry" in tables  # the other parts' tables are left alone
    assert upgrade(backend.engine) == head_revision()


def test_an_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    """A registry on a database without its tables says to run airex db upgrade."""
    engine = create_engine(DatabaseConfig.sqlite(tmp_path / "empty.db"))
    try:
        with pytest.raises(SchemaNotCurrentError, match="airex db upgrade"):
            Registry(engine)
    finally:
        engine.dispose()


def test_db_upgrade_runs_the_registry_history_after_the_ledger() -> None:
    """`airex db upgrade` knows the registry's history, right after the ledger's."""
    names = [history.name for history in schema_histories()]
    assert names[:2] == ["ledger", "registry"]
