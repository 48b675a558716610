"""Errors of the hardened parser's streaming form, for the reader that streams to map.

Both derive from :class:`airex.errors.AirexError` (and ``ValueError``: they describe bad input).
A whole-document parse raises the standard's own errors instead
(:class:`~airex.errors.XmlSyntaxError`, :class:`~airex.errors.XmlSecurityError`).
"""

from __future__ import annotations

from airex.errors import AirexError

__all__ = ["SchemaStreamError", "UnexpectedRootError"]


class SchemaStreamError(AirexError, ValueError):
    """The streamed document broke its schema: libxml2's report, for the caller to map.

    libxml2 validating while it streams reports no line; ``offset`` is where the chunk that
    revealed the error starts, for :func:`locate_schema_error` to find the line.
    """

    def __init__(self, kind: str, message: str, offset: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.offset = offset


class UnexpectedRootError(AirexError, ValueError):
    """The streamed document's root element is not the one asked for (``tag``, Clark form)."""

    def __init__(self, tag: str | None) -> None:
        super().__init__(f"unexpected root element {tag}")
        self.tag = tag
