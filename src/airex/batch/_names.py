"""Names in a batch: BatchIds, the BatchComplete and ACK file names, URLs and archive members."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = [
    "MANIFEST_PREFIX",
    "ack_name",
    "batch_id_at",
    "check_batch_id",
    "is_batch_id",
    "manifest_id_of",
    "manifest_name",
    "member_problem",
    "message_file_name",
    "next_batch_id",
    "normalise_url",
    "url_problem",
]

MANIFEST_PREFIX = "BatchComplete_"
_BATCH_ID = re.compile(r"^(\d{14})(\d{3})$")
_MANIFEST_NAME = re.compile(r"^BatchComplete_(.+)\.xml$")
# The XSD's BatchUrl: non-empty /-separated segments, no backslash, no colon in the first
# segment, not starting with white space.
_URL = re.compile(r"^[^/\\:\s][^/\\:]*(/[^/\\]+)*$")
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_batch_id(value: str) -> bool:
    """True when ``value`` is a BatchId: ``YYYYMMDDhhmmssnnn``, a real UTC date and time."""
    match = _BATCH_ID.match(value)
    if not match:
        return False
    try:
        datetime.strptime(match.group(1), "%Y%m%d%H%M%S")
    except ValueError:
        return False
    return True


def check_batch_id(value: str) -> str:
    """``value`` if it is a BatchId, else ValueError saying what a BatchId is."""
    if not is_batch_id(value):
        raise ValueError(
            f"BatchId {value!r} is not YYYYMMDDhhmmssnnn (17 digits: a real UTC date and time "
            "to the millisecond)"
        )
    return value


def batch_id_at(moment: datetime) -> str:
    """The BatchId of ``moment`` (converted to UTC), to the millisecond."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"


def next_batch_id(batch_id: str) -> str:
    """The BatchId one millisecond after ``batch_id``."""
    moment = datetime.strptime(batch_id[:14], "%Y%m%d%H%M%S").replace(
        tzinfo=UTC, microsecond=int(batch_id[14:]) * 1000
    )
    return batch_id_at(moment + timedelta(milliseconds=1))


def manifest_name(batch_id: str) -> str:
    """``BatchComplete_<BatchId>.xml``."""
    return f"{MANIFEST_PREFIX}{batch_id}.xml"


def manifest_id_of(name: str) -> str | None:
    """The ``<BatchId>`` part of a ``BatchComplete_<BatchId>.xml`` file name (None otherwise)."""
    match = _MANIFEST_NAME.match(name)
    return match.group(1) if match else None


def ack_name(batch_id: str) -> str:
    """``ACK_<BatchId>.xml``."""
    return f"ACK_{batch_id}.xml"


def normalise_url(url: str) -> str:
    """A manifest URL as a batch file name: ``.`` segments dropped (``./a.xml`` is ``a.xml``)."""
    return "/".join(part for part in url.split("/") if part != ".")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a MessageInBatch URL (None when it can)."""
    if not url or len(url) > 1024:
        return "a URL has 1 to 1024 characters"
    if not _URL.match(url):
        return (
            "a URL is a relative path: /-separated non-empty segments, no leading /, "
            "no backslash, no colon in the first segment"
        )
    if ".." in url.split("/"):
        return "a URL must not have a .. segment (it would leave the batch folder)"
    if _CONTROL.search(url):
        return "a URL must not contain control characters"
    return None


def member_problem(name: str) -> str | None:
    """Why ``name`` (a zip member, ``/``-separated) must not be extracted (None when it may).

    Refused: absolute paths, drive letters, backslashes, ``..`` and ``.`` segments, empty
    segments, control characters.
    """
    if not name:
        return "an empty name"
    if name.startswith("/"):
        return "an absolute path"
    if _DRIVE.match(name):
        return "a drive letter"
    if "\\" in name:
        return "a backslash (a Windows path separator)"
    if _CONTROL.search(name):
        return "a control character"
    parts = name.rstrip("/").split("/") if name.endswith("/") else name.split("/")
    if ".." in parts:
        return "a .. segment (it would leave the batch folder)"
    if "." in parts or "" in parts:
        return "an empty or . segment"
    return None


_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def message_file_name(message_id: str, taken: set[str]) -> str:
    """The file name pack gives a message: ``<MessageId>.xml``, made unique in ``taken``.

    A colon (allowed in ids, not in file names on every system) becomes ``_``; a name already
    taken, compared without case (for case-insensitive file systems), gets ``-2``, ``-3``...
    The chosen name is added to ``taken`` (lower-cased).
    """
    stem = _UNSAFE_FILE_CHARS.sub("_", message_id)
    candidate = f"{stem}.xml"
    number = 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem}-{number}.xml"
    taken.add(candidate.lower())
    return candidate
