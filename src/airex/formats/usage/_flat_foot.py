"""Ending a flat-file report's reading: each file's FOOT and line count, the report's record count.

A file must end with a FOOT (FootMissing, also for a gzip stream cut short) whose
NumberOfLinesInFile counts its lines (LineCountMismatch); the last file's FOOT adds
NumberOfRecordsInReport, checked against the records of every file (RecordCountMismatch).
"""

from __future__ import annotations

import os

from airex.formats.usage._flat_form import (
    _COUNT,
    FOOT_COLUMNS,
    RangeScan,
    _Part,
    _rule_error,
    _schema_error,
)
from airex.formats.usage._records import UsageReader

__all__: list[str] = []


class _FootChecks(UsageReader):
    """The FOOT part of :class:`~airex.formats.usage.FlatUsageReader`: the end checks of each
    file and of the report, for a whole reading and for one done in byte ranges alike."""

    _parts: list[_Part]
    _complete_report: bool
    _bytes_done: int

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
