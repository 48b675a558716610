"""A batch entry that is a flat-file usage report (``.tsv`` or ``.tsv.gz``): its HEAD read.

A batch carries a flat report like any message: the manifest lists it as a
UsageReportMessage under the MessageId of its HEAD. Packing and verifying read only that
HEAD (the receiver validates the whole report as a stream when it processes the entry).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Final

__all__: list[str] = []

_PEEK: Final = 1 << 16
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_COUNT: Final = re.compile(r"[1-9][0-9]{0,5}")


@dataclass(frozen=True, slots=True)
class FlatEntry:
    """What a flat report's first HEAD says (``None`` where a cell does not fit)."""

    message_id: str | None
    sender: str
    recipient: str
    compressed: bool
    line: int
    part: str = ""
    """``_<n>of<N>`` for file ``n`` of a report split over ``N`` > 1 files, else empty: the
    parts of one report share its MessageId, each a file of the batch."""

    @property
    def suffix(self) -> str:
        """The file name ending of its form."""
        return ".tsv.gz" if self.compressed else ".tsv"


def flat_entry(data: bytes) -> FlatEntry | None:
    """The HEAD of ``data`` when it is a flat-file usage report (plain or gzip), else ``None``."""
    start = data[:_PEEK]
    compressed = start.startswith(b"\x1f\x8b")
    if compressed:
        try:
            start = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(start, _PEEK)
        except zlib.error:
            return None
    text = start.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    for line_number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("#"):
            continue
        if not line.startswith("HEAD\t"):
            return None
        cells = [*line.rstrip("\r").split("\t"), *[""] * 12]
        message_id = cells[2].strip()
        number, total = cells[10].strip(), cells[11].strip()
        split = _COUNT.fullmatch(number) and _COUNT.fullmatch(total) and int(total) > 1
        return FlatEntry(
            message_id=message_id if _IDENTIFIER.fullmatch(message_id) else None,
            sender=cells[5].strip(),
            recipient=cells[6].strip(),
            compressed=compressed,
            line=line_number,
            part=f"_{number}of{total}" if split else "",
        )
    return None
