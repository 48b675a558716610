"""Reading a received batch, folder or zip, without trusting anything in it: :func:`open_batch`.

Threat model: a batch comes from another party and may be hostile. Nothing in it may make
airex read or write outside the batch, follow a link, or exhaust memory:

* **folders** are listed without following symbolic links; a listed file is read only if no
  component of its path is a link and it is a regular file (opened with ``O_NOFOLLOW``), and
  at most :attr:`BatchLimits.max_file_bytes` of it is read;
* **zips** are checked member by member before a byte is decompressed: names that are absolute,
  carry a drive letter, a backslash, a ``..``, ``.`` or empty segment or a control character;
  symbolic links and other non-regular members; duplicate names (also differing only in case,
  or a name that is both a file and a folder); encrypted members; too many members, too many
  bytes in total, or a member that expands more than ``max_compression_ratio`` times (a zip
  bomb). Any of these refuses the whole archive. Members are then decompressed into memory,
  each bounded by its declared size and the limits (and its CRC checked).

A refusal is data (:attr:`Batch.refusal`, MessageErrors with stable codes), so that a hostile
batch is acknowledged like any other rejected input rather than crashing the receiver.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from airex.batch._limits import BatchLimits
from airex.batch._names import (
    MANIFEST_PREFIX,
    is_batch_id,
    manifest_id_of,
    manifest_name,
    member_problem,
)
from airex.batch._read_errors import (
    ambiguous,
    archive_unreadable,
    bomb,
    missing,
    too_big,
    too_large,
    unreadable,
    unsafe,
)
from airex.batch.errors import BatchError
from airex.errors import MessageError

__all__ = ["Batch", "BatchReadError", "open_batch"]

_READ_CHUNK = 1024 * 1024


class BatchReadError(BatchError, OSError):
    """A file of the batch cannot be read; ``error`` is the MessageError that says why."""

    def __init__(self, error: MessageError) -> None:
        self.error = error
        super().__init__(str(error))


@dataclass(eq=False)
class Batch:
    """A received batch, opened for reading: its files, its manifest's name, or its refusal.

    ``complete`` is True when the BatchComplete file is there. ``refusal`` lists why the batch
    as a whole cannot be used (a hostile or broken zip, too many files, several manifests);
    when it is non-empty nothing of the batch is processed. ``batch_id`` comes from the
    BatchComplete file name, or else from the folder or zip name when that is a BatchId.
    """

    path: Path
    kind: Literal["folder", "zip"]
    limits: BatchLimits
    batch_id: str | None = None
    manifest_name: str | None = None
    refusal: list[MessageError] = field(default_factory=list)
    _names: list[str] = field(default_factory=list, repr=False)
    _members: dict[str, bytes] = field(default_factory=dict, repr=False)
    _oversize: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def complete(self) -> bool:
        """True when the batch has its BatchComplete file (only then is it processed)."""
        return self.manifest_name is not None

    @property
    def name(self) -> str:
        """The batch's folder or zip file name, for messages."""
        return self.path.name

    def names(self) -> list[str]:
        """Every file of the batch, as ``/``-separated paths relative to it, sorted."""
        return list(self._names)

    def read(self, name: str) -> bytes:
        """The bytes of the file ``name`` (relative, ``/``-separated), within the limits.

        Raises :class:`BatchReadError` whose ``error`` is a MessageError: ``FileMissing``,
        ``UnsafeBatchMember`` (a link or not a regular file), ``SizeLimitExceeded`` or
        ``FileUnreadable``.
        """
        if self.kind == "zip":
            return self._read_member(name)
        return _read_folder_file(self.path, name, self.limits.max_file_bytes)

    def _read_member(self, name: str) -> bytes:
        if name in self._members:
            return self._members[name]
        if name in self._oversize:
            raise BatchReadError(too_big(name, self._oversize[name], self.limits.max_file_bytes))
        raise BatchReadError(missing(name))


# --- choosing the manifest ------------------------------------------------------------------------


def _choose_manifest(batch: Batch, top_level: list[str]) -> None:
    """Set ``batch.manifest_name`` and ``batch_id`` from the top-level file names."""
    stem = batch.path.name.removesuffix(".zip").removesuffix(".ZIP")
    candidates = sorted(n for n in top_level if manifest_id_of(n) is not None)
    if is_batch_id(stem):
        batch.batch_id = stem
        if manifest_name(stem) in candidates:
            batch.manifest_name = manifest_name(stem)
            return
    if len(candidates) == 1:
        batch.manifest_name = candidates[0]
        batch.batch_id = manifest_id_of(candidates[0])
    elif len(candidates) > 1:
        batch.refusal.append(ambiguous(batch.name, candidates))


# --- folders --------------------------------------------------------------------------------------


def _open_folder(path: Path, limits: BatchLimits) -> Batch:
    batch = Batch(path=path, kind="folder", limits=limits)
    try:
        top = sorted(os.listdir(path))
    except OSError as exc:
        batch.refusal.append(unreadable(batch.name, exc.strerror or type(exc).__name__))
        return batch
    top_files = [n for n in top if n.startswith(MANIFEST_PREFIX) and _is_regular(path / n)]
    _choose_manifest(batch, top_files)
    if not batch.complete:
        return batch  # still arriving (or refused as ambiguous): nothing else is looked at
    names: list[str] = []
    total = 0
    for name in _walk(path, batch):
        names.append(name)
        if len(names) > limits.max_files:
            batch.refusal.append(
                too_large(batch.name, f"more than {limits.max_files} files (BatchLimits)")
            )
            return batch
        with contextlib.suppress(OSError):
            info = os.lstat(path / name)
            if stat.S_ISREG(info.st_mode) and info.st_size <= limits.max_file_bytes:
                total += info.st_size  # larger files are rejected alone, never read
    if total > limits.max_total_bytes:
        batch.refusal.append(
            too_large(
                batch.name, f"its files hold {total} bytes, more than {limits.max_total_bytes}"
            )
        )
        return batch
    batch._names = sorted(names)
    return batch


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _walk(root: Path, batch: Batch) -> Iterator[str]:
    """Every non-folder entry under ``root``, relative, depth first in sorted order.

    Iterative (a hostile folder nested thousands deep cannot exhaust the stack); links, to
    files or folders, are listed as entries and never followed.
    """
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as exc:
            batch.refusal.append(
                unreadable(prefix.rstrip("/") or batch.name, exc.strerror or type(exc).__name__)
            )
            continue
        folders = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append((entry.path, prefix + entry.name + "/"))
            else:
                yield prefix + entry.name
        stack.extend(reversed(folders))


def _read_folder_file(root: Path, name: str, limit: int) -> bytes:
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") for p in parts):
        raise BatchReadError(missing(name))
    current = root
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            raise BatchReadError(missing(name)) from None
        except NotADirectoryError:
            raise BatchReadError(missing(name)) from None
        except OSError as exc:
            raise BatchReadError(unreadable(name, exc.strerror or "OS error")) from exc
        if stat.S_ISLNK(mode):
            raise BatchReadError(unsafe(name, "a symbolic link in the batch"))
        last = index == len(parts) - 1
        if last and not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise BatchReadError(unsafe(name, f"{kind}, not a message file"))
        if not last and not stat.S_ISDIR(mode):
            raise BatchReadError(missing(name))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(current, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link since it was looked at
            raise BatchReadError(unsafe(name, "a symbolic link in the batch")) from exc
        raise BatchReadError(unreadable(name, exc.strerror or "OS error")) from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BatchReadError(unsafe(name, "not a regular file"))
        if info.st_size > limit:
            raise BatchReadError(too_big(name, info.st_size, limit))
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise BatchReadError(unreadable(name, exc.strerror or "OS error")) from exc
    if len(data) > limit:  # grew while being read
        raise BatchReadError(too_big(name, len(data), limit))
    return data


# --- zips -----------------------------------------------------------------------------------------


def _member_type_problem(info: zipfile.ZipInfo) -> str | None:
    mode = info.external_attr >> 16
    if info.create_system == 3 and mode:  # Unix attributes are meaningful
        if stat.S_ISLNK(mode):
            return "a symbolic link"
        # permission bits with no file type (Python's zipfile.writestr writes 0o600): a file
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return "not a regular file"
    if info.flag_bits & 0x1:
        return "encrypted"
    return None


def _strip_top_folder(names: list[str]) -> str:
    """The common top folder (``X/``) to strip when every file lives under one, else ``""``."""
    files = [n for n in names if not n.endswith("/")]
    if not files or any("/" not in n for n in files):
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    return next(iter(tops)) + "/" if len(tops) == 1 else ""


def _check_members(batch: Batch, infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The file members by (stripped) name, or an empty dict with ``batch.refusal`` set."""
    limits = batch.limits
    if len(infos) > limits.max_files:
        batch.refusal.append(
            too_large(batch.name, f"{len(infos)} members, more than {limits.max_files}")
        )
        return {}
    for info in infos:
        problem = member_problem(info.filename) or _member_type_problem(info)
        if problem:
            batch.refusal.append(unsafe(info.filename, f"a zip member with {problem}"))
    if batch.refusal:
        return {}
    prefix = _strip_top_folder([i.filename for i in infos])
    files: dict[str, zipfile.ZipInfo] = {}
    seen: dict[str, str] = {}
    folders: set[str] = set()
    for info in infos:
        name = info.filename[len(prefix) :]
        if not name:
            continue
        key = name.rstrip("/").casefold()
        parts = key.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if info.is_dir():
            folders.add(key)
            continue
        if key in seen:
            batch.refusal.append(
                unsafe(name, f"a duplicate of zip member {seen[key]} (names differ in case only)")
                if seen[key] != name
                else unsafe(name, "a zip member that appears twice")
            )
            continue
        seen[key] = name
        files[name] = info
    for key, name in seen.items():
        if key in folders:
            batch.refusal.append(unsafe(name, "both a file and a folder in the zip"))
    return {} if batch.refusal else files


def _check_sizes(batch: Batch, files: dict[str, zipfile.ZipInfo]) -> None:
    limits = batch.limits
    total = 0
    for name, info in files.items():
        if info.file_size > limits.max_file_bytes:
            batch._oversize[name] = info.file_size
            continue
        total += info.file_size
        if (
            info.file_size > limits.ratio_floor_bytes
            and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1)
        ):
            batch.refusal.append(
                bomb(name, info.file_size, info.compress_size, limits.max_compression_ratio)
            )
    if total > limits.max_total_bytes:
        batch.refusal.append(
            too_large(
                batch.name,
                f"its files hold {total} bytes uncompressed, more than {limits.max_total_bytes}",
            )
        )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with archive.open(info) as handle:
        while chunk := handle.read(_READ_CHUNK):
            size += len(chunk)
            if size > limit:  # cannot happen with zipfile's own bound; kept as a guard
                raise zipfile.BadZipFile(f"member {info.filename} expands beyond {limit} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


_MAX_ENTRY_BYTES = 2048  # a central directory entry: 46 bytes, a name (URLs <= 1024), extras
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def _central_directory(path: Path, size: int) -> tuple[int, int] | None:
    """(members, bytes) the zip's central directory claims, read from its end records
    before zipfile loads the directory (whose size is then known to be bounded); None when
    the end records cannot be found (zipfile then reports the archive unreadable)."""
    tail_size = min(size, 22 + 65535)
    try:
        with open(path, "rb") as handle:
            handle.seek(size - tail_size)
            tail = handle.read(tail_size)
            end = tail.rfind(_EOCD)
            if end < 0 or len(tail) < end + 22:
                return None
            count = int.from_bytes(tail[end + 10 : end + 12], "little")
            directory_size = int.from_bytes(tail[end + 12 : end + 16], "little")
            locator = end - 20
            if locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
                offset = int.from_bytes(tail[locator + 8 : locator + 16], "little")
                if offset + 56 > size:
                    return None
                handle.seek(offset)
                record = handle.read(56)
                if record[:4] != _ZIP64_EOCD:
                    return None
                count = int.from_bytes(record[32:40], "little")
                directory_size = int.from_bytes(record[40:48], "little")
            return count, directory_size
    except OSError:
        return None


def _open_zip(path: Path, limits: BatchLimits) -> Batch:
    batch = Batch(path=path, kind="zip", limits=limits)
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        batch.refusal.append(unreadable(batch.name, exc.strerror or type(exc).__name__))
        return batch
    if size > limits.max_total_bytes:
        batch.refusal.append(
            too_large(batch.name, f"{size} bytes, more than {limits.max_total_bytes}")
        )
        return batch
    directory = _central_directory(path, size)
    if directory is not None:
        count, directory_size = directory
        if count > limits.max_files or directory_size > limits.max_files * _MAX_ENTRY_BYTES:
            batch.refusal.append(
                too_large(
                    batch.name,
                    f"its directory lists {count} members in {directory_size} bytes "
                    f"(at most {limits.max_files} members)",
                )
            )
            return batch
    try:
        with zipfile.ZipFile(path) as archive:
            files = _check_members(batch, archive.infolist())
            if batch.refusal:
                return batch
            _choose_manifest(batch, [n for n in files if "/" not in n])
            _check_sizes(batch, files)
            if batch.refusal:
                return batch
            for name, info in files.items():
                if name not in batch._oversize:
                    batch._members[name] = _read_member(archive, info, limits.max_file_bytes)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        batch.refusal.append(archive_unreadable(batch.name, str(exc) or type(exc).__name__))
    except OSError as exc:
        batch.refusal.append(unreadable(batch.name, exc.strerror or type(exc).__name__))
    if batch.refusal:
        batch._members.clear()
        return batch
    batch._names = sorted(files)
    return batch


def open_batch(path: str | os.PathLike[str], *, limits: BatchLimits | None = None) -> Batch:
    """Open a received batch: a folder, or a ``.zip`` file with the same layout.

    Never raises for what is in the batch: a hostile or broken zip, or one that is too large,
    comes back as a :class:`Batch` whose ``refusal`` says why. A folder without its
    BatchComplete file comes back incomplete (``complete`` False), and is not looked into.
    Raises :class:`~airex.batch.errors.BatchError` only when ``path`` is neither a folder nor a
    file.

    A zip's files may sit at its root or under one top folder (as when a folder is zipped).
    """
    limits = limits or BatchLimits()
    target = Path(path)
    if target.is_dir():
        return _open_folder(target, limits)
    if target.is_file():
        return _open_zip(target, limits)
    with contextlib.suppress(OSError):
        if os.path.lexists(target):
            raise BatchError(f"{target} is neither a batch folder nor a zip file")
    raise BatchError(f"no such batch folder or zip file: {target}")
