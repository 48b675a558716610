"""Flat-file usage reports through the exchange: telling one from its first bytes, the named
view the readers need, the set of a split report's parts, the stream validation.

The store keeps bytes under their hash, without a name; the flat-file readers
(:class:`airex.formats.usage.FlatUsageReader`) know gzip by a name ending in ``.gz`` and cite
errors by file name. So a flat report is read through a *view*: a folder
``<store>/views/<hash>/`` of symbolic links to the stored files, each named as it was handed
in (``.tsv`` or ``.tsv.gz`` added when the name says neither). The view of one file is named
by that file's hash; the view of a split report by the hash of its *part set*: a small text
the exchange itself writes once every part has arrived (``AIREX-PART-SET 1`` then one
``<sha256>\\t<name>`` line a part, in FileNumber order) and stores as the message it
processes (``source`` ``parts``: a file handed in that looks like one is never read as one).
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from airex.errors import MessageError, MessageStatus
from airex.exchange.store import MessageStore
from airex.exchange.verdict import (
    MAX_STREAM_ERRORS,
    Header,
    Inspection,
    complete_header,
    identifier_or_none,
    party_id_or_none,
    read_through,
)
from airex.messages.codes import MessageControlType
from airex.messages.common import MessageHeader

__all__: list[str] = []

PARTS_SOURCE: Final = "parts"
_SET_MAGIC: Final = b"AIREX-PART-SET 1\n"
_PEEK: Final = 1 << 16
_GZIP: Final = b"\x1f\x8b"
_COUNT: Final = re.compile(r"[1-9][0-9]{0,5}")
_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._\-]")


@dataclass(frozen=True, slots=True)
class FlatHead:
    """What the first HEAD of a flat file says (only values that fit their patterns)."""

    gzip: bool
    message_id: str | None
    sender: str | None
    recipient: str | None
    file_number: int | None
    number_of_files: int | None
    line: int

    @property
    def part(self) -> bool:
        """True for one file of a report split over several (a part that waits for its set)."""
        return (
            self.message_id is not None
            and self.file_number is not None
            and self.number_of_files is not None
            and self.number_of_files > 1
            and self.file_number <= self.number_of_files
        )


def flat_head(start: bytes) -> FlatHead | None:
    """The HEAD of the flat file whose first bytes are ``start`` (plain or gzip), ``None``
    when they are not those of a flat-file usage report."""
    compressed = start.startswith(_GZIP)
    if compressed:
        try:
            start = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(start, _PEEK)
        except zlib.error:
            return None
    text = start.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    lines = text.split("\n")
    for number, line in enumerate(lines[:-1] if len(lines) > 1 else lines, start=1):
        if line.startswith("#"):
            continue
        if not line.startswith("HEAD\t"):
            return None
        cells = line.rstrip("\r").split("\t")
        cells += [""] * (12 - len(cells))
        return FlatHead(
            gzip=compressed,
            message_id=identifier_or_none(cells[2]),
            sender=party_id_or_none(cells[5]),
            recipient=party_id_or_none(cells[6]),
            file_number=int(cells[10]) if _COUNT.fullmatch(cells[10]) else None,
            number_of_files=int(cells[11]) if _COUNT.fullmatch(cells[11]) else None,
            line=number,
        )
    return None


def flat_head_of(path: Path) -> FlatHead | None:
    """:func:`flat_head` of the file at ``path``."""
    with path.open("rb") as stream:
        return flat_head(stream.read(_PEEK))


def part_set(parts: list[tuple[str, str | None]]) -> bytes:
    """The part set of a split report: its parts' ``(sha256, name)``, in FileNumber order."""
    lines = [f"{sha}\t{_one_line(name or '')}\n" for sha, name in parts]
    return _SET_MAGIC + "".join(lines).encode("utf-8")


def _parts_of(data: bytes) -> list[tuple[str, str]]:
    if not data.startswith(_SET_MAGIC):
        raise ValueError("not a part set")
    found = []
    for line in data[len(_SET_MAGIC) :].decode("utf-8").splitlines():
        sha, _, name = line.partition("\t")
        found.append((sha, name))
    return found


def _one_line(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _view_name(name: str | None, compressed: bool, number: int) -> str:
    base = _SAFE_NAME.sub("_", Path(name).name if name else "") or f"report_{number}"
    if base.startswith("."):
        base = f"report_{number}{base}"
    lower = base.lower()
    if compressed and not lower.endswith((".tsv.gz", ".txt.gz")):
        base = f"{base.removesuffix('.gz')}.tsv.gz"
    elif not compressed and not lower.endswith((".tsv", ".txt")):
        base = f"{base}.tsv"
    return base


def flat_view(
    store: MessageStore, sha256: str, file_name: str | None, *, parts: bool
) -> list[Path] | None:
    """The files of the flat report stored under ``sha256`` (one file, or with ``parts`` the
    part set stored there), as named links in its view (made on first use); ``None`` when it
    is not a flat report."""
    stored = store.path(sha256)
    if parts:
        members = [(store.verify(sha), name) for sha, name in _parts_of(store.get(sha256))]
    else:
        members = [(stored, file_name or "")]
    folder = store.root / "views" / sha256
    paths: list[Path] = []
    taken: set[str] = set()
    for number, (target, name) in enumerate(members, start=1):
        head = flat_head_of(target)
        if head is None:
            return None
        view = _view_name(name, head.gzip, number)
        if view in taken:
            view = f"{number}_{view}"
        taken.add(view)
        link = folder / view
        if not link.is_symlink():
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{view}.{os.getpid()}.tmp"
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(target.resolve())
            os.replace(temporary, link)
        paths.append(link)
    return paths


def inspect_flat(paths: list[Path]) -> Inspection:
    """Validate the flat report ``paths`` as a stream (as ``airex usage stats`` does: every
    record read by :class:`~airex.formats.usage.FlatUsageReader`, in constant memory) and
    read its header; errors cite each file by the name it was handed in under."""
    from airex.formats.usage import FlatUsageReader

    reader, broken = read_through(
        FlatUsageReader,
        [str(p) for p in paths],
        unreadable=(OSError, EOFError, zlib.error, gzip.BadGzipFile),
    )
    if broken is not None:
        reader.errors.append(
            MessageError(
                "FlatFileInvalid",
                f"the file cannot be read: {broken}",
                status=MessageStatus.SCHEMA_INVALID,
                file=paths[0].name,
            )
        )
    errors = [_named(e) for e in reader.errors[:MAX_STREAM_ERRORS]]
    head = flat_head_of(paths[0])
    assert head is not None
    header = Header(
        message_type="UsageReportMessage",
        message_id=head.message_id,
        sender=head.sender,
        sender_line=head.line,
        recipients=((head.recipient, head.line),),
    )
    if not errors:
        header = _header_of(reader.header.message_header, head.line)
    return Inspection(errors, header, None, path=None if errors else paths[0].parent)


def flat_header(paths: list[Path]) -> Inspection | None:
    """The header of the flat report ``paths`` (its HEAD), its records not read: a deferred
    :class:`Inspection` (the pass that prices the report validates them, else
    :func:`inspect_flat`); ``None`` when the HEAD cannot be read whole."""
    from airex.errors import MessageInvalidError
    from airex.formats.usage import FlatUsageReader

    head = flat_head_of(paths[0])
    if head is None:
        return None
    try:
        message = FlatUsageReader([str(p) for p in paths]).header.message_header
    except (MessageInvalidError, OSError, EOFError, zlib.error, gzip.BadGzipFile):
        return None
    header = _header_of(message, head.line)
    if not complete_header(header):
        return None
    return Inspection([], header, None, path=paths[0].parent, deferred=True)


def _header_of(message: MessageHeader, line: int) -> Header:
    behalf = message.sent_on_behalf_of
    return Header(
        message_type="UsageReportMessage",
        message_id=message.message_id,
        thread_id=message.message_thread_id,
        sender=message.message_sender.party_id,
        sender_line=line,
        recipients=tuple((r.party_id, line) for r in message.message_recipients),
        test=message.message_control_type == MessageControlType.TEST_MESSAGE,
        on_behalf_of=behalf.party_id if behalf is not None else None,
    )


def _named(error: MessageError) -> MessageError:
    return error if error.file is None else replace(error, file=Path(error.file).name)


def delivered_files(
    folder: Path, sender: str | None, message_id: str | None
) -> list[tuple[str, str]]:
    """The files of the flat report whose view is ``folder``, as delivered to its recipients:
    ``(stored sha256, name)`` in FileNumber order, named ``<sender>_<MessageId>.tsv[.gz]``
    (one file) or ``<sender>_<MessageId>_<n>of<N>.tsv[.gz]`` (a split report)."""
    found: list[tuple[int, str, str]] = []
    for link in folder.iterdir():
        if link.name.startswith("."):
            continue
        head = flat_head_of(link)
        assert head is not None
        number, total = head.file_number or 1, head.number_of_files or 1
        part = f"_{number}of{total}" if total > 1 else ""
        suffix = ".tsv.gz" if head.gzip else ".tsv"
        found.append((number, Path(os.readlink(link)).name, f"{sender}_{message_id}{part}{suffix}"))
    return [(sha, name) for _, sha, name in sorted(found)]
