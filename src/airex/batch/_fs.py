"""Crash-safe file system steps: fsync'd writes, and moves into place that never overwrite.

A reader of the destination folder sees a batch folder, zip or ACK file either whole or not at
all: everything is written under a temporary name starting with ``.`` (watchers ignore those),
flushed to disk, and only then renamed to its real name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path

from airex.batch.errors import BatchExistsError

__all__ = [
    "fsync_dir",
    "move_dir_into_place",
    "move_file_into_place",
    "remove_tree",
    "temp_sibling",
    "write_file",
]


def temp_sibling(target: Path) -> Path:
    """A fresh hidden name beside ``target``: ``.<name>.partial-<random>``."""
    return target.with_name(f".{target.name}.partial-{secrets.token_hex(6)}")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (never overwriting) with ``data``, and fsync it before returning."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def move_file_into_place(temp: Path, target: Path, *, replace: bool = False) -> None:
    """Rename the finished file ``temp`` to ``target`` atomically, then fsync the folder.

    Without ``replace`` an existing ``target`` is never overwritten (a hard link claims the
    name atomically; :class:`BatchExistsError` if it is taken).
    """
    if replace:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)
        except FileExistsError as exc:
            raise BatchExistsError(f"{target} already exists; not overwritten") from exc
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            # no hard links here: the name is checked, then taken by rename
            if os.path.lexists(target):
                raise BatchExistsError(f"{target} already exists; not overwritten") from exc
            os.replace(temp, target)
        else:
            os.unlink(temp)
    fsync_dir(target.parent)


def move_dir_into_place(temp: Path, target: Path) -> None:
    """Rename the finished folder ``temp`` to ``target`` atomically; never over an existing one.

    ``target`` is first claimed with ``mkdir`` (atomic: fails if the name is taken), then
    ``temp`` is renamed over that empty folder, which POSIX ``rename`` does in one step. A
    watcher may see the empty folder for a moment: a folder without its BatchComplete file is
    an incomplete batch, which is never processed.
    """
    try:
        os.mkdir(target)
    except FileExistsError as exc:
        raise BatchExistsError(f"{target} already exists; not overwritten") from exc
    try:
        os.replace(temp, target)
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(target)
        raise
    fsync_dir(target.parent)


def remove_tree(path: Path) -> None:
    """Remove a temporary file or folder left by a failed write (best effort)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()
