"""Every public exception airex defines derives from AirexError (CONVENTIONS.md 6), so a caller
can catch one root; those that describe bad input also derive from ValueError. (Private classes,
``_Name``, are control flow inside one module and never reach a caller.)"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import airex
from airex.errors import AirexError


def _modules() -> list[str]:
    names = ["airex"]
    for info in pkgutil.walk_packages(airex.__path__, "airex."):
        if ".migrations" in info.name:  # Alembic environments run when imported
            continue
        names.append(info.name)
    return names


def _exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(value, BaseException)
                and value.__module__.startswith("airex")
                and not value.__name__.startswith("_")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_airex_exception_derives_from_airex_error() -> None:
    """No exception class defined in airex stands outside the AirexError hierarchy."""
    exceptions = _exceptions()
    assert len(exceptions) > 30  # the walk really found the parts' errors
    assert sorted(name for name, cls in exceptions.items() if not issubclass(cls, AirexError)) == []


def test_streaming_parser_errors_are_bad_input() -> None:
    """The streaming parser's two errors are AirexErrors describing bad input (ValueError)."""
    from airex.xml import SchemaStreamError, UnexpectedRootError

    for error in (SchemaStreamError, UnexpectedRootError):
        assert issubclass(error, AirexError)
        assert issubclass(error, ValueError)
