"""Reading and writing the distribution tables, in the fastest form each backend offers.

Bulk rows (one per rightsholder, one per suspense item: up to hundreds of thousands per
distribution) go straight to the driver: ``executemany`` on SQLite, one
``INSERT ... SELECT FROM unnest(arrays)`` per chunk on PostgreSQL. The rightsholder lines
are columns of integers, stored as blocks (:func:`encode_column`): little-endian 64-bit
integers, zlib level 1, a million values a block.
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airex.db import backend_of, chunked
from airex.royalties._distribution_models import (
    DistributionBlockRow,
    DistributionPartyRow,
    DistributionRow,
    DistributionSuspenseRow,
    PaymentRow,
)
from airex.royalties.models import table

__all__ = [
    "BLOCK_SIZE",
    "DISTRIBUTION",
    "PARTY",
    "PAYMENT",
    "SUSPENSE",
    "StoredLines",
    "decode_column",
    "decode_texts",
    "decode_units",
    "encode_column",
    "encode_texts",
    "encode_units",
    "insert_rows",
    "invoice_lines_json",
    "load_lines",
    "save_blocks",
]

PAYMENT = table(PaymentRow)
DISTRIBUTION = table(DistributionRow)
PARTY = table(DistributionPartyRow)
SUSPENSE = table(DistributionSuspenseRow)
BLOCK = table(DistributionBlockRow)

BLOCK_SIZE = 1 << 20
"""Values per stored block of a column."""

_PG_CHUNK = 100_000  # rows per unnest() statement on PostgreSQL
_WORK_SEPARATOR = "\x1e"  # between works; neither can appear in XML text (so in an id)
_ID_SEPARATOR = "\x1f"  # between one work's ids


def encode_column(values: Sequence[int] | Iterable[int]) -> list[bytes]:
    """``values`` (64-bit signed ints) as stored blocks. ``OverflowError`` beyond 64 bits."""
    column = values if isinstance(values, array) and values.typecode == "q" else array("q", values)
    blocks = []
    for start in range(0, len(column), BLOCK_SIZE):
        part = column[start : start + BLOCK_SIZE]
        if sys.byteorder == "big":
            part.byteswap()
        blocks.append(zlib.compress(part.tobytes(), 1))
    return blocks or [zlib.compress(b"", 1)]


def decode_column(blocks: Iterable[bytes]) -> array[int]:
    """The column stored by :func:`encode_column`."""
    column = array("q")
    for block in blocks:
        column.frombytes(zlib.decompress(block))
    if sys.byteorder == "big":
        column.byteswap()
    return column


def encode_texts(works: Sequence[Sequence[str]]) -> list[bytes]:
    """Lists of strings (each work's identifiers) as stored blocks."""
    text = _WORK_SEPARATOR.join(_ID_SEPARATOR.join(ids) for ids in works)
    return [zlib.compress(text.encode(), 1)]


def decode_texts(blocks: Iterable[bytes]) -> list[tuple[str, ...]]:
    """The lists stored by :func:`encode_texts`."""
    text = b"".join(zlib.decompress(block) for block in blocks).decode()
    if not text:
        return []
    return [tuple(ids.split(_ID_SEPARATOR)) for ids in text.split(_WORK_SEPARATOR)]


_PG_TYPES = {
    sa.BigInteger: "bigint",
    sa.Integer: "integer",
    sa.String: "text",
    sa.Text: "text",
    sa.Date: "date",
    sa.Boolean: "boolean",
}


def _pg_type(column: sa.Column[Any]) -> str:
    for kind, name in _PG_TYPES.items():
        if isinstance(column.type, kind):
            return name
    # ID_TYPE is a BigInteger with a SQLite variant
    return "bigint"


def insert_rows(
    connection: Connection, target: sa.Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in the order of ``names``) into ``target``, in bulk."""
    if not rows:
        return
    columns = ", ".join(names)
    if backend_of(connection.engine) == "postgresql":
        types = [_pg_type(target.c[name]) for name in names]
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        sql = f"INSERT INTO {target.name} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
        for chunk in chunked(rows, _PG_CHUNK):
            connection.exec_driver_sql(sql, tuple(map(list, zip(*chunk, strict=True))))
        return
    marks = ", ".join("?" * len(names))
    sql = f"INSERT INTO {target.name} ({columns}) VALUES ({marks})"  # noqa: S608
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(sql, [_sqlite_row(row) for row in rows])
    finally:
        cursor.close()


def _sqlite_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(value.isoformat() if isinstance(value, date) else value for value in row)


def save_blocks(connection: Connection, distribution: int, columns: dict[str, list[bytes]]) -> None:
    """Store the named columns' blocks of ``distribution``."""
    connection.execute(
        BLOCK.insert(),
        [
            {"distribution": distribution, "name": name, "block": number, "data": data}
            for name, blocks in columns.items()
            for number, data in enumerate(blocks)
        ],
    )


@dataclass(slots=True)
class StoredLines:
    """A stored distribution's rightsholder lines, as columns (see ``save`` in
    :mod:`airex.royalties.distribution` for what each holds)."""

    party: array[int] = field(default_factory=lambda: array("q"))
    line: array[int] = field(default_factory=lambda: array("q"))
    work: array[int] = field(default_factory=lambda: array("q"))
    use_type: array[int] = field(default_factory=lambda: array("q"))
    share: array[int] = field(default_factory=lambda: array("q"))
    gross: array[int] = field(default_factory=lambda: array("q"))
    fee: array[int] = field(default_factory=lambda: array("q"))
    units: Sequence[int] | None = None
    """Per line, the row's units in millionths (``-1``: not shown); ``None``: no column."""
    work_keys: array[int] = field(default_factory=lambda: array("q"))
    work_ids: list[tuple[str, ...]] = field(default_factory=list)


def load_lines(connection: Connection, distribution: int) -> StoredLines:
    """Read the line columns of ``distribution``."""
    blocks: dict[str, list[bytes]] = {}
    for name, _, data in connection.execute(
        sa.select(BLOCK.c.name, BLOCK.c.block, BLOCK.c.data)
        .where(BLOCK.c.distribution == distribution)
        .order_by(BLOCK.c.name, BLOCK.c.block)
    ):
        blocks.setdefault(name, []).append(bytes(data))
    lines = StoredLines()
    for name in ("party", "line", "work", "use_type", "share", "gross", "fee", "work_keys"):
        setattr(lines, name, decode_column(blocks.get(name, [])))
    lines.units = decode_units(blocks)
    lines.work_ids = decode_texts(blocks.get("work_ids", []))
    return lines


def invoice_lines_json(lines: Sequence[dict[str, Any]]) -> str:
    """The invoice lines of a distribution as stored (compact JSON)."""
    return json.dumps(list(lines), separators=(",", ":"), ensure_ascii=False)


_LOW_BITS = 62
_LOW_MASK = (1 << _LOW_BITS) - 1


def encode_units(units: Sequence[int]) -> dict[str, list[bytes]]:
    """The units column (millionths, ``-1``: not shown) as blocks: ``units`` alone when every
    value fits 64 bits, else ``units`` (the low 62 bits) and ``units_high`` (the rest)."""
    try:
        return {"units": encode_column(units)}
    except OverflowError:
        low = [-1 if v < 0 else v & _LOW_MASK for v in units]
        high = [0 if v < 0 else v >> _LOW_BITS for v in units]
        return {"units": encode_column(low), "units_high": encode_texts([list(map(str, high))])}


def decode_units(blocks: dict[str, list[bytes]]) -> Sequence[int] | None:
    """The units column stored by :func:`encode_units` (``None`` when not stored)."""
    if "units" not in blocks:
        return None
    low = decode_column(blocks["units"])
    if "units_high" not in blocks:
        return low
    (high,) = decode_texts(blocks["units_high"])
    return [-1 if lo < 0 else (int(hi) << _LOW_BITS) | lo for lo, hi in zip(low, high, strict=True)]
