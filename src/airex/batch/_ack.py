"""Answering a batch: the AcknowledgementMessage and its ``ACK_<BatchId>.xml`` file.

One Acknowledgement per MessageInBatch, in manifest order (AcknowledgedMessageId and
AcknowledgedFileName from the manifest, the entry's status, errors and proposed action), and,
first, one for the manifest itself when the batch is refused as a whole, when a listed file is
missing or its size or hash does not match, or (accepted, with warnings) when the batch holds
files the manifest does not list.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airex.batch._fs import fsync_dir, move_file_into_place, remove_tree, temp_sibling, write_file
from airex.batch._names import ack_name
from airex.batch._verify import BatchEntry, BatchReport
from airex.batch.errors import IncompleteBatchError
from airex.errors import MessageError, MessageStatus
from airex.messages import (
    Acknowledgement,
    AcknowledgementError,
    AcknowledgementMessage,
    MessageHeader,
    Party,
    serialise,
)
from airex.messages.codes import MessageControlType, ProposedAction

__all__ = [
    "acknowledgement",
    "acknowledgement_error",
    "entry_acknowledgement",
    "make_acknowledgement",
    "proposed_action_for",
    "write_ack",
]

_PROPOSED_ACTIONS: dict[MessageStatus, ProposedAction | None] = {
    MessageStatus.MESSAGE_ACCEPTED: None,
    MessageStatus.XML_NOT_WELL_FORMED: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.SCHEMA_INVALID: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.BUSINESS_RULE_VIOLATION: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING: ProposedAction.RESEND_UNCHANGED,
    MessageStatus.UNKNOWN_PARTY: ProposedAction.CONTACT_SENDER,
    MessageStatus.NOT_AUTHORISED: ProposedAction.CONTACT_SENDER,
    MessageStatus.DUPLICATE_MESSAGE: ProposedAction.NONE,
    MessageStatus.UNKNOWN_REFERENCE: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.INTERNAL_ERROR: ProposedAction.RESEND_UNCHANGED,
}
_TEXT_MAX = 1024
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_INTEGRITY_CODES = frozenset({"FileMissing", "FileSizeMismatch", "HashSumMismatch"})


_TRANSIT_DAMAGE = frozenset({"XmlNotWellFormed", "ArchiveUnreadable"})


def proposed_action_for(status: MessageStatus, code: str | None = None) -> ProposedAction | None:
    """The ProposedAction airex advises for a status (None: the element is left out).

    Accepted: none. Schema or rule errors, unknown references, refused input: correct and
    resend. A wrong or missing hash, an internal error, and input cut short or damaged on the
    way (``code`` XmlNotWellFormed or ArchiveUnreadable, the first error's): resend unchanged.
    Unknown party, not authorised: contact the sender (of the acknowledgement). Duplicate:
    ``None`` (nothing to do).
    """
    status = MessageStatus(status)
    if status is MessageStatus.XML_NOT_WELL_FORMED and code in _TRANSIT_DAMAGE:
        return ProposedAction.RESEND_UNCHANGED
    return _PROPOSED_ACTIONS[status]


def _text(value: str, fallback: str) -> str:
    """``value`` as Text: characters XML can carry, 1 to 1024 of them."""
    # Undecodable bytes of a file name (surrogate escapes) are shown as \xNN; other lone
    # surrogates are replaced below, like any character XML cannot carry.
    with contextlib.suppress(UnicodeEncodeError):
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    value = _NOT_XML_CHAR.sub("\N{REPLACEMENT CHARACTER}", value)
    if not value.strip():
        value = fallback
    if len(value) > _TEXT_MAX:
        value = value[: _TEXT_MAX - 1] + "\N{HORIZONTAL ELLIPSIS}"
    return value


def acknowledgement_error(error: MessageError) -> AcknowledgementError:
    """An Acknowledgement's ``Error`` for a MessageError (code, path, line >= 1, text <= 1024)."""
    code = "".join(error.code.split())[:64] or "InternalError"
    return AcknowledgementError(
        error_code=code,
        path=_text(error.path, "?") if error.path else None,
        line_number=error.line if error.line is not None and error.line >= 1 else None,
        error_text=_text(error.message, code),
    )


def make_acknowledgement(
    status: MessageStatus,
    errors: Iterable[MessageError] = (),
    *,
    message_id: str | None = None,
    file_name: str | None = None,
    proposed_action: ProposedAction | None = None,
) -> Acknowledgement:
    """One Acknowledgement: ``status`` with ``errors``, for a message id and/or a file name.

    ``proposed_action`` None chooses it from the status (:func:`proposed_action_for`).
    """
    status = MessageStatus(status)
    errors = list(errors)
    if proposed_action is None:
        proposed_action = proposed_action_for(status, errors[0].code if errors else None)
    return Acknowledgement(
        acknowledged_message_id=message_id,
        acknowledged_file_name=_text(file_name, "?") if file_name else None,
        message_status=status,
        errors=[acknowledgement_error(e) for e in errors],
        proposed_action=proposed_action,
    )


def entry_acknowledgement(entry: BatchEntry) -> Acknowledgement:
    """The Acknowledgement of one batch entry, with its current status, errors and advice."""
    return make_acknowledgement(
        entry.status,
        entry.errors,
        message_id=entry.message_id,
        file_name=entry.url,
        proposed_action=entry.proposed_action,
    )


def _manifest_acknowledgement(report: BatchReport) -> Acknowledgement | None:
    file_name = report.manifest_file_name
    if report.manifest_errors:
        return make_acknowledgement(
            report.manifest_status,
            report.manifest_errors,
            message_id=report.manifest_message_id,
            file_name=file_name,
        )
    broken = [
        error
        for entry in report.entries
        if not entry.intact
        for error in entry.errors
        if error.code in _INTEGRITY_CODES
    ]
    if broken:
        return make_acknowledgement(
            MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING,
            [*broken, *report.warnings],
            message_id=report.manifest_message_id,
            file_name=file_name,
        )
    if report.warnings:
        return make_acknowledgement(
            MessageStatus.MESSAGE_ACCEPTED,
            report.warnings,
            message_id=report.manifest_message_id,
            file_name=file_name,
        )
    return None


def _party(party: Party | str) -> Party:
    return party if isinstance(party, Party) else Party(party_id=party)


def acknowledgement(
    report: BatchReport,
    *,
    sender: Party | str,
    recipient: Party | str | None = None,
    message_id: str | None = None,
    language: str = "en",
) -> AcknowledgementMessage:
    """The AcknowledgementMessage answering a verified batch (entries as they are now).

    ``sender`` is the receiver of the batch; ``recipient`` defaults to the batch's sender (the
    manifest's MessageSender; required when the manifest could not be read). The header keeps
    the manifest's MessageThreadId and marks the answer TestMessage when the batch is a test.
    Raises :class:`IncompleteBatchError` for an incomplete batch (not answered until complete).
    """
    if not report.complete and not report.manifest_errors:
        raise IncompleteBatchError(
            f"{report.path}: no BatchComplete file; an incomplete batch is not acknowledged"
        )
    to = recipient if recipient is not None else report.manifest_sender
    if to is None:
        raise ValueError(
            f"{report.path}: the manifest's sender is unknown (unreadable manifest); "
            "pass recipient="
        )
    acknowledgements: list[Acknowledgement] = []
    manifest_ack = _manifest_acknowledgement(report)
    if manifest_ack is not None:
        acknowledgements.append(manifest_ack)
    if not report.manifest_errors:
        acknowledgements.extend(entry_acknowledgement(entry) for entry in report.entries)
    thread_id = None
    if report.manifest is not None:
        thread_id = report.manifest.message_header.message_thread_id
    fields: dict[str, Any] = {
        "message_thread_id": thread_id,
        "message_sender": _party(sender),
        "message_recipients": [_party(to)],
        "message_control_type": MessageControlType.TEST_MESSAGE if report.is_test else None,
    }
    if message_id is not None:
        fields["message_id"] = message_id
    header = MessageHeader(**fields)
    return AcknowledgementMessage(
        language_and_script_code=language,
        message_header=header,
        acknowledgements=acknowledgements,
    )


def write_ack(
    batch: BatchReport | str | os.PathLike[str],
    ack: AcknowledgementMessage,
    *,
    directory: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``ack`` as ``ACK_<BatchId>.xml`` next to the batch (or into ``directory``).

    ``batch`` is the verified report (its BatchId is used) or the batch's path (its name,
    less ``.zip``, is taken as the BatchId). The file is written under a temporary name,
    fsync'd and renamed into place, replacing an earlier ACK of the same batch. Returns its path.
    """
    if isinstance(batch, BatchReport):
        path = batch.path
        batch_id = batch.batch_id or path.name.removesuffix(".zip")
    else:
        path = Path(batch)
        batch_id = path.name.removesuffix(".zip")
    folder = Path(directory) if directory is not None else path.parent
    target = folder / ack_name(batch_id)
    temp = temp_sibling(target)
    try:
        write_file(temp, serialise(ack))
        move_file_into_place(temp, target, replace=True)
    except BaseException:
        remove_tree(temp)
        raise
    fsync_dir(folder)
    return target
