"""The MessageErrors a batch is refused or a file of it is not read with: one literal code
each (FileMissing, SizeLimitExceeded, UnsafeBatchMember, FileUnreadable, ArchiveUnreadable,
BatchTooLarge, CompressionRatioExceeded, ManifestAmbiguous), for :mod:`airex.batch._source`.
"""

from __future__ import annotations

from airex.errors import MessageError, MessageStatus

__all__ = [
    "ambiguous",
    "archive_unreadable",
    "bomb",
    "missing",
    "too_big",
    "too_large",
    "unreadable",
    "unsafe",
]


def missing(name: str) -> MessageError:
    return MessageError(
        "FileMissing",
        f"{name}: the manifest lists this file, but the batch does not hold it",
        status=MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING,
    )


def too_big(name: str, size: int, limit: int) -> MessageError:
    return MessageError(
        "SizeLimitExceeded",
        f"{name}: {size} bytes, more than the receiver's limit of {limit} bytes; not read",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def unsafe(name: str, why: str) -> MessageError:
    return MessageError(
        "UnsafeBatchMember",
        f"{name}: {why}; refused",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def unreadable(name: str, reason: str) -> MessageError:
    return MessageError(
        "FileUnreadable",
        f"{name}: cannot read the file: {reason}",
        status=MessageStatus.INTERNAL_ERROR,
    )


def archive_unreadable(name: str, reason: str) -> MessageError:
    return MessageError(
        "ArchiveUnreadable",
        f"{name}: not a readable zip archive: {reason}",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def too_large(name: str, what: str) -> MessageError:
    return MessageError(
        "BatchTooLarge",
        f"{name}: {what}; the batch is refused",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def bomb(name: str, size: int, compressed: int, ratio: int) -> MessageError:
    return MessageError(
        "CompressionRatioExceeded",
        f"{name}: {compressed} compressed bytes claim to expand to {size} "
        f"(more than {ratio} times: a zip bomb?); the archive is refused",
        status=MessageStatus.XML_NOT_WELL_FORMED,
    )


def ambiguous(name: str, candidates: list[str]) -> MessageError:
    return MessageError(
        "ManifestAmbiguous",
        f"{name}: {len(candidates)} BatchComplete files ({', '.join(candidates)}) and the "
        "batch's name does not say which is its own",
        status=MessageStatus.BUSINESS_RULE_VIOLATION,
    )
