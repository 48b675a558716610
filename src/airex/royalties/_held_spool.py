"""The records pricing holds back, spooled as they pass (memory stays flat)."""

from __future__ import annotations

import marshal
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from airex.royalties._types import HeldRecord
from airex.royalties._warnings import WARNING_LIMIT

__all__ = ["HeldSpool"]


class HeldSpool:
    """Held records as they pass: the first :data:`WARNING_LIMIT` in memory, every one in a
    temporary file (``marshal``-ed tuples), so memory stays flat however many are held."""

    def __init__(self) -> None:
        self.first: list[HeldRecord] = []
        self.count = 0
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="airex-held-")  # noqa: SIM115
        self._dump = marshal.dump

    def add(self, record: HeldRecord) -> None:
        """Keep one held record."""
        if len(self.first) < WARNING_LIMIT:
            self.first.append(record)
        self.count += 1
        self._dump(
            (
                record.file,
                record.line,
                "|".join(record.work_ids),
                record.use_type,
                f"{record.quantity:f}",
                record.unit,
                record.reason,
            ),
            self._file,
        )

    def rows(self, report_pk: int) -> Iterator[tuple[Any, ...]]:
        """Every held record as a ``royalties_held`` row (re-readable: starts over each time)."""
        self._file.flush()
        self._file.seek(0)
        load = marshal.load
        for _ in range(self.count):
            yield (report_pk, *load(self._file))

    def close(self) -> None:
        """Drop the temporary file."""
        self._file.close()
