"""Identifier normalisation: the one key under which the registry files each WorkId.

Usage reports, declarations and licences write the same identifier in different ways
(``T-345.246.800-1`` and ``T3452468001``; ``978-1-91643-182-9`` and ``9781916431829``). The
registry compares identifiers by their *key*, ``Type::normalised value`` (for Proprietary ids
``Proprietary::<Namespace>::<value>``), the flat-file form of the spec. Normalisation, per type:

========== ==============================================================================
ISWC       upper case; hyphens, dots and spaces removed (``T3452468001``)
ISBN       hyphens and spaces removed; upper case (``9781916431829``)
ISRC       upper case; hyphens and spaces removed (``GBLFR2500101``)
ISCC       upper case (``ISCC:AAA...``); hyphens removed
DOI        lower case: DOI names are case-insensitive (``10.5555/abc``)
URL        scheme and host in lower case; path, query and fragment kept as they are
Proprietary exactly as given (value and Namespace are compared character for character)
========== ==============================================================================

Surrounding white space is removed for every type. The value stored and shown for a work is
always the one declared; only comparisons use the key. Normalisation never validates: an
identifier that is not valid for its type simply finds no work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit, urlunsplit

__all__ = ["identifier_key", "normalise_identifier"]


def _iswc(value: str) -> str:
    return value.strip().upper().replace("-", "").replace(".", "").replace(" ", "")


def _isbn(value: str) -> str:
    return value.strip().replace("-", "").replace(" ", "").upper()


def _isrc(value: str) -> str:
    return value.strip().upper().replace("-", "").replace(" ", "")


def _iscc(value: str) -> str:
    return value.strip().upper().replace("-", "")


def _doi(value: str) -> str:
    return value.strip().lower()


def _url(value: str) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.scheme or not parts.netloc:
        return value
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment)
    )


def _exact(value: str) -> str:
    return value.strip()


_NORMALISERS: Final[dict[str, Callable[[str], str]]] = {
    "ISWC": _iswc,
    "ISBN": _isbn,
    "ISRC": _isrc,
    "ISCC": _iscc,
    "DOI": _doi,
    "URL": _url,
    "Proprietary": _exact,
}


def normalise_identifier(type_: str, value: str) -> str:
    """``value`` in the normal form of its ``type_`` (see the module doc); unknown types are
    only stripped of surrounding white space."""
    normalise = _NORMALISERS.get(type_, _exact)
    return normalise(value)


def identifier_key(type_: str, value: str, namespace: str | None = None) -> str:
    """The registry's key of an identifier: ``Type::value`` (normalised), and for Proprietary
    ids ``Proprietary::<Namespace>::<value>``.

    >>> identifier_key("ISWC", "T-345.246.800-1") == identifier_key("ISWC", "T3452468001")
    True
    """
    normalise = _NORMALISERS.get(type_, _exact)
    if type_ == "Proprietary":
        return f"Proprietary::{(namespace or '').strip()}::{value.strip()}"
    return f"{type_}::{normalise(value)}"
