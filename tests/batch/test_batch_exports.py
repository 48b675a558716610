"""airex.batch's public surface is pinned, documented, and depends only on messages/formats."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import airex.batch

BATCH_ALL = [
    "Batch",
    "BatchEntry",
    "BatchError",
    "BatchExistsError",
    "BatchLimits",
    "BatchPackError",
    "BatchReadError",
    "BatchRefusedError",
    "BatchReport",
    "IncompleteBatchError",
    "MessageFile",
    "PackedBatch",
    "ack_name",
    "acknowledgement",
    "acknowledgement_error",
    "entry_acknowledgement",
    "hash_hex",
    "is_batch_id",
    "make_acknowledgement",
    "manifest_name",
    "open_batch",
    "pack",
    "proposed_action_for",
    "unpack",
    "verify",
    "write_ack",
]
PACKAGE = Path(airex.batch.__file__).resolve().parent


def test_batch_all_is_pinned() -> None:
    """airex.batch.__all__ is exactly the pinned list."""
    assert airex.batch.__all__ == BATCH_ALL


def test_every_public_name_is_documented() -> None:
    """Every exported class and function, and their public methods, have docstrings."""
    undocumented = []
    for name in BATCH_ALL:
        value = getattr(airex.batch, name)
        if not inspect.getdoc(value):
            undocumented.append(name)
        if inspect.isclass(value):
            for attr, member in vars(value).items():
                if attr.startswith("_"):
                    continue
                function = member.fget if isinstance(member, property) else member
                if inspect.isfunction(function) and not inspect.getdoc(function):
                    undocumented.append(f"{name}.{attr}")
    assert undocumented == []


def test_batch_imports_only_messages_xml_and_errors() -> None:
    """airex.batch's modules import nothing of airex but messages, xml, errors and itself."""
    allowed = ("airex.batch", "airex.messages", "airex.xml", "airex.errors")
    imported = {
        node.module
        for path in PACKAGE.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("airex")
    }
    assert sorted(m for m in imported if not m.startswith(allowed)) == []


def test_importing_batch_loads_no_database_or_broker() -> None:
    """import airex.batch pulls in neither SQLAlchemy nor Celery (the exchange adds those)."""
    code = (
        "import sys, airex.batch; "
        "print(sorted(m for m in ('sqlalchemy', 'celery', 'kombu') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
