"""The acknowledgements the exchange sends: built from a status and its errors.

One :class:`~airex.messages.Acknowledgement` per message (and one AcknowledgementMessage per
single message, or per batch with one Acknowledgement per entry). The ProposedAction
follows the status:

=====================================  ==================
status                                 ProposedAction
=====================================  ==================
MessageAccepted                        (none)
XmlNotWellFormed, SchemaInvalid,       CorrectAndResend
BusinessRuleViolation, UnknownReference
SignatureOrHashSumWrongOrMissing       ResendUnchanged
InternalError                          ResendUnchanged
UnknownParty, NotAuthorised            ContactSender
DuplicateMessage                       None
=====================================  ==================

Texts longer than the standard allows (1024 characters) are cut with an ellipsis; line
numbers below 1 are left out, so the acknowledgement is always a valid message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from airex.errors import MessageStatus
from airex.exchange.models import ErrorRecord
from airex.messages import (
    Acknowledgement,
    AcknowledgementError,
    AcknowledgementMessage,
    MessageHeader,
    serialise,
)
from airex.messages.codes import ProposedAction

__all__ = ["AckItem", "acknowledgement_of", "build_acknowledgement", "proposed_action"]

_MAX_TEXT = 1024
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_PROPOSED = {
    MessageStatus.MESSAGE_ACCEPTED: None,
    MessageStatus.XML_NOT_WELL_FORMED: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.SCHEMA_INVALID: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.BUSINESS_RULE_VIOLATION: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.UNKNOWN_REFERENCE: ProposedAction.CORRECT_AND_RESEND,
    MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING: ProposedAction.RESEND_UNCHANGED,
    MessageStatus.INTERNAL_ERROR: ProposedAction.RESEND_UNCHANGED,
    MessageStatus.UNKNOWN_PARTY: ProposedAction.CONTACT_SENDER,
    MessageStatus.NOT_AUTHORISED: ProposedAction.CONTACT_SENDER,
    MessageStatus.DUPLICATE_MESSAGE: ProposedAction.NONE,
}


def proposed_action(status: MessageStatus) -> ProposedAction | None:
    """What the acknowledgement proposes the sender does about a message of ``status``."""
    return _PROPOSED[status]


@dataclass(frozen=True, slots=True)
class AckItem:
    """One acknowledged message: its id and file name (when known), status and errors."""

    message_id: str | None
    file_name: str | None
    status: MessageStatus
    errors: Sequence[ErrorRecord] = ()


def _text(value: str) -> str:
    value = _NOT_XML_CHAR.sub("?", value).strip() or "-"
    if len(value) > _MAX_TEXT:
        return value[: _MAX_TEXT - 1] + "…"
    return value


def _error(error: ErrorRecord) -> AcknowledgementError:
    where = f" ({error.file})" if error.file else ""
    return AcknowledgementError(
        error_code=error.code[:64],
        path=_text(error.path) if error.path else None,
        line_number=error.line if error.line is not None and error.line >= 1 else None,
        error_text=_text(error.message + where),
    )


def acknowledgement_of(item: AckItem) -> Acknowledgement:
    """The Acknowledgement element of one acknowledged message."""
    return _acknowledgement(item)


def _acknowledgement(item: AckItem) -> Acknowledgement:
    name = item.file_name.rsplit("/", 1)[-1] if item.file_name else None
    return Acknowledgement(
        acknowledged_message_id=item.message_id,
        acknowledged_file_name=_text(name) if name else None,
        message_status=item.status,
        errors=[_error(e) for e in item.errors],
        proposed_action=proposed_action(item.status),
    )


def build_acknowledgement(
    sender: str,
    recipient: str,
    items: Sequence[AckItem],
    *,
    thread_id: str | None = None,
    created: datetime | None = None,
) -> tuple[str, bytes]:
    """An AcknowledgementMessage from ``sender`` to ``recipient`` covering ``items``, created
    at ``created`` (default now); return its MessageId and its serialised bytes."""
    header = MessageHeader.build(sender, recipient, thread_id=thread_id)
    if created is not None:
        header.message_created_date_time = created.astimezone(UTC).replace(microsecond=0)
    message = AcknowledgementMessage(
        message_header=header,
        acknowledgements=[_acknowledgement(item) for item in items],
    )
    return message.message_id, serialise(message)
