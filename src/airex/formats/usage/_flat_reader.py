"""The flat-file form of UsageReportMessage: the streaming reader.

The form, and the decisions that complete what the spec leaves open, are described in
:mod:`airex.formats.usage._flat_form`. The reader is assembled from three parts: the HEADs
(:mod:`~airex.formats.usage._flat_head`), the records that miss the caches
(:mod:`~airex.formats.usage._flat_record`) and the end checks
(:mod:`~airex.formats.usage._flat_foot`); this module holds the loop that reads every line, for
a whole report or for one byte range of it (:meth:`FlatUsageReader.range_rows`, used to price
one file in several processes).

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

import gzip
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Final

from airex.formats.usage._flat_foot import _FootChecks
from airex.formats.usage._flat_form import RangeScan, _Part, _schema_error
from airex.formats.usage._flat_head import _HeadReader
from airex.formats.usage._flat_record import _UNITS, _USE_TYPES, _RecordChecks
from airex.formats.usage._records import UsageRow, WorkRef
from airex.formats.usage._xml import open_binary

__all__ = ["FlatUsageReader"]

_CHUNK: Final = 1 << 18
_MAX_LINE: Final = 1 << 20  # a longer line is refused: memory stays bounded on hostile input
_FAST_QUANTITY: Final = re.compile(r"[0-9]{1,30}\.[0-9]{1,6}")
_FAST_SHARE: Final = re.compile(r"0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?")
_UNDECODABLE: Final = "\x00<not UTF-8>\x00"  # stands for an undecodable line (by identity)


class FlatUsageReader(_HeadReader, _RecordChecks, _FootChecks):
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

    def _rows(self) -> Iterator[UsageRow]:
        self._prepare()
        try:
            for part in self._parts:
                yield from self._file_rows(part)
        finally:  # the records are read once: the caches of valid cells can go
            self._ids = {}
            self._models = {}
        self._end_of_report()

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
