"""The flat-file form of UsageReportMessage: the streaming writer.

HEAD, three heading lines, UR01 records and a FOOT per file, split into ``_<n>of<N>`` files on
request, gzip for a name ending in ``.gz``; the form is described in
:mod:`airex.formats.usage._flat_form`.
"""

from __future__ import annotations

import contextlib
import gzip
import os
from typing import BinaryIO, Final

from airex.errors import ReportWriteError
from airex.formats.usage._flat_form import (
    _IDS_CAP,
    _MODEL_CAP,
    FOOT_COLUMNS,
    HEAD_COLUMNS,
    MESSAGE_VERSION,
    UR01_COLUMNS,
    _remember,
    flat_file_names,
)
from airex.formats.usage._records import ReportHeader, UsageRow, UsageWriter, WorkRef
from airex.messages.codes import MessageControlType

__all__ = ["FlatUsageWriter"]

_HEADINGS: Final = (
    "\t".join(("#HEAD", *HEAD_COLUMNS)),
    "\t".join(("#UR01", *UR01_COLUMNS)),
    "\t".join(("#FOOT", *FOOT_COLUMNS)),
)
_GZIP_LEVEL: Final = 6
_FLUSH_LINES: Final = 4096
_FRAMING: Final = ("\t", "\n", "\r")


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
