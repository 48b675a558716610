"""Proof that a document really ends where its root element ends.

libxml2 2.14, reading as a push parser that validates, no longer reports a document that stops
before its root element closes: at ``close()`` it closes every open element itself, without an
error, and the end events of those elements (the root's included) look like real ones. So the
readers do not take libxml2's word for it. Two facts are established independently of the
libxml2 version:

* the root's end event arrived while the input was being fed, never from ``close()`` (the
  caller tracks this: what ``close()`` produces may be libxml2 finishing a cut document);
* the input's last bytes, once trailing white space, comments and processing instructions are
  set aside, are the root's end tag ``</prefix:Name >`` (or an empty root ``<Name/>``); so a cut
  inside a comment, a CDATA section, a tag or after the root's end is never taken for the end.

Only a bounded tail of the input is kept (:data:`TAIL_BYTES`, 1 MiB, in whole chunks): a
document whose trailing comments and processing instructions start further back than that is
refused, saying so (no report needs a megabyte of comment after its last record).
"""

from __future__ import annotations

import re
from collections import deque
from typing import Final

from airex.errors import MessageError, MessageStatus, XmlSyntaxError

__all__ = ["TAIL_BYTES", "Tail", "check_ending", "not_closed", "not_started"]

_SPACE: Final = " \t\r\n"

TAIL_BYTES: Final = 1024 * 1024
"""How much of a document's end is kept to check it (whole chunks, at least this many bytes)."""


class Tail:
    """The first bytes and the last chunks of a document (at least :data:`TAIL_BYTES`), fed one
    chunk at a time."""

    __slots__ = ("chunks", "head", "kept", "total")

    def __init__(self) -> None:
        self.head = b""
        self.chunks: deque[bytes] = deque()
        self.kept = 0
        self.total = 0

    def add(self, chunk: bytes) -> None:
        """Remember ``chunk`` as the latest (references only: no copy on the hot path)."""
        if not self.total:
            self.head = chunk[:4]
        self.total += len(chunk)
        chunks = self.chunks
        chunks.append(chunk)
        self.kept += len(chunk)
        while self.kept - len(chunks[0]) >= TAIL_BYTES:
            self.kept -= len(chunks.popleft())

    def text(self) -> tuple[str, bool]:
        """The tail decoded (markup is ASCII, so any ASCII-compatible encoding reads as
        Latin-1), and whether it is the whole document."""
        data = b"".join(self.chunks)
        whole = len(data) >= self.total
        codec, width = _codec(self.head)
        cut = (self.total - len(data)) % width  # start on a code unit of a UTF-16/32 text
        if cut:
            data = data[width - cut :]
        return data.decode(codec, "replace"), whole


def _codec(head: bytes) -> tuple[str, int]:
    if head[:4] in (b"\xff\xfe\x00\x00", b"<\x00\x00\x00"):
        return "utf-32-le", 4
    if head[:4] in (b"\x00\x00\xfe\xff", b"\x00\x00\x00<"):
        return "utf-32-be", 4
    if head[:2] == b"\xff\xfe" or head[:2] == b"<\x00":
        return "utf-16-le", 2
    if head[:2] == b"\xfe\xff" or head[:2] == b"\x00<":
        return "utf-16-be", 2
    return "latin-1", 1


def _without_trailing_misc(text: str) -> str | None:
    """``text`` without the white space, comments and PIs it ends with; None when one of them
    starts before ``text`` does."""
    while True:
        text = text.rstrip(_SPACE)
        if text.endswith("-->"):  # a comment holds no "--": its start is the last "<!--"
            start = text.rfind("<!--", 0, len(text) - 3)
        elif text.endswith("?>"):
            start = text.rfind("<?", 0, len(text) - 2)
        else:
            return text
        if start < 0:
            return None
        text = text[:start]


def check_ending(tail: Tail, root: str, lines: int, name: str | None) -> None:
    """Raise ``XmlNotWellFormed`` unless the document ends with the end of ``root`` (Clark
    name or local name), followed by nothing but white space, comments and PIs."""
    local = root.rpartition("}")[2]
    text, whole = tail.text()
    rest = _without_trailing_misc(text)
    if rest is None:
        if whole:
            raise _error(
                f"document ends at line {lines} inside or after a broken comment or "
                f"processing instruction, not with the end of its {local}",
                lines,
                name,
            )
        raise _error(
            f"document ends at line {lines} with comments or processing instructions that "
            f"start more than {TAIL_BYTES // 1024 // 1024} MiB before its end: that its {local} "
            "is complete cannot be checked",
            lines,
            name,
        )
    if _ends_with_root(rest, local):
        return
    if _root_end_tag(local).search(rest) is not None:
        raise _error(
            f"document has content after the end of its {local} (ending at line {lines}): only "
            "white space, comments and processing instructions may follow it",
            lines,
            name,
        )
    raise _error(
        f"document ends at line {lines} without the end tag of its {local}: only white space, "
        f"comments and processing instructions may follow </{local}> (truncated or damaged?)",
        lines,
        name,
    )


def not_closed(root: str, lines: int, name: str | None) -> XmlSyntaxError:
    """The error of a document whose ``root`` never closed before the input ran out."""
    local = root.rpartition("}")[2]
    return _error(
        f"document ends at line {lines} before its {local} is closed (truncated?)", lines, name
    )


def not_started(lines: int, name: str | None) -> XmlSyntaxError:
    """The error of a document that ran out before its root element's start tag was whole."""
    return _error(
        f"document ends at line {lines} without a whole root element: it is cut short or not XML",
        lines,
        name,
    )


_PATTERNS: dict[str, re.Pattern[str]] = {}
_END_TAGS: dict[str, re.Pattern[str]] = {}


def _root_end_tag(local: str) -> re.Pattern[str]:
    pattern = _END_TAGS.get(local)
    if pattern is None:
        pattern = re.compile(rf"</(?:[^\s<>/:!?]+:)?{re.escape(local)}[{_SPACE}]*>")
        _END_TAGS[local] = pattern
    return pattern


def _ends_with_root(text: str, local: str) -> bool:
    pattern = _PATTERNS.get(local)
    if pattern is None:
        name = r"(?:[^\s<>/:!?]+:)?" + re.escape(local)
        # the end tag, or the empty root element (an attribute value cannot hold "<")
        pattern = re.compile(rf"</{name}[{_SPACE}]*>|<{name}(?:[{_SPACE}][^<]*)?/>")
        _PATTERNS[local] = pattern
    return pattern.fullmatch(text, text.rfind("<")) is not None


def _error(message: str, line: int, name: str | None) -> XmlSyntaxError:
    error = MessageError(
        code="XmlNotWellFormed",
        message=message,
        line=line,
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )
    return XmlSyntaxError([error], source=name)
