"""ManifestMessage: a batch's completion file, ``BatchComplete_<BatchId>.xml``, written last."""

from __future__ import annotations

from pydantic_xml import element

from airex.messages.codes import HashSumAlgorithmType, MessageType
from airex.messages.common import AirexMessage, Identifier, XmlBool, _Model

__all__ = ["HashSum", "ManifestMessage", "MessageInBatch"]


class HashSum(_Model, tag="HashSum"):
    """Lower-case hex digest and its algorithm."""

    hash_sum_value: str = element(tag="HashSumValue")
    hash_sum_algorithm_type: HashSumAlgorithmType = element(tag="HashSumAlgorithmType")


class MessageInBatch(_Model, tag="MessageInBatch"):
    """One message file of the batch: type, id, relative path, hash and size."""

    message_type: MessageType = element(tag="MessageType")
    message_id: Identifier = element(tag="MessageId")
    url: str = element(tag="URL")
    hash_sum: HashSum = element(tag="HashSum")
    file_size: int | None = element(tag="FileSize", default=None)


class ManifestMessage(AirexMessage, tag="ManifestMessage"):
    """Lists every message of the batch (not itself); NumberOfMessages counts them."""

    batch_id: str = element(tag="BatchId")
    is_test_flag: XmlBool | None = element(tag="IsTestFlag", default=None)
    number_of_messages: int = element(tag="NumberOfMessages")
    messages_in_batch: list[MessageInBatch] = element(tag="MessageInBatch", min_length=1)
