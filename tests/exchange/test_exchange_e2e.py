"""End to end with real processes: ``airex worker`` (Celery, prefork) and ``airex serve``.

On the embedded default (SQLite + the server-less broker) and on RabbitMQ + PostgreSQL
(the ``stack`` fixture). Parties drop files in their folders; the exchange takes them,
processes them on the worker and answers in the inboxes and queues.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from exchange_support import (
    AIREX,
    CMO,
    DEV,
    RH2,
    Env,
    Services,
    explain,
    licence_request,
    message_id_of,
    payment,
    statuses,
    wait_for,
)

from airex.batch import pack

TIMEOUT = 90.0  # seconds; a healthy run takes a few


def _drop(env: Env, party: str, name: str, data: bytes) -> None:
    """Leave a file in a party's drop folder the way a careful sender does (temp + rename)."""
    folder = env.drop(party)
    temporary = folder / f"{name}.part"
    temporary.write_bytes(data)
    temporary.rename(folder / name)


def test_dropped_messages_and_batches_are_processed_by_real_workers(
    stack: Env, services: Services, tmp_path: Path
) -> None:
    """Messages and a batch dropped in folders are taken, processed by a worker process and
    answered: the request reaches the CMO, the payment reaches a queue-only party, and the
    sender finds exactly one acknowledgement per message and one ACK per batch."""
    services.start(stack, ["worker", "--concurrency", "2", "-l", "warning"], tmp_path / "w.log")
    services.start(stack, ["serve"], tmp_path / "serve.log")
    request = licence_request(message_id="E2E-REQ")
    _drop(stack, DEV, "request.xml", request)
    _drop(stack, DEV, "broken.xml", b"<LicenceRequestMessage")
    (stack.drop(DEV) / "still-writing.xml.tmp").write_bytes(b"<half")
    packed = pack(
        [licence_request(message_id="E2E-B1"), licence_request(DEV, RH2, message_id="E2E-B2")],
        tmp_path / "outbox",
        sender=DEV,
    )
    packed.path.rename(stack.drop(DEV) / packed.path.name)
    transfer = payment(CMO, RH2, message_id="E2E-PAY")
    _drop(stack, CMO, "payout.xml", transfer)

    def dev_acks() -> dict[str, bytes]:
        return {n: d for n, d in stack.inbox_files(DEV).items() if n.startswith("ACK_")}

    wait_for(
        lambda: len(dev_acks()) >= 3,
        timeout=TIMEOUT,
        what="three ACK files for DEV",
        explain=explain(stack, tmp_path / "w.log", tmp_path / "serve.log"),
    )
    assert len(dev_acks()) == 3
    acks = dev_acks()
    by_status = sorted(s for data in acks.values() for _, s in statuses(data))
    assert by_status == [
        "MessageAccepted",
        "MessageAccepted",
        "MessageAccepted",
        "XmlNotWellFormed",
    ]
    assert statuses(acks[f"ACK_{packed.batch_id}.xml"]) == [
        ("E2E-B1", "MessageAccepted"),
        ("E2E-B2", "MessageAccepted"),
    ]
    (request_ack,) = [n for n in acks if n.startswith("ACK_E2E-REQ_")]
    assert statuses(acks[request_ack]) == [("E2E-REQ", "MessageAccepted")]
    wait_for(
        lambda: f"{DEV}_E2E-REQ.xml" in stack.inbox_files(CMO),
        timeout=TIMEOUT,
        what="the request in the CMO's inbox",
    )
    assert stack.inbox_files(CMO)[f"{DEV}_E2E-REQ.xml"] == request
    received = []
    wait_for(
        lambda: bool(received.extend(stack.drain(RH2, idle=0.2)) or len(received) >= 2),
        timeout=TIMEOUT,
        what="the payment and the batch entry on RH2's queue",
    )
    assert sorted(d.headers["airex-message-id"] for d in received) == ["E2E-B2", "E2E-PAY"]
    assert [d.body for d in received if d.headers["airex-message-id"] == "E2E-PAY"] == [transfer]
    assert sorted(p.name for p in stack.drop(DEV).iterdir()) == [".taking", "still-writing.xml.tmp"]
    wait_for(
        lambda: stack.scalar("SELECT count(*) FROM exchange_outbox WHERE done_at IS NULL") == 0,
        timeout=TIMEOUT,
        what="every outbox row done",
    )
    status = subprocess.run(
        [*AIREX, "exchange", "status", "--json"],
        env=stack.environ(),
        capture_output=True,
        check=True,
        text=True,
    )
    counts = json.loads(status.stdout)
    assert counts["received"] == {"done": 5}
    assert counts["dead_letter_count"] == 0
    assert counts["open_batches"] == 0


def test_send_waits_for_the_acknowledgement(stack: Env, services: Services, tmp_path: Path) -> None:
    """``airex send --wait`` hands a message in, a worker processes it, and the command prints
    its final status (exit 0 accepted, 1 rejected)."""
    services.start(stack, ["worker", "--concurrency", "1", "-l", "warning"], tmp_path / "w.log")
    good = tmp_path / "good.xml"
    good.write_bytes(licence_request())
    sent = subprocess.run(
        [*AIREX, "send", str(good), "--as", DEV, "--wait", str(TIMEOUT), "--json"],
        env=stack.environ(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 30,
    )
    assert sent.returncode == 0, sent.stderr
    line = json.loads(sent.stdout)
    assert (line["status"], line["message_id"]) == (
        "MessageAccepted",
        message_id_of(good.read_bytes()),
    )
    again = subprocess.run(
        [*AIREX, "send", str(good), "--as", DEV, "--wait", str(TIMEOUT)],
        env=stack.environ(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 30,
    )
    assert again.returncode == 1
    assert "DuplicateMessage" in again.stdout
