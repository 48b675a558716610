"""What every usage-report reader yields, whatever the form: a header, then records.

Both forms of UsageReportMessage — XML and the tab-separated flat file — read into the same
objects, so that everything downstream (statistics, pricing, conversion) is form-blind:

* :class:`ReportHeader` — who reports what, for which licence and period, available before
  the first record;
* :class:`UsageRow` — one usage record, with where it came from (file and line);
* :class:`UsageReader` — the iteration protocol and the error policy shared by the readers.

Error policy: a reader records every problem it finds in ``errors`` (stable codes, file,
line). With ``strict=True`` (the default) it raises :class:`~airex.errors.MessageInvalidError`
at the first one, so a caller never consumes records of a report without being told it is
invalid; with ``strict=False`` it goes on where it can (a broken record is reported and
skipped, never yielded) and the caller reads ``errors`` and ``valid`` at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import NamedTuple

from airex.errors import MessageError, MessageInvalidError, MessageStatus, ReportWriteError
from airex.messages.common import MessageHeader, Period
from airex.messages.identifiers import WORK_ID_ERROR_CODES, check_work_id
from airex.messages.usage import Model, ReportedRevenue

__all__ = [
    "ReportHeader",
    "UsageReader",
    "UsageRow",
    "UsageWriter",
    "WorkRef",
    "work_id_error",
]


class WorkRef(NamedTuple):
    """One identifier of a work: its Type, value and (for Proprietary ids) Namespace."""

    type: str
    value: str
    namespace: str | None = None

    def __str__(self) -> str:
        """The flat-file form: ``ISRC::GBLFR2500101``, ``Proprietary::<Namespace>::<value>``."""
        if self.namespace is not None:
            return f"{self.type}::{self.namespace}::{self.value}"
        return f"{self.type}::{self.value}"

    @classmethod
    def from_flat(cls, text: str) -> WorkRef:
        """Parse the flat-file form (see ``__str__``); raises ValueError when malformed."""
        type_, sep, rest = text.partition("::")
        if not sep or not type_ or not rest:
            raise ValueError(f"{text!r} is not Type::Value")
        if type_ == "Proprietary":
            namespace, sep, value = rest.partition("::")
            if not sep or not namespace or not value:
                raise ValueError(f"{text!r} is not Proprietary::Namespace::Value")
            return cls(type_, value, namespace)
        return cls(type_, rest)


class UsageRow(NamedTuple):
    """One usage record: the work (one or more ids), use type, quantity and unit, and origin."""

    work_ids: tuple[WorkRef, ...]
    use_type: str
    quantity: Decimal
    unit: str
    attribution_share: Decimal | None
    model_id: str | None
    line: int
    """1-based line of the record in its file."""
    file: str
    """The file the record was read from."""

    @property
    def work(self) -> WorkRef:
        """The identifier the work is known by in aggregates: its first WorkId."""
        return self.work_ids[0]


@dataclass
class ReportHeader:
    """Everything about a usage report but its records (XML: header, report fields, summary).

    A flat file carries less than the XML form: ``models``, ``reported_revenues`` and
    ``correction_of_report_id`` are empty there, and parties are known by id only.
    """

    message_header: MessageHeader
    report_id: str
    licence_id: str
    reporting_period: Period
    number_of_records: int | None
    """Declared record count (XML: UsageSummary; flat: known at the last file's FOOT)."""
    correction_of_report_id: str | None = None
    models: list[Model] = field(default_factory=list)
    reported_revenues: list[ReportedRevenue] = field(default_factory=list)
    language_and_script_code: str = "en"


class UsageReader:
    """Base of the readers: iterate records; ``header``, ``errors``, progress counters.

    Subclasses implement :meth:`_rows`; they report problems through :meth:`_fail`, which
    applies the strict/lenient policy described in the module docstring.
    """

    def __init__(self, *, strict: bool = True) -> None:
        self.strict = strict
        self.errors: list[MessageError] = []
        self.records = 0
        """Records yielded so far."""
        self.bytes_read = 0
        """Bytes of input consumed so far (for progress bars)."""
        self.total_bytes = 0
        """Size of the input, when known (0 otherwise)."""
        self._header: ReportHeader | None = None
        self._message_header: MessageHeader | None = None

    @property
    def message_header(self) -> MessageHeader | None:
        """The report's MessageHeader when it was read whole, even when what follows it was
        not (a report cut after it): who sent which message, enough to acknowledge a
        refusal; None when not even that was read. Reads nothing itself: ask after
        :attr:`header` or the records."""
        if self._header is not None:
            return self._header.message_header
        return self._message_header

    @property
    def header(self) -> ReportHeader:
        """The report's header; reading it consumes the input up to the first record."""
        if self._header is None:
            self._read_header()
        if self._header is None:  # the header itself was unreadable: errors say why
            raise MessageInvalidError(self.errors or [_no_header()])
        return self._header

    @property
    def valid(self) -> bool:
        """True while no problem has been found."""
        return not self.errors

    def __iter__(self) -> Iterator[UsageRow]:
        for row in self._rows():
            self.records += 1
            yield row

    def _read_header(self) -> None:  # pragma: no cover - every reader overrides it
        raise NotImplementedError

    def _rows(self) -> Iterator[UsageRow]:  # pragma: no cover - every reader overrides it
        raise NotImplementedError

    def _fail(self, error: MessageError) -> None:
        """Record ``error``; in strict mode raise at once with every error found so far."""
        self.errors.append(error)
        if self.strict:
            raise MessageInvalidError(self.errors, source=error.file)


class UsageWriter:
    """Base of the streaming writers: ``write`` rows, then ``close``; constant memory.

    Both forms put the record count before the records (the XML UsageSummary, the flat
    file's HEAD/NumberOfFiles), so it is given up front and checked at ``close``. Output is
    written under temporary names and renamed into place only by a successful ``close``: a
    crash or an error never leaves a half report that looks whole. Used as a context
    manager, an exception discards the partial output.
    """

    def __init__(
        self, path: str | os.PathLike[str], header: ReportHeader, *, number_of_records: int
    ) -> None:
        if number_of_records < 1:
            raise ReportWriteError(f"a usage report has at least 1 record, not {number_of_records}")
        self.path = os.fspath(path)
        self.header = header
        self.number_of_records = number_of_records
        self.written = 0
        self.paths: list[str] = []
        """The files written, once ``close`` has succeeded."""

    def write(self, row: UsageRow) -> None:
        """Append one record."""
        if self.written >= self.number_of_records:
            raise ReportWriteError(
                f"{self.path}: more than the {self.number_of_records} records announced"
            )
        self._write(row)
        self.written += 1

    def write_all(self, rows: Iterable[UsageRow]) -> None:
        """Append every record of ``rows``."""
        for row in rows:
            self.write(row)

    def close(self) -> None:
        """Finish the files and move them into place; the count must match the announced one."""
        if self.written != self.number_of_records:
            self.abort()
            raise ReportWriteError(
                f"{self.path}: {self.written} records written, {self.number_of_records} announced"
            )
        self._finish()

    def abort(self) -> None:
        """Discard everything written so far."""
        self._discard()

    def __enter__(self) -> UsageWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _write(self, row: UsageRow) -> None:  # pragma: no cover - every writer overrides it
        raise NotImplementedError

    def _finish(self) -> None:  # pragma: no cover - every writer overrides it
        raise NotImplementedError

    def _discard(self) -> None:  # pragma: no cover - every writer overrides it
        raise NotImplementedError


def _no_header() -> MessageError:
    return MessageError(
        "HeadMissing",
        "the report has no readable header",
        status=MessageStatus.SCHEMA_INVALID,
    )


def work_id_error(
    work_id: WorkRef, *, path: str | None, line: int, file: str
) -> MessageError | None:
    """The error of an invalid WorkId (syntax for its Type, the Namespace rule), else None."""
    if work_id.type == "Proprietary" and work_id.namespace is None:
        return _id_error(
            "NamespaceMissing", "a Proprietary WorkId needs a Namespace", path, line, file
        )
    if work_id.type != "Proprietary" and work_id.namespace is not None:
        message = f"a WorkId of Type {work_id.type} takes no Namespace"
        return _id_error("NamespaceNotAllowed", message, path, line, file)
    if work_id.type not in WORK_ID_ERROR_CODES:
        message = f"{work_id.type!r} is not a WorkId Type ({', '.join(WORK_ID_ERROR_CODES)})"
        return MessageError(
            "ValueNotAllowed", message, path, line, MessageStatus.SCHEMA_INVALID, file=file
        )
    reason = check_work_id(work_id.type, work_id.value)
    if reason is None:
        return None
    message = f"{work_id.type} {work_id.value!r}: {reason}"
    return _id_error(WORK_ID_ERROR_CODES[work_id.type], message, path, line, file)


def _id_error(code: str, message: str, path: str | None, line: int, file: str) -> MessageError:
    return MessageError(code, message, path, line, MessageStatus.BUSINESS_RULE_VIOLATION, file=file)
