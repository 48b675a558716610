"""The CMO's answers are routed in the transaction that processed the message they answer:
one received row and one task per message handed in, each answer validated once and stored
once, and a crash between the actions and the commit redoes cleanly.

Each test runs on SQLite and on PostgreSQL (the ``backend`` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from exchange_support import CMO, DEV, RH1, RH2, Env, payment

from airex.exchange import ActionResult, Exchange, OutgoingMessage
from airex.exchange import _route as route_module
from airex.exchange import verdict as verdict_module
from airex.exchange.errors import TransientError
from airex.exchange.store import sha256_of


@dataclass
class Answering:
    """CMO actions that answer every message with the same outgoing messages."""

    outgoing: list[OutgoingMessage]
    calls: int = 0
    seen: list[int] = field(default_factory=list)

    def act(self, message: Any, raw: Any, received: Any, engine: Any) -> ActionResult:
        """Count the call; answer."""
        self.calls += 1
        self.seen.append(received.id)
        return ActionResult(outgoing=self.outgoing)


def _statement_and_payout() -> list[OutgoingMessage]:
    return [
        OutgoingMessage.checked(payment(CMO, RH1, message_id="PAYOUT-1"), "PO-1.xml"),
        OutgoingMessage.checked(payment(CMO, RH2, message_id="PAYOUT-2"), "PO-2.xml"),
    ]


def _column(backend: Env, sql: str) -> list[Any]:
    with backend.engine.connect() as connection:
        return list(connection.execute(sa.text(sql)).scalars())


def _process_all(exchange: Exchange, received_id: int) -> None:
    exchange.deliver(exchange.process(received_id).outbox_ids)


def test_one_received_row_and_one_task_per_message(backend: Env) -> None:
    """A message the CMO answers twice is one received row and one processing task; its
    answers are delivered, stored once each, and nothing is left pending."""
    actions = Answering(_statement_and_payout())
    exchange = backend.exchange(actions=actions)
    received_id = exchange.receive_bytes(payment(DEV, CMO), arrival_party=DEV, publish=False)
    _process_all(exchange, received_id)
    assert backend.scalar("SELECT count(*) FROM exchange_received") == 1
    assert backend.scalar("SELECT count(*) FROM exchange_outbox WHERE kind = 'process'") == 1
    assert backend.scalar("SELECT count(*) FROM exchange_received WHERE state = 'pending'") == 0
    assert actions.seen == [received_id]
    assert backend.scalar("SELECT count(*) FROM exchange_sent") == 2
    assert backend.scalar("SELECT count(DISTINCT sha256) FROM exchange_sent") == 2
    assert backend.inbox_files(RH1) == {f"{CMO}_PAYOUT-1.xml": actions.outgoing[0].data}
    assert [(d.body, d.headers["airex-file-name"]) for d in backend.drain(RH2)] == [
        (actions.outgoing[1].data, f"{CMO}_PAYOUT-2.xml")
    ]
    stored = _column(backend, "SELECT sha256 FROM exchange_sent ORDER BY position")
    assert [exchange.store.get(sha) for sha in stored] == [o.data for o in actions.outgoing]
    assert stored == [sha256_of(o.data) for o in actions.outgoing]


def test_answers_validated_where_built_are_not_validated_again(
    backend: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer built with its validation (OutgoingMessage.checked) is routed without the
    exchange validating it again; the message it answers is validated once."""
    actions = Answering(_statement_and_payout())
    exchange = backend.exchange(actions=actions)
    incoming = payment(DEV, CMO)
    received_id = exchange.receive_bytes(incoming, arrival_party=DEV, publish=False)
    checked: list[bytes] = []
    original = verdict_module.check

    def counting(raw: bytes, limits: Any = None) -> Any:
        checked.append(raw)
        return original(raw, limits)

    monkeypatch.setattr(verdict_module, "check", counting)
    _process_all(exchange, received_id)
    assert checked == [incoming]
    assert len(backend.inbox_files(RH1)) == 1


def test_an_answer_repeating_an_earlier_message_id_is_not_sent_again(backend: Env) -> None:
    """An answer takes its (sender, MessageId): the same answer to a second message is
    recorded as a duplicate and not delivered again."""
    answer = payment(CMO, RH1, message_id="PAYOUT-1")
    actions = Answering([OutgoingMessage(answer)])
    exchange = backend.exchange(actions=actions)
    first = exchange.receive_bytes(payment(DEV, CMO), arrival_party=DEV, publish=False)
    _process_all(exchange, first)
    (rh1_file,) = backend.inbox(RH1).iterdir()
    rh1_file.unlink()
    second = exchange.receive_bytes(
        payment(DEV, CMO, message_id="PAY-2"), arrival_party=DEV, publish=False
    )
    _process_all(exchange, second)
    assert backend.inbox_files(RH1) == {}
    with backend.engine.connect() as connection:
        rows = [
            tuple(r)
            for r in connection.execute(
                sa.text("SELECT received_id, status, message_id FROM exchange_sent ORDER BY id")
            )
        ]
    assert rows == [(first, "MessageAccepted", "PAYOUT-1"), (second, "DuplicateMessage", None)]


def test_a_message_reusing_an_answers_message_id_is_a_duplicate(backend: Env) -> None:
    """Answers and received messages share one space of (sender, MessageId): a message the
    CMO sends later under the MessageId one of its answers took is a duplicate, acknowledged
    as such and not delivered; the answer it collides with stays as it was."""
    answer = payment(CMO, RH1, message_id="PAYOUT-1")
    exchange = backend.exchange(actions=Answering([OutgoingMessage(answer)]))
    first = exchange.receive_bytes(payment(DEV, CMO), arrival_party=DEV, publish=False)
    _process_all(exchange, first)
    (rh1_file,) = backend.inbox(RH1).iterdir()
    rh1_file.unlink()
    later = payment(CMO, RH1, message_id="PAYOUT-1", cents=500)
    assert later != answer
    again = exchange.receive_bytes(later, arrival_party=CMO, publish=False)
    outcome = exchange.process(again)
    exchange.deliver(outcome.outbox_ids)
    assert outcome.status.value == "DuplicateMessage"
    assert backend.inbox_files(RH1) == {}
    assert backend.scalar(f"SELECT count(*) FROM exchange_inbox WHERE received_id = {again}") == 0
    errors = backend.scalar(f"SELECT errors FROM exchange_received WHERE id = {again}")
    assert f"(received as #{first})" in errors
    assert backend.scalar("SELECT count(*) FROM exchange_message WHERE sender = 'X'") == 0
    assert _column(backend, "SELECT status FROM exchange_sent") == ["MessageAccepted"]


def test_crash_between_the_actions_and_the_commit_redoes_cleanly(
    backend: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that fails after the actions answered (the worker lost its database) leaves
    nothing behind; the redo acts again, and each answer is stored, recorded and delivered
    exactly once, the sender acknowledged once."""
    actions = Answering(_statement_and_payout())
    exchange = backend.exchange(actions=actions)
    received_id = exchange.receive_bytes(payment(DEV, CMO), arrival_party=DEV, publish=False)
    real = route_module._Routing._answers

    def lost(self: Any, connection: Any, *args: Any) -> Any:
        real(self, connection, *args)  # the answers' rows written, then the commit fails
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(route_module._Routing, "_answers", lost)
    with pytest.raises(TransientError):
        exchange.process(received_id)
    assert backend.scalar("SELECT count(*) FROM exchange_sent") == 0
    assert backend.scalar("SELECT count(*) FROM exchange_ack") == 0
    assert backend.inbox_files(RH1) == {}
    monkeypatch.setattr(route_module._Routing, "_answers", real)
    exchange.deliver(exchange.process(received_id, redelivered=True).outbox_ids)
    assert exchange.process(received_id, redelivered=True).already
    assert actions.calls == 2
    assert backend.scalar("SELECT count(*) FROM exchange_sent") == 2
    assert backend.scalar("SELECT count(*) FROM exchange_ack") == 1
    assert backend.scalar("SELECT count(*) FROM exchange_received") == 1
    assert backend.inbox_files(RH1) == {f"{CMO}_PAYOUT-1.xml": actions.outgoing[0].data}
    assert [(d.body, d.headers["airex-file-name"]) for d in backend.drain(RH2)] == [
        (actions.outgoing[1].data, f"{CMO}_PAYOUT-2.xml")
    ]
