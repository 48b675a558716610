"""Importing declarations: plain-data works in, append-only rows out, idempotently.

Both entry points — :meth:`Registry.import_declaration` (a WorkDeclarationMessage) and
:meth:`Registry.import_works` (plain data, for bulk loads) — end here, in :func:`run_import`.

How a declaration becomes a work or a version, and what counts as a conflict, is described in
:mod:`airex.registry._chunk_writer`; how a work is checked and hashed, in
:mod:`airex.registry._prepare`.

Idempotency. An import is identified by its *source*: ``<sender>:<MessageId>`` for a message.
Importing a source again changes nothing (its content hash is compared: other content under the
same source is refused with :class:`~airex.registry.SourceConflictError`). A declaration that
would change nothing — its content equals the version already in effect from its date — is
counted ``unchanged`` and adds no version. Works are written in chunks, one transaction each;
an import that stopped half-way (a crash) resumes where it stopped when run again: the works
already written are recognised (same source, same position) and skipped.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy.engine import Connection, Engine

from airex._gc import paused_gc
from airex.db import read_transaction, run_write
from airex.registry._chunk_writer import _ChunkWriter, _Counts
from airex.registry._declared import DEFAULT_CHUNK, Conflict, DeclaredWork, ImportResult, SourceInfo
from airex.registry._prepare import _Prepared, _prepared
from airex.registry._sql import Sql
from airex.registry.errors import SourceConflictError

__all__ = ["run_import"]

_LOCK_KEY = 0x4149524558524547  # "AIREXREG": one registry writer at a time on PostgreSQL

_SOURCE_COLUMNS = (
    "id",
    "source_key",
    "sender",
    "message_id",
    "recipient",
    "declared_by",
    "declared_at",
    "effective_from",
    "raw_message",
    "recorded_at",
)
_COMPLETE_COLUMNS = (
    "source_id",
    "content_hash",
    "works",
    "new_works",
    "new_versions",
    "unchanged",
    "conflicts",
    "completed_at",
)


def _lock(sql: Sql) -> None:
    if sql.pg:
        sql.scalar("SELECT pg_advisory_xact_lock(?)", [_LOCK_KEY])


def _find_source(sql: Sql, key: str) -> tuple[int, tuple[Any, ...] | None] | None:
    """``(source id, completion row or None)`` of ``key``, ``None`` when never imported."""
    found = sql.rows("SELECT id FROM registry_source WHERE source_key = ?", [key])
    if not found:
        return None
    source_id = int(found[0][0])
    complete = sql.rows(
        "SELECT content_hash, works, new_works, new_versions, unchanged, conflicts "
        "FROM registry_source_complete WHERE source_id = ?",
        [source_id],
    )
    return source_id, (complete[0] if complete else None)


def _stored_conflicts(sql: Sql, source_id: int) -> list[Conflict]:
    return [
        Conflict(int(o), r, k, int(w), int(h), p, kind)
        for o, r, k, w, h, p, kind in sql.rows(
            "SELECT ordinal, reference, id_key, work_id, held_by_work_id, held_by_party, kind "
            "FROM registry_conflict WHERE source_id = ? ORDER BY ordinal, id",
            [source_id],
        )
    ]


def run_import(
    engine: Engine,
    source: SourceInfo,
    works: Iterable[DeclaredWork],
    *,
    raw: bytes | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> ImportResult:
    """Import ``works`` from ``source`` (see the module doc); return what changed."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    with paused_gc():
        return _run_import(engine, source, works, raw, chunk_size)


def _run_import(
    engine: Engine,
    source: SourceInfo,
    works: Iterable[DeclaredWork],
    raw: bytes | None,
    chunk_size: int,
) -> ImportResult:
    hasher = hashlib.sha256(source.canonical())
    prepared = _prepared(works, hasher)
    with read_transaction(engine) as connection:
        known = _find_source(Sql(connection), source.key)
    if known is not None and known[1] is not None:
        return _replay(engine, source, prepared, hasher, known[0], known[1])
    source_id = known[0] if known is not None else None
    total = _Counts()
    works_seen = 0
    chunk = list(islice(prepared, chunk_size))
    while True:
        following = list(islice(prepared, chunk_size)) if chunk else []
        final = not following
        content_hash = hasher.hexdigest() if final else ""
        done = works_seen + len(chunk)

        write = functools.partial(
            _write_chunk,
            source=source,
            source_id=source_id,
            raw=raw,
            chunk=chunk,
            final=final,
            content_hash=content_hash,
            done=done,
            before=total,
        )
        source_id, counts = run_write(engine, write)
        works_seen = done
        total.new_works += counts.new_works
        total.new_versions += counts.new_versions
        total.unchanged += counts.unchanged
        total.conflicts.extend(counts.conflicts)
        if final:
            break
        chunk = following
    return ImportResult(
        source.key,
        works_seen,
        total.new_works,
        total.new_versions,
        total.unchanged,
        len(total.conflicts),
        tuple(total.conflicts),
    )


def _write_chunk(
    connection: Connection,
    *,
    source: SourceInfo,
    source_id: int | None,
    raw: bytes | None,
    chunk: list[_Prepared],
    final: bool,
    content_hash: str,
    done: int,
    before: _Counts,
) -> tuple[int, _Counts]:
    """One chunk in one write transaction (and, for the last, the completion row)."""
    sql = Sql(connection)
    _lock(sql)
    if source_id is None:
        source_id = _start_source(sql, source, raw)
    counts = _ChunkWriter(connection, source, source_id).write(chunk)
    if final:
        sql.insert(
            "registry_source_complete",
            _COMPLETE_COLUMNS,
            [
                (
                    source_id,
                    content_hash,
                    done,
                    before.new_works + counts.new_works,
                    before.new_versions + counts.new_versions,
                    before.unchanged + counts.unchanged,
                    len(before.conflicts) + len(counts.conflicts),
                    sql.instant(datetime.now(UTC)),
                )
            ],
        )
    return source_id, counts


def _start_source(sql: Sql, source: SourceInfo, raw: bytes | None) -> int:
    """The id of ``source``'s row, inserted now unless a concurrent import just did."""
    found = _find_source(sql, source.key)
    if found is not None:
        if found[1] is not None:
            raise SourceConflictError(
                f"source {source.key!r} was imported by another process meanwhile; "
                "import it again to compare",
                source=source.key,
            )
        return found[0]
    source_id = sql.next_id("registry_source")
    sql.insert(
        "registry_source",
        _SOURCE_COLUMNS,
        [
            (
                source_id,
                source.key,
                source.sender,
                source.message_id,
                source.recipient,
                source.declared_by,
                sql.instant(source.declared_at),
                sql.day(source.effective_from),
                raw,
                sql.instant(datetime.now(UTC)),
            )
        ],
    )
    return source_id


def _replay(
    engine: Engine,
    source: SourceInfo,
    prepared: Iterator[_Prepared],
    hasher: Any,
    source_id: int,
    complete: tuple[Any, ...],
) -> ImportResult:
    count = sum(1 for _ in prepared)
    if hasher.hexdigest() != complete[0]:
        raise SourceConflictError(
            f"source {source.key!r} was imported before with different content; a MessageId "
            "is never reused for other content (send the change as a new message)",
            source=source.key,
        )
    with read_transaction(engine) as connection:
        conflicts = _stored_conflicts(Sql(connection), source_id)
    return ImportResult(
        source.key,
        count,
        0,
        0,
        count,
        len(conflicts),
        tuple(conflicts),
        replayed=True,
    )
