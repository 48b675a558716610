"""The README's promises: its two commands come first, CI runs the same test command, and
every error code airex can yield is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import airex
from airex.messages.error_codes import CODES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, flags=re.S)
    assert block is not None, "README has no leading sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_commands() -> None:
    """The first block of the README, right under the title, holds exactly two commands."""
    head = README.split("\n")
    assert head[0].startswith("# ")
    assert head[2] == "```sh"
    commands = _commands()
    assert len(commands) == 2
    assert all(c.startswith("python3 -m venv .venv && ") for c in commands)


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run calls the README's test command verbatim, so CI tests what developers run."""
    test_command = _commands()[1]
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_error_code_is_documented() -> None:
    """Each code of the catalogue has a row in the README's error-code table."""
    missing = [code for code in CODES if f"| `{code}` |" not in README]
    assert missing == []


def test_readme_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example runs as written, from the project's root, on valid input."""
    block = re.search(r"```python\n(.*?)```", README, flags=re.S)
    assert block is not None
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, airex.CheckResult)
    assert result.errors == []


def test_readme_ledger_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The README's ledger example runs as written on a fresh SQLite file, idempotently."""
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    (ledger,) = [b for b in blocks if "from airex.ledger import" in b]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIREX_DATABASE_URL", raising=False)
    exec(compile(ledger, "README.md", "exec"), {})
    assert (tmp_path / "airex.db").exists()
