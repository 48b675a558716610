"""What a party leaves in its drop folder, looked at without trusting it.

Every entry is examined with ``lstat`` only: a regular file or a real folder (a batch) may be
taken; a link (never followed), a FIFO, a socket or a device may not, nor a name that is not
UTF-8, holds control characters or is longer than 255 bytes, nor a folder that nests deeper
than :data:`MAX_DEPTH` or holds more than :data:`MAX_ENTRIES` entries (walked iteratively:
no recursion a deep tree could exhaust). A file is opened with ``O_NOFOLLOW | O_NONBLOCK``
and checked again on its descriptor (a FIFO swapped in after the look never blocks).
What cannot be taken is moved to ``drop/.rejected/`` with a reason file beside it
(:func:`reject`).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Final

from airex.errors import AirexError, MessageError, MessageStatus
from airex.exchange.store import MessageStore, Stored, TooLargeError

__all__: list[str] = []

MAX_DEPTH: Final = 8
"""Folders a batch folder may hold inside one another."""
MAX_ENTRIES: Final = 100_000
"""Entries (files and folders) a batch folder may hold in all."""
MAX_NAME_BYTES: Final = 255
REJECTED: Final = ".rejected"


class EntryRefused(AirexError):
    """An entry that cannot be taken; :attr:`error` says why."""

    def __init__(self, error: MessageError) -> None:
        super().__init__(error.message)
        self.error = error


def name_problem(name: str) -> MessageError | None:
    """Why ``name`` cannot be stored and shown as it is, or ``None``."""
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        reason = "is not UTF-8"
    else:
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            reason = "holds control characters"
        elif len(encoded) > MAX_NAME_BYTES:
            reason = f"is longer than {MAX_NAME_BYTES} bytes"
        else:
            return None
    return MessageError(
        "FileNameInvalid", f"its name {reason}; rename it", status=MessageStatus.XML_NOT_WELL_FORMED
    )


def look(path: Path) -> tuple[int, int, int]:
    """Examine the drop-folder entry ``path`` (``lstat`` only, no link followed): its
    signature (size, latest modification time, entry count: it stopped changing when that
    stays the same), or :class:`EntryRefused`. ``FileNotFoundError`` when it is gone."""
    problem = name_problem(path.name)
    if problem is not None:
        raise EntryRefused(problem)
    status = os.lstat(path)
    if stat.S_ISREG(status.st_mode):
        return status.st_size, status.st_mtime_ns, 1
    if stat.S_ISDIR(status.st_mode):
        return _walk(path, status.st_mtime_ns)
    raise EntryRefused(_not_regular(status.st_mode, ""))


def _not_regular(mode: int, where: str) -> MessageError:
    kind = (
        "a symbolic link"
        if stat.S_ISLNK(mode)
        else "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device or other special file"
    )
    return MessageError(
        "NotARegularFile",
        f"{where}{kind}: only files and batch folders are taken, and links are never followed",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def _walk(folder: Path, mtime: int) -> tuple[int, int, int]:
    """Size, latest modification time and entry count of a batch folder, walked iteratively;
    :class:`EntryRefused` for anything inside that is not a file or a folder, a name that
    cannot be stored, too deep a tree or too many entries."""
    size = count = 0
    todo = [(folder, 0)]
    while todo:
        current, depth = todo.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                inside = f"{Path(entry.path).relative_to(folder)} inside the batch folder: "
                problem = name_problem(entry.name)
                if problem is not None:
                    raise EntryRefused(replace(problem, message=inside + problem.message))
                status = entry.stat(follow_symlinks=False)
                count += 1
                if count > MAX_ENTRIES:
                    raise EntryRefused(
                        MessageError(
                            "BatchTooLarge",
                            f"the batch folder holds more than {MAX_ENTRIES} entries",
                            status=MessageStatus.XML_NOT_WELL_FORMED,
                        )
                    )
                mtime = max(mtime, status.st_mtime_ns)
                if stat.S_ISDIR(status.st_mode):
                    if depth + 1 > MAX_DEPTH:
                        raise EntryRefused(
                            MessageError(
                                "FolderTooDeep",
                                f"the batch folder nests deeper than {MAX_DEPTH} folders",
                                status=MessageStatus.XML_NOT_WELL_FORMED,
                            )
                        )
                    todo.append((Path(entry.path), depth + 1))
                elif stat.S_ISREG(status.st_mode):
                    size += status.st_size
                else:
                    raise EntryRefused(_not_regular(status.st_mode, inside))
    return size, mtime, count


def store_regular(path: Path, store: MessageStore, limit: int) -> Stored:
    """Stream the regular file ``path`` into ``store`` (never held in memory), opened
    without following a link and without blocking; :class:`EntryRefused` when it is not a
    regular file or holds more than ``limit`` bytes (refused before anything is stored)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO):
            raise EntryRefused(_not_regular(os.lstat(path).st_mode, "")) from None
        raise
    with os.fdopen(descriptor, "rb") as stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise EntryRefused(_not_regular(status.st_mode, ""))
        if status.st_size > limit:
            raise EntryRefused(_too_large(status.st_size, limit))
        try:
            return store.put_stream(stream, limit)
        except TooLargeError as exc:  # it grew while being read
            raise EntryRefused(_too_large(exc.size, limit)) from None


def _too_large(size: int, limit: int) -> MessageError:
    return MessageError(
        "SizeLimitExceeded",
        f"the file is {size} bytes or more; the exchange takes files of at most {limit} "
        "bytes (AIREX_MAX_MESSAGE_BYTES): send a large usage report as a split flat file",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def shown_name(name: str) -> str:
    """``name`` as it can be stored and shown: bytes that are not UTF-8 as ``%XX``, control
    characters as ``_``, at most 120 characters."""
    raw = os.fsencode(name)
    text = raw.decode("utf-8", errors="backslashreplace").replace("\\x", "%")
    text = "".join("_" if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return text[:120] or "_"


def reject(drop: Path, path: Path, error: MessageError, shown: str) -> Path:
    """Move the entry ``path`` (itself: a link stays a link) into ``drop/.rejected/`` under a
    fresh name ending in ``shown`` (its name as dropped, made safe), with
    ``<name>.reason.txt`` beside it; return where it went."""
    folder = drop / REJECTED
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    target = folder / f"{stamp}_{secrets.token_hex(4)}__{shown}"
    os.rename(path, target)
    reason = folder / f"{target.name}.reason.txt"
    reason.write_text(f"{error.code}: {error.message}\n", encoding="utf-8")
    return target
