"""How much a received batch may hold before it is refused: :class:`BatchLimits`."""

from __future__ import annotations

from dataclasses import dataclass

from airex.xml import ParseLimits

__all__ = ["BatchLimits"]

_DEFAULT_PARSE = ParseLimits()


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """Limits a batch must stay within; every read of a batch is bounded by them.

    ``max_file_bytes`` bounds each file (a message or the manifest; a larger one is rejected with
    ``SizeLimitExceeded`` without being read), ``max_total_bytes`` the files of the batch together
    (uncompressed), ``max_files`` their number. A zip member larger than
    ``ratio_floor_bytes`` may be at most ``max_compression_ratio`` times its compressed size
    (real XML compresses 10-20 times; a zip bomb a thousand). ``max_depth`` is the XML nesting
    limit of each message.
    """

    max_file_bytes: int = _DEFAULT_PARSE.max_bytes
    max_total_bytes: int = 1024 * 1024 * 1024
    max_files: int = 10_000
    max_compression_ratio: int = 100
    ratio_floor_bytes: int = 1024 * 1024
    max_depth: int = _DEFAULT_PARSE.max_depth

    def __post_init__(self) -> None:
        for name in (
            "max_file_bytes",
            "max_total_bytes",
            "max_files",
            "max_compression_ratio",
            "max_depth",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.ratio_floor_bytes < 0:
            raise ValueError(f"ratio_floor_bytes must be >= 0, not {self.ratio_floor_bytes}")

    def parse_limits(self) -> ParseLimits:
        """The :class:`~airex.xml.ParseLimits` each message of the batch is checked with."""
        return ParseLimits(max_bytes=self.max_file_bytes, max_depth=self.max_depth)
