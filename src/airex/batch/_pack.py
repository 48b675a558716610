"""Sending a batch: :func:`pack` writes a batch folder or zip (:func:`~airex.batch.unpack`,
in :mod:`airex.batch._unpack`, extracts one).

Layout (decided here; the spec allows any relative paths)::

    <BatchId>/                          the batch folder (or <BatchId>.zip, same layout inside)
        <MessageId>.xml                 each message, at the top level, named by its MessageId
        ...                             (":" becomes "_"; "-2", "-3"... where names would clash)
        BatchComplete_<BatchId>.xml     the ManifestMessage, written last

A :class:`MessageFile` may name its own URL (sub-folders allowed). Crash safety: the folder is
built under a hidden temporary name beside its destination (``.<BatchId>.partial-<random>``),
every file is fsync'd, the manifest is written last (itself under a temporary name, then
renamed), and only then is the folder renamed into place; a zip is written to a temporary file
with the manifest as its last member and renamed into place. A reader of the destination
therefore never sees part of a batch with its manifest; an interrupted pack leaves at most a
hidden ``.partial`` entry, never a batch. Existing batches are never overwritten.
"""

from __future__ import annotations

import builtins
import os
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lxml import etree
from pydantic import ValidationError

from airex.batch._flat_entry import flat_entry
from airex.batch._fs import (
    fsync_dir,
    move_dir_into_place,
    move_file_into_place,
    remove_tree,
    temp_sibling,
    write_file,
)
from airex.batch._limits import BatchLimits
from airex.batch._names import (
    batch_id_at,
    check_batch_id,
    manifest_name,
    message_file_name,
    next_batch_id,
    normalise_url,
    url_problem,
)
from airex.batch._verify import hash_hex, party_of
from airex.batch.errors import BatchExistsError, BatchPackError
from airex.errors import MessageError, MessageStatus
from airex.messages import (
    NAMESPACE,
    HashSum,
    ManifestMessage,
    MessageHeader,
    MessageInBatch,
    Party,
    check,
    serialise,
)
from airex.messages.codes import HashSumAlgorithmType, MessageControlType, MessageType

__all__ = ["MessageFile", "PackedBatch", "pack"]

_NS = "{" + NAMESPACE + "}"
_ID_ATTEMPTS = 1000  # default BatchIds tried (one millisecond apart) when a name is taken


@dataclass(frozen=True, slots=True)
class MessageFile:
    """A message to pack, with what :func:`pack` would otherwise work out stated explicitly.

    ``url`` is its path in the batch (default ``<MessageId>.xml``); ``message_type`` and
    ``message_id`` are what the manifest lists (default: read from ``data``; a message whose
    id cannot be read, say one not well-formed packed for a receiver's test, needs them);
    ``name`` names it in errors.
    """

    data: bytes
    url: str | None = None
    message_type: str | None = None
    message_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PackedBatch:
    """A batch :func:`pack` wrote: where, its BatchId and its manifest."""

    path: Path
    batch_id: str
    manifest: ManifestMessage
    manifest_name: str

    @property
    def entries(self) -> list[MessageInBatch]:
        """The manifest's MessageInBatch entries, in order."""
        return list(self.manifest.messages_in_batch)


@dataclass
class _Item:
    name: str
    data: bytes
    url: str | None
    message_type: str | None
    message_id: str | None
    header: etree._Element | None
    part: str = ""


def _read_input(source: object, index: int, limit: int) -> tuple[str, bytes, MessageFile | None]:
    if isinstance(source, MessageFile):
        return source.name or f"message #{index}", bytes(source.data), source
    if isinstance(source, bytes | bytearray | memoryview):
        return f"message #{index}", bytes(source), None
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"message #{index}: a path, bytes or MessageFile, not {type(source)}")
    path = Path(source)
    name = str(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(0, "not a regular file")
        if info.st_size > limit:
            raise BatchPackError(
                [
                    (
                        name,
                        [
                            MessageError(
                                "SizeLimitExceeded",
                                f"{info.st_size} bytes, more than the limit of {limit}",
                                status=MessageStatus.XML_NOT_WELL_FORMED,
                            )
                        ],
                    )
                ],
                "a message is too large to pack; nothing written",
            )
        return name, path.read_bytes(), None
    except OSError as exc:
        raise BatchPackError(
            [
                (
                    name,
                    [
                        MessageError(
                            "FileUnreadable",
                            f"cannot read the file: {exc.strerror or type(exc).__name__}",
                            status=MessageStatus.INTERNAL_ERROR,
                        )
                    ],
                )
            ],
            "a message cannot be read; nothing written",
        ) from exc


def _load(messages: Sequence[object], limits: BatchLimits, allow_invalid: bool) -> list[_Item]:
    if not messages:
        raise BatchPackError([], "a batch holds at least one message; none given")
    items: list[_Item] = []
    problems: list[tuple[str, list[MessageError]]] = []
    parse_limits = limits.parse_limits()
    for index, source in enumerate(messages, start=1):
        name, data, given = _read_input(source, index, limits.max_file_bytes)
        flat = flat_entry(data)
        if flat is not None:  # a flat-file usage report: the manifest lists its HEAD's id
            identifier = (given.message_id if given else None) or flat.message_id
            url = given.url if given and given.url else None
            if url is None and identifier is not None:
                stem = message_file_name(identifier, set()).removesuffix(".xml")
                url = stem + flat.part + flat.suffix
            items.append(
                _Item(
                    name=name,
                    data=data,
                    url=url,
                    message_type="UsageReportMessage",
                    message_id=identifier,
                    header=None,
                    part=flat.part,
                )
            )
            continue
        result = check(data, parse_limits)
        if result.errors and not allow_invalid:
            problems.append((name, result.errors))
            continue
        root = result.tree.getroot() if result.tree is not None else None
        items.append(
            _Item(
                name=name,
                data=data,
                url=given.url if given else None,
                message_type=(given.message_type if given else None) or result.message_type,
                message_id=(given.message_id if given else None) or result.message_id,
                header=root.find(f"{_NS}MessageHeader") if root is not None else None,
            )
        )
    if problems:
        count = len(problems)
        raise BatchPackError(
            problems,
            f"{count} invalid message{'s' if count > 1 else ''}; nothing written "
            "(allow_invalid=True packs them anyway, for testing a receiver)",
        )
    _check_items(items, allow_invalid)
    return items


def _check_items(items: list[_Item], allow_invalid: bool) -> None:
    allowed = {str(t) for t in MessageType}
    seen_ids: dict[tuple[str, str], str] = {}
    for item in items:
        if item.message_type is None or item.message_id is None:
            raise BatchPackError(
                [],
                f"{item.name}: its MessageType and MessageId cannot be read; pack it as a "
                "MessageFile(data, message_type=..., message_id=...)",
            )
        if item.message_type not in allowed:
            raise BatchPackError(
                [],
                f"{item.name} is a {item.message_type}; a batch carries only "
                f"{', '.join(sorted(allowed))} (its manifest is written by pack)",
            )
        # the parts of a split flat report share its MessageId: each is listed once
        first = seen_ids.setdefault((item.message_id, item.part), item.name)
        if first != item.name and not allow_invalid:
            raise BatchPackError(
                [],
                f"MessageId {item.message_id} is both {first} and {item.name}; a batch lists "
                "each message once (allow_invalid=True packs it anyway)",
            )


def _assign_urls(items: list[_Item], batch_id: str) -> list[str]:
    taken = {manifest_name(batch_id).lower()}
    urls: list[str] = []
    for item in items:
        if item.url is not None:
            problem = url_problem(item.url)
            if problem:
                raise BatchPackError([], f"{item.name}: URL {item.url!r}: {problem}")
            key = normalise_url(item.url).lower()
            if key in taken:
                raise BatchPackError(
                    [], f"{item.name}: URL {item.url!r} is taken (by another file or the manifest)"
                )
            taken.add(key)
    for item in items:
        if item.url is None:
            assert item.message_id is not None
            urls.append(message_file_name(item.message_id, taken))
        else:
            urls.append(item.url)
    return urls


def _parties(
    items: list[_Item], sender: Party | str | None, recipients: Sequence[Party | str]
) -> tuple[Party, list[Party]]:
    header = next((item.header for item in items if item.header is not None), None)
    try:
        if sender is None:
            found = party_of(header.find(f"{_NS}MessageSender") if header is not None else None)
            if found is None:
                raise BatchPackError([], "no message header to take the sender from; give sender")
            sender = found
        if not recipients:
            recipients = (
                [p for el in header.iterfind(f"{_NS}MessageRecipient") if (p := party_of(el))]
                if header is not None
                else []
            )
            if not recipients:
                raise BatchPackError([], "no message header to take recipients from; give them")
        return (
            sender if isinstance(sender, Party) else Party(party_id=sender),
            [r if isinstance(r, Party) else Party(party_id=r) for r in recipients],
        )
    except ValidationError as exc:
        raise BatchPackError([], f"invalid party for the manifest: {exc}") from exc


def _manifest(
    items: list[_Item],
    urls: list[str],
    digests: list[str],
    batch_id: str,
    *,
    sender: Party,
    recipients: list[Party],
    algorithm: str,
    test: bool,
    thread_id: str | None,
    language: str,
) -> tuple[ManifestMessage, bytes]:
    try:
        manifest = ManifestMessage(
            language_and_script_code=language,
            message_header=MessageHeader(
                message_thread_id=thread_id,
                message_sender=sender,
                message_recipients=recipients,
                message_control_type=MessageControlType.TEST_MESSAGE if test else None,
            ),
            batch_id=batch_id,
            is_test_flag=True if test else None,
            number_of_messages=len(items),
            messages_in_batch=[
                MessageInBatch(
                    message_type=MessageType(str(item.message_type)),
                    message_id=str(item.message_id),
                    url=url,
                    hash_sum=HashSum(
                        hash_sum_value=digest,
                        hash_sum_algorithm_type=HashSumAlgorithmType(algorithm),
                    ),
                    file_size=len(item.data),
                )
                for item, url, digest in zip(items, urls, digests, strict=True)
            ],
        )
    except ValidationError as exc:
        raise BatchPackError([], f"cannot build the manifest: {exc}") from exc
    data = serialise(manifest)
    result = check(data)
    if result.errors:
        raise BatchPackError(
            [(manifest_name(batch_id), result.errors)], "the manifest would be invalid"
        )
    return manifest, data


def _write_folder(
    target: Path, files: list[tuple[str, bytes]], manifest: tuple[str, bytes]
) -> None:
    temp = temp_sibling(target)
    os.mkdir(temp)
    try:
        folders = {temp}
        for url, data in files:
            path = temp.joinpath(*url.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            folders.add(path.parent)
            write_file(path, data)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)
        name, data = manifest  # last, itself atomically: written aside, then renamed
        final = temp / name
        aside = temp_sibling(final)
        write_file(aside, data)
        move_file_into_place(aside, final)
        move_dir_into_place(temp, target)
    except BaseException:
        remove_tree(temp)
        raise


def _zip_time(batch_id: str) -> tuple[int, int, int, int, int, int]:
    moment = datetime.strptime(batch_id[:14], "%Y%m%d%H%M%S")
    if moment.year < 1980:  # the zip format's epoch
        return (1980, 1, 1, 0, 0, 0)
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def _write_zip(
    target: Path, files: list[tuple[str, bytes]], manifest: tuple[str, bytes], batch_id: str
) -> None:
    temp = temp_sibling(target)
    try:
        with open(temp, "xb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for url, data in [*files, manifest]:  # the manifest is the last member
                    info = zipfile.ZipInfo(url, date_time=_zip_time(batch_id))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = (stat.S_IFREG | 0o644) << 16
                    info.create_system = 3
                    archive.writestr(info, data)
            handle.flush()
            os.fsync(handle.fileno())
        move_file_into_place(temp, target)
    except BaseException:
        remove_tree(temp)
        raise


def _target(out: Path, batch_id: str, as_zip: bool) -> Path:
    if out.suffix.lower() == ".zip":
        return out
    return out / (f"{batch_id}.zip" if as_zip else batch_id)


def pack(
    messages: Sequence[str | os.PathLike[str] | bytes | MessageFile],
    out: str | os.PathLike[str],
    *,
    sender: Party | str | None = None,
    recipients: Sequence[Party | str] = (),
    batch_id: str | None = None,
    zip: bool = False,
    algorithm: str = "SHA-256",
    test: bool = False,
    allow_invalid: bool = False,
    thread_id: str | None = None,
    language: str = "en",
    limits: BatchLimits | None = None,
) -> PackedBatch:
    """Write ``messages`` as one batch in the folder ``out``; return where and what.

    ``out`` is the folder the batch goes into (created if missing): the batch is
    ``out/<BatchId>/``, or ``out/<BatchId>.zip`` with ``zip=True``; an ``out`` ending in
    ``.zip`` is the zip file itself. Each message is checked first (:func:`airex.check`): an
    invalid one is refused with its file, line and code (:class:`BatchPackError`), unless
    ``allow_invalid`` (for testing receivers, which also allows a MessageId twice).
    ``sender`` and ``recipients`` default to those of the first message's header; ``batch_id``
    to now, in UTC, to the millisecond (the next free millisecond when that name is taken).
    ``algorithm`` is SHA-256, SHA-512 or MD5; ``test`` marks the batch IsTestFlag and
    TestMessage. Nothing is ever overwritten (:class:`BatchExistsError`).
    """
    limits = limits or BatchLimits()
    HashSumAlgorithmType(algorithm)  # ValueError for an unknown algorithm, before any work
    destination = Path(out)
    as_zip = zip or destination.suffix.lower() == ".zip"
    chosen = check_batch_id(batch_id) if batch_id is not None else batch_id_at(datetime.now(UTC))
    items = _load(messages, limits, allow_invalid)
    sender_party, recipient_parties = _parties(items, sender, recipients)
    digests = [hash_hex(item.data, algorithm) for item in items]

    def build(batch_id: str) -> tuple[list[tuple[str, bytes]], ManifestMessage, bytes]:
        urls = _assign_urls(items, batch_id)
        manifest, manifest_bytes = _manifest(
            items,
            urls,
            digests,
            batch_id,
            sender=sender_party,
            recipients=recipient_parties,
            algorithm=algorithm,
            test=test,
            thread_id=thread_id,
            language=language,
        )
        files = [(url, item.data) for url, item in builtins.zip(urls, items, strict=True)]
        return files, manifest, manifest_bytes

    build(chosen)  # every refusal (URLs, parties, the manifest) before the disk is touched
    folder = destination.parent if destination.suffix.lower() == ".zip" else destination
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(_ID_ATTEMPTS):
        target = _target(destination, chosen, as_zip)
        if batch_id is None and os.path.lexists(target) and target != destination:
            chosen = next_batch_id(chosen)
            continue
        files, manifest, manifest_bytes = build(chosen)
        last = (manifest_name(chosen), manifest_bytes)
        try:
            if as_zip:
                _write_zip(target, files, last, chosen)
            else:
                _write_folder(target, files, last)
        except BatchExistsError:
            if batch_id is not None or target == destination:
                raise
            chosen = next_batch_id(chosen)  # taken meanwhile by another writer
            continue
        return PackedBatch(path=target, batch_id=chosen, manifest=manifest, manifest_name=last[0])
    raise BatchExistsError(f"no free BatchId in {_ID_ATTEMPTS} milliseconds under {folder}")
