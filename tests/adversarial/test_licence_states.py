"""Integrity: a licence the CMO revokes stops being priced (issue 13, item 10).

The review saw Suspended / Revoked / Expired LicenceMessages the CMO sends routed to the
licensee but never recorded in the grant register, so usage under a revoked licence was still
priced. The CMO's actions now record the licence states the CMO sends (``records_sent``);
pricing holds usage under a licence not in force (``LicenceNotInForce``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from actions_support import acknowledged, licensed, parsed, send, sent_by_cmo, usage_report
from exchange_support import CMO, DEV, Env

from airex.ledger import GrantRegister
from airex.messages import LicenceMessage, serialise
from airex.messages.codes import LicenceStatus
from airex.messages.common import MessageHeader, Party


def _state(licence: LicenceMessage, status: LicenceStatus, message_id: str) -> LicenceMessage:
    later = licence.model_copy(deep=True)
    later.message_header = MessageHeader.build(CMO, DEV)
    later.message_header.message_id = message_id
    later.licence.licence_status = status
    later.licence.status_reason = "licensee breached the terms"
    later.licence.issued_date_time = datetime(2026, 2, 1, 9, tzinfo=UTC)
    return later


def test_usage_under_a_revoked_licence_is_held(backend: Env, tmp_path: Path) -> None:
    """The CMO revokes the licence from 1 February; the Q1 report is accepted, nothing of it
    is priced: every record held LicenceNotInForce. The revocation reached the developer."""
    exchange, scenario, licence_id = licensed(backend, 60)
    (granted,) = (parsed(b) for b in sent_by_cmo(exchange, "LicenceMessage"))
    assert isinstance(granted, LicenceMessage)
    revoked = _state(granted, LicenceStatus.REVOKED, "CMO-REVOKE-1")
    received_id = send(exchange, serialise(revoked), CMO)
    assert acknowledged(exchange, received_id) == ("MessageAccepted", [])
    history = GrantRegister(backend.engine).history(licence_id)
    assert [str(state.status) for state in history] == ["Granted", "Revoked"]
    assert any("CMO-REVOKE-1" in name for name in backend.inbox_files(DEV))
    report = usage_report(scenario, licence_id, tmp_path)
    status, codes = acknowledged(exchange, send(exchange, report, DEV, "q1.xml"))
    assert status == "MessageAccepted"
    assert "LicenceNotInForce" in codes  # (usage of an unlicensed use type says that first)
    totals = [parsed(b).invoice.total_amount.value for b in sent_by_cmo(exchange, "InvoiceMessage")]
    assert all(total == 0 for total in totals)


def test_a_licence_of_another_licensor_is_refused_and_not_routed(
    backend: Env, tmp_path: Path
) -> None:
    """A LicenceMessage the CMO sends for a licence it is not the licensor of is refused
    (LicenceStateRefused) and never reaches the developer."""
    exchange, _, licence_id = licensed(backend, 60)
    (granted,) = (parsed(b) for b in sent_by_cmo(exchange, "LicenceMessage"))
    other = _state(granted, LicenceStatus.SUSPENDED, "CMO-OTHER-1")
    other.licence.licensor = Party(party_id="PADPIDA2026RH01")
    received_id = send(exchange, serialise(other), CMO)
    assert acknowledged(exchange, received_id) == (
        "BusinessRuleViolation",
        ["LicenceStateRefused"],
    )
    assert not any("CMO-OTHER-1" in name for name in backend.inbox_files(DEV))
    assert len(GrantRegister(backend.engine).history(licence_id)) == 1
