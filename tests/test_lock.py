"""The dependency locks in requirements/ agree with pyproject.toml's ranges (tools/lock.py).

The README's commands and .ci/run install from these locks with ``--require-hashes``, so a fresh
machine gets exactly what CI tested; pyproject.toml keeps its ranges for people who install
airex as a library. These tests fail as soon as a range and its lock part ways.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?: ; (?P<marker>.+?))? \\$"
)
_HASH = re.compile(r"^    --hash=sha256:[0-9a-f]{64}(?: \\)?$")


@dataclass
class Pin:
    version: Version
    marker: str | None
    hashes: int


def _read_lock(name: str) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current: str | None = None
    for number, line in enumerate((LOCKS / name).read_text(encoding="utf-8").splitlines(), 1):
        if (match := _PIN.match(line)) is not None:
            current = canonicalize_name(match["name"])
            assert current not in pins, f"{name}:{number}: {current} pinned twice"
            pins[current] = Pin(Version(match["version"]), match["marker"], 0)
        elif line.startswith("    --hash="):
            assert _HASH.match(line), f"{name}:{number}: not a sha256 hash line: {line!r}"
            assert current is not None, f"{name}:{number}: a hash before any pin"
            pins[current].hashes += 1
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"{name}:{number}: neither a pin, a hash nor a comment: {line!r}")
    return pins


def _direct(extra: str | None) -> list[Requirement]:
    """What a lock must satisfy: the dependencies, the extra's (recursively) and the build's."""
    project = PYPROJECT["project"]
    found = [Requirement(text) for text in project["dependencies"]]
    found += [Requirement(text) for text in PYPROJECT["build-system"]["requires"]]
    pending = [extra] if extra else []
    while pending:
        for text in project["optional-dependencies"][pending.pop()]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "airex":
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


LOCK_EXTRAS = {"main.txt": None, "test.txt": "test", "dev.txt": "dev", "lowest.txt": "test"}


@pytest.mark.parametrize(("lock", "extra"), sorted(LOCK_EXTRAS.items()))
def test_lock_satisfies_every_range_of_pyproject(lock: str, extra: str | None) -> None:
    """Each requirement of pyproject.toml (and its extras) is pinned to a version in its range."""
    pins = _read_lock(lock)
    for requirement in _direct(extra):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} does not pin {requirement}: run tools/lock.py"
        version = pins[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside pyproject.toml's {requirement}: "
            "run tools/lock.py"
        )
        if "binary" in requirement.extras:  # psycopg[binary] brings psycopg-binary
            assert f"{name}-binary" in pins, f"{lock} lacks {name}-binary for {requirement}"
        if "lxml" in requirement.extras:  # pydantic-xml[lxml] brings lxml
            assert "lxml" in pins, f"{lock} lacks lxml for {requirement}"


@pytest.mark.parametrize("lock", ["build.txt", *sorted(LOCK_EXTRAS)])
def test_every_pin_has_hashes(lock: str) -> None:
    """pip installs a lock in hash-checking mode: every pinned release carries its hashes."""
    pins = _read_lock(lock)
    assert pins, f"{lock} pins nothing"
    assert [name for name, pin in pins.items() if pin.hashes == 0] == []


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [("build.txt", "main.txt"), ("main.txt", "test.txt"), ("test.txt", "dev.txt")],
)
def test_locks_agree_with_each_other(smaller: str, larger: str) -> None:
    """The demo, the tests and the static checks run on the same versions of what they share."""
    small, large = _read_lock(smaller), _read_lock(larger)
    differing = {
        name: (str(pin.version), str(large[name].version) if name in large else None)
        for name, pin in small.items()
        if name not in large or large[name].version != pin.version
    }
    assert differing == {}


def _lowest_allowed(requirement: Requirement) -> Version | None:
    bounds = [s for s in requirement.specifier if s.operator in (">=", "==", "~=")]
    return Version(bounds[0].version) if len(bounds) == 1 else None


def test_lowest_lock_holds_the_lowest_versions_the_ranges_allow() -> None:
    """lowest.txt pins each direct dependency at its range's lower bound (CI tests it too)."""
    pins = _read_lock("lowest.txt")
    wrong = {}
    for requirement in _direct("test"):
        lowest = _lowest_allowed(requirement)
        assert lowest is not None, f"{requirement} has no single lower bound"
        pinned = pins[canonicalize_name(requirement.name)].version
        if pinned != lowest:
            wrong[requirement.name] = (str(pinned), str(lowest))
    assert wrong == {}


def test_build_lock_holds_every_build_backend() -> None:
    """build.txt pins airex's build backend and what builds the locked source-only packages
    (setuptools and wheel), so --no-build-isolation never fetches anything unpinned."""
    build = _read_lock("build.txt")
    for requirement in [*PYPROJECT["build-system"]["requires"], "editables", "setuptools", "wheel"]:
        name = canonicalize_name(Requirement(requirement).name)
        assert name in build, f"build.txt does not pin {name}"
        assert Requirement(requirement).specifier.contains(build[name].version)


def test_readme_and_ci_install_from_the_locks() -> None:
    """Both README commands and .ci/run install with --require-hashes from requirements/:
    build.txt first, then their lock without build isolation, then airex without deps."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    first, second = [line for line in block.splitlines() if line.strip()]
    for command, lock in ((first, "main"), (second, "test")):
        steps = [
            "pip install -q --require-hashes -r requirements/build.txt",
            f"pip install -q --require-hashes --no-build-isolation -r requirements/{lock}.txt",
            "pip install -q --no-deps --no-build-isolation -e .",
        ]
        positions = [command.find(step) for step in steps]
        assert -1 not in positions, command
        assert positions == sorted(positions), command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for lock in ("dev", "lowest"):
        assert f"--require-hashes --no-build-isolation -r requirements/{lock}.txt" in ci
