"""Write the dependency locks in requirements/ from pyproject.toml (run after changing a range).

    .venv/bin/python tools/lock.py            # re-resolve every lock against the index today
    .venv/bin/python tools/lock.py --upgrade  # same, taking the newest versions the ranges allow

Each lock pins every direct and transitive dependency, with the hashes of every file the index
offers for that version, for every platform (``--universal``) and Python >= 3.11. The README's two
commands and .ci/run install them with plain pip (``--require-hashes``), then airex itself with
``--no-deps --no-build-isolation``, so the build backend is pinned too:

- ``main.txt``: what ``airex`` needs to run, and the build backend (README's first command);
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

# name -> (extra or None, extra uv options)
TARGETS: dict[str, tuple[str | None, list[str]]] = {
    "main.txt": (None, []),
    "test.txt": ("test", []),
    "dev.txt": ("dev", []),
    "lowest.txt": ("test", ["--resolution", "lowest-direct"]),
}


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
        for name, (extra, options) in TARGETS.items():
            command = [
                uv, "pip", "compile", "--quiet", "--universal", "--python-version", "3.11",
                "--generate-hashes", "--no-header", "pyproject.toml", str(build_in),
                "-o", f"requirements/{name}", *options,
            ]  # fmt: skip
            if extra:
                command += ["--extra", extra]
            if args.upgrade:
                command.append("--upgrade")
            subprocess.run(command, cwd=ROOT, check=True)
            path = LOCKS / name
            body = path.read_text(encoding="utf-8").replace(str(build_in), "build-system.requires")
            header = (
                f"# {name}: written by `{COMMAND}` from pyproject.toml ({extra or 'no'} extra"
                f"{', lowest direct versions' if options else ''}); do not edit by hand.\n"
                "# Install: pip install --require-hashes -r requirements/"
                f"{name} && pip install --no-deps --no-build-isolation -e .\n"
            )
            path.write_text(header + body, encoding="utf-8")
            print(f"wrote requirements/{name}")


if __name__ == "__main__":
    main()
