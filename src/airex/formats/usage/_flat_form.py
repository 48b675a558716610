"""The flat-file form of UsageReportMessage: its columns, file names, what reader and writer share.

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

The reader is :mod:`airex.formats.usage._flat_reader` (HEADs in ``_flat_head``, records in
``_flat_record``, FOOTs and counts in ``_flat_foot``), the writer
:mod:`airex.formats.usage._flat_writer`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, TypeVar

from airex.errors import MessageError, MessageStatus

__all__ = [
    "FOOT_COLUMNS",
    "HEAD_COLUMNS",
    "MESSAGE_VERSION",
    "UR01_COLUMNS",
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

# Bounded caches of cells already found valid (forgotten when full: memory stays bounded).
# WorkIds: a report names each work in many records, in no order, so the cache only pays when
# it holds every work of the report: up to a million cells (about 250 bytes each, some 250 MB
# at most) spare parsing and validating each record's identifiers again, and hand every
# record of a work the same WorkRef objects (measured: reading 1 M records over 100 000 works
# a quarter faster; pricing gains too, the WorkRefs' strings keep their hashes).
_IDS_CAP: Final = 1 << 20
_MODEL_CAP: Final = 1 << 10
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_COUNT: Final = re.compile(r"[0-9]{1,19}")
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


def _remember(cache: dict[_K, _V], key: _K, value: _V, cap: int) -> None:
    """``cache[key] = value``, forgetting everything first when the cache is full."""
    if len(cache) >= cap:
        cache.clear()
    cache[key] = value
