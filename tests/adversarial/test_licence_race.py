"""Integrity: two identical licence requests handled at once grant one licence (issue 13,
item 9).

The review saw two grants and two LicenceMessages for one LicenceId in 2 of 3 tries, on
SQLite and PostgreSQL: each worker checked the register before either recorded. The first
grant is now recorded under the licence's lock with the check inside it. Here two exchanges
(as two workers) process two requests with the same RequestId and different MessageIds at
the same instant, 50 rounds, on both backends: every round, exactly one is granted and the
other refused ``RequestAlreadyGranted``.
"""

from __future__ import annotations

import threading

from actions_support import acknowledged, cast, on_scenario_clock, real_actions, send
from exchange_support import CMO, DEV, Env

from airex.demo import Scenario
from airex.exchange import Exchange
from airex.ledger import GrantRegister
from airex.messages import serialise
from airex.messages.common import MessageHeader

ROUNDS = 50


def _work(
    exchange: Exchange,
    received_id: int,
    barrier: threading.Barrier,
    failures: list[BaseException],
) -> None:
    """Process one message as soon as the other thread is ready too."""
    try:
        barrier.wait(10)
        exchange.deliver(exchange.process(received_id).outbox_ids)
    except BaseException as exc:  # reported by the test
        failures.append(exc)


def test_racing_requests_grant_one_licence(backend: Env) -> None:
    on_scenario_clock(backend, "offer")
    first = backend.exchange(actions=real_actions(backend))
    second = backend.exchange(actions=real_actions(backend))
    scenario = Scenario(40, seed=5, cast=cast())
    offer = scenario.offer()
    offer.offer.licensee = None  # open: any developer, any RequestId
    send(first, serialise(offer), CMO)
    on_scenario_clock(backend, "request")
    register = GrantRegister(backend.engine)
    for round_number in range(ROUNDS):
        ids = []
        for _ in range(2):
            request = scenario.request()
            request.message_header = MessageHeader.build(DEV, CMO)
            request.licence_request.request_id = f"RACE-{round_number:03d}"
            ids.append(first.receive_bytes(serialise(request), arrival_party=DEV, publish=False))
        barrier = threading.Barrier(2)
        failures: list[BaseException] = []
        threads = [
            threading.Thread(target=_work, args=(exchange, received_id, barrier, failures))
            for exchange, received_id in zip((first, second), ids, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures, failures
        answers = sorted(acknowledged(first, i) for i in ids)
        assert answers == [
            ("BusinessRuleViolation", ["RequestAlreadyGranted"]),
            ("MessageAccepted", []),
        ], f"round {round_number}"
        licence_id = f"{offer.offer.offer_id}-L-RACE-{round_number:03d}"
        assert len(register.history(licence_id)) == 1, f"round {round_number}"
    sent = backend.scalar(
        "SELECT count(*) FROM exchange_sent WHERE message_type = 'LicenceMessage' "
        "AND status = 'MessageAccepted'"
    )
    assert sent == ROUNDS
