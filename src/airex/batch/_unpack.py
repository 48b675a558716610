"""Extracting a received batch zip into a folder: :func:`unpack`.

The zip is read as :func:`~airex.batch.open_batch` reads it (every member checked before a
byte is decompressed), and written the way :func:`~airex.batch.pack` writes a folder: under a
hidden temporary name, the manifest last, renamed into place.
"""

from __future__ import annotations

import os
from pathlib import Path

from airex.batch._fs import fsync_dir, move_dir_into_place, remove_tree, temp_sibling, write_file
from airex.batch._limits import BatchLimits
from airex.batch._source import BatchReadError, open_batch
from airex.batch.errors import BatchError, BatchExistsError, BatchRefusedError

__all__ = ["unpack"]


def unpack(
    archive: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    limits: BatchLimits | None = None,
) -> Path:
    """Extract the batch zip ``archive`` into the folder ``out``; return ``out``.

    The zip is checked as :func:`open_batch` does (a hostile, broken or too large archive is
    refused with :class:`BatchRefusedError` and nothing is written); its files land directly
    in ``out`` (a single top folder inside the zip is dropped), the manifest last, under a
    temporary name renamed into place. ``out`` must not exist, or be an empty folder. Hashes
    are not checked here: run :func:`verify` on the result (or on the zip).
    """
    source = Path(archive)
    if not source.is_file():
        raise BatchError(f"no such zip file: {source}")
    batch = open_batch(source, limits=limits)
    errors = list(batch.refusal)
    contents: dict[str, bytes] = {}
    if not errors:
        for name in batch.names():  # all or nothing: a member too large refuses the whole
            try:
                contents[name] = batch.read(name)
            except BatchReadError as exc:
                errors.append(exc.error)
    if errors:
        raise BatchRefusedError(errors, str(source))
    target = Path(out)
    if os.path.lexists(target) and not (target.is_dir() and not any(target.iterdir())):
        raise BatchExistsError(f"{target} exists and is not an empty folder; not overwritten")
    manifest = batch.manifest_name
    files = [(n, data) for n, data in contents.items() if n != manifest]
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_sibling(target)
    os.mkdir(temp)
    try:
        for name, data in files:
            path = temp.joinpath(*name.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, data)
        if manifest is not None:
            write_file(temp / manifest, contents[manifest])
        fsync_dir(temp)
        if target.is_dir():
            os.replace(temp, target)  # over the empty folder, in one step
            fsync_dir(target.parent)
        else:
            move_dir_into_place(temp, target)
    except BaseException:
        remove_tree(temp)
        raise
    return target
