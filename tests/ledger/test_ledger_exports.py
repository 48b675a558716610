"""The ledger's public surface is pinned, and knows nothing of the rest of airex."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import airex.ledger

LEDGER_ALL = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SQLITE_FILE",
    "ENV_DATABASE_URL",
    "INVARIANTS",
    "MAX_MINOR_UNITS",
    "WORLDWIDE",
    "AccountKey",
    "AccountKind",
    "AccountPublic",
    "AlreadyGrantedError",
    "BalancePublic",
    "CheckReport",
    "DatabaseConfig",
    "DatabaseConfigError",
    "EntryPublic",
    "GrantPublic",
    "GrantRecord",
    "GrantRegister",
    "GrantResult",
    "GrantStatus",
    "IdempotencyConflictError",
    "InvalidAmountError",
    "InvalidGrantError",
    "Journal",
    "LedgerBusyError",
    "LedgerError",
    "Money",
    "NewEntry",
    "PostResult",
    "PostedRef",
    "PostingLine",
    "PostingPublic",
    "ReversalError",
    "SchemaNotCurrentError",
    "UnbalancedEntryError",
    "UnknownEntryError",
    "Violation",
    "check_ledger",
    "create_engine",
    "credit",
    "current_revision",
    "debit",
    "head_revision",
    "require_current",
    "upgrade",
]

PACKAGE = Path(airex.ledger.__file__).parent


def test_ledger_all_is_pinned() -> None:
    """airex.ledger.__all__ is exactly the pinned list, and every name resolves."""
    assert airex.ledger.__all__ == LEDGER_ALL
    assert all(hasattr(airex.ledger, name) for name in LEDGER_ALL)


def test_every_ledger_error_is_an_airex_error() -> None:
    """Every exception class the ledger exports derives from AirexError."""
    errors = [
        value
        for value in vars(airex.ledger).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
    ]
    assert errors
    assert all(issubclass(error, airex.AirexError) for error in errors)


def test_the_ledger_imports_only_the_iso_table_and_the_error_root_of_airex() -> None:
    """DESIGN.md: the ledger knows nothing else of airex but the shared database layer, the ISO
    table and the error root."""
    imported: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    outside = {
        name
        for name in imported
        if name.startswith("airex") and not name.startswith("airex.ledger")
    }
    assert outside == {"airex.db", "airex.errors", "airex.iso"}


def test_migrations_ship_inside_the_package() -> None:
    """The Alembic environment and its versions are package files (no alembic.ini needed)."""
    assert (PACKAGE / "migrations" / "env.py").is_file()
    versions = {p.name for p in (PACKAGE / "migrations" / "versions").glob("*.py")}
    assert "0001_ledger_initial.py" in versions
