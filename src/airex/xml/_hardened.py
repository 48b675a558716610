"""The one hardened XML entry point: every parse in airex goes through :func:`parse_xml`.

Threat model: messages arrive from other parties and are hostile until proven otherwise.
XML's own features are the attack surface: a DOCTYPE can declare entities that read local
files or fetch URLs (XXE, server-side request forgery) or that expand exponentially or
quadratically (billion laughs, quadratic blowup); deep nesting and sheer size exhaust
stack and memory. airex messages never need a DTD, so :func:`parse_xml` refuses any DOCTYPE
outright, never resolves entities, never loads anything, never touches the network, and
stops reading as soon as the document nests deeper or grows larger than its
:class:`ParseLimits`. Input is fed to libxml2 in 64 KiB chunks, so a refusal happens after
at most one chunk more than the offending bytes; nothing hostile is ever expanded.

Refusals raise :class:`~airex.errors.XmlSecurityError` (codes ``DoctypeForbidden``,
``DepthLimitExceeded``, ``SizeLimitExceeded``, ``ElementLimitExceeded``); input that is
simply not well-formed raises :class:`~airex.errors.XmlSyntaxError` (code
``XmlNotWellFormed``). Both carry status
``XmlNotWellFormed``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from airex.errors import MessageError, MessageStatus, XmlSecurityError, XmlSyntaxError
from airex.xml._ending import Tail, check_ending, not_closed

__all__ = [
    "ElementPaths",
    "ParseLimits",
    "local_path",
    "parse_xml",
]

CHUNK_SIZE: Final = 64 * 1024
"""Bytes fed to the parser at a time; limits are checked between chunks."""

LIBXML2_MAX_DEPTH: Final = 256
"""libxml2's own nesting limit without ``huge_tree``; a larger ``max_depth`` cannot apply."""

_PARSER_OPTIONS: Final[dict[str, Any]] = {
    "resolve_entities": False,
    "load_dtd": False,
    "no_network": True,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    # Comments and processing instructions are not content, and a comment inside a value
    # ("25000.00<!-- -->9") would split its text: dropped, the text around them joined.
    "remove_comments": True,
    "remove_pis": True,
}
_DOCTYPE_MARKERS: Final = tuple(
    "<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be")
)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Limits a document must stay within to be parsed at all.

    ``max_bytes`` bounds the encoded document (the file size); ``max_depth`` bounds element
    nesting, the root element being at depth 1. libxml2 itself stops at depth 256.
    """

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 100
    max_elements: int = 1_000_000
    """Elements a document may hold: many tiny elements cost far more memory and time than
    their bytes (16 M ``<x/>`` fit in 64 MiB), so the count is bounded on its own."""

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {self.max_bytes}")
        if self.max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, not {self.max_depth}")
        if self.max_elements < 1:
            raise ValueError(f"max_elements must be at least 1, not {self.max_elements}")


DEFAULT_LIMITS: Final = ParseLimits()


def parse_xml(
    source: bytes | str | os.PathLike[str],
    limits: ParseLimits = DEFAULT_LIMITS,
    *,
    filename: str | None = None,
) -> etree._ElementTree:
    """Parse one XML document, refusing anything hostile before it can do harm.

    ``source`` is the document itself when it is ``bytes``, and a file path when it is a
    ``str`` or path-like (read in chunks, never whole before its size is known to be
    acceptable). ``filename`` names the source in errors; it defaults to the path.

    Raises :class:`~airex.errors.XmlSecurityError` for a DOCTYPE (any DTD or entity
    declaration), too deep nesting or too many bytes, :class:`~airex.errors.XmlSyntaxError`
    for input that is not well-formed XML, and :class:`OSError` when the file cannot be read.
    Elements keep their ``sourceline``.
    """
    if isinstance(source, bytes):
        if len(source) > limits.max_bytes:
            raise _size_error(f"document is {len(source)} bytes", limits, filename)
        return _parse_chunks(_byte_chunks(source), limits, filename)
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise TypeError("parse_xml() takes a str path, not a bytes path")
        if path.lstrip().startswith("<"):
            raise TypeError("parse_xml() takes a str as a file path; pass the document as bytes")
        name = filename if filename is not None else path
        size = os.stat(path).st_size
        if size > limits.max_bytes:
            raise _size_error(f"file is {size} bytes", limits, name)
        with open(path, "rb") as stream:
            return _parse_chunks(iter(lambda: stream.read(CHUNK_SIZE), b""), limits, name)
    raise TypeError(f"parse_xml() takes bytes or a path, not {type(source).__name__}")


def local_path(element: etree._Element) -> str:
    """A namespace-free XPath to ``element``, e.g. ``/Root/List/Item[3]/Id``.

    Each step is the element's local name, with a 1-based ``[n]`` among the siblings of the
    same local name only when its parent has more than one child of that name. For many
    elements of one tree, an :class:`ElementPaths` is faster (it indexes each parent once).
    """
    return ElementPaths().path(element)


class ElementPaths:
    """Paths of many elements of one tree: each parent's children are indexed once, so the
    paths of all N records of a report cost O(N), not O(N²)."""

    def __init__(self) -> None:
        self._steps: dict[etree._Element, str] = {}
        self._children: dict[etree._Element, list[etree._Element]] = {}

    def path(self, element: etree._Element) -> str:
        """The namespace-free XPath of ``element`` (see :func:`local_path`)."""
        steps: list[str] = []
        node: etree._Element | None = element
        while node is not None:
            parent = node.getparent()
            if parent is None:
                steps.append(_local_name(node))
            else:
                if node not in self._steps:
                    self._index(parent)
                steps.append(self._steps[node])
            node = parent
        return "/" + "/".join(reversed(steps))

    def _index(self, parent: etree._Element) -> None:
        children = self._element_children(parent)
        names = [_local_name(child) for child in children]
        totals: dict[str, int] = {}
        for name in names:
            totals[name] = totals.get(name, 0) + 1
        seen: dict[str, int] = {}
        for child, name in zip(children, names, strict=True):
            seen[name] = seen.get(name, 0) + 1
            self._steps[child] = f"{name}[{seen[name]}]" if totals[name] > 1 else name

    def _element_children(self, parent: etree._Element) -> list[etree._Element]:
        children = self._children.get(parent)
        if children is None:
            children = [c for c in parent if isinstance(c.tag, str)]
            self._children[parent] = children
        return children

    def locate(self, tree: etree._ElementTree, libxml2_path: str) -> etree._Element | None:
        """The element a libxml2 node path names (``/*/*[2]/a:Item[3]``), or None.

        libxml2 writes prefixed names and positions that an XPath engine could only
        evaluate with the document's prefixes, in O(position) per step; this walks the
        cached child lists instead, matching names by their local part.
        """
        steps = libxml2_path.strip("/").split("/")
        node: etree._Element | None = tree.getroot()
        for step in steps[1:]:
            if node is None:
                return None
            name, _, rest = step.partition("[")
            position = int(rest.rstrip("]")) if rest.rstrip("]").isdigit() else 1
            local = name.rpartition(":")[2]
            children = self._element_children(node)
            if local != "*":
                children = [c for c in children if _local_name(c) == local]
            node = children[position - 1] if 0 < position <= len(children) else None
        return node


def _local_name(node: etree._Element) -> str:
    tag: object = node.tag
    if isinstance(tag, str):
        return tag.rpartition("}")[2]
    if isinstance(node, etree._Comment):
        return "comment()"
    if isinstance(node, etree._ProcessingInstruction):
        return "processing-instruction()"
    return "node()"


def _byte_chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), CHUNK_SIZE):
        yield bytes(view[start : start + CHUNK_SIZE])


class _DoctypeFound(Exception):
    """Raised inside the sniffer to stop it once it has seen what it looks for."""


class _DoctypeSniffer:
    """A parser target that only notices a DOCTYPE in the prolog, then gives up at the root.

    lxml's tree builder has no DOCTYPE event and a document without a root element has no
    tree to look at, so a second, tree-less parser watches the prolog for libxml2's DOCTYPE
    callback. It never builds anything and stops at the first start tag.
    """

    def __init__(self) -> None:
        self.declared: str | None = None
        self.finished = False
        self._parser = etree.XMLParser(target=self, **_PARSER_OPTIONS)
        self._newlines = 0
        self._tail = b""
        self.line: int | None = None
        self.root_tag: str | None = None

    def feed(self, chunk: bytes) -> None:
        """Feed one chunk; afterwards ``declared`` is set if the prolog declared one."""
        try:
            self._parser.feed(chunk)
        except Exception:  # any failure just ends sniffing; the tree parser reports
            self.finished = True
        if self.declared is not None:
            self.line = self._locate(chunk)
        self._newlines += chunk.count(b"\n")
        self._tail = chunk[-32:]

    def _locate(self, chunk: bytes) -> int | None:
        # Best effort: the first DOCTYPE keyword in the bytes fed so far (ASCII or UTF-16).
        window = self._tail + chunk
        found = [pos for pos in (window.find(marker) for marker in _DOCTYPE_MARKERS) if pos >= 0]
        if not found:
            return None
        before = self._newlines - self._tail.count(b"\n")
        return 1 + before + window.count(b"\n", 0, min(found))

    # parser target interface
    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        self.declared = name or ""
        raise _DoctypeFound

    def start(self, tag: object, *_args: object) -> None:
        self.root_tag = tag if isinstance(tag, str) else None
        self.finished = True
        raise _DoctypeFound

    def end(self, _tag: object) -> None:
        """Unused: sniffing ends at the first start tag."""

    def data(self, _data: object) -> None:
        """Unused: no text is collected."""

    def comment(self, _text: object) -> None:
        """Unused: comments in the prolog are allowed."""

    def close(self) -> None:
        """Unused: the sniffer is never closed, only dropped."""


def _base_url(name: str | None) -> str | None:
    # libxml2 wants the base URL in UTF-8: undecodable bytes of a file name must not crash.
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace") if name else None


class _Gate:
    """What every chunk passes before libxml2 sees it: the size limit, then (until the root
    element starts) the DOCTYPE sniffer. ``root_tag`` is the root's tag once it is known."""

    def __init__(self, limits: ParseLimits, name: str | None) -> None:
        self.limits = limits
        self.name = name
        self.total = 0
        self.root_tag: str | None = None
        self._sniffer: _DoctypeSniffer | None = _DoctypeSniffer()

    def check(self, chunk: bytes) -> None:
        """Count ``chunk`` against the size limit and refuse it if it declares a DOCTYPE."""
        self.total += len(chunk)
        if self.total > self.limits.max_bytes:
            raise _size_error(
                f"more than {self.limits.max_bytes} bytes were read", self.limits, self.name
            )
        sniffer = self._sniffer
        if sniffer is not None:
            sniffer.feed(chunk)
            if sniffer.declared is not None:
                raise _doctype_error(sniffer.declared, sniffer.line, self.name)
            if sniffer.finished:
                self.root_tag = sniffer.root_tag
                self._sniffer = None


_UTF32_BOMS: Final = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")


def _without_utf32_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` with a UTF-32 byte order mark dropped: libxml2 reads UTF-32 from its first
    ``<`` but stops at the mark (UTF-8 and UTF-16 marks it reads itself)."""
    first = True
    for chunk in chunks:
        if first:
            first = False
            if chunk[:4] in _UTF32_BOMS:
                chunk = chunk[4:]
        yield chunk


def _parse_chunks(
    chunks: Iterable[bytes], limits: ParseLimits, name: str | None
) -> etree._ElementTree:
    chunks = _without_utf32_bom(chunks)
    base_url = _base_url(name)
    parser = etree.XMLPullParser(events=("start", "end"), base_url=base_url, **_PARSER_OPTIONS)
    gate = _Gate(limits, name)
    tail = Tail()
    lines = 1
    depth = elements = 0
    root: etree._Element | None = None

    def drain() -> None:
        nonlocal depth, root, elements
        for event, element in parser.read_events():
            if event == "start" and isinstance(element, etree._Element):
                depth += 1
                elements += 1
                if root is None:
                    root = element
                    _refuse_docinfo_doctype(element, name)
                if depth > limits.max_depth:
                    raise _depth_error(element, limits, name)
                if elements > limits.max_elements:
                    raise _count_error(element, limits, name)
            elif event == "end":
                depth -= 1

    for chunk in chunks:
        gate.check(chunk)
        tail.add(chunk)
        lines += chunk.count(b"\n")
        try:
            parser.feed(chunk)
        except etree.XMLSyntaxError as exc:
            drain()  # nesting over the limit, read before libxml2's own limit (256) stopped
            raise _syntax_error(parser, exc, name) from None
        # With resolve_entities=False lxml stops quietly on an undefined entity: look at the log.
        _raise_logged_error(parser, name)
        drain()
    closed = root is not None and depth == 0  # the root's end tag was parsed, not made up

    if gate.total == 0:
        raise XmlSyntaxError([_not_well_formed("document is empty", 1)], source=name)
    try:
        parser.close()
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(parser, exc, name, lines) from None
    _raise_logged_error(parser, name)
    drain()
    if root is None:  # pragma: no cover - libxml2 refuses a document without a root element
        raise XmlSyntaxError([_not_well_formed("document has no root element", 1)], source=name)
    # libxml2 2.14 may close a cut document's open elements at close() without a word.
    tag = root.tag if isinstance(root.tag, str) else "root element"
    if not closed:
        raise not_closed(tag, lines, name)
    check_ending(tail, tag, lines, name)
    return root.getroottree()


def _refuse_docinfo_doctype(root: etree._Element, name: str | None) -> None:
    """Second line of defence: the tree's own record of a DOCTYPE, seen at the root tag."""
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _doctype_error(str(docinfo.root_name or ""), None, name)


def _raise_logged_error(parser: etree.XMLPullParser, name: str | None) -> None:
    log: Any = parser.feed_error_log
    errors = list(log.filter_from_errors())
    if errors:
        first = errors[0]
        raise XmlSyntaxError([_libxml2_error(first.message, first.line, first.column)], name)


def _syntax_error(
    parser: etree.XMLPullParser,
    exc: etree.XMLSyntaxError,
    name: str | None,
    last_line: int | None = None,
) -> XmlSyntaxError:
    """libxml2's error; ``last_line`` (the document's last) when libxml2 names no line."""
    # The exception's own error_log may hold stale entries from earlier parses in this thread;
    # the feed parser's log holds exactly this run's.
    log: Any = parser.feed_error_log
    errors = list(log.filter_from_errors())
    if errors:
        first = errors[0]
        line = first.line if first.line > 0 else last_line
        return XmlSyntaxError([_libxml2_error(first.message, line, first.column)], name)
    line, column = exc.position
    message = str(exc.msg).rsplit(", line ", 1)[0]
    line = line if isinstance(line, int) and line > 0 else last_line
    return XmlSyntaxError([_libxml2_error(message, line, column)], name)


def _libxml2_error(message: object, line: object, column: object) -> MessageError:
    text = str(message).strip() or "unknown parser error"
    at_line = line if isinstance(line, int) and line > 0 else None
    # libxml2 sometimes names the line itself ("... line 43"); do not say it twice.
    where = f" at line {at_line}" if at_line is not None and f"line {at_line}" not in text else ""
    if where and isinstance(column, int) and column > 0:
        where += f", column {column}"
    return _not_well_formed(f"document is not well-formed XML: {text}{where}", at_line)


def _not_well_formed(message: str, line: int | None) -> MessageError:
    return MessageError(
        code="XmlNotWellFormed",
        message=message,
        line=line,
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def _security(code: str, message: str, line: int | None, name: str | None) -> XmlSecurityError:
    error = MessageError(
        code=code, message=message, line=line, status=MessageStatus.XML_NOT_WELL_FORMED
    )
    return XmlSecurityError([error], source=name)


def _doctype_error(doctype: str, line: int | None, name: str | None) -> XmlSecurityError:
    what = f"<!DOCTYPE {doctype[:64]}>" if doctype else "<!DOCTYPE>"
    where = f"at line {line}" if line is not None else "before its root element"
    return _security(
        "DoctypeForbidden",
        f"document has a DOCTYPE declaration ({what}) {where}; DOCTYPEs, DTDs and entity "
        "declarations are forbidden",
        line,
        name,
    )


def _depth_error(
    element: etree._Element, limits: ParseLimits, name: str | None
) -> XmlSecurityError:
    line = _line_of(element)
    where = f" at line {line}" if line is not None else ""
    return _security(
        "DepthLimitExceeded",
        f"document nests deeper than {limits.max_depth} elements{where}",
        line,
        name,
    )


def _count_error(
    element: etree._Element, limits: ParseLimits, name: str | None
) -> XmlSecurityError:
    line = _line_of(element)
    where = f" (at line {line})" if line is not None else ""
    return _security(
        "ElementLimitExceeded",
        f"document holds more than {limits.max_elements} elements{where}",
        line,
        name,
    )


def _line_of(element: etree._Element) -> int | None:
    sourceline: object = element.sourceline  # lxml-stubs leave it untyped
    return sourceline if isinstance(sourceline, int) else None


def _size_error(what: str, limits: ParseLimits, name: str | None) -> XmlSecurityError:
    return _security(
        "SizeLimitExceeded",
        f"document is too large: {what}, the limit is {limits.max_bytes} bytes",
        None,
        name,
    )
