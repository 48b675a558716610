"""Acknowledging a batch: one Acknowledgement per message, one for the manifest when due."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_support import CMO, DEV, SAMPLES, sample, write_folder, write_zip

import airex
from airex.batch import (
    IncompleteBatchError,
    MessageFile,
    acknowledgement,
    acknowledgement_error,
    make_acknowledgement,
    pack,
    proposed_action_for,
    verify,
    write_ack,
)
from airex.errors import MessageError, MessageStatus
from airex.messages import AcknowledgementMessage, Party
from airex.messages.codes import ProposedAction

INVOICE = sample("invoice", "music-cadenza-q1-2026")
STATEMENT = sample("royalty-statement", "music-cmo-to-label-q1-2026")
LICENCE = sample("licence", "music-cmo-grants-cadenza")
ID = "20260420091500000"


def valid_ack_xml(ack: AcknowledgementMessage) -> bytes:
    """The ack serialised, asserted valid (XSD and rules) by airex.check."""
    data = airex.serialise(ack)
    assert airex.check(data).errors == []
    return data


def three(tmp_path: Path) -> Path:
    """A verified-clean batch folder of an invoice, a statement and a licence."""
    return pack([INVOICE, STATEMENT, LICENCE], tmp_path, batch_id=ID).path


def rows(ack: AcknowledgementMessage) -> list[tuple[str | None, str | None, str, list[str]]]:
    """(message id, file name, status, error codes) of each Acknowledgement."""
    return [
        (
            a.acknowledged_message_id,
            a.acknowledged_file_name,
            str(a.message_status),
            [e.error_code for e in a.errors],
        )
        for a in ack.acknowledgements
    ]


def test_clean_batch_gets_one_accepted_acknowledgement_per_message(tmp_path: Path) -> None:
    """All accepted: three Acknowledgements, no manifest one, addressed back to the sender."""
    report = verify(three(tmp_path))
    ack = acknowledgement(report, sender=DEV)
    valid_ack_xml(ack)
    assert rows(ack) == [
        ("HARM-MSG-2026-003402", "HARM-MSG-2026-003402.xml", "MessageAccepted", []),
        ("HARM-MSG-2026-005231", "HARM-MSG-2026-005231.xml", "MessageAccepted", []),
        ("HARM-MSG-2025-011377", "HARM-MSG-2025-011377.xml", "MessageAccepted", []),
    ]
    assert ack.message_header.message_sender.party_id == DEV
    assert [r.party_id for r in ack.message_header.message_recipients] == [CMO]
    assert all(a.proposed_action is None for a in ack.acknowledgements)


def test_sample_batch_ack_matches_the_sample_acknowledgement(tmp_path: Path) -> None:
    """The sample batch's ack lists what samples/acknowledgement/...-acknowledges-batch.xml does."""
    folder = write_folder(
        tmp_path / ID,
        {
            "acknowledgements/ACK_CAD-MSG-2026-000311.xml": sample(
                "acknowledgement", "music-usage-report-accepted-with-warning"
            ).read_bytes(),
            "invoices/HARM-INV-2026-Q1.xml": INVOICE.read_bytes(),
            f"BatchComplete_{ID}.xml": (
                SAMPLES / "manifest" / "music-cmo-batch-to-cadenza.xml"
            ).read_bytes(),
        },
    )
    ack = acknowledgement(verify(folder), sender=DEV)
    expected = airex.parse(sample("acknowledgement", "music-cadenza-acknowledges-batch"))
    assert isinstance(expected, AcknowledgementMessage)
    assert ack.acknowledgements == expected.acknowledgements
    assert ack.message_header.message_thread_id == "HARM-THR-CADENZA-2026"


def test_hash_mismatch_acks_the_message_and_the_manifest(tmp_path: Path) -> None:
    """A changed file: its Acknowledgement is SignatureOrHashSumWrongOrMissing, ResendUnchanged,
    and the manifest gets one too (its hashes do not match)."""
    folder = three(tmp_path)
    path = folder / "HARM-MSG-2026-005231.xml"
    path.write_bytes(path.read_bytes().replace(b"Harmonia", b"Harmonie", 1))
    report = verify(folder)
    ack = acknowledgement(report, sender=DEV)
    valid_ack_xml(ack)
    manifest_id = report.manifest_message_id
    assert rows(ack) == [
        (
            manifest_id,
            f"BatchComplete_{ID}.xml",
            "SignatureOrHashSumWrongOrMissing",
            ["HashSumMismatch"],
        ),
        ("HARM-MSG-2026-003402", "HARM-MSG-2026-003402.xml", "MessageAccepted", []),
        (
            "HARM-MSG-2026-005231",
            "HARM-MSG-2026-005231.xml",
            "SignatureOrHashSumWrongOrMissing",
            ["HashSumMismatch"],
        ),
        ("HARM-MSG-2025-011377", "HARM-MSG-2025-011377.xml", "MessageAccepted", []),
    ]
    assert ack.acknowledgements[2].proposed_action == ProposedAction.RESEND_UNCHANGED


def test_invalid_message_ack_carries_its_errors_with_path_and_line(tmp_path: Path) -> None:
    """An invalid message's Acknowledgement lists its errors (code, XPath, line) to correct."""
    bad = SAMPLES / "invalid" / "br-total-mismatch.xml"
    report = verify(pack([INVOICE, bad], tmp_path, allow_invalid=True).path)
    ack = acknowledgement(report, sender=DEV)
    valid_ack_xml(ack)
    (ok, rejected) = ack.acknowledgements
    assert str(ok.message_status) == "MessageAccepted"
    assert str(rejected.message_status) == "BusinessRuleViolation"
    assert rejected.proposed_action == ProposedAction.CORRECT_AND_RESEND
    (error,) = rejected.errors
    source = report.entries[1].errors[0]
    assert (error.error_code, error.path, error.line_number) == (
        "TotalMismatch",
        source.path,
        source.line,
    )


def test_refused_manifest_gets_the_only_acknowledgement(tmp_path: Path) -> None:
    """An invalid manifest: one Acknowledgement, for it, and none for the messages."""
    folder = three(tmp_path)
    manifest = folder / f"BatchComplete_{ID}.xml"
    manifest.write_bytes(
        manifest.read_bytes().replace(b"<NumberOfMessages>3<", b"<NumberOfMessages>4<")
    )
    report = verify(folder)
    ack = acknowledgement(report, sender=DEV)
    valid_ack_xml(ack)
    assert rows(ack) == [
        (
            report.manifest_message_id,
            f"BatchComplete_{ID}.xml",
            "BusinessRuleViolation",
            ["MessageCountMismatch"],
        )
    ]
    assert ack.message_header.message_recipients[0].party_id == CMO


def test_unreadable_manifest_ack_names_the_file_and_needs_a_recipient(tmp_path: Path) -> None:
    """A manifest that is not XML: the ack has no message id, and the recipient must be given."""
    folder = three(tmp_path)
    (folder / f"BatchComplete_{ID}.xml").write_bytes(b"<ManifestMessage")
    report = verify(folder)
    with pytest.raises(ValueError, match="recipient"):
        acknowledgement(report, sender=DEV)
    ack = acknowledgement(report, sender=DEV, recipient=Party(party_id=CMO))
    valid_ack_xml(ack)
    assert rows(ack) == [
        (None, f"BatchComplete_{ID}.xml", "XmlNotWellFormed", ["XmlNotWellFormed"])
    ]


def test_hostile_zip_is_acknowledged_as_refused(tmp_path: Path) -> None:
    """A traversal zip: one Acknowledgement naming the zip, XmlNotWellFormed, UnsafeBatchMember."""
    archive = write_zip(tmp_path / f"{ID}.zip", [("../../evil.xml", b"<x/>")])
    report = verify(archive)
    ack = acknowledgement(report, sender=DEV, recipient=CMO)
    valid_ack_xml(ack)
    assert rows(ack) == [(None, f"{ID}.zip", "XmlNotWellFormed", ["UnsafeBatchMember"])]
    assert write_ack(report, ack) == tmp_path / f"ACK_{ID}.xml"


def test_unlisted_files_are_warnings_on_an_accepted_manifest_ack(tmp_path: Path) -> None:
    """Files the manifest does not list: an accepted manifest Acknowledgement with warnings."""
    folder = three(tmp_path)
    write_folder(folder, {"stray.xml": b"<x/>"})
    ack = acknowledgement(verify(folder), sender=DEV)
    valid_ack_xml(ack)
    assert rows(ack)[0][1:] == (f"BatchComplete_{ID}.xml", "MessageAccepted", ["FileNotInManifest"])
    assert len(ack.acknowledgements) == 4


def test_incomplete_batch_is_not_acknowledged(tmp_path: Path) -> None:
    """No BatchComplete file: acknowledgement() raises IncompleteBatchError."""
    folder = three(tmp_path)
    (folder / f"BatchComplete_{ID}.xml").unlink()
    with pytest.raises(IncompleteBatchError):
        acknowledgement(verify(folder), sender=DEV)


def test_receiver_statuses_replace_the_verdicts_in_the_ack(tmp_path: Path) -> None:
    """Statuses set by the receiver (DuplicateMessage, UnknownParty) are what the ack says."""
    report = verify(three(tmp_path))
    report.entries[0].set_status(
        MessageStatus.DUPLICATE_MESSAGE,
        [MessageError("DuplicateMessage", "seen", status=MessageStatus.DUPLICATE_MESSAGE)],
    )
    report.entries[2].set_status(
        MessageStatus.UNKNOWN_PARTY,
        [MessageError("UnknownParty", "who?", status=MessageStatus.UNKNOWN_PARTY)],
        proposed_action=ProposedAction.CORRECT_AND_RESEND,
    )
    ack = acknowledgement(report, sender=DEV, message_id="ACK-1")
    valid_ack_xml(ack)
    assert [(str(a.message_status), a.proposed_action) for a in ack.acknowledgements] == [
        ("DuplicateMessage", ProposedAction.NONE),
        ("MessageAccepted", None),
        ("UnknownParty", ProposedAction.CORRECT_AND_RESEND),
    ]
    assert ack.message_header.message_id == "ACK-1"


def test_test_batch_is_answered_with_a_test_message(tmp_path: Path) -> None:
    """A batch marked test gets an acknowledgement marked TestMessage."""
    report = verify(pack([INVOICE], tmp_path, test=True).path)
    ack = acknowledgement(report, sender=DEV)
    assert ack.message_header.message_control_type == "TestMessage"
    valid_ack_xml(ack)


def test_error_text_is_made_fit_for_the_wire() -> None:
    """Overlong, empty and control-character texts become valid Text; lines < 1 are dropped."""
    error = MessageError(
        "X" * 80,
        "\x00bad\ud800" + "y" * 5000,
        path="/" + "p" * 2000,
        line=0,
        status=MessageStatus.SCHEMA_INVALID,
    )
    converted = acknowledgement_error(error)
    assert len(converted.error_code) == 64
    assert len(converted.error_text) == 1024
    assert converted.path is not None
    assert len(converted.path) == 1024
    assert converted.line_number is None
    assert "\x00" not in converted.error_text
    blank = acknowledgement_error(MessageError("Code", "   ", status=MessageStatus.SCHEMA_INVALID))
    assert blank.error_text == "Code"
    single = make_acknowledgement(MessageStatus.SCHEMA_INVALID, [error], file_name="f.xml")
    message = AcknowledgementMessage(
        message_header=airex.messages.MessageHeader.build(DEV, CMO), acknowledgements=[single]
    )
    valid_ack_xml(message)


def test_damage_in_transit_asks_for_the_same_file_again(tmp_path: Path) -> None:
    """A truncated message (XmlNotWellFormed) or zip is answered ResendUnchanged; a DOCTYPE
    (refused, not damaged) CorrectAndResend."""
    assert proposed_action_for(MessageStatus.XML_NOT_WELL_FORMED, "XmlNotWellFormed") == (
        ProposedAction.RESEND_UNCHANGED
    )
    assert proposed_action_for(MessageStatus.XML_NOT_WELL_FORMED, "ArchiveUnreadable") == (
        ProposedAction.RESEND_UNCHANGED
    )
    assert proposed_action_for(MessageStatus.XML_NOT_WELL_FORMED, "DoctypeForbidden") == (
        ProposedAction.CORRECT_AND_RESEND
    )
    archive = tmp_path / f"{ID}.zip"
    archive.write_bytes(b"PK\x03\x04 cut short")
    ack = acknowledgement(verify(archive), sender=DEV, recipient=CMO)
    assert [a.proposed_action for a in ack.acknowledgements] == [ProposedAction.RESEND_UNCHANGED]


@pytest.mark.parametrize("status", list(MessageStatus))
def test_every_status_has_a_proposed_action_rule(status: MessageStatus) -> None:
    """Each MessageStatus maps to a ProposedAction (None only for MessageAccepted)."""
    action = proposed_action_for(status)
    assert (action is None) == (status is MessageStatus.MESSAGE_ACCEPTED)


def test_write_ack_writes_ack_batch_id_next_to_the_batch_and_replaces(tmp_path: Path) -> None:
    """ACK_<BatchId>.xml lands beside the batch (or in directory=), atomically replaced."""
    folder = three(tmp_path)
    report = verify(folder)
    first = write_ack(report, acknowledgement(report, sender=DEV, message_id="A-1"))
    assert first == tmp_path / f"ACK_{ID}.xml"
    second = write_ack(folder, acknowledgement(report, sender=DEV, message_id="A-2"))
    assert second == first
    assert b"<MessageId>A-2</MessageId>" in first.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [ID, f"ACK_{ID}.xml"]


def test_write_ack_into_another_directory(tmp_path: Path) -> None:
    """directory= puts the ACK file there instead of beside the batch."""
    report = verify(three(tmp_path / "inbox"))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    path = write_ack(report, acknowledgement(report, sender=DEV), directory=outbox)
    assert path == outbox / f"ACK_{ID}.xml"
    assert airex.check(path.read_bytes()).errors == []


def test_message_file_with_unreadable_id_is_acknowledged_by_its_listed_id(tmp_path: Path) -> None:
    """A not-well-formed message is acknowledged under the id and file name the manifest lists."""
    broken = MessageFile(
        b"<UsageReportMessage", message_type="UsageReportMessage", message_id="UR-9", url="u.xml"
    )
    report = verify(pack([INVOICE, broken], tmp_path, allow_invalid=True).path)
    ack = acknowledgement(report, sender=DEV)
    valid_ack_xml(ack)
    assert rows(ack)[1] == ("UR-9", "u.xml", "XmlNotWellFormed", ["XmlNotWellFormed"])
