"""Checking a received batch: completeness, the manifest, and every message in it: :func:`verify`.

The order of checks, and what each failure means:

1. **Completeness.** No ``BatchComplete_<BatchId>.xml``: the batch is incomplete (``complete``
   False). Nothing is read, nothing is processed, nothing is acknowledged: the sender may still
   be writing it.
2. **The batch as a whole.** A refused zip (hostile, broken, too large), several manifests, or
   a manifest that is unreadable or invalid (XSD, business rules, a BatchId that differs from
   its file name, two entries naming one file): ``manifest_errors`` says why, and nothing is
   processed; the acknowledgement then holds one Acknowledgement, for the manifest.
3. **Each MessageInBatch.** The file must be present (``FileMissing``), of the listed size
   (``FileSizeMismatch``) and hash (``HashSumMismatch``), all three with status
   ``SignatureOrHashSumWrongOrMissing``; a file failing them is not looked into further. Then
   the message is checked like any other (:func:`airex.check`: its own status and errors), and
   its MessageType and MessageId must be the ones the manifest lists (``MessageTypeMismatch``,
   ``MessageIdMismatch``, BusinessRuleViolation). Each message's outcome is its own: the rest of
   the batch is processed.
4. **Files the manifest does not list** are never processed; each is reported as a warning
   (``FileNotInManifest``, on an accepted Acknowledgement of the manifest).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from pydantic import TypeAdapter, ValidationError

from airex.batch._flat_entry import flat_entry
from airex.batch._limits import BatchLimits
from airex.batch._names import manifest_id_of, normalise_url
from airex.batch._source import Batch, BatchReadError, open_batch
from airex.errors import MessageError, MessageStatus
from airex.messages import NAMESPACE, ManifestMessage, Party, check
from airex.messages.codes import HashSumAlgorithmType, ProposedAction
from airex.messages.common import Identifier
from airex.xml import ParseLimits

__all__ = ["BatchEntry", "BatchReport", "hash_hex", "party_of", "verify"]

_ACCEPTED = MessageStatus.MESSAGE_ACCEPTED
_NS = "{" + NAMESPACE + "}"
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def _md5(data: bytes) -> Any:
    return hashlib.md5(data, usedforsecurity=False)


_HASHES: dict[str, Callable[[bytes], Any]] = {
    HashSumAlgorithmType.SHA_256: hashlib.sha256,
    HashSumAlgorithmType.SHA_512: hashlib.sha512,
    HashSumAlgorithmType.MD5: _md5,
}


def hash_hex(data: bytes, algorithm: str = "SHA-256") -> str:
    """Lower-case hex digest of ``data`` by a HashSumAlgorithmType (SHA-256, SHA-512, MD5)."""
    try:
        function = _HASHES[algorithm]
    except KeyError:
        known = ", ".join(_HASHES)
        raise ValueError(f"unknown HashSumAlgorithmType {algorithm!r} (one of {known})") from None
    digest: str = function(data).hexdigest()
    return digest


@dataclass(eq=False)
class BatchEntry:
    """One MessageInBatch of a verified batch: what the manifest says, the bytes, the verdict.

    ``url``, ``message_type`` and ``message_id`` are the manifest's; ``data`` the file's bytes
    (empty when it could not be read); ``status`` and ``errors`` the verdict, which a receiver
    may replace with its own (:meth:`set_status`) before acknowledging. ``intact`` is True when
    the file is present with the listed size and hash; ``sender`` and ``recipients`` are the
    PartyIds in the message's header, when it could be read.
    """

    url: str
    message_type: str
    message_id: str
    data: bytes = field(repr=False)
    status: MessageStatus = _ACCEPTED
    errors: list[MessageError] = field(default_factory=list)
    proposed_action: ProposedAction | None = None
    intact: bool = False
    sender: str | None = None
    recipients: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        """True when the status is MessageAccepted (errors, if any, are warnings)."""
        return self.status is _ACCEPTED

    def set_status(
        self,
        status: MessageStatus,
        errors: Iterable[MessageError] = (),
        *,
        proposed_action: ProposedAction | None = None,
    ) -> None:
        """Replace the verdict (e.g. ``DuplicateMessage`` found by the receiver); ``errors``
        replaces the errors, ``proposed_action`` (None: chosen from the status) the advice."""
        self.status = MessageStatus(status)
        self.errors = list(errors)
        self.proposed_action = proposed_action

    def as_json(self) -> dict[str, object]:
        """The object ``airex batch verify --json`` prints for this entry."""
        return {
            "url": self.url,
            "message_type": self.message_type,
            "message_id": self.message_id,
            "status": str(self.status),
            "intact": self.intact,
            "size": len(self.data),
            "errors": [error.as_dict() for error in self.errors],
        }


@dataclass(eq=False)
class BatchReport:
    """What :func:`verify` found in a batch; the input of :func:`airex.batch.acknowledgement`.

    ``processable`` is True when the batch is complete and not refused as a whole;
    :meth:`entries_to_process` then gives the accepted entries, with their bytes.
    ``manifest_errors`` (non-empty: the whole batch is refused; ``container_refused`` when
    the zip or folder itself was, before its manifest was read) and ``warnings`` (files the
    manifest does not list) belong to the manifest's own Acknowledgement.
    """

    path: Path
    kind: Literal["folder", "zip"]
    batch_id: str | None
    complete: bool
    manifest_name: str | None = None
    manifest: ManifestMessage | None = None
    manifest_message_id: str | None = None
    manifest_sender: Party | None = None
    manifest_errors: list[MessageError] = field(default_factory=list)
    entries: list[BatchEntry] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    warnings: list[MessageError] = field(default_factory=list)
    container_refused: bool = False

    @property
    def manifest_file_name(self) -> str:
        """The name the manifest's Acknowledgement gives: the BatchComplete file's, or the
        folder's or zip's when the batch itself was refused (``container_refused``)."""
        if self.container_refused or self.manifest_name is None:
            return self.path.name
        return self.manifest_name

    @property
    def refused(self) -> bool:
        """True when the batch as a whole is refused (``manifest_errors`` says why)."""
        return bool(self.manifest_errors)

    @property
    def processable(self) -> bool:
        """True when the batch is complete and not refused: its accepted entries may be used."""
        return self.complete and not self.manifest_errors

    @property
    def manifest_status(self) -> MessageStatus:
        """The status of the manifest itself: its first error's, else MessageAccepted."""
        return self.manifest_errors[0].status if self.manifest_errors else _ACCEPTED

    @property
    def all_accepted(self) -> bool:
        """True when the batch is processable and every entry is accepted."""
        return self.processable and all(e.accepted for e in self.entries)

    @property
    def is_test(self) -> bool:
        """True when the manifest marks the batch as a test (IsTestFlag or TestMessage)."""
        if self.manifest is None:
            return False
        control = self.manifest.message_header.message_control_type
        return bool(self.manifest.is_test_flag) or control == "TestMessage"

    def entries_to_process(self) -> list[BatchEntry]:
        """The accepted entries, in manifest order; none unless the batch is processable."""
        if not self.processable:
            return []
        return [entry for entry in self.entries if entry.accepted]

    def as_json(self) -> dict[str, object]:
        """The object ``airex batch verify --json`` prints."""
        return {
            "batch": str(self.path),
            "batch_id": self.batch_id,
            "complete": self.complete,
            "processable": self.processable,
            "manifest": {
                "file": self.manifest_name,
                "message_id": self.manifest_message_id,
                "status": str(self.manifest_status),
                "errors": [error.as_dict() for error in self.manifest_errors],
                "warnings": [error.as_dict() for error in self.warnings],
            },
            "entries": [entry.as_json() for entry in self.entries],
            "unlisted": list(self.unlisted),
        }


# --- the manifest ---------------------------------------------------------------------------------


def party_of(element: etree._Element | None) -> Party | None:
    """The Party of a header element (MessageSender...): id, name and role when valid, the id
    alone when only the name or role is broken, None when the id is."""
    if element is None:
        return None
    party_id = (element.findtext(f"{_NS}PartyId") or "").strip()
    role = (element.findtext(f"{_NS}PartyRole") or "").strip() or None
    name = element.findtext(f"{_NS}PartyName")
    for fields in (
        {"party_id": party_id, "party_name": name, "party_role": role},
        {"party_id": party_id},
    ):
        try:
            return Party.model_validate(fields)
        except ValidationError:
            continue
    return None


def _line(element: etree._Element | None) -> int | None:
    line = element.sourceline if element is not None else None
    return line if isinstance(line, int) else None


def _identifier(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return _IDENTIFIER.validate_python(value)
    except ValidationError:
        return None


def _manifest_type_error(found: str) -> MessageError:
    return MessageError(
        "MessageTypeMismatch",
        f"the BatchComplete file holds a {found}, not a ManifestMessage",
        path=f"/{found}",
        line=1,
        status=MessageStatus.BUSINESS_RULE_VIOLATION,
    )


def _batch_id_error(file_name: str, batch_id: str, line: int | None) -> MessageError:
    return MessageError(
        "BatchIdMismatch",
        f"the manifest's BatchId {batch_id} is not the one in its file name {file_name}",
        path="/ManifestMessage/BatchId",
        line=line,
        status=MessageStatus.BUSINESS_RULE_VIOLATION,
    )


def _duplicate_url_error(url: str, index: int, line: int | None) -> MessageError:
    return MessageError(
        "DuplicateBatchUrl",
        f"MessageInBatch {index} names file {url!r}, which an earlier entry names already",
        path=f"/ManifestMessage/MessageInBatch[{index}]/URL",
        line=line,
        status=MessageStatus.BUSINESS_RULE_VIOLATION,
    )


def _read_manifest(batch: Batch, report: BatchReport, parse_limits: ParseLimits) -> None:
    """Set ``report.manifest`` (valid manifest) or ``report.manifest_errors``."""
    assert batch.manifest_name is not None
    try:
        data = batch.read(batch.manifest_name)
    except BatchReadError as exc:
        report.manifest_errors = [exc.error]
        return
    result = check(data, parse_limits)
    errors = list(result.errors)
    root = result.tree.getroot() if result.tree is not None else None
    if root is not None:
        header = root.find(f"{_NS}MessageHeader")
        report.manifest_sender = party_of(
            header.find(f"{_NS}MessageSender") if header is not None else None
        )
        report.manifest_message_id = _identifier(result.message_id)
    if not errors and result.message_type != "ManifestMessage":
        errors.append(_manifest_type_error(result.message_type or "?"))
    if errors:
        report.manifest_errors = errors
        return
    assert root is not None
    try:
        manifest = ManifestMessage.from_xml_tree(root)  # type: ignore[arg-type]
    except ValidationError as exc:  # the XSD and the model disagree: refuse, never guess
        report.manifest_errors = [
            MessageError(
                "SchemaInvalid",
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
                status=MessageStatus.SCHEMA_INVALID,
            )
            for err in exc.errors()
        ]
        return
    assert isinstance(manifest, ManifestMessage)
    named = manifest_id_of(batch.manifest_name)
    if named != manifest.batch_id:
        line = _line(root.find(f"{_NS}BatchId"))
        errors.append(_batch_id_error(batch.manifest_name, manifest.batch_id, line))
    seen: set[str] = set()
    for index, (item, element) in enumerate(
        zip(manifest.messages_in_batch, root.iterfind(f"{_NS}MessageInBatch"), strict=True),
        start=1,
    ):
        key = normalise_url(item.url)
        if key in seen:
            line = _line(element.find(f"{_NS}URL"))
            errors.append(_duplicate_url_error(item.url, index, line))
        seen.add(key)
    if errors:
        report.manifest_errors = errors
        return
    report.manifest = manifest
    report.batch_id = manifest.batch_id


# --- each message ---------------------------------------------------------------------------------


def _size_error(url: str, actual: int, listed: int) -> MessageError:
    return MessageError(
        "FileSizeMismatch",
        f"{url}: {actual} bytes, the manifest's FileSize says {listed}",
        status=MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING,
    )


def _hash_error(url: str, algorithm: str, actual: str, listed: str) -> MessageError:
    return MessageError(
        "HashSumMismatch",
        f"{url}: its {algorithm} hash is {actual}, the manifest's HashSumValue is {listed}",
        status=MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING,
    )


def _type_error(url: str, found: str, listed: str) -> MessageError:
    return MessageError(
        "MessageTypeMismatch",
        f"{url} holds a {found}; the manifest lists it as a {listed}",
        path=f"/{found}",
        line=1,
        status=MessageStatus.BUSINESS_RULE_VIOLATION,
    )


def _id_error(url: str, found: str, listed: str, root_name: str, line: int | None) -> MessageError:
    return MessageError(
        "MessageIdMismatch",
        f"{url} has MessageId {found}; the manifest lists it as {listed}",
        path=f"/{root_name}/MessageHeader/MessageId",
        line=line,
        status=MessageStatus.BUSINESS_RULE_VIOLATION,
    )


def _unlisted_warning(name: str) -> MessageError:
    return MessageError(
        "FileNotInManifest",
        f"{name}: the batch holds this file but the manifest does not list it; not processed",
        status=MessageStatus.MESSAGE_ACCEPTED,
    )


def _verify_entry(
    batch: Batch,
    url: str,
    message_type: str,
    message_id: str,
    hash_value: str,
    algorithm: str,
    file_size: int | None,
    parse_limits: ParseLimits,
) -> BatchEntry:
    entry = BatchEntry(url=url, message_type=message_type, message_id=message_id, data=b"")
    try:
        data = batch.read(normalise_url(url))
    except BatchReadError as exc:
        entry.set_status(exc.error.status, [exc.error])
        return entry
    entry.data = data
    integrity: list[MessageError] = []
    if file_size is not None and len(data) != file_size:
        integrity.append(_size_error(url, len(data), file_size))
    actual = hash_hex(data, algorithm)
    if not hmac.compare_digest(actual, hash_value.lower()):
        integrity.append(_hash_error(url, algorithm, actual, hash_value))
    if integrity:  # damaged or tampered with: its content is not trusted, nor looked into
        entry.set_status(integrity[0].status, integrity)
        return entry
    entry.intact = True
    flat = flat_entry(data)
    if flat is not None:  # a flat-file usage report: its HEAD against the manifest
        errors = []
        if message_type != "UsageReportMessage":
            errors.append(_type_error(url, "UsageReportMessage", message_type))
        if flat.message_id != message_id:
            errors.append(_id_error(url, str(flat.message_id), message_id, "HEAD", flat.line))
        entry.sender, entry.recipients = flat.sender, (flat.recipient,)
        entry.set_status(errors[0].status if errors else _ACCEPTED, errors)
        return entry
    result = check(data, parse_limits)
    errors = list(result.errors)
    root = result.tree.getroot() if result.tree is not None else None
    if result.message_type is not None and result.message_type != message_type:
        errors.append(_type_error(url, result.message_type, message_type))
    if result.message_id is not None and result.message_id != message_id:
        id_el = root.find(f"{_NS}MessageHeader/{_NS}MessageId") if root is not None else None
        line = _line(id_el)
        root_name = result.message_type or message_type
        errors.append(_id_error(url, result.message_id, message_id, root_name, line))
    if root is not None:
        header = root.find(f"{_NS}MessageHeader")
        if header is not None:
            entry.sender = (header.findtext(f"{_NS}MessageSender/{_NS}PartyId") or "").strip()
            entry.recipients = tuple(
                (el.text or "").strip()
                for el in header.iterfind(f"{_NS}MessageRecipient/{_NS}PartyId")
            )
    entry.set_status(errors[0].status if errors else _ACCEPTED, errors)
    return entry


def verify(
    batch: Batch | str | os.PathLike[str], *, limits: BatchLimits | None = None
) -> BatchReport:
    """Check a batch (an opened :class:`Batch`, or the path of a folder or zip, opened with
    ``limits``; an opened batch keeps the limits it was opened with).

    Never raises for what is in the batch: every finding is in the :class:`BatchReport`. An
    incomplete batch is reported as such (``complete`` False) and not looked into.
    """
    if not isinstance(batch, Batch):
        batch = open_batch(batch, limits=limits)
    parse_limits = batch.limits.parse_limits()
    report = BatchReport(
        path=batch.path,
        kind=batch.kind,
        batch_id=batch.batch_id,
        complete=batch.complete,
        manifest_name=batch.manifest_name,
    )
    if batch.refusal:
        report.manifest_errors = list(batch.refusal)
        report.container_refused = True
        return report
    if not batch.complete:
        return report
    _read_manifest(batch, report, parse_limits)
    if report.manifest is None:
        return report
    listed: set[str] = set()
    for item in report.manifest.messages_in_batch:
        listed.add(normalise_url(item.url))
        report.entries.append(
            _verify_entry(
                batch,
                item.url,
                str(item.message_type),
                item.message_id,
                item.hash_sum.hash_sum_value,
                str(item.hash_sum.hash_sum_algorithm_type),
                item.file_size,
                parse_limits,
            )
        )
    assert report.manifest_name is not None
    report.unlisted = [n for n in batch.names() if n not in listed and n != report.manifest_name]
    report.warnings = [_unlisted_warning(name) for name in report.unlisted]
    return report
