"""Streaming writer of UsageReportMessage in its XML form, in constant memory.

The document is written in three parts:

* the head — XML declaration, root, MessageHeader, ReportId, LicenceId, ReportingPeriod,
  CorrectionOfReportId, Model*, UsageSummary and the opening ``<UsageRecordList>`` — is the
  serialisation by lxml of the pydantic-xml models of :mod:`airex.messages` (a skeleton
  message whose record list is a placeholder, split there), so it escapes and formats exactly
  as :func:`airex.serialise` does and the models validate it first;
* each record, one line per ``UsageRecord``, rendered as pre-escaped text: the fragments that
  repeat (a WorkId element, the UseType and Quantity start tag, a ModelId) are built, checked
  and escaped once and then looked up, so the cost per record is a few dict look-ups, the
  decimal's text and one f-string;
* the tail, which closes the elements.

Why not ``lxml.etree.xmlfile`` for the records: its ``write`` serialises every element on its
own and so re-declares the namespace on each one (``<UsageRecord xmlns="urn:airex:xml:1">``,
or an ``ns0:`` prefix), and building an Element per record is several times slower than
the text path (measured: see the module's tests and the README).

The writer refuses (:class:`~airex.errors.ReportWriteError`) a value that would make the
report invalid — a character XML cannot carry, an identifier that fails its check, a use type
or unit outside the standard, a negative quantity, more than 6 fraction digits, a share
outside 0–1 — and then discards what it has written: output is well-formed and valid for
valid input, and never left half-written.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
from decimal import Decimal
from typing import BinaryIO, cast

from lxml import etree
from pydantic import ValidationError

from airex.errors import ReportWriteError
from airex.formats.usage._records import ReportHeader, UsageRow, UsageWriter, WorkRef, work_id_error
from airex.messages.codes import Unit, UseType, WorkIdType
from airex.messages.common import NAMESPACE, WorkId
from airex.messages.usage import (
    Quantity,
    UsageRecord,
    UsageRecordList,
    UsageReport,
    UsageReportMessage,
    UsageSummary,
)

__all__ = ["XmlUsageWriter"]

_NS = "{" + NAMESPACE + "}"
_PLACEHOLDER = "airex:records"
_BUFFERED_RECORDS = 2048  # records rendered before one write: fewer, larger writes
_FRAGMENT_CACHE_CAP = 1 << 17  # remembered WorkId fragments; forgotten past this (memory bound)
_GZIP_LEVEL = 6  # gzip's own default: level 9 costs far more time for little gain
_INDENT = "      "  # UsageRecord sits at depth 3 of the pretty-printed head

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_LANGUAGE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")
_USE_TYPES = frozenset(UseType)
_UNITS = frozenset(Unit)
_ONE = Decimal(1)


def _escape_text(value: str) -> str:
    """``value`` as element content: ``&``, ``<``, ``>`` escaped, CR kept as a reference."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def _escape_attribute(value: str) -> str:
    """``value`` inside double quotes: also ``"`` and the white space a parser would normalise."""
    value = _escape_text(value)
    for char, reference in (('"', "&quot;"), ("\t", "&#9;"), ("\n", "&#10;")):
        if char in value:
            value = value.replace(char, reference)
    return value


class XmlUsageWriter(UsageWriter):
    """Write a UsageReportMessage (``.xml``, or gzip-compressed when the name ends in ``.gz``).

    >>> with XmlUsageWriter("report.xml", header, number_of_records=2) as out:  # doctest: +SKIP
    ...     out.write(row1)
    ...     out.write(row2)

    Output goes to ``<path>.part`` and is renamed to ``path`` by a successful ``close``.
    """

    def __init__(
        self, path: str | os.PathLike[str], header: ReportHeader, *, number_of_records: int
    ) -> None:
        super().__init__(path, header, number_of_records=number_of_records)
        head, tail = _head_and_tail(header, number_of_records)
        self._tail = tail
        self._part = self.path + ".part"
        self._raw: BinaryIO | None = open(self._part, "wb")  # noqa: SIM115 - closed by close/abort
        self._out: BinaryIO | None = self._raw
        if self.path.endswith(".gz"):
            name = os.path.basename(self.path[: -len(".gz")])
            self._out = gzip.GzipFile(  # type: ignore[assignment]  # a binary stream
                name, "wb", _GZIP_LEVEL, self._raw, mtime=0
            )
        self._buffer: list[str] = []
        self._work_ids: dict[WorkRef, str] = {}
        self._usages: dict[tuple[str, str], str] = {}
        self._models: dict[str | None, str] = {None: ""}
        self._write_bytes(head)

    # --- records ------------------------------------------------------------------------------

    def _write(self, row: UsageRow) -> None:
        if self._out is None:
            raise ReportWriteError(f"{self.path}: the writer is closed")
        work_ids, use_type, quantity, unit, share, model_id, _, _ = row
        known = self._work_ids
        if len(work_ids) == 1:
            works = known.get(work_ids[0]) or self._work_id(work_ids[0])
        else:
            works = "".join([known.get(w) or self._work_id(w) for w in work_ids])
        usage = self._usages.get((use_type, unit)) or self._usage(use_type, unit)
        amount = str(quantity)
        if not amount.isdigit():  # whole numbers, the usual case, need no further look
            amount = self._decimal(quantity, "Quantity", None)
        if share is None:
            attribution = ""
        else:
            attribution = (
                f"<AttributionShare>{self._decimal(share, 'AttributionShare', _ONE)}"
                "</AttributionShare>"
            )
        model = self._models.get(model_id)
        if model is None:
            model = self._model(model_id)
        buffer = self._buffer
        buffer.append(
            f"{_INDENT}<UsageRecord>{works}{usage}{amount}</Quantity>{attribution}{model}"
            "</UsageRecord>\n"
        )
        if len(buffer) >= _BUFFERED_RECORDS:
            self._flush()

    def _work_id(self, work_id: WorkRef) -> str:
        """The checked, escaped ``<WorkId>`` element of ``work_id`` (cached)."""
        where = f"record {self.written + 1}"
        error = work_id_error(work_id, path=None, line=self.written + 1, file=self.path)
        if error is not None:
            self._refuse(f"{where}: {error.message}")
        value, namespace = work_id.value, work_id.namespace
        if _NOT_XML_CHAR.search(value) or "\r" in value or "\n" in value:
            self._refuse(f"{where}: WorkId {value!r} holds a line break or a non-XML character")
        attributes = f'Type="{work_id.type}"'
        if namespace is not None:
            if _NOT_XML_CHAR.search(namespace) or not 0 < len(namespace.strip()) <= 512:
                self._refuse(f"{where}: WorkId Namespace {namespace!r} is not a token")
            attributes += f' Namespace="{_escape_attribute(namespace)}"'
        fragment = f"<WorkId {attributes}>{_escape_text(value)}</WorkId>"
        if len(self._work_ids) >= _FRAGMENT_CACHE_CAP:
            self._work_ids.clear()
        self._work_ids[work_id] = fragment
        return fragment

    def _usage(self, use_type: str, unit: str) -> str:
        """The checked ``<UseType>…</UseType><Quantity Unit="…">`` of a pair (cached)."""
        if use_type not in _USE_TYPES:
            self._refuse(f"record {self.written + 1}: {use_type!r} is not a UseType")
        if unit not in _UNITS:
            self._refuse(f"record {self.written + 1}: {unit!r} is not a Unit")
        fragment = f'<UseType>{use_type}</UseType><Quantity Unit="{unit}">'
        self._usages[(use_type, unit)] = fragment
        return fragment

    def _model(self, model_id: str | None) -> str:
        """The checked ``<ModelId>`` element of ``model_id`` (cached)."""
        if model_id is None or not _IDENTIFIER.fullmatch(model_id):
            self._refuse(f"record {self.written + 1}: ModelId {model_id!r} is not an identifier")
        fragment = f"<ModelId>{model_id}</ModelId>"
        if len(self._models) >= _FRAGMENT_CACHE_CAP:
            self._models.clear()
            self._models[None] = ""
        self._models[model_id] = fragment
        return fragment

    def _decimal(self, value: Decimal, name: str, high: Decimal | None) -> str:
        """``value`` as an xs:decimal in [0, high] with at most 6 fraction digits, or refuse."""
        text = str(value)
        dot = text.find(".")
        if dot > 0 and len(text) - dot <= 7:  # a point, at most 6 digits after it
            whole, fraction = text[:dot], text[dot + 1 :]
            if whole.isdigit() and fraction.isdigit() and (high is None or whole == "0"):
                return text  # the common case: 1234.5, a share like 0.031250
        if not isinstance(value, Decimal) or not value.is_finite():
            self._refuse(f"record {self.written + 1}: {name} {value!r} is not a number")
        if value < 0 or (high is not None and value > high):
            bounds = f"0 to {high}" if high is not None else "at least 0"
            self._refuse(f"record {self.written + 1}: {name} {value} is not {bounds}")
        text = format(value, "f")
        if text[0] == "-":  # negative zero: the same value, without the sign
            text = text[1:]
        whole, _, fraction = text.partition(".")
        fraction = fraction.rstrip("0")
        if len(fraction) > 6:
            self._refuse(
                f"record {self.written + 1}: {name} {text} has more than 6 fraction digits"
            )
        return text

    def _refuse(self, reason: str) -> None:
        """Discard the output and raise: a report with this value would not be valid."""
        self.abort()
        raise ReportWriteError(f"{self.path}: {reason}")

    # --- output -------------------------------------------------------------------------------

    def _flush(self) -> None:
        self._write_bytes("".join(self._buffer).encode("utf-8"))
        self._buffer.clear()

    def _write_bytes(self, data: bytes) -> None:
        if self._out is None:
            raise ReportWriteError(f"{self.path}: the writer is closed")
        self._out.write(data)

    def _finish(self) -> None:
        if self._out is None:
            if self.paths:
                return  # closed already
            raise ReportWriteError(f"{self.path}: the writer was aborted")
        self._flush()
        self._write_bytes(self._tail)
        out, raw = self._out, self._raw
        self._out = self._raw = None
        try:
            out.close()
            if raw is not None and raw is not out:
                raw.close()
        except BaseException:
            _remove(self._part)
            raise
        os.replace(self._part, self.path)
        self.paths = [self.path]

    def _discard(self) -> None:
        out, raw = self._out, self._raw
        self._out = self._raw = None
        self._buffer.clear()
        for stream in (out, raw):
            if stream is not None:
                with contextlib.suppress(OSError):  # the partial file goes anyway
                    stream.close()
        if out is not None or raw is not None:
            _remove(self._part)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _head_and_tail(header: ReportHeader, number_of_records: int) -> tuple[bytes, bytes]:
    """The document before and after the records, as lxml serialises the header's models."""
    if not _LANGUAGE.fullmatch(header.language_and_script_code):
        raise ReportWriteError(
            f"LanguageAndScriptCode {header.language_and_script_code!r} is not an xs:language"
        )
    period = header.reporting_period
    if period.end_date < period.start_date:
        raise ReportWriteError(
            f"ReportingPeriod ends {period.end_date} before it starts {period.start_date}"
        )
    placeholder = UsageRecord(
        work_ids=[WorkId(type=WorkIdType.PROPRIETARY, namespace="airex", value="placeholder")],
        use_type=UseType.USE_FOR_TRAINING_GENERATIVE_AI,
        quantity=Quantity(unit=Unit.WORK, value=Decimal(0)),
    )
    try:
        message = UsageReportMessage(
            language_and_script_code=header.language_and_script_code,
            message_header=header.message_header,
            usage_report=UsageReport(
                report_id=header.report_id,
                licence_id=header.licence_id,
                reporting_period=period,
                correction_of_report_id=header.correction_of_report_id,
                models=header.models,
                usage_summary=UsageSummary(
                    number_of_records=number_of_records,
                    reported_revenues=header.reported_revenues,
                ),
                usage_record_list=UsageRecordList(usage_records=[placeholder]),
            ),
        )
    except ValidationError as exc:
        raise ReportWriteError(f"the report header is not valid: {exc}") from exc
    # pydantic-xml types its trees as the stdlib's Element; they are lxml's
    root = cast(
        etree._Element,
        message.to_xml_tree(skip_empty=False, exclude_none=True, exclude_unset=False),
    )
    records = root.find(f"{_NS}UsageReport/{_NS}UsageRecordList")
    assert records is not None
    records.clear()
    records.append(etree.Comment(_PLACEHOLDER))
    etree.cleanup_namespaces(root)
    document = etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    before, found, after = document.partition(f"<!--{_PLACEHOLDER}-->".encode())
    assert found, "the placeholder is where the records go"
    return before.rstrip(b" "), after.lstrip(b"\n")
