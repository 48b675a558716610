"""AcknowledgementMessage: the receiver's verdict on every message and batch it received."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.codes import MessageStatus, ProposedAction
from airex.messages.common import AirexMessage, Identifier, Text, _Model

__all__ = ["Acknowledgement", "AcknowledgementError", "AcknowledgementMessage"]


class AcknowledgementError(_Model, tag="Error"):
    """One error (or, on an accepted message, a warning)."""

    error_code: str = element(tag="ErrorCode")
    path: Text | None = element(tag="Path", default=None)
    line_number: int | None = element(tag="LineNumber", default=None)
    error_text: Text = element(tag="ErrorText")


class Acknowledgement(_Model, tag="Acknowledgement"):
    """The status of one received message (no message id when the file could not be read)."""

    acknowledged_message_id: Identifier | None = element(tag="AcknowledgedMessageId", default=None)
    acknowledged_file_name: Text | None = element(tag="AcknowledgedFileName", default=None)
    message_status: MessageStatus = element(tag="MessageStatus")
    errors: list[AcknowledgementError] = element(tag="Error", default_factory=list)
    proposed_action: ProposedAction | None = element(tag="ProposedAction", default=None)


class AcknowledgementMessage(AirexMessage, tag="AcknowledgementMessage"):
    """Receiver → sender."""

    acknowledgements: list[Acknowledgement] = element(tag="Acknowledgement", min_length=1)
