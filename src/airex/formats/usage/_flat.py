"""The flat-file form of UsageReportMessage: a streaming reader and a streaming writer.

The spec's "Flat-file variant": UTF-8, tab-separated, one record a line, the first cell the
record type, lines starting ``#`` are headings::

    HEAD  MessageVersion MessageId ReportId LicenceId SenderPartyId RecipientPartyId
          PeriodStart PeriodEnd MessageCreatedDateTime FileNumber NumberOfFiles
    UR01  WorkIds UseType Quantity Unit AttributionShare ModelId
    FOOT  NumberOfLinesInFile [NumberOfRecordsInReport]

``WorkIds`` are the flat forms of the record's ids (``ISRC::GBLFR2500101``,
``Proprietary::<Namespace>::<Value>``, see :class:`WorkRef`) joined by ``|``; an absent
optional cell (AttributionShare, ModelId) is an empty string. A split report repeats HEAD in
every file, never splits a record, and its file with FileNumber = NumberOfFiles is the last.
A name ending in ``.gz`` means gzip.

Decisions that complete what the spec leaves open (reader and writer agree on all of them):

* ``NumberOfLinesInFile`` counts every line of its file: HEAD, headings, records and the
  FOOT itself.
* ``NumberOfRecordsInReport`` is only in the last file's FOOT (the other FOOTs have just
  NumberOfLinesInFile) and counts the UR01 lines of all files.
* The writer puts three heading lines naming the columns right after HEAD
  (``#HEAD\\tMessageVersion\\t...``, ``#UR01\\tWorkIds\\t...``, ``#FOOT\\t...``); the reader
  accepts heading lines anywhere, before HEAD and after FOOT included.
* Lines end with ``\\n``; the reader also accepts ``\\r\\n``. Only ``\\n`` ends a line (not the
  other characters :meth:`str.splitlines` knows, which may occur inside a proprietary id).
  Every line ends with a line end, except that the file's last line may lack one when it is
  the FOOT or a heading: any other unterminated last line is a cut-short file
  (FlatFileInvalid, then FootMissing), and its record is never yielded. A UTF-8 byte order
  mark before the first line is ignored.
* A split report's files are named ``<stem>_<n>of<N><suffixes>`` after the requested output
  name, where ``<suffixes>`` is the last suffix, or the last two when the last is ``.gz``:
  ``report.tsv.gz`` → ``report_1of3.tsv.gz``, ``report_2of3.tsv.gz``, ``report_3of3.tsv.gz``.
  A report of one file takes the name as given. Given one file of a split report, the reader
  finds the others by this convention, in the same directory.
* ``MessageCreatedDateTime`` is an ISO 8601 (xs:dateTime) date-time with a zone; dates are
  ``YYYY-MM-DD``. The files of a split report must agree cell for cell (the text, not the
  instant) on every HEAD cell but FileNumber.
* A line longer than 1 MiB (give or take one 256 KiB read) is refused and ends the reading
  of its file: memory stays bounded on hostile input.
* gzip output is written at compresslevel 6: on a 1 M-record report, level 1 wrote 30 %
  faster but 30 % larger (17.4 MB against 13.4 MB); reading speed is the same.
* The flat form carries less than the XML one: one recipient, parties by id only, no thread
  id, SentOnBehalfOf, MessageControlType, LanguageAndScriptCode, CorrectionOfReportId,
  models or reported revenues. The writer leaves them out and
  :meth:`FlatUsageWriter.dropped_fields` says which a given header would lose; a value that
  would break the framing (a tab, line end or ``|`` in a WorkId or ModelId, a Namespace that
  ``::`` could not separate from its value) is refused with :class:`ReportWriteError`.

Reader checks (each error with its file and line): HEAD first (HeadMissing), version
``airex/1.0`` (UnsupportedMessageVersion), every HEAD cell (InvalidIdentifier,
InvalidPartyId, InvalidValue, DateTimeWithoutZone, ValueOutOfRange, PeriodEndBeforeStart),
all files of the report present once (ReportPartMissing, ReportPartsDisagree) and agreeing
(ReportPartsDisagree), every UR01 (FlatFileInvalid, the WorkId codes, ValueNotAllowed,
InvalidValue, ValueOutOfRange, TooManyFractionDigits, InvalidIdentifier), no unknown record
type nor record after FOOT (FlatFileInvalid), a FOOT at the end (FootMissing, also for a gzip
stream cut short), its line count (LineCountMismatch) and the report's record count
(RecordCountMismatch).

Speed: input is read in 1 MiB blocks, decoded and split at once; a record costs one
``split``, a few dict look-ups (use types and units by set membership, and bounded caches of
the WorkIds, Quantity, AttributionShare and ModelId cells already found valid, so each
distinct WorkId is checked once while it stays cached) and one tuple. Only a record that
misses a cache goes through the full checks.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import BinaryIO, Final, TypeVar

from airex.errors import MessageError, MessageStatus, ReportWriteError
from airex.formats.usage._records import (
    ReportHeader,
    UsageReader,
    UsageRow,
    UsageWriter,
    WorkRef,
    work_id_error,
)
from airex.formats.usage._xml import open_binary
from airex.messages.codes import MessageControlType, Unit, UseType
from airex.messages.common import MessageHeader, Party, Period, _xs_date_time
from airex.messages.identifiers import (
    WORK_ID_MAX_LENGTH,
    check_doi,
    check_isbn,
    check_iscc,
    check_isrc,
    check_iswc,
    check_party_id,
    check_url,
)

__all__ = [
    "FOOT_COLUMNS",
    "HEAD_COLUMNS",
    "MESSAGE_VERSION",
    "UR01_COLUMNS",
    "FlatUsageReader",
    "FlatUsageWriter",
    "RangeScan",
    "flat_file_names",
]

MESSAGE_VERSION: Final = "airex/1.0"
HEAD_COLUMNS: Final = (
    "MessageVersion",
    "MessageId",
    "ReportId",
    "LicenceId",
    "SenderPartyId",
    "RecipientPartyId",
    "PeriodStart",
    "PeriodEnd",
    "MessageCreatedDateTime",
    "FileNumber",
    "NumberOfFiles",
)
UR01_COLUMNS: Final = ("WorkIds", "UseType", "Quantity", "Unit", "AttributionShare", "ModelId")
FOOT_COLUMNS: Final = ("NumberOfLinesInFile", "NumberOfRecordsInReport")

_HEADINGS: Final = (
    "\t".join(("#HEAD", *HEAD_COLUMNS)),
    "\t".join(("#UR01", *UR01_COLUMNS)),
    "\t".join(("#FOOT", *FOOT_COLUMNS)),
)
_HEAD_CELLS: Final = 1 + len(HEAD_COLUMNS)
_CHUNK: Final = 1 << 18
_MAX_LINE: Final = 1 << 20  # a longer line is refused: memory stays bounded on hostile input
_PEEK_LINE: Final = 1 << 16
_GZIP_LEVEL: Final = 6
_FLUSH_LINES: Final = 4096

# Bounded caches of cells already found valid (forgotten when full: memory stays bounded).
# WorkIds: a report names each work in many records, in no order, so the cache only pays when
# it holds every work of the report: up to a million cells (about 250 bytes each, some 250 MB
# at most) spare parsing and validating each record's identifiers again, and hand every
# record of a work the same WorkRef objects (measured: reading 1 M records over 100 000 works
# a quarter faster; pricing gains too, the WorkRefs' strings keep their hashes).
_IDS_CAP: Final = 1 << 20
_MODEL_CAP: Final = 1 << 10

_USE_TYPES: Final[dict[str, str]] = {u.value: u.value for u in UseType}
_UNITS: Final[dict[str, str]] = {u.value: u.value for u in Unit}
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME: Final = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_FAST_QUANTITY: Final = re.compile(r"[0-9]{1,30}\.[0-9]{1,6}")
_FAST_SHARE: Final = re.compile(r"0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?")
_FAST_CHECKS: Final[dict[str, tuple[str, Callable[[str], str | None]]]] = {
    name: (name, check)
    for name, check in (
        ("ISCC", check_iscc),
        ("ISRC", check_isrc),
        ("ISWC", check_iswc),
        ("ISBN", check_isbn),
        ("DOI", check_doi),
        ("URL", check_url),
    )
}
"""WorkId Types but Proprietary: canonical name and check (Proprietary takes the full path)."""
_COUNT: Final = re.compile(r"[0-9]{1,19}")
_FRAMING: Final = ("\t", "\n", "\r")
_UNDECODABLE: Final = "\x00<not UTF-8>\x00"  # stands for an undecodable line (by identity)
_K = TypeVar("_K")
_V = TypeVar("_V")


def flat_file_names(path: str | os.PathLike[str], number_of_files: int) -> list[str]:
    """The names of a report's files: ``path`` itself for one file, else ``<stem>_<n>of<N>...``."""
    text = os.fspath(path)
    if number_of_files == 1:
        return [text]
    folder, stem, suffixes = _name_parts(text)
    return [
        os.path.join(folder, f"{stem}_{n}of{number_of_files}{suffixes}")
        for n in range(1, number_of_files + 1)
    ]


def _name_parts(path: str) -> tuple[str, str, str]:
    """Directory, stem and suffixes (the last suffix, the last two when it is ``.gz``)."""
    folder, name = os.path.split(path)
    suffixes = ""
    if name.endswith(".gz") and len(name) > 3:
        suffixes, name = ".gz", name[:-3]
    dot = name.rfind(".")
    if dot > 0:
        suffixes, name = name[dot:] + suffixes, name[:dot]
    return folder, name, suffixes


def _schema_error(code: str, message: str, file: str, line: int, path: str | None) -> MessageError:
    return MessageError(code, message, path, line, MessageStatus.SCHEMA_INVALID, file=file)


def _rule_error(code: str, message: str, file: str, line: int, path: str | None) -> MessageError:
    return MessageError(code, message, path, line, MessageStatus.BUSINESS_RULE_VIOLATION, file=file)


# --- reader -------------------------------------------------------------------------------------


@dataclass
class _Head:
    """A HEAD's cells, parsed; a value is None where its cell is invalid."""

    cells: list[str]
    period_start: date | None
    period_end: date | None
    created: datetime | None
    file_number: int | None
    number_of_files: int | None
    valid: bool


@dataclass
class RangeScan:
    """Where the reading of a file (or of a byte range of it) stands: what
    :meth:`FlatUsageReader.range_rows` fills in and :meth:`FlatUsageReader.finish_ranges` joins
    (the pricing of one report by several processes, each reading one range)."""

    lineno: int = 0
    records: int = 0
    """UR01 lines, valid or not."""
    head_seen: bool = False
    foot: list[str] | None = None
    foot_line: int = 0
    after_foot: bool = False
    broken: str | None = None
    fallback: str | None = None
    """A byte range that cannot stand for its part of a whole reading (say why)."""


@dataclass
class _Part:
    """One file of the report, as its HEAD describes it."""

    path: str
    head_line: int = 0
    head: _Head | None = None
    """None: no usable HEAD (missing, mis-shaped, another version); the file is not read."""
    lines: int = 0
    foot_line: int = 0
    records: int = 0
    complete: bool = False
    """Read to a FOOT, without a cut-short stream."""
    declared_records: int | None = None

    @property
    def placed(self) -> bool:
        """Its HEAD says which file of how many it is."""
        return (
            self.head is not None
            and self.head.file_number is not None
            and self.head.number_of_files is not None
        )


class FlatUsageReader(UsageReader):
    """Read a flat-file UsageReportMessage (one or several files, plain or ``.gz``).

    >>> reader = FlatUsageReader("report_1of3.tsv.gz")   # doctest: +SKIP
    >>> reader.header.report_id                          # doctest: +SKIP
    >>> for row in reader: ...                           # doctest: +SKIP

    Given one file of a split report, the reader finds its siblings by name; given several,
    it reads them in FileNumber order. ``files`` lists the files read, in that order, once
    the header has been read.
    """

    def __init__(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        strict: bool = True,
    ) -> None:
        super().__init__(strict=strict)
        if isinstance(paths, str | os.PathLike):
            self.paths = [os.fspath(paths)]
        else:
            self.paths = [os.fspath(p) for p in paths]
        if not self.paths:
            raise ValueError("FlatUsageReader needs at least one file")
        self.total_bytes = sum(os.stat(p).st_size for p in self.paths)
        self.files: list[str] = []
        self._prepared = False
        self._iterated = False
        self._parts: list[_Part] = []
        self._complete_report = False  # every part 1..N present once
        self._bytes_done = 0
        self._ids: dict[str, tuple[WorkRef, ...]] = {}
        self._models: dict[str, str] = {}
        self.range_scan: RangeScan | None = None
        """After :meth:`range_rows`: where the reading of the range stood at its end."""

    @property
    def started(self) -> bool:
        """Whether the records are being, or were, read (they are read once)."""
        return self._iterated

    def __iter__(self) -> Iterator[UsageRow]:
        if self._iterated:  # the files are read once, as a stream: a second pass yields nothing
            return iter(())
        self._iterated = True
        return self._rows()  # counts ``records`` itself: one generator less per record

    # --- the HEADs: which files, in which order ---------------------------------------------

    def _read_header(self) -> None:
        self._prepare()

    def _prepare(self) -> None:
        if self._prepared:
            return
        self._prepared = True
        parts = [self._peek(path) for path in self.paths]
        if len(parts) == 1:
            parts += self._siblings(parts[0])
        placed = sorted((p for p in parts if p.placed), key=_file_number)
        if not placed:
            return
        reference = placed[0]
        assert reference.head is not None
        assert reference.head.number_of_files is not None
        total = reference.head.number_of_files
        by_number: dict[int, _Part] = {}
        for part in placed:
            head = part.head
            assert head is not None
            assert head.file_number is not None
            if part is not reference:
                self._compare(part, reference)
            if head.file_number > total:
                self._fail(
                    _rule_error(
                        "ReportPartsDisagree",
                        f"FileNumber {head.file_number} is beyond the report's NumberOfFiles "
                        f"{total} (HEAD of {reference.path})",
                        part.path,
                        part.head_line,
                        "HEAD/FileNumber",
                    )
                )
            elif head.file_number in by_number:
                self._fail(
                    _rule_error(
                        "ReportPartsDisagree",
                        f"FileNumber {head.file_number} twice: "
                        f"{by_number[head.file_number].path} is file {head.file_number} too",
                        part.path,
                        part.head_line,
                        "HEAD/FileNumber",
                    )
                )
            else:
                by_number[head.file_number] = part
        missing = [n for n in range(1, total + 1) if n not in by_number]
        if missing:
            names = _expected_names(placed, total)
            expected = (
                ", ".join(names[n - 1] for n in missing)
                if names is not None
                else "names unknown: no file of the report follows <stem>_<n>of<N><suffixes>"
            )
            self._fail(
                _rule_error(
                    "ReportPartMissing",
                    f"file {', '.join(map(str, missing))} of {total} missing (expected: "
                    f"{expected})",
                    reference.path,
                    reference.head_line,
                    "HEAD/NumberOfFiles",
                )
            )
        self._complete_report = not missing
        self._parts = [by_number[n] for n in sorted(by_number)]
        self.files = [p.path for p in self._parts]
        if reference.head is not None and reference.head.valid:
            self._header = _report_header(reference.head)

    def _peek(self, path: str) -> _Part:
        """The file's HEAD (its first line that is not a heading), checked."""
        part = _Part(path)
        line = 0
        text: str | None = None
        problem: str | None = None
        try:
            with open_binary(path) as stream:
                while raw := stream.readline(_PEEK_LINE):
                    line += 1
                    if not raw.endswith(b"\n") and len(raw) == _PEEK_LINE:
                        problem = f"line {line} is longer than {_PEEK_LINE} bytes"
                        break
                    try:
                        decoded = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        problem = f"line {line} is not UTF-8"
                        break
                    if line == 1 and decoded.startswith("\ufeff"):
                        decoded = decoded[1:]
                    if decoded.startswith("#"):
                        continue
                    text = _without_line_end(decoded)
                    break
        except EOFError:
            problem = "the compressed stream is cut short before any HEAD"
        except (gzip.BadGzipFile, zlib.error) as exc:
            problem = f"the file cannot be decompressed ({exc})"
        where = max(line, 1)
        if text is None:
            self._fail(
                _schema_error(
                    "HeadMissing",
                    f"the file has no HEAD line: {problem or 'no line but headings'}",
                    path,
                    where,
                    "HEAD",
                )
            )
            return part
        cells = text.split("\t")
        if cells[0] != "HEAD":
            self._fail(
                _schema_error(
                    "HeadMissing",
                    f"the file starts with a {cells[0][:20]!r} line: its first line "
                    "(headings aside) must be its HEAD",
                    path,
                    where,
                    "HEAD",
                )
            )
            return part
        part.head_line = line
        if len(cells) > 1 and cells[1] != MESSAGE_VERSION:
            self._fail(
                _schema_error(
                    "UnsupportedMessageVersion",
                    f"MessageVersion {cells[1][:40]!r} is not supported: {MESSAGE_VERSION} is",
                    path,
                    line,
                    "HEAD/MessageVersion",
                )
            )
            return part
        if len(cells) != _HEAD_CELLS:
            self._fail(
                _schema_error(
                    "FlatFileInvalid",
                    f"HEAD has {len(cells)} cells, expected {_HEAD_CELLS}",
                    path,
                    line,
                    "HEAD",
                )
            )
            return part
        part.head = self._check_head(cells, path, line)
        return part

    def _check_head(self, cells: list[str], path: str, line: int) -> _Head:
        ok = True
        for index in (2, 3, 4):
            if _IDENTIFIER.fullmatch(cells[index]) is None:
                ok = False
                self._fail(
                    _schema_error(
                        "InvalidIdentifier",
                        f"{HEAD_COLUMNS[index - 1]} {cells[index][:80]!r} is not 1-64 "
                        "characters of [A-Za-z0-9._:-]",
                        path,
                        line,
                        f"HEAD/{HEAD_COLUMNS[index - 1]}",
                    )
                )
        for index in (5, 6):
            reason = check_party_id(cells[index])
            if reason is not None:
                ok = False
                self._fail(
                    _schema_error(
                        "InvalidPartyId",
                        f"{HEAD_COLUMNS[index - 1]} {cells[index][:80]!r}: {reason}",
                        path,
                        line,
                        f"HEAD/{HEAD_COLUMNS[index - 1]}",
                    )
                )
        start = self._date(cells[7], "PeriodStart", path, line)
        end = self._date(cells[8], "PeriodEnd", path, line)
        ok = ok and start is not None and end is not None
        if start is not None and end is not None and end < start:
            ok = False
            self._fail(
                _rule_error(
                    "PeriodEndBeforeStart",
                    f"the reporting period ends {end} before it starts {start}",
                    path,
                    line,
                    "HEAD/PeriodEnd",
                )
            )
        created = self._created(cells[9], path, line)
        file_number = self._positive(cells[10], "FileNumber", path, line)
        number_of_files = self._positive(cells[11], "NumberOfFiles", path, line)
        ok = ok and None not in (created, file_number, number_of_files)
        return _Head(cells, start, end, created, file_number, number_of_files, ok)

    def _date(self, text: str, column: str, path: str, line: int) -> date | None:
        if _DATE.fullmatch(text) is not None:
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
        self._fail(
            _schema_error(
                "InvalidValue",
                f"{column} {text[:40]!r} is not a date (YYYY-MM-DD)",
                path,
                line,
                f"HEAD/{column}",
            )
        )
        return None

    def _created(self, text: str, path: str, line: int) -> datetime | None:
        where = "HEAD/MessageCreatedDateTime"
        match = _DATE_TIME.fullmatch(text)
        if match is not None and match.group(1) is None:
            self._fail(
                _schema_error(
                    "DateTimeWithoutZone",
                    f"MessageCreatedDateTime {text!r} has no time zone",
                    path,
                    line,
                    where,
                )
            )
            return None
        if match is not None:
            try:
                return datetime.fromisoformat(_xs_date_time(text))
            except ValueError:
                pass
        self._fail(
            _schema_error(
                "InvalidValue",
                f"MessageCreatedDateTime {text[:40]!r} is not an ISO 8601 date-time with a zone",
                path,
                line,
                where,
            )
        )
        return None

    def _positive(self, text: str, column: str, path: str, line: int) -> int | None:
        if _COUNT.fullmatch(text) is None:
            self._fail(
                _schema_error(
                    "InvalidValue",
                    f"{column} {text[:40]!r} is not a whole number",
                    path,
                    line,
                    f"HEAD/{column}",
                )
            )
            return None
        value = int(text)
        if value < 1:
            self._fail(
                _schema_error(
                    "ValueOutOfRange",
                    f"{column} is {value}, at least 1",
                    path,
                    line,
                    f"HEAD/{column}",
                )
            )
            return None
        return value

    def _siblings(self, part: _Part) -> list[_Part]:
        """The other files of a split report, found by name next to the one given."""
        if not part.placed:
            return []
        assert part.head is not None
        number, total = part.head.file_number, part.head.number_of_files
        assert number is not None
        assert total is not None
        if total == 1 or number > total:
            return []
        folder, stem, suffixes = _name_parts(part.path)
        own = f"_{number}of{total}"
        if not stem.endswith(own):
            return []  # unknown names: ReportPartMissing says so
        names = flat_file_names(os.path.join(folder, stem[: -len(own)] + suffixes), total)
        found = []
        for index, name in enumerate(names, start=1):
            if index != number and os.path.isfile(name):
                self.total_bytes += os.stat(name).st_size
                found.append(self._peek(name))
        return found

    def _compare(self, part: _Part, reference: _Part) -> None:
        """ReportPartsDisagree for each HEAD cell (but FileNumber) that differs."""
        assert part.head is not None
        assert reference.head is not None
        for index in (*range(1, 10), 11):
            mine, theirs = part.head.cells[index], reference.head.cells[index]
            if mine != theirs:
                column = HEAD_COLUMNS[index - 1]
                self._fail(
                    _rule_error(
                        "ReportPartsDisagree",
                        f"HEAD {column} is {mine[:80]!r} here but {theirs[:80]!r} in "
                        f"{reference.path}: the files are not one report",
                        part.path,
                        part.head_line,
                        f"HEAD/{column}",
                    )
                )

    # --- the records ------------------------------------------------------------------------

    def _rows(self) -> Iterator[UsageRow]:
        self._prepare()
        try:
            for part in self._parts:
                yield from self._file_rows(part)
        finally:  # the records are read once: the caches of valid cells can go
            self._ids = {}
            self._models = {}
        self._end_of_report()

    def _end_of_report(self) -> None:
        """The report-wide checks once every file is read (RecordCountMismatch)."""
        self._bytes_done = self.bytes_read = max(self.bytes_read, self.total_bytes)
        last = self._parts[-1] if self._parts else None
        if (
            last is None
            or not self._complete_report
            or not all(p.complete for p in self._parts)
            or last.declared_records is None
        ):
            return  # something is missing or cut short: errors already say what
        records = sum(p.records for p in self._parts)
        if records != last.declared_records:
            self._fail(
                _rule_error(
                    "RecordCountMismatch",
                    f"NumberOfRecordsInReport says {last.declared_records}, the report holds "
                    f"{records} records",
                    last.path,
                    last.foot_line,
                    "FOOT/NumberOfRecordsInReport",
                )
            )

    def _file_rows(self, part: _Part) -> Iterator[UsageRow]:
        scan = RangeScan()
        yield from self._scan(part, scan, 0, None)
        self._end_of_file(part, scan)

    # --- byte ranges: one file read by several processes ------------------------------------

    def range_rows(self, start: int, stop: int | None) -> Iterator[UsageRow]:
        """The records of bytes ``start`` to ``stop`` (``None``: the end) of a report of one
        plain (not gzip) file, for reading the file in parts in several processes.

        ``start`` and ``stop`` must be line starts (0, or just after a ``\\n``). A range that
        starts after 0 is read as the continuation of a file whose HEAD was seen and whose
        FOOT was not; its line numbers count from the range's start (line 1 is its first
        line), so the caller adds the lines before it. The file's end checks (FOOT, counts)
        are not made here: :meth:`finish_ranges` makes them on the whole once every range was
        read. :attr:`range_scan` says where the reading stood at the range's end.
        """
        self._prepare()
        if len(self._parts) != 1 or self._parts[0].path.endswith(".gz"):
            raise ValueError("byte ranges are read only from a report of one plain file")
        self._iterated = True
        scan = self.range_scan = RangeScan(head_seen=start > 0)
        return self._range_rows(self._parts[0], scan, start, stop)

    def _range_rows(
        self, part: _Part, scan: RangeScan, start: int, stop: int | None
    ) -> Iterator[UsageRow]:
        try:
            yield from self._scan(part, scan, start, stop)
        finally:
            self._ids = {}
            self._models = {}

    def finish_ranges(self, scans: Sequence[RangeScan], records: int) -> None:
        """End a reading done in byte ranges by other readers (see :meth:`range_rows`):
        ``scans`` are their :attr:`range_scan` in file order, ``records`` the records they
        yielded. Makes the file's and the report's end checks as one reading of the whole file
        would, with the same errors; this reader then counts as read."""
        self._prepare()
        part = self._parts[0]
        whole = RangeScan()
        for scan in scans:
            if scan.foot is not None:
                whole.foot = scan.foot
                whole.foot_line = whole.lineno + scan.foot_line
            whole.lineno += scan.lineno
            whole.records += scan.records
            whole.head_seen = whole.head_seen or scan.head_seen
            whole.broken = scan.broken
        self._iterated = True
        self.records = records
        self._ids = {}
        self._models = {}
        self._end_of_file(part, whole)
        self._end_of_report()

    def _scan(
        self, part: _Part, scan: RangeScan, start: int, stop: int | None
    ) -> Iterator[UsageRow]:
        """Read ``part`` from byte ``start`` to ``stop`` (``None``: its end), yielding its
        valid records; where the reading stands is kept in ``scan``."""
        path = part.path
        ranged = start > 0 or stop is not None
        ids_get = self._ids.get
        use_get = _USE_TYPES.get
        unit_get = _UNITS.get
        fast_ids = self._fast_ids
        fast_quantity = _FAST_QUANTITY.fullmatch
        fast_share = _FAST_SHARE.fullmatch
        decimal = Decimal
        model_get = self._models.get
        checked_row = self._checked_row
        new = tuple.__new__
        row_type = UsageRow
        fail = self._fail

        lineno = scan.lineno
        records = scan.records
        head_seen = scan.head_seen
        foot: list[str] | None = scan.foot
        foot_line = scan.foot_line
        after_foot = False
        broken: str | None = None
        done = self._bytes_done
        rest = b""
        first = start == 0
        position = start
        with open_binary(path) as stream:
            raw = getattr(stream, "fileobj", stream)
            if start:
                stream.seek(start)
            # read1: what a gzip stream yields before it is found cut short is not lost
            read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
            while True:
                try:
                    if stop is None:
                        chunk = read(_CHUNK)
                    elif position >= stop:  # the range's end, a line start: no line is cut
                        if rest:
                            scan.fallback = "the range does not end at a line end"
                        break
                    else:
                        chunk = read(min(_CHUNK, stop - position))
                        position += len(chunk)
                except EOFError:
                    broken = "the compressed stream is cut short (truncated gzip file)"
                    chunk = b""
                except (gzip.BadGzipFile, zlib.error) as exc:
                    broken = f"the compressed stream is cut short or damaged ({exc})"
                    chunk = b""
                self.bytes_read = done + raw.tell()
                final = not chunk
                if chunk:
                    buffer = rest + chunk if rest else chunk
                    cut = buffer.rfind(b"\n") + 1
                    if cut == 0:
                        rest = buffer
                        if ranged and len(rest) > _CHUNK:
                            # Where a line this long is refused depends on where the reads
                            # fall: the whole file is read at once instead.
                            scan.fallback = f"a line after line {lineno} is over {_CHUNK} bytes"
                            break
                        if len(rest) > _MAX_LINE:
                            lineno += 1
                            message = f"line {lineno} is longer than {_MAX_LINE} bytes"
                            fail(_schema_error("FlatFileInvalid", message, path, lineno, None))
                            broken = f"reading stopped at line {lineno}, too long to be a line"
                            break
                        continue
                    block, rest = buffer[:cut], buffer[cut:]
                elif broken is not None or not rest:
                    break
                else:  # the file's last line has no line end
                    block, rest = rest, b""
                try:
                    text = block.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
                if text is None:
                    lines = _decode_lines(block)
                else:
                    if "\r" in text:
                        text = text.replace("\r\n", "\n")
                        if final and text.endswith("\r"):
                            text = text[:-1]
                    lines = text.split("\n")
                if not final:
                    del lines[-1]  # the empty piece after the block's last line end
                if first:
                    first = False
                    if lines and lines[0].startswith("\ufeff"):
                        lines[0] = lines[0][1:]
                if final and not lines[0].startswith(("FOOT", "#")):
                    lineno += 1
                    fail(
                        _schema_error(
                            "FlatFileInvalid",
                            f"line {lineno} has no line end: the file is cut short",
                            path,
                            lineno,
                            None,
                        )
                    )
                    break
                for line in lines:
                    lineno += 1
                    cells = line.split("\t")
                    if cells[0] == "UR01" and len(cells) == 7 and foot is None:
                        records += 1
                        _, ids_cell, use_cell, quantity_cell, unit_cell, share_cell, model_cell = (
                            cells
                        )
                        ids = ids_get(ids_cell)
                        if ids is None:
                            ids = fast_ids(ids_cell)
                        use = use_get(use_cell)
                        unit = unit_get(unit_cell)
                        quantity = (
                            decimal(quantity_cell)
                            if (quantity_cell.isdigit() and quantity_cell.isascii())
                            or fast_quantity(quantity_cell) is not None
                            else None
                        )
                        share = (
                            decimal(share_cell)
                            if share_cell and fast_share(share_cell) is not None
                            else None
                        )
                        model = model_get(model_cell)
                        if (
                            ids is None
                            or use is None
                            or quantity is None
                            or unit is None
                            or (share is None and share_cell)
                            or (model is None and model_cell)
                        ):
                            row = checked_row(cells, lineno, path)
                            if row is None:
                                continue
                        else:
                            row = new(
                                row_type, (ids, use, quantity, unit, share, model, lineno, path)
                            )
                        self.records += 1
                        yield row
                    elif line[:1] == "#":
                        continue
                    elif line is _UNDECODABLE:
                        fail(
                            _schema_error(
                                "FlatFileInvalid", "the line is not UTF-8", path, lineno, None
                            )
                        )
                    elif foot is not None:
                        if not after_foot:
                            after_foot = True
                            fail(
                                _schema_error(
                                    "FlatFileInvalid",
                                    f"a {cells[0][:20]!r} line after the FOOT (line {foot_line})",
                                    path,
                                    lineno,
                                    None,
                                )
                            )
                    elif cells[0] == "UR01":
                        records += 1
                        fail(
                            _schema_error(
                                "FlatFileInvalid",
                                f"the UR01 line has {len(cells)} cells, expected 7",
                                path,
                                lineno,
                                "UR01",
                            )
                        )
                    elif cells[0] == "FOOT":
                        foot, foot_line = cells, lineno
                    elif cells[0] == "HEAD" and not head_seen:
                        head_seen = True  # checked before reading (see _peek)
                    else:
                        kind = "a second HEAD" if cells[0] == "HEAD" else f"{cells[0][:20]!r}"
                        fail(
                            _schema_error(
                                "FlatFileInvalid",
                                f"{kind} is not a record type of this file (HEAD, UR01, FOOT)",
                                path,
                                lineno,
                                None,
                            )
                        )
                if final:
                    break
        scan.lineno = lineno
        scan.records = records
        scan.head_seen = head_seen
        scan.foot = foot
        scan.foot_line = foot_line
        scan.after_foot = after_foot
        scan.broken = broken

    def _end_of_file(self, part: _Part, scan: RangeScan) -> None:
        """The file's end checks once it is read: a FOOT, its line and record counts."""
        path = part.path
        head = part.head
        assert head is not None
        is_last = head.file_number == head.number_of_files
        fail = self._fail
        lineno, records, foot, foot_line, broken = (
            scan.lineno,
            scan.records,
            scan.foot,
            scan.foot_line,
            scan.broken,
        )
        self._bytes_done += os.stat(path).st_size
        self.bytes_read = self._bytes_done
        part.lines = lineno
        part.records = records
        if broken is not None:
            fail(_schema_error("FootMissing", broken, path, max(lineno, 1), "FOOT"))
            return
        if foot is None:
            fail(
                _schema_error(
                    "FootMissing",
                    f"the file ends at line {lineno} without a FOOT line (truncated?)",
                    path,
                    max(lineno, 1),
                    "FOOT",
                )
            )
            return
        part.complete = True
        part.foot_line = foot_line
        self._check_foot(part, foot, foot_line, is_last)

    def _check_foot(self, part: _Part, foot: list[str], line: int, is_last: bool) -> None:
        path = part.path
        expected = 3 if is_last else 2
        if len(foot) != expected:
            which = "the last file's" if is_last else "a FOOT but the last file's"
            self._fail(
                _schema_error(
                    "FlatFileInvalid",
                    f"the FOOT has {len(foot)} cells, expected {expected} "
                    f"({which} FOOT: {', '.join(FOOT_COLUMNS[: expected - 1])})",
                    path,
                    line,
                    "FOOT",
                )
            )
            part.complete = False
            return
        if _COUNT.fullmatch(foot[1]) is None:
            self._fail(
                _schema_error(
                    "InvalidValue",
                    f"NumberOfLinesInFile {foot[1][:40]!r} is not a whole number",
                    path,
                    line,
                    "FOOT/NumberOfLinesInFile",
                )
            )
        elif int(foot[1]) != part.lines:
            self._fail(
                _rule_error(
                    "LineCountMismatch",
                    f"NumberOfLinesInFile says {int(foot[1])}, the file has {part.lines} lines",
                    path,
                    line,
                    "FOOT/NumberOfLinesInFile",
                )
            )
        if not is_last:
            return
        if _COUNT.fullmatch(foot[2]) is None:
            self._fail(
                _schema_error(
                    "InvalidValue",
                    f"NumberOfRecordsInReport {foot[2][:40]!r} is not a whole number",
                    path,
                    line,
                    "FOOT/NumberOfRecordsInReport",
                )
            )
            return
        part.declared_records = int(foot[2])
        if self._header is not None:
            self._header.number_of_records = part.declared_records

    def _checked_row(self, cells: list[str], line: int, path: str) -> UsageRow | None:
        """The record of a UR01 line that missed a cache: every cell checked, errors reported."""
        _, ids_cell, use_cell, quantity_cell, unit_cell, share_cell, model_cell = cells
        ok = True
        ids = self._ids.get(ids_cell)
        if ids is None:
            ids = self._work_ids(ids_cell, line, path)
            ok = ids is not None
        use = _USE_TYPES.get(use_cell)
        if use is None:
            ok = False
            self._fail(
                _schema_error(
                    "ValueNotAllowed",
                    f"UseType {use_cell[:80]!r} is not one of {', '.join(_USE_TYPES)}",
                    path,
                    line,
                    "UR01/UseType",
                )
            )
        quantity = self._decimal(quantity_cell, "Quantity", line, path, at_most_one=False)
        if quantity is None:
            ok = False
        unit = _UNITS.get(unit_cell)
        if unit is None:
            ok = False
            self._fail(
                _schema_error(
                    "ValueNotAllowed",
                    f"Unit {unit_cell[:80]!r} is not one of {', '.join(_UNITS)}",
                    path,
                    line,
                    "UR01/Unit",
                )
            )
        share: Decimal | None = None
        if share_cell:
            share = self._decimal(share_cell, "AttributionShare", line, path, at_most_one=True)
            if share is None:
                ok = False
        model: str | None = None
        if not model_cell:
            pass
        elif model_cell in self._models:
            model = model_cell
        elif _IDENTIFIER.fullmatch(model_cell) is not None:
            model = model_cell
            _remember(self._models, model_cell, model_cell, _MODEL_CAP)
        else:
            ok = False
            self._fail(
                _schema_error(
                    "InvalidIdentifier",
                    f"ModelId {model_cell[:80]!r} is not 1-64 characters of [A-Za-z0-9._:-]",
                    path,
                    line,
                    "UR01/ModelId",
                )
            )
        if not ok or ids is None or use is None or quantity is None or unit is None:
            return None
        return UsageRow(ids, use, quantity, unit, share, model, line, path)

    def _fast_ids(self, cell: str) -> tuple[WorkRef, ...] | None:
        """The ids of a WorkIds cell of valid non-Proprietary ids, else None (the full path)."""
        refs = []
        for text in cell.split("|"):
            type_, _, value = text.partition("::")
            known = _FAST_CHECKS.get(type_)
            if known is None or not value or len(value) > WORK_ID_MAX_LENGTH:
                return None
            name, check = known
            if check(value) is not None:
                return None
            refs.append(_new_work_ref(name, value))
        ids = tuple(refs)
        _remember(self._ids, cell, ids, _IDS_CAP)
        return ids

    def _work_ids(self, cell: str, line: int, path: str) -> tuple[WorkRef, ...] | None:
        if not cell:
            self._fail(
                _schema_error(
                    "FlatFileInvalid", "the record has no WorkId", path, line, "UR01/WorkIds"
                )
            )
            return None
        refs: list[WorkRef] = []
        ok = True
        for position, text in enumerate(cell.split("|"), start=1):
            try:
                ref = WorkRef.from_flat(text)
            except ValueError as exc:
                ok = False
                self._fail(
                    _schema_error(
                        "FlatFileInvalid",
                        f"WorkId {position}: {str(exc)[:200]}",
                        path,
                        line,
                        "UR01/WorkIds",
                    )
                )
                continue
            error = work_id_error(ref, path="UR01/WorkIds", line=line, file=path)
            if error is not None:
                ok = False
                self._fail(error)
            refs.append(ref)
        if not ok:
            return None
        ids = tuple(refs)
        _remember(self._ids, cell, ids, _IDS_CAP)
        return ids

    def _decimal(
        self, text: str, column: str, line: int, path: str, *, at_most_one: bool
    ) -> Decimal | None:
        where = f"UR01/{column}"
        if _DECIMAL.fullmatch(text) is None:
            shown = f"{text[:40]!r} is not a decimal number" if text else "is empty"
            self._fail(_schema_error("InvalidValue", f"{column} {shown}", path, line, where))
            return None
        value = Decimal(text)
        if value < 0:
            self._fail(
                _schema_error("ValueOutOfRange", f"{column} {text} is negative", path, line, where)
            )
            return None
        if at_most_one and value > 1:
            self._fail(
                _schema_error(
                    "ValueOutOfRange", f"{column} {text} is more than 1", path, line, where
                )
            )
            return None
        digits = len(text.partition(".")[2].rstrip("0"))
        if digits > 6:
            self._fail(
                _schema_error(
                    "TooManyFractionDigits",
                    f"{column} {text} has {digits} fraction digits, at most 6",
                    path,
                    line,
                    where,
                )
            )
            return None
        return value


def _new_work_ref(type_: str, value: str) -> WorkRef:
    return tuple.__new__(WorkRef, (type_, value, None))


def _file_number(part: _Part) -> int:
    assert part.head is not None
    assert part.head.file_number is not None
    return part.head.file_number


def _expected_names(parts: list[_Part], total: int) -> list[str] | None:
    """The report's file names, from a file whose name follows the convention."""
    for part in parts:
        assert part.head is not None
        folder, stem, suffixes = _name_parts(part.path)
        own = f"_{part.head.file_number}of{part.head.number_of_files}"
        if part.head.number_of_files == total and stem.endswith(own):
            return flat_file_names(os.path.join(folder, stem[: -len(own)] + suffixes), total)
    return None


def _report_header(head: _Head) -> ReportHeader:
    cells = head.cells
    assert head.period_start is not None
    assert head.period_end is not None
    assert head.created is not None
    message_header = MessageHeader(
        message_id=cells[2],
        message_sender=Party(party_id=cells[5]),
        message_recipients=[Party(party_id=cells[6])],
        message_created_date_time=head.created,
    )
    return ReportHeader(
        message_header=message_header,
        report_id=cells[3],
        licence_id=cells[4],
        reporting_period=Period(start_date=head.period_start, end_date=head.period_end),
        number_of_records=None,
    )


def _without_line_end(text: str) -> str:
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    return text


def _decode_lines(block: bytes) -> list[str]:
    """The lines of a block that is not all UTF-8: each bad line is ``_UNDECODABLE``."""
    lines: list[str] = []
    for raw in block.split(b"\n"):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            lines.append(_UNDECODABLE)
            continue
        lines.append(text[:-1] if text.endswith("\r") else text)
    return lines


def _remember(cache: dict[_K, _V], key: _K, value: _V, cap: int) -> None:
    """``cache[key] = value``, forgetting everything first when the cache is full."""
    if len(cache) >= cap:
        cache.clear()
    cache[key] = value


# --- writer -------------------------------------------------------------------------------------


class FlatUsageWriter(UsageWriter):
    """Write a usage report as flat file(s): HEAD, headings, UR01 records, FOOT per file.

    ``split_records`` caps the records per file (files ``<stem>_<n>of<N><suffixes>``); a
    name ending in ``.gz`` is gzip-compressed. Memory is constant; files are written as
    ``<name>.part`` and renamed into place by ``close``. A value the form cannot carry raises
    :class:`ReportWriteError` and discards what was written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: ReportHeader,
        *,
        number_of_records: int,
        split_records: int | None = None,
    ) -> None:
        super().__init__(path, header, number_of_records=number_of_records)
        if split_records is not None and split_records < 1:
            raise ReportWriteError(f"split_records is at least 1, not {split_records}")
        self.split_records = split_records
        self._per_file = split_records if split_records is not None else number_of_records
        self.number_of_files = -(-number_of_records // self._per_file)
        self._names = flat_file_names(self.path, self.number_of_files)
        self._gzip = self.path.endswith(".gz")
        self._head = _head_prefix(header, self.path)
        self._raw: BinaryIO | None = None
        self._stream: BinaryIO | None = None
        self._opened = 0
        self._in_file = 0
        self._pending: list[str] = []
        self._parts: list[str] = []
        self._closed = False
        self._ids: dict[tuple[WorkRef, ...], str] = {}
        self._safe: set[str] = set()

    @staticmethod
    def dropped_fields(header: ReportHeader) -> list[str]:
        """What of ``header`` the flat form cannot carry, in words (empty: nothing is lost)."""
        lost: list[str] = []
        message = header.message_header
        if message.message_thread_id is not None:
            lost.append(f"MessageThreadId {message.message_thread_id}")
        if message.sent_on_behalf_of is not None:
            lost.append(f"SentOnBehalfOf {message.sent_on_behalf_of.party_id}")
        extra = message.message_recipients[1:]
        if extra:
            ids = ", ".join(p.party_id for p in extra)
            lost.append(f"{len(extra)} MessageRecipient(s) beyond the first: {ids}")
        if message.message_control_type is MessageControlType.TEST_MESSAGE:
            lost.append("MessageControlType TestMessage (the flat file reads as a live message)")
        for role, party in (
            ("MessageSender", message.message_sender),
            *(("MessageRecipient", p) for p in message.message_recipients[:1]),
        ):
            if party.party_name is not None or party.party_role is not None:
                lost.append(f"{role} {party.party_id}'s PartyName/PartyRole")
        if header.correction_of_report_id is not None:
            lost.append(f"CorrectionOfReportId {header.correction_of_report_id}")
        if header.models:
            ids = ", ".join(m.model_id for m in header.models)
            lost.append(f"{len(header.models)} Model(s) (ModelId, ModelName, ModelVersion): {ids}")
        if header.reported_revenues:
            lost.append(f"{len(header.reported_revenues)} ReportedRevenue(s)")
        if header.language_and_script_code != "en":
            lost.append(f"LanguageAndScriptCode {header.language_and_script_code}")
        return lost

    def write(self, row: UsageRow) -> None:
        """Append one record; one more than announced discards the files and raises."""
        if self.written >= self.number_of_records:
            self.abort()
        super().write(row)

    def _write(self, row: UsageRow) -> None:
        if self._closed:
            raise ReportWriteError(f"{self.path}: the writer is closed")
        if self._in_file == self._per_file:
            self._end_file(last=False)
        if self._stream is None:
            self._open_next()
        ids = self._ids.get(row.work_ids)
        if ids is None:
            ids = self._work_ids(row)
        use, unit, model = row.use_type, row.unit, row.model_id
        safe = self._safe
        if use not in safe:
            self._check_cell(use, "UseType", row)
        if unit not in safe:
            self._check_cell(unit, "Unit", row)
        if model is None:
            model = ""
        elif model not in safe:
            self._check_cell(model, "ModelId", row, bar=True)
        quantity = str(row.quantity)
        if "E" in quantity:
            quantity = format(row.quantity, "f")
        share = row.attribution_share
        if share is None:
            share_text = ""
        else:
            share_text = str(share)
            if "E" in share_text:
                share_text = format(share, "f")
        self._pending.append(f"UR01\t{ids}\t{use}\t{quantity}\t{unit}\t{share_text}\t{model}\n")
        self._in_file += 1
        if len(self._pending) >= _FLUSH_LINES:
            self._flush()

    def _refuse(self, row: UsageRow, message: str) -> ReportWriteError:
        self.abort()
        where = f"{row.file or '<row>'}, line {row.line}"
        return ReportWriteError(f"{self.path}: record from {where}: {message}")

    def _check_cell(self, value: str, column: str, row: UsageRow, *, bar: bool = False) -> None:
        for character in (*_FRAMING, "|") if bar else _FRAMING:
            if character in value:
                raise self._refuse(
                    row, f"{column} {value!r} holds {character!r}, which the flat form cannot carry"
                )
        if len(self._safe) >= _MODEL_CAP:
            self._safe.clear()
        self._safe.add(value)

    def _work_ids(self, row: UsageRow) -> str:
        if not row.work_ids:
            raise self._refuse(row, "the record has no WorkId")
        texts = []
        for ref in row.work_ids:
            for name, value in (
                ("Type", ref.type),
                ("value", ref.value),
                ("Namespace", ref.namespace),
            ):
                if value is None:
                    continue
                for character in (*_FRAMING, "|"):
                    if character in value:
                        raise self._refuse(
                            row,
                            f"WorkId {name} {value!r} holds {character!r}, which the flat form "
                            "cannot carry",
                        )
            if ref.namespace is not None and ("::" in ref.namespace or ref.namespace.endswith(":")):
                raise self._refuse(
                    row,
                    f"WorkId Namespace {ref.namespace!r} holds '::' (or ends in ':'): the flat "
                    "form Proprietary::<Namespace>::<Value> could not tell it from the value",
                )
            text = str(ref)
            try:
                back: WorkRef | None = WorkRef.from_flat(text)
            except ValueError:
                back = None
            if back != ref:
                raise self._refuse(
                    row, f"WorkId {ref!r} cannot be written as Type::Value (read back: {back!r})"
                )
            texts.append(text)
        joined = "|".join(texts)
        _remember(self._ids, row.work_ids, joined, _IDS_CAP)
        return joined

    def _open_next(self) -> None:
        final = self._names[self._opened]
        self._opened += 1
        part = final + ".part"
        raw: BinaryIO = open(part, "wb")  # noqa: SIM115 - closed by _end_file / _discard
        self._parts.append(part)
        self._raw = raw
        if self._gzip:
            inner = os.path.basename(final)[:-3]
            self._stream = gzip.GzipFile(  # type: ignore[assignment]  # a binary stream
                filename=inner, mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL
            )
        else:
            self._stream = raw
        self._in_file = 0
        head = f"{self._head}\t{self._opened}\t{self.number_of_files}"
        self._pending.extend(f"{line}\n" for line in (head, *_HEADINGS))

    def _flush(self) -> None:
        assert self._stream is not None
        self._stream.write("".join(self._pending).encode("utf-8"))
        self._pending.clear()

    def _end_file(self, *, last: bool) -> None:
        lines = 1 + len(_HEADINGS) + self._in_file + 1
        foot = f"FOOT\t{lines}\t{self.number_of_records}\n" if last else f"FOOT\t{lines}\n"
        self._pending.append(foot)
        self._flush()
        self._close_streams()

    def _close_streams(self) -> None:
        stream, raw = self._stream, self._raw
        self._stream = self._raw = None
        try:
            if stream is not None and stream is not raw:
                stream.close()
        finally:
            if raw is not None:
                raw.close()

    def _finish(self) -> None:
        if self._closed:
            raise ReportWriteError(f"{self.path}: the writer is closed")
        try:
            self._end_file(last=True)
        except BaseException:
            self._discard()
            raise
        self._closed = True
        moved: list[str] = []
        try:
            for part, final in zip(self._parts, self._names, strict=True):
                os.replace(part, final)
                moved.append(final)
        except OSError as exc:
            for name in (*moved, *self._parts):
                _remove(name)
            raise ReportWriteError(
                f"{self.path}: cannot move the report into place: {exc}"
            ) from exc
        self.paths = list(self._names)

    def _discard(self) -> None:
        self._closed = True
        self._pending.clear()
        with contextlib.suppress(OSError):
            self._close_streams()
        for part in self._parts:
            _remove(part)


def _head_prefix(header: ReportHeader, path: str) -> str:
    """The HEAD line's cells but FileNumber and NumberOfFiles; refuses framing characters."""
    message = header.message_header
    cells = {
        "MessageVersion": MESSAGE_VERSION,
        "MessageId": message.message_id,
        "ReportId": header.report_id,
        "LicenceId": header.licence_id,
        "SenderPartyId": message.message_sender.party_id,
        "RecipientPartyId": message.message_recipients[0].party_id,
        "PeriodStart": header.reporting_period.start_date.isoformat(),
        "PeriodEnd": header.reporting_period.end_date.isoformat(),
        "MessageCreatedDateTime": message.message_created_date_time.isoformat(),
    }
    for column, value in cells.items():
        if any(character in value for character in _FRAMING):
            raise ReportWriteError(
                f"{path}: HEAD {column} {value!r} holds a tab or line end, "
                "which the flat form cannot carry"
            )
    return "\t".join(("HEAD", *cells.values()))


def _remove(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(name)
