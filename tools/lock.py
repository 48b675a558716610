"""Write the dependency locks in requirements/ from pyproject.toml (run after changing a range).

    .venv/bin/python tools/lock.py            # re-resolve every lock against the index today
    .venv/bin/python tools/lock.py --upgrade  # same, taking the newest versions the ranges allow

Each lock pins every direct and transitive dependency, with the hashes of every file the index
offers for that version, for every platform (``--universal``) and Python >= 3.11. The README's two
commands and .ci/run install them with plain pip (``--require-hashes``) in three steps, so that
nothing is fetched unpinned, not even to build a package that ships only as source (iscc-core's
data-url does)::

    pip install --require-hashes -r requirements/build.txt      # build backends first
    pip install --require-hashes --no-build-isolation -r requirements/main.txt
    pip install --no-deps --no-build-isolation -e .             # airex itself

- ``build.txt``: the build backends: airex's own (hatchling, editables) and setuptools + wheel
  for the locked packages that ship only as source;
- ``main.txt``: what ``airex`` needs to run, and the build backends (README's first command);
- ``test.txt``: main + the ``test`` extra (README's second command, CI's test run);
- ``dev.txt``: test + the ``dev`` extra (CI's static checks: ruff, mypy, this script's uv);
- ``lowest.txt``: test, with every *direct* dependency at the lowest version its range allows,
  so CI can run the tests that touch lxml/libxml2 against the oldest versions a range admits.

Without ``--upgrade`` the versions already pinned are kept where the ranges still allow them
(uv reads the existing lock as its preferences). ``tests/test_lock.py`` fails when a lock no
longer satisfies pyproject.toml.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
COMMAND = "python tools/lock.py"

# name -> (extra, or None for no extra, or "" for the build backends alone; extra uv options)
TARGETS: dict[str, tuple[str | None, list[str]]] = {
    "build.txt": ("", []),
    "main.txt": (None, []),
    "test.txt": ("test", []),
    "dev.txt": ("dev", []),
    "lowest.txt": ("test", ["--resolution", "lowest-direct"]),
}
SOURCE_BUILDS = ["setuptools>=42", "wheel"]
"""What builds the locked packages that ship only as source (their pyproject's build-system)."""


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        sys.exit("tools/lock.py: uv is not installed: pip install -r requirements/dev.txt first")
    return found


def _build_requirements() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as stream:
        requires: list[str] = tomllib.load(stream)["build-system"]["requires"]
    # What hatchling's build_editable hook asks for on top (older hatchling needs it to install
    # with -e; pip's build isolation would fetch it, --no-build-isolation needs it locked).
    return [*requires, "editables>=0.5"]


def _compile(uv: str, name: str, inputs: list[str], options: list[str], upgrade: bool) -> None:
    command = [
        uv, "pip", "compile", "--quiet", "--universal", "--python-version", "3.11",
        "--generate-hashes", "--no-header", *inputs, "-o", f"requirements/{name}", *options,
    ]  # fmt: skip
    if upgrade:
        command.append("--upgrade")
    subprocess.run(command, cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--upgrade", action="store_true", help="newest allowed versions, not the pinned ones"
    )
    args = parser.parse_args()
    LOCKS.mkdir(exist_ok=True)
    uv = _uv()
    with tempfile.TemporaryDirectory() as scratch:
        build_in = Path(scratch) / "build.in"
        build_in.write_text("\n".join(_build_requirements()) + "\n", encoding="utf-8")
        sources_in = Path(scratch) / "sources.in"
        sources_in.write_text("\n".join(SOURCE_BUILDS) + "\n", encoding="utf-8")
        for name, (extra, options) in TARGETS.items():
            inputs = [str(build_in)]
            if extra != "":
                inputs.insert(0, "pyproject.toml")
                options = [*options, "--extra", extra] if extra else options
            if "lowest-direct" not in options:  # the lowest venv builds with build.txt's
                inputs.append(str(sources_in))
            _compile(uv, name, inputs, options, args.upgrade)
            path = LOCKS / name
            body = path.read_text(encoding="utf-8")
            body = body.replace(str(build_in), "build-system.requires")
            body = body.replace(str(sources_in), "source builds")
            if extra == "":
                what = "the build backends"
                install = f"# Install first: pip install --require-hashes -r requirements/{name}\n"
            else:
                lowest = ", lowest direct versions" if "lowest-direct" in options else ""
                what = f"pyproject.toml ({extra or 'no'} extra{lowest})"
                install = (
                    "# Install after requirements/build.txt (see tools/lock.py):\n"
                    f"# pip install --require-hashes --no-build-isolation -r requirements/{name}\n"
                )
            header = (
                f"# {name}: written by `{COMMAND}` from {what}; do not edit by hand.\n{install}"
            )
            path.write_text(header + body, encoding="utf-8")
            print(f"wrote requirements/{name}")


if __name__ == "__main__":
    main()
