"""`airex.batch.verify`: completeness, the manifest, hashes and sizes, each message's verdict."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from batch_support import INVALID, SAMPLES, sample, write_folder

import airex
from airex.batch import (
    BatchLimits,
    MessageFile,
    open_batch,
    pack,
    verify,
)
from airex.errors import MessageStatus

INVOICE = sample("invoice", "music-cadenza-q1-2026")
STATEMENT = sample("royalty-statement", "music-cmo-to-label-q1-2026")
LICENCE = sample("licence", "music-cmo-grants-cadenza")
ACK_WITH_WARNING = sample("acknowledgement", "music-usage-report-accepted-with-warning")
HASH = MessageStatus.SIGNATURE_OR_HASH_SUM_WRONG_OR_MISSING


def three(tmp_path: Path) -> Path:
    """A verified-clean batch folder of an invoice, a statement and a licence."""
    return pack([INVOICE, STATEMENT, LICENCE], tmp_path, batch_id="20260420091500000").path


def statuses(path: Path) -> list[tuple[str, str, list[str]]]:
    """(url, status, error codes) of each entry of the batch at ``path``."""
    return [(e.url, str(e.status), [x.code for x in e.errors]) for e in verify(path).entries]


def test_sample_manifest_with_its_sample_files_is_accepted(tmp_path: Path) -> None:
    """samples/manifest/music-cmo-batch-to-cadenza.xml, laid out with its two sample files,
    verifies: both messages accepted, hashes and sizes as the sample manifest says."""
    folder = write_folder(
        tmp_path / "20260420091500000",
        {
            "acknowledgements/ACK_CAD-MSG-2026-000311.xml": ACK_WITH_WARNING.read_bytes(),
            "invoices/HARM-INV-2026-Q1.xml": INVOICE.read_bytes(),
            "BatchComplete_20260420091500000.xml": (
                SAMPLES / "manifest" / "music-cmo-batch-to-cadenza.xml"
            ).read_bytes(),
        },
    )
    report = verify(folder)
    assert report.all_accepted
    assert [(e.message_type, e.message_id, e.url) for e in report.entries] == [
        (
            "AcknowledgementMessage",
            "HARM-MSG-2026-003150",
            "acknowledgements/ACK_CAD-MSG-2026-000311.xml",
        ),
        ("InvoiceMessage", "HARM-MSG-2026-003402", "invoices/HARM-INV-2026-Q1.xml"),
    ]
    assert [(e.sender, e.recipients) for e in report.entries] == [
        ("PADPIDA2026HARMONIA", ("PADPIDA2026CADENZA",)),
    ] * 2


def test_sample_test_batch_without_its_files_reports_each_missing(tmp_path: Path) -> None:
    """The SHA-512/MD5 sample manifest alone: each listed file is FileMissing, none processed."""
    folder = write_folder(
        tmp_path / "20251210210000250",
        {
            "BatchComplete_20251210210000250.xml": (
                SAMPLES / "manifest" / "text-lookout-test-batch.xml"
            ).read_bytes()
        },
    )
    report = verify(folder)
    assert report.processable
    assert report.is_test
    assert [(e.url, e.status, [x.code for x in e.errors]) for e in report.entries] == [
        ("usage/LKO-TEST-UR-0001.xml", HASH, ["FileMissing"]),
        ("requests/LKO-TEST-REQ-0001.xml", HASH, ["FileMissing"]),
    ]
    assert report.entries_to_process() == []


def test_hash_mismatch_rejects_that_message_and_the_rest_is_processed(tmp_path: Path) -> None:
    """One file changed (same size): HashSumMismatch on it alone; the other two are processed."""
    folder = three(tmp_path)
    path = folder / "HARM-MSG-2026-005231.xml"
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Harmonia", b"Harmonie", 1))
    assert statuses(folder) == [
        ("HARM-MSG-2026-003402.xml", "MessageAccepted", []),
        ("HARM-MSG-2026-005231.xml", "SignatureOrHashSumWrongOrMissing", ["HashSumMismatch"]),
        ("HARM-MSG-2025-011377.xml", "MessageAccepted", []),
    ]
    report = verify(folder)
    assert [e.url for e in report.entries_to_process()] == [
        "HARM-MSG-2026-003402.xml",
        "HARM-MSG-2025-011377.xml",
    ]
    assert [e.intact for e in report.entries] == [True, False, True]


def test_size_and_hash_mismatch_are_both_reported(tmp_path: Path) -> None:
    """A file that grew by a byte fails FileSize and HashSum; it is not checked as XML."""
    folder = three(tmp_path)
    path = folder / "HARM-MSG-2026-003402.xml"
    path.write_bytes(path.read_bytes() + b"\n")
    assert statuses(folder)[0] == (
        "HARM-MSG-2026-003402.xml",
        "SignatureOrHashSumWrongOrMissing",
        ["FileSizeMismatch", "HashSumMismatch"],
    )


def test_missing_file_is_rejected_and_the_rest_processed(tmp_path: Path) -> None:
    """A listed file that is absent: FileMissing for it, the others accepted."""
    folder = three(tmp_path)
    (folder / "HARM-MSG-2025-011377.xml").unlink()
    assert [s[1:] for s in statuses(folder)] == [
        ("MessageAccepted", []),
        ("MessageAccepted", []),
        ("SignatureOrHashSumWrongOrMissing", ["FileMissing"]),
    ]


def test_batch_without_batch_complete_is_never_processed(tmp_path: Path) -> None:
    """No BatchComplete file: complete False, no entries, nothing to process, nothing read."""
    folder = three(tmp_path)
    (folder / "BatchComplete_20260420091500000.xml").unlink()
    (folder / "HARM-MSG-2026-003402.xml").write_bytes(b"not even XML")
    report = verify(folder)
    assert (report.complete, report.processable, report.entries, report.manifest_errors) == (
        False,
        False,
        [],
        [],
    )
    assert report.entries_to_process() == []
    assert report.batch_id == "20260420091500000"  # from the folder's name


def test_invalid_message_inside_gets_its_own_status(tmp_path: Path) -> None:
    """Schema-invalid, rule-breaking and not-well-formed messages each get their own status."""
    packed = pack(
        [
            INVOICE,
            INVALID / "xsd-unknown-currency.xml",
            INVALID / "br-total-mismatch.xml",
            MessageFile(
                (INVALID / "nwf-truncated.xml").read_bytes(),
                message_type="UsageReportMessage",
                message_id="NWF-1",
            ),
            STATEMENT,
        ],
        tmp_path,
        allow_invalid=True,
    )
    report = verify(packed.path)
    assert [(str(e.status), e.errors[0].code if e.errors else None) for e in report.entries] == [
        ("MessageAccepted", None),
        ("SchemaInvalid", "UnknownCurrency"),
        ("BusinessRuleViolation", "TotalMismatch"),
        ("XmlNotWellFormed", "XmlNotWellFormed"),
        ("MessageAccepted", None),
    ]
    assert all(e.intact for e in report.entries)
    assert len(report.entries_to_process()) == 2


def test_message_id_and_type_must_be_what_the_manifest_lists(tmp_path: Path) -> None:
    """A valid message listed under another MessageId or MessageType is a rule violation."""
    data = INVOICE.read_bytes()
    packed = pack(
        [
            MessageFile(data, message_id="SOMETHING-ELSE", url="a.xml"),
            MessageFile(data, message_type="LicenceMessage", url="b.xml", message_id="B"),
        ],
        tmp_path,
    )
    report = verify(packed.path)
    assert [(str(e.status), [x.code for x in e.errors]) for e in report.entries] == [
        ("BusinessRuleViolation", ["MessageIdMismatch"]),
        ("BusinessRuleViolation", ["MessageTypeMismatch", "MessageIdMismatch"]),
    ]
    id_error = report.entries[0].errors[0]
    assert (id_error.path, id_error.line) == ("/InvoiceMessage/MessageHeader/MessageId", 11)


def test_files_not_in_the_manifest_are_warnings_never_processed(tmp_path: Path) -> None:
    """Unlisted files are listed, warned about (FileNotInManifest), and not entries."""
    folder = three(tmp_path)
    write_folder(folder, {"extra.xml": INVOICE.read_bytes(), "notes/readme.txt": b"hi"})
    report = verify(folder)
    assert report.all_accepted
    assert report.unlisted == ["extra.xml", "notes/readme.txt"]
    assert [(w.code, w.status) for w in report.warnings] == [
        ("FileNotInManifest", MessageStatus.MESSAGE_ACCEPTED)
    ] * 2
    assert "extra.xml" not in [e.url for e in report.entries]


@pytest.mark.parametrize(
    ("edit", "code", "status"),
    [
        (lambda m: m[: len(m) // 2], "XmlNotWellFormed", "XmlNotWellFormed"),
        (
            lambda m: m.replace(b"<NumberOfMessages>3<", b"<NumberOfMessages>x<"),
            "InvalidValue",
            "SchemaInvalid",
        ),
        (
            lambda m: m.replace(b"<NumberOfMessages>3<", b"<NumberOfMessages>2<"),
            "MessageCountMismatch",
            "BusinessRuleViolation",
        ),
        (
            lambda m: m.replace(b"<BatchId>20260420091500000<", b"<BatchId>20260420091500001<"),
            "BatchIdMismatch",
            "BusinessRuleViolation",
        ),
        (
            lambda m: m.replace(b"HARM-MSG-2026-005231.xml<", b"HARM-MSG-2026-003402.xml<"),
            "DuplicateBatchUrl",
            "BusinessRuleViolation",
        ),
        (
            lambda m: m.replace(b"<URL>HARM-MSG-2026-005231.xml<", b"<URL>../x.xml<"),
            "InvalidBatchUrl",
            "BusinessRuleViolation",
        ),
        (lambda m: INVOICE.read_bytes(), "MessageTypeMismatch", "BusinessRuleViolation"),
    ],
    ids=["truncated", "schema", "count", "batch-id", "duplicate-url", "dot-dot", "not-manifest"],
)
def test_invalid_manifest_refuses_the_whole_batch(
    tmp_path: Path, edit: object, code: str, status: str
) -> None:
    """An unreadable or invalid manifest: the batch is refused, no message is processed."""
    folder = three(tmp_path)
    manifest = folder / "BatchComplete_20260420091500000.xml"
    assert callable(edit)
    manifest.write_bytes(edit(manifest.read_bytes()))
    report = verify(folder)
    assert report.complete
    assert not report.processable
    assert report.entries == []
    assert report.entries_to_process() == []
    assert code in [e.code for e in report.manifest_errors]
    assert str(report.manifest_status) == status


def test_several_manifests_in_a_folder_not_named_by_either_are_ambiguous(tmp_path: Path) -> None:
    """Two BatchComplete files in a folder whose name names neither: refused as ambiguous."""
    first = pack([INVOICE], tmp_path / "a", batch_id="20260420091500000").path
    second = pack([STATEMENT], tmp_path / "b", batch_id="20260420091500001").path
    merged = tmp_path / "inbox-batch"
    merged.mkdir()
    for folder in (first, second):
        for path in folder.iterdir():
            (merged / path.name).write_bytes(path.read_bytes())
    report = verify(merged)
    assert [e.code for e in report.manifest_errors] == ["ManifestAmbiguous"]
    assert report.entries_to_process() == []
    renamed = merged.rename(tmp_path / "20260420091500001")  # named by one: that one rules
    report = verify(renamed)
    assert report.batch_id == "20260420091500001"
    assert [e.message_id for e in report.entries] == ["HARM-MSG-2026-005231"]
    assert report.unlisted == ["BatchComplete_20260420091500000.xml", "HARM-MSG-2026-003402.xml"]


def test_folder_name_need_not_be_the_batch_id(tmp_path: Path) -> None:
    """A batch folder renamed in transit still verifies: its BatchComplete file names it."""
    folder = three(tmp_path).rename(tmp_path / "received-1")
    report = verify(folder)
    assert (report.batch_id, report.all_accepted) == ("20260420091500000", True)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_symlinked_message_is_refused_and_never_followed(tmp_path: Path) -> None:
    """A listed file that is a link (e.g. to /etc/passwd) is UnsafeBatchMember, unread."""
    folder = three(tmp_path)
    secret = tmp_path / "secret.xml"
    target = folder / "HARM-MSG-2026-003402.xml"
    secret.write_bytes(target.read_bytes())  # same bytes: only the link itself is wrong
    target.unlink()
    target.symlink_to(secret)
    report = verify(folder)
    assert [str(e.status) for e in report.entries] == [
        "XmlNotWellFormed",
        "MessageAccepted",
        "MessageAccepted",
    ]
    assert report.entries[0].errors[0].code == "UnsafeBatchMember"
    assert report.entries[0].data == b""


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_symlinked_folder_on_the_path_is_refused(tmp_path: Path) -> None:
    """A listed file under a linked folder is refused (links anywhere on the path)."""
    outside = write_folder(tmp_path / "outside", {"q1.xml": INVOICE.read_bytes()})
    packed = pack([MessageFile(INVOICE.read_bytes(), url="invoices/q1.xml")], tmp_path / "out")
    real = packed.path / "invoices"
    (real / "q1.xml").unlink()
    real.rmdir()
    real.symlink_to(outside, target_is_directory=True)
    report = verify(packed.path)
    assert [e.errors[0].code for e in report.entries] == ["UnsafeBatchMember"]
    assert report.unlisted == ["invoices"]  # the link itself, listed, not followed


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_in_place_of_a_message_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO where a message should be is not a regular file: refused, never opened."""
    folder = three(tmp_path)
    path = folder / "HARM-MSG-2026-003402.xml"
    path.unlink()
    os.mkfifo(path)
    assert statuses(folder)[0] == (
        "HARM-MSG-2026-003402.xml",
        "XmlNotWellFormed",
        ["UnsafeBatchMember"],
    )


def test_file_beyond_the_size_limit_is_rejected_unread(tmp_path: Path) -> None:
    """A message larger than BatchLimits.max_file_bytes: SizeLimitExceeded for it alone."""
    folder = three(tmp_path)
    limit = 3000  # the manifest, invoice (2284) and licence (2836) fit; the statement does not
    assert (folder / "BatchComplete_20260420091500000.xml").stat().st_size < limit
    assert STATEMENT.stat().st_size > limit > max(INVOICE.stat().st_size, LICENCE.stat().st_size)
    report = verify(open_batch(folder, limits=BatchLimits(max_file_bytes=limit)))
    assert [(str(e.status), [x.code for x in e.errors]) for e in report.entries] == [
        ("MessageAccepted", []),
        ("XmlNotWellFormed", ["SizeLimitExceeded"]),
        ("MessageAccepted", []),
    ]
    assert report.entries[1].data == b""


def test_too_many_files_refuse_the_folder(tmp_path: Path) -> None:
    """A folder with more files than BatchLimits.max_files is refused as a whole."""
    folder = three(tmp_path)
    report = verify(open_batch(folder, limits=BatchLimits(max_files=3)))
    assert [e.code for e in report.manifest_errors] == ["BatchTooLarge"]
    assert report.entries_to_process() == []


def test_the_manifest_must_be_a_regular_file(tmp_path: Path) -> None:
    """A BatchComplete 'file' that is a link does not count: the batch is incomplete."""
    folder = three(tmp_path)
    manifest = folder / "BatchComplete_20260420091500000.xml"
    aside = tmp_path / "manifest.xml"
    aside.write_bytes(manifest.read_bytes())
    manifest.unlink()
    manifest.symlink_to(aside)
    assert verify(folder).complete is False


def test_verify_accepts_a_path_or_an_opened_batch(tmp_path: Path) -> None:
    """verify(path) and verify(open_batch(path)) report the same."""
    folder = three(tmp_path)
    assert verify(folder).as_json() == verify(open_batch(folder)).as_json()
    assert verify(str(folder)).all_accepted


def test_entry_status_can_be_replaced_by_the_receiver(tmp_path: Path) -> None:
    """set_status replaces an entry's verdict; entries_to_process follows it."""
    report = verify(three(tmp_path))
    duplicate = airex.MessageError(
        "DuplicateMessage", "seen before", status=MessageStatus.DUPLICATE_MESSAGE
    )
    report.entries[1].set_status(MessageStatus.DUPLICATE_MESSAGE, [duplicate])
    assert [e.message_id for e in report.entries_to_process()] == [
        "HARM-MSG-2026-003402",
        "HARM-MSG-2025-011377",
    ]
    assert not report.all_accepted


def test_deeply_nested_folders_are_listed_without_recursion(tmp_path: Path) -> None:
    """A folder nested 1 200 deep (beyond Python's recursion limit) is walked; its file is
    reported unlisted, and nothing crashes."""
    folder = three(tmp_path)
    depth = 1200
    levels = [os.path.join(folder, *["d"] * k) for k in range(1, depth + 1)]
    leaf = os.path.join(levels[-1], "deep.xml")
    try:
        for level in levels:
            os.mkdir(level)
        with open(leaf, "wb"):
            pass
        report = verify(folder)
        assert report.all_accepted
        assert report.unlisted == ["d/" * depth + "deep.xml"]
    finally:  # removed here, bottom up: a recursive rmtree (pytest's cleanup) would overflow
        if os.path.exists(leaf):
            os.unlink(leaf)
        for level in reversed(levels):
            if os.path.isdir(level):
                os.rmdir(level)
