"""The pipeline's service functions, without Celery: receive, process, act, acknowledge, give up.

Each test runs on SQLite and on PostgreSQL (the ``backend`` fixture), with the embedded broker
for the queue deliveries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from exchange_support import (
    CMO,
    DEV,
    RH1,
    RH2,
    STRANGER,
    Env,
    acknowledgement,
    codes,
    licence_request,
    message_id_of,
    payment,
    statuses,
)

from airex.batch import pack
from airex.db import DatabaseBusyError
from airex.errors import MessageError, MessageStatus
from airex.exchange import (
    ActionResult,
    Exchange,
    OutgoingMessage,
    ReceivedState,
    TransientError,
    drain_queue,
)
from airex.exchange.queues import Delivery
from airex.messages import AirexMessage

ACCEPTED = "MessageAccepted"


@dataclass
class RecordingActions:
    """CMO actions for tests: record each call; answer, fail or send as told."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    result: ActionResult = field(default_factory=ActionResult)
    raises: BaseException | None = None
    gate: threading.Event | None = None

    def act(self, message: AirexMessage, raw: bytes, received: Any, engine: Any) -> ActionResult:
        """Record the call, then do what the test asked."""
        self.calls.append((message.message_type, received.dedupe_key))
        if self.gate is not None:
            self.gate.wait(10)
        if self.raises is not None:
            raise self.raises
        return self.result


def run_pending(exchange: Exchange) -> None:
    """Process every pending message in id order, performing what each owes, until none."""
    while True:
        with exchange.engine.connect() as connection:
            ids = list(
                connection.execute(
                    sa.text("SELECT id FROM exchange_received WHERE state = 'pending' ORDER BY id")
                ).scalars()
            )
        if not ids:
            return
        for received_id in ids:
            outcome = exchange.process(received_id)
            exchange.deliver(outcome.outbox_ids)


def ack_bytes(exchange: Exchange, received_id: int) -> bytes:
    """The acknowledgement sent for ``received_id``."""
    found = exchange.acknowledgement_of(received_id=received_id)
    assert found is not None
    return found[1]


def test_accepted_message_is_stored_routed_and_acknowledged(backend: Env) -> None:
    """A valid request reaches the CMO's inbox unchanged; the developer's inbox and queue get
    one MessageAccepted acknowledgement naming it."""
    exchange = backend.exchange()
    data = licence_request(message_id="REQ-MSG-1")
    received_id = exchange.receive_bytes(data, arrival_party=DEV, publish=False)
    assert exchange.store.get(exchange.received_message(received_id).sha256) == data
    outcome = exchange.process(received_id)
    exchange.deliver(outcome.outbox_ids)
    assert outcome.status is MessageStatus.MESSAGE_ACCEPTED
    assert backend.inbox_files(CMO) == {f"{DEV}_REQ-MSG-1.xml": data}
    ack_name = f"ACK_REQ-MSG-1_{received_id}.xml"
    dev_files = backend.inbox_files(DEV)
    assert list(dev_files) == [ack_name]
    assert statuses(dev_files[ack_name]) == [("REQ-MSG-1", ACCEPTED)]
    queued = backend.drain(DEV)
    assert [(d.headers["airex-kind"], d.headers["airex-file-name"]) for d in queued] == [
        ("acknowledgement", ack_name)
    ]
    assert queued[0].body == dev_files[ack_name]
    record = exchange.received_message(received_id)
    assert (record.state, record.status, record.sender, record.message_id) == (
        ReceivedState.DONE,
        MessageStatus.MESSAGE_ACCEPTED,
        DEV,
        "REQ-MSG-1",
    )


def test_processing_again_does_nothing(backend: Env) -> None:
    """A second run of the same task (a redelivery) changes nothing and sends nothing."""
    exchange = backend.exchange()
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    exchange.deliver(exchange.process(received_id).outbox_ids)
    before = (backend.scalar("SELECT count(*) FROM exchange_outbox"), backend.inbox_files(DEV))
    again = exchange.process(received_id, redelivered=True)
    assert (again.already, again.status, again.outbox_ids) == (True, None, [])
    assert (backend.scalar("SELECT count(*) FROM exchange_outbox"), backend.inbox_files(DEV)) == (
        before
    )
    assert backend.scalar("SELECT count(*) FROM exchange_ack") == 1


def _manifest_message(tmp_path: Path) -> bytes:
    packed = pack([licence_request()], tmp_path / "batches")
    return next(packed.path.glob("BatchComplete_*.xml")).read_bytes()


def _schema_invalid() -> bytes:
    return licence_request().replace(b"<RequestId>REQ-7</RequestId>", b"<RequestId></RequestId>")


NWF, SI, NA, UP = "XmlNotWellFormed", "SchemaInvalid", "NotAuthorised", "UnknownParty"

BAD_INPUTS = [
    # bytes (or a maker), arrival party, status, error codes, who gets the acknowledgement
    pytest.param(b"<LicenceRequestMessage", DEV, NWF, [NWF], DEV, id="not-well-formed"),
    pytest.param(_schema_invalid, DEV, SI, ["InvalidIdentifier"], DEV, id="schema-invalid"),
    pytest.param(licence_request, RH1, NA, ["SenderMismatch"], RH1, id="spoofed-sender"),
    pytest.param(
        lambda: licence_request(STRANGER), None, UP, ["UnknownSender"], None, id="unknown-sender"
    ),
    pytest.param(
        lambda: licence_request(DEV, STRANGER), DEV, UP, ["UnknownRecipient"], DEV,
        id="unknown-recipient",
    ),
    pytest.param(
        lambda: licence_request(RH1, CMO), RH1, NA, ["SenderNotEntitled"], RH1,
        id="sender-not-entitled",
    ),
    pytest.param(
        lambda: payment(DEV, DEV), DEV, NA, ["RecipientNotEntitled"], DEV,
        id="recipient-not-entitled",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "arrival", "status", "error_codes", "acked_to"), BAD_INPUTS)
def test_bad_input_is_rejected_with_the_exact_acknowledgement(
    backend: Env,
    data: Any,
    arrival: str | None,
    status: str,
    error_codes: list[str],
    acked_to: str | None,
) -> None:
    """Each kind of bad input gets one acknowledgement with its status and error codes, sent
    to the party that handed it in; nothing is routed and nothing is acted on."""
    actions = RecordingActions()
    exchange = backend.exchange(actions=actions)
    raw = data() if callable(data) else data
    received_id = exchange.receive_bytes(raw, arrival_party=arrival, publish=False)
    outcome = exchange.process(received_id)
    exchange.deliver(outcome.outbox_ids)
    sent = ack_bytes(exchange, received_id)
    assert (statuses(sent)[0][1], codes(sent)) == (status, [error_codes])
    assert actions.calls == []
    assert backend.scalar("SELECT count(*) FROM exchange_inbox") == 0
    assert backend.inbox_files(CMO) == {}
    if acked_to is None:
        assert backend.scalar("SELECT count(*) FROM exchange_outbox WHERE kind='folder'") == 0
    else:
        assert [n for n in backend.inbox_files(acked_to) if n.startswith("ACK_")] != []


def test_manifest_alone_is_not_authorised(backend: Env, tmp_path: Path) -> None:
    """A ManifestMessage sent on its own (not as a batch's completion file) is NotAuthorised."""
    exchange = backend.exchange()
    received_id = exchange.receive_bytes(_manifest_message(tmp_path), arrival_party=DEV)
    exchange.process(received_id)
    assert codes(ack_bytes(exchange, received_id)) == [["ManifestOutsideBatch"]]


def test_duplicate_is_acknowledged_without_effects(backend: Env) -> None:
    """The same (sender, MessageId) twice: the copy is acknowledged DuplicateMessage, routed
    nowhere and not acted on."""
    actions = RecordingActions()
    exchange = backend.exchange(actions=actions)
    data = licence_request(message_id="REQ-DUP")
    first = exchange.receive_bytes(data, arrival_party=DEV, publish=False)
    second = exchange.receive_bytes(data, arrival_party=DEV, publish=False)
    run_pending(exchange)
    assert statuses(ack_bytes(exchange, first)) == [("REQ-DUP", ACCEPTED)]
    assert statuses(ack_bytes(exchange, second)) == [("REQ-DUP", "DuplicateMessage")]
    assert codes(ack_bytes(exchange, second)) == [["DuplicateMessage"]]
    assert actions.calls == [("LicenceRequestMessage", f"{DEV}/REQ-DUP")]
    assert backend.scalar("SELECT count(*) FROM exchange_inbox") == 1


def test_acknowledgements_from_parties_are_routed_but_not_acknowledged(backend: Env) -> None:
    """An AcknowledgementMessage a party sends is delivered to its recipient, and gets no
    acknowledgement back (acks of acks would never end)."""
    exchange = backend.exchange()
    data = acknowledgement(DEV, RH1)
    received_id = exchange.receive_bytes(data, arrival_party=DEV, publish=False)
    exchange.deliver(exchange.process(received_id).outbox_ids)
    assert list(backend.inbox_files(RH1).values()) == [data]
    assert exchange.acknowledgement_of(received_id=received_id) is None
    assert backend.inbox_files(DEV) == {}


def test_queue_only_party_receives_on_its_queue(backend: Env) -> None:
    """A message to a party with only a queue route is published on party.<PartyId>, with the
    headers a consumer needs to deduplicate."""
    exchange = backend.exchange()
    data = payment(CMO, RH2)
    received_id = exchange.receive_bytes(data, arrival_party=CMO, publish=False)
    exchange.deliver(exchange.process(received_id).outbox_ids)
    (delivery,) = backend.drain(RH2)
    assert delivery.body == data
    assert delivery.headers["airex-kind"] == "message"
    assert delivery.headers["airex-sender"] == CMO
    assert delivery.headers["airex-message-id"] == message_id_of(data)
    assert delivery.delivery_id is not None


def test_actions_run_only_for_messages_to_the_cmo(backend: Env) -> None:
    """The CMO's actions see messages addressed to the CMO, once each, with their dedupe key;
    not messages between other parties, and not test messages."""
    actions = RecordingActions()
    exchange = backend.exchange(actions=actions)
    to_cmo = licence_request(message_id="REQ-A")
    to_rh = licence_request(DEV, RH1, message_id="REQ-B")
    test_message = licence_request(message_id="REQ-C").replace(
        b"</MessageCreatedDateTime>",
        b"</MessageCreatedDateTime>\n    <MessageControlType>TestMessage</MessageControlType>",
    )
    for data in (to_cmo, to_rh, test_message):
        exchange.receive_bytes(data, arrival_party=DEV, publish=False)
    run_pending(exchange)
    assert actions.calls == [("LicenceRequestMessage", f"{DEV}/REQ-A")]
    assert backend.scalar("SELECT count(*) FROM exchange_ack WHERE status='MessageAccepted'") == 3


def test_action_result_sets_the_acknowledgement(backend: Env) -> None:
    """A rejection the CMO's actions return (status and errors) is what the sender is told."""
    reason = MessageError(
        "OfferUnknown", "no offer OFF-2026-01", status=MessageStatus.UNKNOWN_REFERENCE
    )
    actions = RecordingActions(
        result=ActionResult(status=MessageStatus.UNKNOWN_REFERENCE, errors=[reason])
    )
    exchange = backend.exchange(actions=actions)
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    exchange.process(received_id)
    sent = ack_bytes(exchange, received_id)
    assert (statuses(sent)[0][1], codes(sent)) == ("UnknownReference", [["OfferUnknown"]])


def test_outgoing_messages_are_routed_to_their_recipients(backend: Env) -> None:
    """What the CMO sends in answer is routed like any message to its recipients; it is not
    acted on again and not acknowledged back to the CMO."""
    answer = payment(CMO, RH1, message_id="PAYOUT-1")
    actions = RecordingActions(result=ActionResult(outgoing=[OutgoingMessage(answer)]))
    exchange = backend.exchange(actions=actions)
    received_id = exchange.receive_bytes(payment(DEV, CMO), arrival_party=DEV, publish=False)
    run_pending(exchange)
    assert backend.inbox_files(RH1) == {f"{CMO}_PAYOUT-1.xml": answer}
    assert len(actions.calls) == 1
    assert backend.scalar("SELECT count(*) FROM exchange_ack") == 1
    assert backend.scalar("SELECT count(*) FROM exchange_received") == 1
    assert backend.scalar("SELECT status FROM exchange_sent") == "MessageAccepted"
    assert backend.scalar("SELECT received_id FROM exchange_sent") == received_id


def test_action_raising_sends_the_message_to_the_dead_letters(backend: Env) -> None:
    """A poison message (its action raises) is given up at once: dead-letter row and queue
    with the reason, state dead, InternalError acknowledgement; never retried."""
    actions = RecordingActions(raises=ValueError("licence terms cannot be priced"))
    exchange = backend.exchange(actions=actions)
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    outcome = exchange.process(received_id)
    exchange.deliver(outcome.outbox_ids)
    assert (outcome.dead, outcome.status) == (True, MessageStatus.INTERNAL_ERROR)
    record = exchange.received_message(received_id)
    assert record.state is ReceivedState.DEAD
    assert codes(ack_bytes(exchange, received_id)) == [["ProcessingFailed"]]
    status = exchange.status()
    assert status.dead_letter_count == 1
    assert "ValueError: licence terms cannot be priced" in status.dead_letters[0].reason
    found: list[Delivery] = []
    drain_queue(backend.settings, backend.settings.dead_letter_queue, found.append, idle=0.5)
    assert [d.headers["airex-received-id"] for d in found] == [received_id]
    assert "licence terms cannot be priced" in found[0].headers["airex-reason"]
    assert exchange.process(received_id, redelivered=True).already
    assert len(actions.calls) == 1


def test_transient_failure_leaves_the_message_pending(backend: Env) -> None:
    """A transient failure (database busy) raises TransientError and leaves the message to be
    redone; the retry processes it normally."""
    actions = RecordingActions(raises=DatabaseBusyError("locked"))
    exchange = backend.exchange(actions=actions)
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    with pytest.raises(TransientError, match="locked"):
        exchange.process(received_id)
    assert exchange.received_message(received_id).state is ReceivedState.PENDING
    actions.raises = None
    assert exchange.process(received_id, redelivered=True).status is MessageStatus.MESSAGE_ACCEPTED
    assert exchange.received_message(received_id).attempts == 1


def test_message_redelivered_too_often_is_given_up(backend: Env) -> None:
    """A message whose task keeps being redelivered (its worker killed each time) goes to the
    dead letters after max_attempts deliveries instead of looping for ever."""
    actions = RecordingActions(raises=DatabaseBusyError("still locked"))
    exchange = backend.exchange(actions=actions)
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    with pytest.raises(TransientError):
        exchange.process(received_id)
    for _ in range(backend.settings.max_attempts - 1):
        with pytest.raises(TransientError):
            exchange.process(received_id, redelivered=True)
    assert len(actions.calls) == backend.settings.max_attempts
    outcome = exchange.process(received_id, redelivered=True)
    assert outcome.dead
    assert len(actions.calls) == backend.settings.max_attempts
    assert "delivered" in exchange.status().dead_letters[0].reason


def test_damaged_store_file_goes_to_the_dead_letters(backend: Env) -> None:
    """Bytes that no longer match their hash are never processed: the message is given up."""
    exchange = backend.exchange()
    received_id = exchange.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    path = exchange.store.path(exchange.received_message(received_id).sha256)
    path.write_bytes(path.read_bytes() + b" ")
    outcome = exchange.process(received_id)
    assert outcome.dead
    assert "StoreError" in exchange.status().dead_letters[0].reason


def test_two_workers_on_one_message_process_it_once(backend: Env) -> None:
    """Two processes running the same task at once (a redelivery while the first still runs)
    commit one outcome: one acknowledgement, one routing."""
    gate = threading.Event()
    actions = RecordingActions(gate=gate)
    first, second = backend.exchange(actions=actions), backend.exchange(actions=actions)
    received_id = first.receive_bytes(licence_request(), arrival_party=DEV, publish=False)
    outcomes: list[Any] = []
    threads = [
        threading.Thread(target=lambda e=e: outcomes.append(e.process(received_id)))
        for e in (first, second)
    ]
    for thread in threads:
        thread.start()
    while len(actions.calls) < 2:
        threading.Event().wait(0.01)
    gate.set()
    for thread in threads:
        thread.join(30)
    assert sorted(o.already for o in outcomes) == [False, True]
    assert backend.scalar("SELECT count(*) FROM exchange_ack") == 1
    assert backend.scalar("SELECT count(*) FROM exchange_inbox") == 1


def test_unknown_received_id_is_ignored(backend: Env) -> None:
    """A task for an id that does not exist does nothing."""
    assert backend.exchange().process(999_999).already


# --- batches -------------------------------------------------------------------------------


def test_batch_with_bad_entries_gets_one_exact_acknowledgement(
    backend: Env, tmp_path: Path
) -> None:
    """A batch mixing a valid message, an invalid one, a duplicate, a hash-mismatched one and
    one with a spoofed sender gets ONE ACK_<BatchId>.xml with exactly those statuses."""
    valid = licence_request(message_id="B-VALID")
    invalid = licence_request(message_id="B-INVALID").replace(
        b"<RequestId>REQ-7</RequestId>", b"<RequestId></RequestId>"
    )
    tampered = licence_request(message_id="B-TAMPERED")
    spoofed = licence_request(RH1, CMO, message_id="B-SPOOFED")
    packed = pack(
        [valid, invalid, valid, tampered, spoofed],
        tmp_path / "outbox",
        sender=DEV,
        recipients=[CMO],
        allow_invalid=True,
    )
    entries = packed.entries
    changed = tampered.replace(b"REQ-7", b"REQ-8")  # same size, another hash
    (packed.path / entries[3].url).write_bytes(changed)
    exchange = backend.exchange()
    intake = exchange.receive_batch(packed.path, arrival_party=DEV)
    run_pending(exchange)
    found = exchange.acknowledgement_of(batch_row_id=intake.batch_row_id)
    assert found is not None
    record, sent = found
    assert record.file_name == f"ACK_{packed.batch_id}.xml"
    manifest_id = message_id_of(next(packed.path.glob("BatchComplete_*.xml")).read_bytes())
    assert statuses(sent) == [
        (manifest_id, "SignatureOrHashSumWrongOrMissing"),
        ("B-VALID", ACCEPTED),
        ("B-INVALID", "SchemaInvalid"),
        ("B-VALID", "DuplicateMessage"),
        ("B-TAMPERED", "SignatureOrHashSumWrongOrMissing"),
        ("B-SPOOFED", "NotAuthorised"),
    ]
    assert codes(sent) == [
        ["HashSumMismatch"],
        [],
        ["InvalidIdentifier"],
        ["DuplicateMessage"],
        ["HashSumMismatch"],
        ["SenderMismatch"],
    ]
    assert backend.inbox_files(DEV) == {f"ACK_{packed.batch_id}.xml": sent}
    assert backend.inbox_files(CMO) == {f"{DEV}_B-VALID.xml": valid}
    assert backend.scalar("SELECT count(*) FROM exchange_ack") == 1


def test_batch_refused_as_a_whole_is_acknowledged_at_once(backend: Env, tmp_path: Path) -> None:
    """A batch whose manifest is broken is answered at intake, one Acknowledgement for the
    manifest, and nothing in it is processed."""
    packed = pack([licence_request()], tmp_path / "outbox", sender=DEV, recipients=[CMO])
    manifest = next(packed.path.glob("BatchComplete_*.xml"))
    manifest.write_bytes(manifest.read_bytes().replace(b"<BatchId>", b"<BatchIdX>", 1))
    exchange = backend.exchange()
    intake = exchange.receive_batch(packed.path, arrival_party=DEV)
    assert intake.received_ids == ()
    found = exchange.acknowledgement_of(batch_row_id=intake.batch_row_id)
    assert found is not None
    assert [s for _, s in statuses(found[1])] == ["XmlNotWellFormed"]
    assert list(backend.inbox_files(DEV)) == [f"ACK_{packed.batch_id}.xml"]


def test_incomplete_batch_is_not_taken(backend: Env, tmp_path: Path) -> None:
    """A batch folder without its BatchComplete file is not taken, not answered."""
    packed = pack([licence_request()], tmp_path / "outbox", sender=DEV, recipients=[CMO])
    next(packed.path.glob("BatchComplete_*.xml")).unlink()
    exchange = backend.exchange()
    intake = exchange.receive_batch(packed.path, arrival_party=DEV)
    assert (intake.complete, intake.received_ids) == (False, ())
    assert backend.scalar("SELECT count(*) FROM exchange_batch") == 0
