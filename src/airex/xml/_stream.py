"""Streaming reads of documents too large to hold, through the same hardened gate.

:func:`stream_element_batches` is the streaming form of :func:`~._hardened.parse_xml`: the
same refusals (DOCTYPE, size) with the same errors, libxml2 validating as it parses, and the
proof (:mod:`._ending`) that the document really ends where its root element ends, whatever
the libxml2 version. :func:`locate_schema_error` finds the line of a schema error that
libxml2, validating while it streams, reports without one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, Final

from lxml import etree

from airex.errors import XmlSyntaxError
from airex.xml._ending import Tail, check_ending, not_closed, not_started
from airex.xml._hardened import (
    _PARSER_OPTIONS,
    DEFAULT_LIMITS,
    ParseLimits,
    _base_url,
    _Gate,
    _not_well_formed,
    _raise_logged_error,
    _syntax_error,
)
from airex.xml.errors import SchemaStreamError, UnexpectedRootError

__all__ = [
    "STREAM_CHUNK_SIZE",
    "SchemaStreamError",
    "UnexpectedRootError",
    "locate_schema_error",
    "stream_element_batches",
]


STREAM_CHUNK_SIZE: Final = 64 * 1024
"""Bytes fed at a time when streaming: measured fastest (larger chunks build more tree
before it is freed and run slower: 1 MiB costs about 15 %)."""


def stream_element_batches(
    chunks: Iterable[bytes],
    tags: Iterable[str],
    *,
    root: str,
    schema: etree.XMLSchema | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
    name: str | None = None,
) -> Iterator[list[etree._Element]]:
    """Yield, chunk by chunk, the elements named in ``tags`` that ended in it, validating
    against ``schema`` as it goes (batches spare a generator hop per element on hot paths).

    The streaming form of :func:`parse_xml`, for documents too large to hold: the same
    refusals (DOCTYPE, size) with the same errors, and libxml2 validating while it parses.
    The document's root element must be ``root`` (else :class:`UnexpectedRootError`) and
    must really end: its end tag in the text, followed by nothing but white space, comments
    and processing instructions (else, a truncated or damaged document,
    :class:`~airex.errors.XmlSyntaxError` with the last line; see :mod:`._ending`: libxml2
    2.14 validating does not notice truncation by itself). Nothing libxml2 produces only
    when closing the input is yielded before that is established, so an element it closed
    itself at a cut is never handed out. The caller owns the tree: it must clear what it has
    consumed to keep memory constant. Elements nest at most 256 deep (libxml2's own limit);
    a schema stops any unexpected nesting long before. Raises :class:`SchemaStreamError` at
    the first chunk that breaks the schema, before yielding anything of that chunk.
    """
    base_url = _base_url(name)
    options = dict(_PARSER_OPTIONS, schema=schema) if schema is not None else _PARSER_OPTIONS
    watched = [*tags, root]
    parser = etree.XMLPullParser(events=("end",), tag=watched, base_url=base_url, **options)
    gate = _Gate(limits, name)
    tail = Tail()
    lines = 1
    closed = False  # the root's end tag was parsed while feeding (not made up by close())
    for chunk in chunks:
        offset = gate.total
        gate.check(chunk)
        tail.add(chunk)
        lines += chunk.count(b"\n")
        if gate.root_tag is not None and gate.root_tag != root:
            raise UnexpectedRootError(gate.root_tag)
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            _raise_stream_error(parser, exc, name, offset)
        _raise_stream_error(parser, None, name, offset)
        batch = [element for _event, element in parser.read_events()]  # "end": elements
        if batch and batch[-1].tag == root:  # type: ignore[union-attr]  # the root ends last
            closed = True
            batch.pop()
        if batch:
            yield batch  # type: ignore[misc]
    if gate.total == 0:
        raise XmlSyntaxError([_not_well_formed("document is empty", 1)], source=name)
    # libxml2 may close a cut document at close(), validating what it made up: the end is
    # checked first, so nothing of a cut document is handed out or judged by the schema.
    if gate.root_tag is None:  # not even the root's start tag is whole
        raise not_started(lines, name)
    if not closed:
        raise not_closed(root, lines, name)
    check_ending(tail, root, lines, name)
    try:
        parser.close()
    except etree.XMLSyntaxError as exc:
        _raise_stream_error(parser, exc, name, gate.total, lines)
    _raise_stream_error(parser, None, name, gate.total)
    if not closed:  # pragma: no cover - libxml2 refuses a document without a root element
        raise not_closed(root, lines, name)
    batch = [element for _event, element in parser.read_events()]
    if batch and batch[-1].tag == root:  # type: ignore[union-attr]
        batch.pop()
    if batch:
        yield batch  # type: ignore[misc]


def locate_schema_error(
    chunks: Iterable[bytes], offset: int, schema: etree.XMLSchema, count_tag: str
) -> tuple[int | None, int]:
    """Where a schema error :func:`stream_element_batches` reported at ``offset`` is: its line, and
    how many ``count_tag`` elements ended before it.

    Re-reads the document, validating, at full speed up to ``offset``, then one line at a time
    until libxml2 logs the error. Costs a second read up to the error: only for errors, which
    end a stream anyway.
    """
    parser = etree.XMLPullParser(events=("end",), tag=count_tag, schema=schema, **_PARSER_OPTIONS)
    fed = 0
    line = 1
    ended = 0
    for chunk in chunks:
        if fed + len(chunk) <= offset:
            parser.feed(chunk)
            fed += len(chunk)
            line += chunk.count(b"\n")
            ended += sum(1 for _ in parser.read_events())
            continue
        for piece in chunk.splitlines(keepends=True):
            with contextlib.suppress(etree.XMLSyntaxError):  # the error we look for is logged
                parser.feed(piece)
            log: Any = parser.feed_error_log  # a snapshot: read it anew after each feed
            if any(e.domain_name == "SCHEMASV" for e in log.filter_from_errors()):
                return line, ended
            ended += sum(1 for _ in parser.read_events())
            line += piece.count(b"\n")
    return None, ended


def _raise_stream_error(
    parser: etree.XMLPullParser,
    exc: etree.XMLSyntaxError | None,
    name: str | None,
    offset: int,
    last_line: int | None = None,
) -> None:
    log: Any = parser.feed_error_log
    for entry in log.filter_from_errors():
        if entry.domain_name == "SCHEMASV":
            raise SchemaStreamError(entry.type_name, entry.message, offset)
    if exc is not None:
        raise _syntax_error(parser, exc, name, last_line) from None
    _raise_logged_error(parser, name)
