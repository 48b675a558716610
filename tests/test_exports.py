"""The public surface is pinned: what ``airex`` exports, and that every ``__all__`` is honest.

Modelled on httpx's ``tests/test_exported_members.py``: a change to the public names is a
deliberate edit of this file, never an accident of an import.
"""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

import airex

PUBLIC_MODULES = ["airex", "airex.errors", "airex.messages", "airex.xml", "airex.formats"]

AIREX_ALL = [
    "MESSAGE_TYPES",
    "AirexError",
    "AirexMessage",
    "CheckResult",
    "MessageError",
    "MessageInvalidError",
    "MessageStatus",
    "ParseLimits",
    "UnknownMessageTypeError",
    "XmlRejectedError",
    "XmlSecurityError",
    "XmlSyntaxError",
    "__version__",
    "check",
    "is_valid",
    "iter_errors",
    "parse",
    "serialise",
    "validate",
]


def test_airex_all_is_pinned() -> None:
    """airex.__all__ is exactly the pinned list of top-level names, in the same order."""
    assert airex.__all__ == AIREX_ALL


def test_airex_exports_every_public_member() -> None:
    """Every public non-module attribute of airex is in __all__, and nothing else is."""
    public = {
        name
        for name, value in vars(airex).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public | {"__version__"} == set(airex.__all__)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_in_all_resolves(module_name: str) -> None:
    """Each name listed in the module's __all__ is an attribute of it (from-import works)."""
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import *", namespace)  # the star-import under test
    assert set(module.__all__) <= set(namespace)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_has_no_duplicates(module_name: str) -> None:
    """No name is listed twice in a module's __all__."""
    names = importlib.import_module(module_name).__all__
    assert len(names) == len(set(names))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_lists_every_public_class_and_function(module_name: str) -> None:
    """No public attribute outside __all__ is a class or function defined in airex."""
    module = importlib.import_module(module_name)
    unlisted = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name not in module.__all__
        and (inspect.isclass(value) or inspect.isfunction(value))
        and (getattr(value, "__module__", None) or "").split(".")[0] == "airex"
    ]
    assert unlisted == []


def test_top_level_names_are_the_same_objects_as_in_their_packages() -> None:
    """airex re-exports objects, not copies: airex.parse is airex.messages.parse, and so on."""
    import airex.errors
    import airex.messages
    import airex.xml

    for name in airex.__all__:
        if name == "__version__":
            continue
        homes = [m for m in (airex.errors, airex.messages, airex.xml) if name in m.__all__]
        assert homes, f"airex.{name} is exported by none of errors, messages, xml"
        assert all(getattr(m, name) is getattr(airex, name) for m in homes), name
