"""Storing a priced report's rows: its works, usage and lines, and held records in bulk.

Bulk rows (a report's works and usage, its held records) go through the driver directly:
``executemany`` on SQLite, ``COPY`` on PostgreSQL, in chunks, inside the caller's
transaction (:mod:`airex.royalties._store` reads them back).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from airex.db import backend_of
from airex.royalties._types import PricedLine, PricedReport

__all__ = ["CHUNK", "INT64", "bulk_insert", "insert_report_rows", "line_values", "raw_cursor"]

CHUNK = 50_000
"""Rows per ``executemany`` (SQLite) or per fetch when reading back."""
INT64 = 2**63 - 1


def raw_cursor(connection: Connection) -> Any:
    return connection.connection.cursor()


def bulk_insert(
    connection: Connection, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into table ``name``; return the count.

    SQLite: ``executemany`` per chunk of :data:`CHUNK`; PostgreSQL: one ``COPY``.
    """
    names = ", ".join(columns)
    cursor = raw_cursor(connection)
    count = 0
    try:
        if backend_of(connection.engine) == "postgresql":
            with cursor.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO {name} ({names}) VALUES ({marks})"  # noqa: S608 - names are ours
        chunk: list[Sequence[Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == CHUNK:
                cursor.executemany(sql, chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)
            count += len(chunk)
        return count
    finally:
        cursor.close()


def _big(values: Sequence[int], postgresql: bool) -> Iterable[int | str]:
    """A :class:`~airex.royalties.models.BigCount` column's values as the driver takes them:
    ints (PostgreSQL ``NUMERIC``; SQLite stores them as text by affinity) except, on SQLite,
    values beyond 64 bits, which its driver cannot bind: those as decimal strings."""
    if postgresql or isinstance(values, array):
        return values
    return [v if v <= INT64 else str(v) for v in values]


def insert_report_rows(connection: Connection, report_pk: int, priced: PricedReport) -> None:
    """The works and the usage of a priced report version."""
    postgresql = backend_of(connection.engine) == "postgresql"
    works = priced.works
    bulk_insert(
        connection,
        "royalties_report_work",
        ("report", "position", "work_key", "ids"),
        (
            (report_pk, position, key, "|".join(ids))
            for position, (key, ids) in enumerate(zip(works.keys, works.ids, strict=True))
        ),
    )
    usage = priced.usage
    if usage is None or not len(usage):
        return
    bulk_insert(
        connection,
        "royalties_report_usage",
        (
            "report",
            "work_position",
            "use_type_index",
            "unit_index",
            "units_micro",
            "attribution_micro",
        ),
        zip(
            [report_pk] * len(usage),
            usage.work_position,
            usage.use_type_index,
            usage.unit_index,
            _big(usage.units_micro, postgresql),
            usage.attribution_micro,
            strict=True,
        ),
    )


def line_values(report_pk: int, line: PricedLine) -> dict[str, Any]:
    """A ``royalties_report_line`` row for ``line``."""
    return {
        "report": report_pk,
        "line_number": line.line_number,
        "tariff_id": line.tariff_id,
        "tariff_type": line.tariff_type,
        "description": line.description,
        "amount_minor": line.amount_minor,
        "basis": str(line.basis),
        "use_type_mask": line.use_type_mask,
        "unit": line.unit,
        "quantity": _text(line.quantity),
        "unit_price": _text(line.unit_price),
        "row_count": len(line.work_index),
        "weight_total": sum(line.weight),
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"
