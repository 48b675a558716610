"""Reading a flat-file report's HEADs: which files make the report, in which order, and its header.

Every file's HEAD is read and checked before any record (HeadMissing, UnsupportedMessageVersion,
InvalidIdentifier, InvalidPartyId, InvalidValue, DateTimeWithoutZone, ValueOutOfRange,
PeriodEndBeforeStart); a split report's other files are found by name, and all of them must be
there once and agree (ReportPartMissing, ReportPartsDisagree).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from datetime import date, datetime
from typing import Final

from airex.formats.usage._flat_form import (
    _COUNT,
    _IDENTIFIER,
    HEAD_COLUMNS,
    MESSAGE_VERSION,
    _Head,
    _name_parts,
    _Part,
    _rule_error,
    _schema_error,
    flat_file_names,
)
from airex.formats.usage._records import ReportHeader, UsageReader
from airex.formats.usage._xml import open_binary
from airex.messages.common import MessageHeader, Party, Period, _xs_date_time
from airex.messages.identifiers import check_party_id

__all__: list[str] = []

_HEAD_CELLS: Final = 1 + len(HEAD_COLUMNS)
_PEEK_LINE: Final = 1 << 16
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME: Final = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


class _HeadReader(UsageReader):
    """The HEAD part of :class:`~airex.formats.usage.FlatUsageReader`: which files, in which
    order (``_prepare``), each file's HEAD checked (``_peek``), the report's header."""

    paths: list[str]
    files: list[str]
    _prepared: bool
    _parts: list[_Part]
    _complete_report: bool

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
