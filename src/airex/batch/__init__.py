"""Batches: many messages sent as one folder or zip, completed by a manifest, answered by an ACK.

A batch (spec "Batches", DDEX choreography style) is a folder named by its BatchId holding
message files and, written last, ``BatchComplete_<BatchId>.xml`` (a ManifestMessage listing
each message's type, id, path, hash and size). It may travel as ``<BatchId>.zip``. The receiver
answers with ``ACK_<BatchId>.xml``, one AcknowledgementMessage.

Sending::

    from airex.batch import pack
    packed = pack(["invoice.xml", "statement.xml"], "outbox/")   # outbox/<BatchId>/
    packed.path, packed.batch_id

Receiving::

    from airex.batch import acknowledgement, verify, write_ack
    report = verify("inbox/20260420091500000")   # a folder or a .zip
    if report.complete:                          # else: not processed, not answered (yet)
        for entry in report.entries_to_process():
            ...                                  # entry.data: the accepted message's bytes
        ack = acknowledgement(report, sender="PADPIDA2026CADENZA")
        write_ack(report, ack)                   # inbox/ACK_20260420091500000.xml

A batch without its BatchComplete file is never processed; a file whose hash (or size) does not
match is rejected with ``SignatureOrHashSumWrongOrMissing`` and the rest is processed; every
message is also checked like any other. Hostile zips (path traversal, links, duplicates, zip
bombs) are refused as a whole, as data, never as a crash.
"""

from airex.batch._ack import (
    acknowledgement,
    acknowledgement_error,
    entry_acknowledgement,
    make_acknowledgement,
    proposed_action_for,
    write_ack,
)
from airex.batch._limits import BatchLimits
from airex.batch._names import ack_name, is_batch_id, manifest_name
from airex.batch._pack import MessageFile, PackedBatch, pack
from airex.batch._source import Batch, BatchReadError, open_batch
from airex.batch._unpack import unpack
from airex.batch._verify import BatchEntry, BatchReport, hash_hex, verify
from airex.batch.errors import (
    BatchError,
    BatchExistsError,
    BatchPackError,
    BatchRefusedError,
    IncompleteBatchError,
)

__all__ = [
    "Batch",
    "BatchEntry",
    "BatchError",
    "BatchExistsError",
    "BatchLimits",
    "BatchPackError",
    "BatchReadError",
    "BatchRefusedError",
    "BatchReport",
    "IncompleteBatchError",
    "MessageFile",
    "PackedBatch",
    "ack_name",
    "acknowledgement",
    "acknowledgement_error",
    "entry_acknowledgement",
    "hash_hex",
    "is_batch_id",
    "make_acknowledgement",
    "manifest_name",
    "open_batch",
    "pack",
    "proposed_action_for",
    "unpack",
    "verify",
    "write_ack",
]
