"""Streaming reader of UsageReportMessage in its XML form, at the speed of libxml2.

The document goes through :func:`airex.xml.stream_element_batches` (the hardened parser,
validating against the standard's XSD while it parses) in 64 KiB chunks; the reader sees only
two kinds of element: ``UsageSummary`` (the header is complete by then: the schema puts
MessageHeader, the report's fields and the summary before the records) and each
``UsageRecord``, which it turns into a :class:`UsageRow` and then frees, with every earlier
sibling, so memory stays flat whatever the size of the report.

Checked as it goes: the XSD (fatal: libxml2 cannot go on past a schema error), identifier
syntax and the Namespace rule of every WorkId, the reporting period's order, and at the end
that NumberOfRecords equals the records read.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import BinaryIO

from lxml import etree

from airex.errors import MessageError, MessageStatus, XmlRejectedError, XmlSyntaxError
from airex.formats.usage._records import (
    ReportHeader,
    UsageReader,
    UsageRow,
    WorkRef,
    work_id_error,
)
from airex.messages import schema_error, xml_schema
from airex.messages.codes import Unit, UseType, WorkIdType
from airex.messages.common import NAMESPACE, MessageHeader, Period
from airex.messages.usage import Model, UsageSummary
from airex.xml import (
    STREAM_CHUNK_SIZE,
    ParseLimits,
    SchemaStreamError,
    UnexpectedRootError,
    locate_schema_error,
    stream_element_batches,
)

__all__ = ["STREAMING_LIMITS", "XmlUsageReader", "open_binary"]

STREAMING_LIMITS = ParseLimits(max_bytes=2**62)
"""Usage reports may be any size: the streaming reader bounds memory, not input."""

_NS = "{" + NAMESPACE + "}"
_ROOT = _NS + "UsageReportMessage"
_SUMMARY = _NS + "UsageSummary"
_MESSAGE_HEADER = _NS + "MessageHeader"
_PIECE = 512  # bytes fed at a time when looking for the MessageHeader of a damaged report
_RECORD = _NS + "UsageRecord"
_WORK_ID = _NS + "WorkId"
_USE_TYPE = _NS + "UseType"
_QUANTITY = _NS + "Quantity"
_SHARE = _NS + "AttributionShare"
_MODEL_ID = _NS + "ModelId"
_RECORD_PATH = "/UsageReportMessage/UsageReport/UsageRecordList/UsageRecord"
# One shared str per allowed value (WorkId Types, use types, units): the strings a record's
# fields hold are these, not fresh copies per record (aggregates keep keys alive: this halves
# their memory). The XSD has already checked the values; unknown text maps to itself.
_CANONICAL = {v: v for v in (*WorkIdType, *UseType, *Unit)}
_KNOWN_VALID_CAP = 32_768  # WorkIds remembered as valid; forgotten past this: memory stays flat


def open_binary(path: str) -> BinaryIO:
    """Open ``path`` for reading, decompressing it when its name ends in ``.gz``."""
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a binary stream
    return open(path, "rb")


class XmlUsageReader(UsageReader):
    """Read a UsageReportMessage (``.xml`` or ``.xml.gz``) record by record.

    >>> reader = XmlUsageReader("report.xml")          # doctest: +SKIP
    >>> reader.header.licence_id                       # doctest: +SKIP
    >>> for row in reader: ...                         # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        strict: bool = True,
        limits: ParseLimits | None = None,
    ) -> None:
        super().__init__(strict=strict)
        self.path = os.fspath(path)
        self.total_bytes = os.stat(self.path).st_size
        self._limits = limits or STREAMING_LIMITS
        self._stream: BinaryIO | None = None
        self._batches = stream_element_batches(
            self._chunks(),
            [_SUMMARY, _RECORD],
            root=_ROOT,
            schema=xml_schema(),
            limits=self._limits,
            name=self.path,
        )
        self._pending: list[etree._Element] = []  # elements of a batch not yet consumed
        self._done = False
        self._known_valid: dict[str, str] = {}  # WorkId value -> its Type, once found valid

    def _chunks(self) -> Iterator[bytes]:
        lines = 1
        try:
            with open_binary(self.path) as stream:
                raw = getattr(stream, "fileobj", stream)  # progress in bytes of the file itself
                while chunk := stream.read(STREAM_CHUNK_SIZE):
                    self.bytes_read = raw.tell()
                    lines += chunk.count(b"\n")
                    yield chunk
        except EOFError:
            reason = "the compressed stream is cut short (truncated gzip file)"
            raise _damaged(self.path, lines, reason) from None
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise _damaged(self.path, lines, f"the file cannot be decompressed ({exc})") from None
        except OSError as exc:
            raise XmlSyntaxError([_unreadable(self.path, exc)], source=self.path) from None
        self.bytes_read = self.total_bytes

    def _next_element(self) -> etree._Element | None:
        """The next summary or record element; None at the end or after a fatal error."""
        if self._done:
            return None
        try:
            if not self._pending:
                self._pending = next(self._batches)
            element = self._pending[0]
            del self._pending[0]
            return element
        except StopIteration:
            self._done = True
        except (XmlRejectedError, SchemaStreamError, UnexpectedRootError) as exc:
            self._stopped(exc)
        return None

    def _stopped(self, exc: XmlRejectedError | SchemaStreamError | UnexpectedRootError) -> None:
        """The stream broke off on ``exc``: record why (raising, when strict)."""
        self._done = True
        if self._header is None:
            self._message_header = self._whole_message_header()
        if isinstance(exc, SchemaStreamError):
            self._fail(self._located(exc))
        elif isinstance(exc, UnexpectedRootError):
            self._fail(_wrong_root(exc.tag, self.path))
        else:
            for error in exc.errors:
                self._fail(_in_file(error, self.path))

    def _located(self, exc: SchemaStreamError) -> MessageError:
        """The schema error with its line and path, found by a second read up to it."""
        line, ended = locate_schema_error(self._raw_chunks(), exc.offset, xml_schema(), _RECORD)
        named = _ELEMENT_NAME.match(exc.message.strip())
        element = named.group(1) if named else None
        if self._header is None:  # before the first record: somewhere in the header
            path = None
        else:
            path = f"{_RECORD_PATH}[{ended + 1}]" + (
                f"/{element}" if element and element != "UsageRecord" else ""
            )
        return replace(schema_error(exc.kind, exc.message, line, path), file=self.path)

    def _raw_chunks(self) -> Iterator[bytes]:
        # a second read, to locate an error: a damaged stream just ends it (line unknown)
        with contextlib.suppress(EOFError, OSError, zlib.error), open_binary(self.path) as stream:
            while chunk := stream.read(STREAM_CHUNK_SIZE):
                yield chunk

    def _whole_message_header(self) -> MessageHeader | None:
        """The MessageHeader of a report that broke off before its UsageSummary, when it was
        read whole and valid: a second read, in small pieces (so that the piece it ends in is
        handed out before the one that breaks), stopping at the header or the first error."""
        pieces = (
            chunk[start : start + _PIECE]
            for chunk in self._raw_chunks()
            for start in range(0, len(chunk), _PIECE)
        )
        batches = stream_element_batches(
            pieces,
            [_MESSAGE_HEADER],
            root=_ROOT,
            schema=xml_schema(),
            limits=self._limits,
            name=self.path,
        )
        try:
            for batch in batches:
                return MessageHeader.from_xml_tree(batch[0])  # type: ignore[arg-type]
        except (XmlRejectedError, SchemaStreamError, UnexpectedRootError, ValueError):
            pass  # broke off before the header ended (or a header the model refuses)
        return None

    def _read_header(self) -> None:
        summary = self._next_element()
        if summary is None:
            if not self.errors:
                self._fail(
                    MessageError(
                        "HeadMissing",
                        "the document has no UsageSummary: it is not a usage report",
                        status=MessageStatus.SCHEMA_INVALID,
                        file=self.path,
                    )
                )
            return
        root = summary.getroottree().getroot()
        report = summary.getparent()
        assert report is not None
        period = Period(
            start_date=report.findtext(f"{_NS}ReportingPeriod/{_NS}StartDate"),  # type: ignore[arg-type]
            end_date=report.findtext(f"{_NS}ReportingPeriod/{_NS}EndDate"),  # type: ignore[arg-type]
        )
        parsed = UsageSummary.from_xml_tree(summary)  # type: ignore[arg-type]
        self._header = ReportHeader(
            message_header=MessageHeader.from_xml_tree(root.find(_NS + "MessageHeader")),  # type: ignore[arg-type]
            report_id=(report.findtext(_NS + "ReportId") or "").strip(),
            licence_id=(report.findtext(_NS + "LicenceId") or "").strip(),
            reporting_period=period,
            number_of_records=parsed.number_of_records,
            correction_of_report_id=_stripped(report.findtext(_NS + "CorrectionOfReportId")),
            models=[Model.from_xml_tree(m) for m in report.iterfind(_NS + "Model")],  # type: ignore[arg-type]
            reported_revenues=parsed.reported_revenues,
            language_and_script_code=root.get("LanguageAndScriptCode", "en"),
        )
        if period.end_date < period.start_date:
            period_line = report.find(_NS + "ReportingPeriod")
            self._fail(
                MessageError(
                    "PeriodEndBeforeStart",
                    f"ReportingPeriod ends {period.end_date} before it starts {period.start_date}",
                    path="/UsageReportMessage/UsageReport/ReportingPeriod",
                    line=getattr(period_line, "sourceline", None),
                    status=MessageStatus.BUSINESS_RULE_VIOLATION,
                    file=self.path,
                )
            )

    def __iter__(self) -> Iterator[UsageRow]:
        # The hot loop of the reader, kept flat (no per-record generator layers or calls on
        # the happy path): it runs once per record of reports with millions of them.
        if self._header is None:
            self._read_header()
        header = self._header
        if header is None or self._done:
            return
        path = self.path
        known = self._known_valid
        canonical = _CANONICAL
        make = tuple.__new__  # NamedTuple(...) runs a Python __new__: 2x the cost per record
        count = 0
        try:
            for batch in self._remaining():
                for element in batch:
                    count += 1
                    ids: list[WorkRef] = []
                    use_type = quantity = unit = share = model_id = None
                    for child in element:
                        tag = child.tag
                        if tag == _WORK_ID:
                            type_ = child.get("Type", "")
                            ids.append(
                                make(  # WorkRef(...) without its Python-level __new__
                                    WorkRef,
                                    (
                                        canonical.get(type_, type_),
                                        child.text or "",
                                        child.get("Namespace"),
                                    ),
                                )
                            )
                        elif tag == _USE_TYPE:
                            use_type = child.text
                        elif tag == _QUANTITY:
                            quantity = child.text
                            unit = child.get("Unit")
                        elif tag == _SHARE:
                            share = child.text
                        elif tag == _MODEL_ID:
                            model_id = child.text
                    line: int = element.sourceline or 0  # type: ignore[assignment]
                    if not ids or use_type is None or quantity is None or unit is None:
                        # the XSD forbids it: only a record libxml2 did not validate gets here
                        self._incomplete(element, count, line)
                        continue
                    # free the record and everything before it: memory stays flat
                    element.clear()
                    parent = element.getparent()
                    if parent is not None:
                        while element.getprevious() is not None:
                            del parent[0]
                    for work_id in ids:
                        # reports repeat works far more than they add them: check each id once
                        if known.get(work_id.value) != work_id.type or (
                            (work_id.namespace is None) is (work_id.type == "Proprietary")
                        ):
                            valid = self._checked(ids, count, line)
                            break
                    else:
                        valid = True
                    if valid:
                        try:
                            amount = Decimal(quantity)
                            fraction = None if share is None else Decimal(share)
                        except ArithmeticError:  # the XSD forbids it, as above
                            self._incomplete(None, count, line)
                            continue
                        self.records += 1
                        # UseType and Unit are xs:string enumerations: a valid value has no spaces
                        yield make(
                            UsageRow,
                            (
                                tuple(ids),
                                canonical.get(use_type, use_type),
                                amount,
                                canonical.get(unit, unit),
                                fraction,
                                model_id.strip() if model_id is not None else None,
                                line,
                                path,
                            ),
                        )
        except (XmlRejectedError, SchemaStreamError, UnexpectedRootError) as exc:
            self._stopped(exc)
            return
        self._done = True
        if header.number_of_records != count:
            self._fail(
                MessageError(
                    "RecordCountMismatch",
                    f"NumberOfRecords says {header.number_of_records}, "
                    f"the report holds {count} records",
                    path="/UsageReportMessage/UsageReport/UsageSummary/NumberOfRecords",
                    status=MessageStatus.BUSINESS_RULE_VIOLATION,
                    file=path,
                )
            )

    def _incomplete(self, element: etree._Element | None, index: int, line: int) -> None:
        """Record ``index`` lacks a WorkId, UseType or Quantity (with its Unit), or holds a
        number that is not one: reported, never yielded (nor left for a caller to trip on)."""
        if element is not None:
            element.clear()
        self._fail(
            MessageError(
                "MissingElement",
                "the record lacks a WorkId, UseType or Quantity with its Unit, or holds a "
                "Quantity or AttributionShare that is not a number",
                path=f"{_RECORD_PATH}[{index}]",
                line=line or None,
                status=MessageStatus.SCHEMA_INVALID,
                file=self.path,
            )
        )

    def _remaining(self) -> Iterator[list[etree._Element]]:
        """The batches left to read: the rest of the current one, then every next one."""
        pending, self._pending = self._pending, []
        if pending:
            yield pending
        yield from self._batches

    def _checked(self, ids: list[WorkRef], index: int, line: int) -> bool:
        """Check the WorkIds of record ``index`` (not all known valid); report each bad one."""
        ok = True
        for position, work_id in enumerate(ids, start=1):
            where = f"{_RECORD_PATH}[{index}]/WorkId" + (f"[{position}]" if len(ids) > 1 else "")
            error = work_id_error(work_id, path=where, line=line, file=self.path)
            if error is None:
                if len(self._known_valid) >= _KNOWN_VALID_CAP:
                    self._known_valid.clear()
                self._known_valid[work_id.value] = work_id.type
            else:
                ok = False
                self._fail(error)
        return ok


_ELEMENT_NAME = re.compile(r"^Element '(?:\{[^}]*\})?([^']*)'")


def _wrong_root(tag: str | None, path: str) -> MessageError:
    qname = etree.QName(tag) if tag else None
    name = qname.localname if qname is not None else "?"
    if qname is not None and qname.namespace != NAMESPACE and name == "UsageReportMessage":
        got = f"namespace {qname.namespace!r}" if qname.namespace else "no namespace"
        return MessageError(
            "WrongNamespace",
            f"{name} is in {got}; airex messages are in {NAMESPACE!r}",
            path=f"/{name}",
            status=MessageStatus.SCHEMA_INVALID,
            file=path,
        )
    return MessageError(
        "UnknownMessageType",
        f"{name} is not a UsageReportMessage",
        path=f"/{name}",
        status=MessageStatus.SCHEMA_INVALID,
        file=path,
    )


def _damaged(path: str, line: int, reason: str) -> XmlSyntaxError:
    error = MessageError(
        "XmlNotWellFormed",
        f"document is not well-formed XML: {reason}, at line {line}",
        line=line,
        status=MessageStatus.XML_NOT_WELL_FORMED,
        file=path,
    )
    return XmlSyntaxError([error], source=path)


def _unreadable(path: str, exc: OSError) -> MessageError:
    reason = exc.strerror or exc.__class__.__name__
    return MessageError(
        "FileUnreadable",
        f"cannot read the file: {reason}",
        status=MessageStatus.INTERNAL_ERROR,
        file=path,
    )


def _stripped(text: str | None) -> str | None:
    return text.strip() if text is not None else None


def _in_file(error: MessageError, path: str) -> MessageError:
    return replace(error, file=error.file or path)
