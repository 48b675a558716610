"""Syntax checks for the identifiers a message carries (spec: Shared types, WorkId and Party).

Every ``check_*`` function returns ``None`` when the value is valid and otherwise a short,
human-readable reason (e.g. ``"check digit is 7, expected 3"``); none of them raises on bad input.
They run once per usage record on reports with millions of records, so regular expressions are
compiled once, the happy path raises no exceptions, and the (comparatively costly) ISCC decoding
is cached.

``WORK_ID_ERROR_CODES`` maps each WorkId ``Type`` to the stable error code a message validator
reports when :func:`check_work_id` rejects a value of that type.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "PARTY_ID_MAX_LENGTH",
    "WORK_ID_ERROR_CODES",
    "WORK_ID_MAX_LENGTH",
    "WORK_ID_TYPES",
    "check_doi",
    "check_isbn",
    "check_iscc",
    "check_isrc",
    "check_iswc",
    "check_party_id",
    "check_proprietary_id",
    "check_url",
    "check_work_id",
    "isbn13_check_digit",
    "iswc_check_digit",
]

#: The WorkId ``Type`` attribute values, in the spec's order.
WORK_ID_TYPES: Final = ("ISCC", "ISRC", "ISWC", "ISBN", "DOI", "URL", "Proprietary")

#: WorkId ``Type`` → error code reported when a value is not valid for its type.
WORK_ID_ERROR_CODES: Final[dict[str, str]] = {
    "ISCC": "InvalidISCC",
    "ISRC": "InvalidISRC",
    "ISWC": "InvalidISWC",
    "ISBN": "InvalidISBN",
    "DOI": "InvalidDOI",
    "URL": "InvalidURL",
    "Proprietary": "InvalidProprietaryId",
}

#: Length limits from the spec (WorkId value, PartyId).
WORK_ID_MAX_LENGTH: Final = 512
PARTY_ID_MAX_LENGTH: Final = 64

# [0-9] rather than \d throughout: \d also matches non-ASCII digits.
_ISCC_RE = re.compile(r"ISCC:[A-Z2-7]{10,68}")
_ISRC_RE = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_ISWC_RE = re.compile(r"T-?([0-9]{3})\.?([0-9]{3})\.?([0-9]{3})-?([0-9])")
_ISBN_RE = re.compile(r"[0-9]+(?:-[0-9]+)*")
_DOI_RE = re.compile(r"10\.[0-9]+(?:\.[0-9]+)*/\S+")
_URL_BAD_CHAR_RE = re.compile(r"[\s\x00-\x1f\x7f]")
_PARTY_ID_RE = re.compile(r"PADPIDA[A-Za-z0-9]+")

_ISCC_CACHE_SIZE = 1 << 16


def check_iscc(value: str) -> str | None:
    """An ISCC (``ISCC:`` + base32) that iscc-core validates: an ISCC-CODE or a single ISCC-UNIT.

    The canonical form is required (upper-case, ``ISCC:`` prefix, no dashes), as iscc-core's
    strict ``iscc_validate`` demands.
    """
    if _ISCC_RE.fullmatch(value) is None:
        return "expected 'ISCC:' followed by 10 to 68 base32 characters (A-Z, 2-7)"
    return _check_iscc_decoded(value)


@functools.lru_cache(maxsize=_ISCC_CACHE_SIZE)
def _check_iscc_decoded(value: str) -> str | None:
    # Imported here: iscc_core is slow to import and only needed once an ISCC is seen.
    import iscc_core

    try:
        iscc_core.iscc_validate(value, strict=True)
    except Exception as exc:  # iscc-core raises ValueError, and IndexError on some headers
        return f"not a valid ISCC: {exc}" if str(exc) else "not a valid ISCC"
    return None


def check_isrc(value: str) -> str | None:
    """An ISRC written without hyphens: ``[A-Z]{2}[A-Z0-9]{3}[0-9]{7}`` (e.g. ``USRC17607839``)."""
    if _ISRC_RE.fullmatch(value) is None:
        return "expected 2 letters, 3 letters or digits and 7 digits, without hyphens"
    return None


def iswc_check_digit(digits: str) -> int:
    """The ISO 15707 check digit of the nine digits of an ISWC (``"034524680"`` → 1)."""
    total = 1 + sum(i * int(d) for i, d in enumerate(digits, start=1))
    return (10 - total % 10) % 10


def check_iswc(value: str) -> str | None:
    """An ISWC ``T-ddd.ddd.ddd-c`` (separators optional) with a correct ISO 15707 check digit."""
    match = _ISWC_RE.fullmatch(value)
    if match is None:
        return "expected T, nine digits and a check digit, e.g. T-034.524.680-1"
    first, second, third, check = match.groups()
    expected = iswc_check_digit(first + second + third)
    if int(check) != expected:
        return f"check digit is {check}, expected {expected}"
    return None


def isbn13_check_digit(digits: str) -> int:
    """The EAN-13 check digit of the first twelve digits of an ISBN-13 (weights 1, 3, 1, …)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return (10 - total % 10) % 10


def check_isbn(value: str) -> str | None:
    """An ISBN-13 (978/979 prefix), hyphens allowed between digits, with a correct check digit."""
    if _ISBN_RE.fullmatch(value) is None:
        return "expected 13 digits, optionally separated by single hyphens"
    digits = value.replace("-", "")
    if len(digits) != 13:
        return f"expected 13 digits, got {len(digits)}"
    if not digits.startswith(("978", "979")):
        return f"prefix is {digits[:3]}, expected 978 or 979"
    expected = isbn13_check_digit(digits[:12])
    if int(digits[12]) != expected:
        return f"check digit is {digits[12]}, expected {expected}"
    return None


def check_doi(value: str) -> str | None:
    """A DOI name: ``10.`` + registrant (digits, dot-separated subdivisions) + ``/`` + suffix."""
    if _DOI_RE.fullmatch(value) is None:
        return "expected 10.<registrant>/<suffix> without white space, e.g. 10.1000/182"
    return None


def check_url(value: str) -> str | None:
    """An absolute ``http`` or ``https`` URL with a host and no white space."""
    if _URL_BAD_CHAR_RE.search(value) is not None:
        return "URL contains white space or control characters"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed or out-of-range port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "expected an absolute http or https URL"
    if not host:
        return "URL has no host"
    return None


def check_party_id(value: str) -> str | None:
    """A DDEX party id: ``PADPIDA`` + letters and digits, at most 64 characters."""
    if len(value) > PARTY_ID_MAX_LENGTH:
        return f"longer than {PARTY_ID_MAX_LENGTH} characters"
    if _PARTY_ID_RE.fullmatch(value) is None:
        return "expected PADPIDA followed by letters and digits"
    return None


def check_proprietary_id(value: str) -> str | None:
    """A proprietary WorkId value: 1 to 512 characters without surrounding white space."""
    if not value:
        return "empty"
    if len(value) > WORK_ID_MAX_LENGTH:
        return f"longer than {WORK_ID_MAX_LENGTH} characters"
    if value[0].isspace() or value[-1].isspace():
        return "has leading or trailing white space"
    return None


_CHECKERS: Final[dict[str, Callable[[str], str | None]]] = {
    "ISCC": check_iscc,
    "ISRC": check_isrc,
    "ISWC": check_iswc,
    "ISBN": check_isbn,
    "DOI": check_doi,
    "URL": check_url,
    "Proprietary": check_proprietary_id,
}


def check_work_id(type_: str, value: str) -> str | None:
    """Check a WorkId value against its ``Type``; the error code is ``WORK_ID_ERROR_CODES[type_]``.

    Every type shares the WorkId limit of 512 characters. Raises ``ValueError`` for a ``type_``
    that is not a WorkId type (the schema rejects those before this is called).
    """
    checker = _CHECKERS.get(type_)
    if checker is None:
        raise ValueError(f"unknown WorkId Type {type_!r}; expected one of {WORK_ID_TYPES}")
    if len(value) > WORK_ID_MAX_LENGTH:
        return f"longer than {WORK_ID_MAX_LENGTH} characters"
    return checker(value)
