"""`airex.batch.pack`: layout, manifest, validation first, crash safety, never overwriting."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from batch_support import CMO, DEV, INVALID, VALID_SAMPLES, sample

import airex
from airex.batch import (
    BatchExistsError,
    BatchPackError,
    MessageFile,
    _fs,
    _pack,
    hash_hex,
    manifest_name,
    pack,
    verify,
)
from airex.messages import ManifestMessage, Party

INVOICE = sample("invoice", "music-cadenza-q1-2026")
STATEMENT = sample("royalty-statement", "music-cmo-to-label-q1-2026")
LICENCE = sample("licence", "music-cmo-grants-cadenza")


def test_pack_writes_folder_named_by_batch_id_with_messages_and_manifest(tmp_path: Path) -> None:
    """The batch folder is out/<BatchId>/ with <MessageId>.xml files and its BatchComplete file."""
    packed = pack([INVOICE, STATEMENT], tmp_path, batch_id="20260420091500000")
    assert packed.path == tmp_path / "20260420091500000"
    assert sorted(p.name for p in packed.path.iterdir()) == [
        "BatchComplete_20260420091500000.xml",
        "HARM-MSG-2026-003402.xml",
        "HARM-MSG-2026-005231.xml",
    ]
    assert (packed.path / "HARM-MSG-2026-003402.xml").read_bytes() == INVOICE.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20260420091500000"]  # no leftovers


def test_manifest_lists_type_id_url_sha256_and_size(tmp_path: Path) -> None:
    """Each MessageInBatch carries the file's type, id, URL, SHA-256 hash and size."""
    packed = pack([INVOICE], tmp_path, batch_id="20260420091500000")
    data = (packed.path / manifest_name(packed.batch_id)).read_bytes()
    manifest = airex.parse(data)
    assert isinstance(manifest, ManifestMessage)
    (entry,) = manifest.messages_in_batch
    expected = (
        "InvoiceMessage",
        "HARM-MSG-2026-003402",
        "HARM-MSG-2026-003402.xml",
        hash_hex(INVOICE.read_bytes()),
        "SHA-256",
        INVOICE.stat().st_size,
    )
    actual = (
        entry.message_type,
        entry.message_id,
        entry.url,
        entry.hash_sum.hash_sum_value,
        entry.hash_sum.hash_sum_algorithm_type,
        entry.file_size,
    )
    assert expected == actual
    assert manifest.number_of_messages == 1
    assert manifest.batch_id == "20260420091500000"


def test_sender_and_recipients_default_to_the_first_message(tmp_path: Path) -> None:
    """Without sender/recipients the manifest's header copies the first message's parties."""
    packed = pack([INVOICE, LICENCE], tmp_path)
    header = packed.manifest.message_header
    assert header.message_sender.party_id == CMO
    assert header.message_sender.party_name == "Harmonia Music Rights Society"
    assert [r.party_id for r in header.message_recipients] == [DEV]


def test_explicit_parties_algorithm_and_test_flag(tmp_path: Path) -> None:
    """sender, recipients, SHA-512 and test=True all reach the manifest, which stays valid."""
    packed = pack(
        [INVOICE],
        tmp_path,
        sender=Party(party_id="PADPIDA2026OTHER"),
        recipients=["PADPIDA2026R1", "PADPIDA2026R2"],
        algorithm="SHA-512",
        test=True,
    )
    manifest = packed.manifest
    assert manifest.message_header.message_sender.party_id == "PADPIDA2026OTHER"
    assert [r.party_id for r in manifest.message_header.message_recipients] == [
        "PADPIDA2026R1",
        "PADPIDA2026R2",
    ]
    assert manifest.is_test_flag is True
    assert manifest.message_header.message_control_type == "TestMessage"
    entry = manifest.messages_in_batch[0]
    assert entry.hash_sum.hash_sum_value == hash_hex(INVOICE.read_bytes(), "SHA-512")
    assert airex.check((packed.path / packed.manifest_name).read_bytes()).errors == []


@pytest.mark.parametrize("algorithm", ["SHA-256", "SHA-512", "MD5"])
def test_every_algorithm_packs_and_verifies(tmp_path: Path, algorithm: str) -> None:
    """Batches hashed with each algorithm of the standard verify clean."""
    packed = pack([INVOICE, STATEMENT], tmp_path, algorithm=algorithm)
    report = verify(packed.path)
    assert report.all_accepted
    assert [len(e.data) for e in report.entries] == [
        INVOICE.stat().st_size,
        STATEMENT.stat().st_size,
    ]


def test_unknown_algorithm_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """An algorithm outside SHA-256/SHA-512/MD5 is a ValueError and nothing is written."""
    with pytest.raises(ValueError, match="SHA-1"):
        pack([INVOICE], tmp_path / "out", algorithm="SHA-1")
    assert not (tmp_path / "out").exists()


def test_default_batch_id_is_utc_now_to_the_millisecond(tmp_path: Path) -> None:
    """The default BatchId is 17 digits, a real date, the manifest's creation second."""
    packed = pack([INVOICE], tmp_path)
    created = packed.manifest.message_header.message_created_date_time
    assert airex.batch.is_batch_id(packed.batch_id)
    assert abs(int(packed.batch_id[:14]) - int(created.strftime("%Y%m%d%H%M%S"))) <= 1


@pytest.mark.parametrize("bad", ["2026042009150000", "20261320091500000", "2026-04-20"])
def test_malformed_batch_id_is_refused(tmp_path: Path, bad: str) -> None:
    """A BatchId that is not YYYYMMDDhhmmssnnn (a real date) is a ValueError."""
    with pytest.raises(ValueError, match="YYYYMMDDhhmmssnnn"):
        pack([INVOICE], tmp_path, batch_id=bad)


def test_taken_default_batch_id_moves_to_the_next_millisecond(tmp_path: Path) -> None:
    """Two packs in one millisecond get different BatchIds rather than failing."""
    first = pack([INVOICE], tmp_path, batch_id="20260420091500000")
    (tmp_path / "20260420091500001").mkdir()  # as if packed in the next millisecond too
    _pack_now = _pack.batch_id_at
    try:
        _pack.batch_id_at = lambda moment: "20260420091500000"  # type: ignore[assignment]
        second = pack([INVOICE], tmp_path)
    finally:
        _pack.batch_id_at = _pack_now
    assert (first.batch_id, second.batch_id) == ("20260420091500000", "20260420091500002")
    assert second.manifest.batch_id == "20260420091500002"
    assert (second.path / "BatchComplete_20260420091500002.xml").is_file()


def test_explicit_batch_id_never_overwrites(tmp_path: Path) -> None:
    """Packing to an existing BatchId raises BatchExistsError and leaves the first intact."""
    first = pack([INVOICE], tmp_path, batch_id="20260420091500000")
    before = sorted(p.name for p in first.path.iterdir())
    with pytest.raises(BatchExistsError):
        pack([STATEMENT], tmp_path, batch_id="20260420091500000")
    assert sorted(p.name for p in first.path.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["20260420091500000"]


def test_zip_holds_the_same_layout_with_the_manifest_last(tmp_path: Path) -> None:
    """--zip writes out/<BatchId>.zip whose last member is the BatchComplete file."""
    packed = pack([INVOICE, STATEMENT, LICENCE], tmp_path, batch_id="20260420091500000", zip=True)
    assert packed.path == tmp_path / "20260420091500000.zip"
    with zipfile.ZipFile(packed.path) as archive:
        names = archive.namelist()
        assert archive.read("HARM-MSG-2026-003402.xml") == INVOICE.read_bytes()
    assert names[-1] == "BatchComplete_20260420091500000.xml"
    assert len(names) == 4
    assert verify(packed.path).all_accepted


def test_out_ending_in_zip_is_the_zip_file(tmp_path: Path) -> None:
    """An out path ending in .zip is the archive itself, and an existing one is not replaced."""
    target = tmp_path / "sub" / "mine.zip"
    packed = pack([INVOICE], target)
    assert packed.path == target
    assert verify(target).all_accepted
    with pytest.raises(BatchExistsError):
        pack([STATEMENT], target)


def test_invalid_message_is_refused_with_file_line_and_code(tmp_path: Path) -> None:
    """An invalid message stops the pack: the error names its file, line and code."""
    bad = INVALID / "br-total-mismatch.xml"
    with pytest.raises(BatchPackError) as caught:
        pack([INVOICE, bad], tmp_path / "out")
    ((name, errors),) = caught.value.problems
    assert name == str(bad)
    assert [e.code for e in errors] == ["TotalMismatch"]
    assert f"{bad}:{errors[0].line}: TotalMismatch" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_allow_invalid_packs_invalid_messages(tmp_path: Path) -> None:
    """allow_invalid=True packs an invalid message (for testing receivers) as listed."""
    bad = INVALID / "xsd-unknown-currency.xml"
    packed = pack([INVOICE, bad], tmp_path, allow_invalid=True)
    assert [e.message_type for e in packed.entries] == [
        "InvoiceMessage",
        "PaymentNotificationMessage",
    ]
    report = verify(packed.path)
    assert [str(e.status) for e in report.entries] == ["MessageAccepted", "SchemaInvalid"]


def test_unreadable_id_needs_a_message_file(tmp_path: Path) -> None:
    """A message whose id cannot be read (not well-formed) needs MessageFile(type, id)."""
    broken = (INVALID / "nwf-truncated.xml").read_bytes()
    with pytest.raises(BatchPackError, match="MessageFile"):
        pack([INVOICE, broken], tmp_path, allow_invalid=True)
    packed = pack(
        [
            INVOICE,
            MessageFile(
                broken, message_type="UsageReportMessage", message_id="X-1", url="broken.xml"
            ),
        ],
        tmp_path,
        allow_invalid=True,
    )
    assert [e.url for e in packed.entries] == ["HARM-MSG-2026-003402.xml", "broken.xml"]
    assert str(verify(packed.path).entries[1].status) == "XmlNotWellFormed"


def test_a_manifest_cannot_be_packed_as_a_message(tmp_path: Path) -> None:
    """A ManifestMessage given as a message is refused (pack writes the manifest itself)."""
    manifest = airex.serialise(pack([INVOICE], tmp_path / "a").manifest)
    with pytest.raises(BatchPackError, match="ManifestMessage"):
        pack([manifest], tmp_path / "b")


def test_duplicate_message_ids_are_refused_unless_allowed(tmp_path: Path) -> None:
    """The same MessageId twice is refused; allow_invalid packs both under distinct names."""
    with pytest.raises(BatchPackError, match="HARM-MSG-2026-003402"):
        pack([INVOICE, INVOICE.read_bytes()], tmp_path)
    packed = pack([INVOICE, INVOICE.read_bytes()], tmp_path, allow_invalid=True)
    assert [e.url for e in packed.entries] == [
        "HARM-MSG-2026-003402.xml",
        "HARM-MSG-2026-003402-2.xml",
    ]


def test_message_file_url_may_use_subfolders(tmp_path: Path) -> None:
    """A MessageFile URL with sub-folders is written there and verifies."""
    packed = pack([MessageFile(INVOICE.read_bytes(), url="invoices/q1.xml"), STATEMENT], tmp_path)
    assert (packed.path / "invoices" / "q1.xml").read_bytes() == INVOICE.read_bytes()
    assert verify(packed.path).all_accepted


@pytest.mark.parametrize(
    "url", ["../escape.xml", "/abs.xml", "a\\b.xml", "a//b.xml", "c:/x.xml", " lead.xml"]
)
def test_message_file_url_that_leaves_the_batch_is_refused(tmp_path: Path, url: str) -> None:
    """URLs the manifest's BatchUrl forbids (.., absolute, backslash...) are refused."""
    with pytest.raises(BatchPackError, match="URL"):
        pack([MessageFile(INVOICE.read_bytes(), url=url)], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_url_clashing_with_the_manifest_name_is_refused(tmp_path: Path) -> None:
    """A message URL equal to the BatchComplete file's name is refused."""
    with pytest.raises(BatchPackError, match="taken"):
        pack(
            [MessageFile(INVOICE.read_bytes(), url="BatchComplete_20260420091500000.xml")],
            tmp_path,
            batch_id="20260420091500000",
        )


def test_colon_in_message_id_becomes_underscore_in_file_name(tmp_path: Path) -> None:
    """MessageId a:b (valid) is written as a_b.xml (no colon in file names)."""
    data = INVOICE.read_bytes().replace(b"HARM-MSG-2026-003402", b"HARM:MSG:1")
    packed = pack([data], tmp_path)
    assert [(e.message_id, e.url) for e in packed.entries] == [("HARM:MSG:1", "HARM_MSG_1.xml")]
    assert verify(packed.path).all_accepted


def test_empty_batch_is_refused(tmp_path: Path) -> None:
    """A batch holds at least one message."""
    with pytest.raises(BatchPackError, match="at least one"):
        pack([], tmp_path)


def test_manifest_is_written_last_then_the_folder_moved_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every message file is written before the manifest, and the folder appears only after."""
    events: list[str] = []
    real_write, real_move = _fs.write_file, _fs.move_dir_into_place

    def spy_write(path: Path, data: bytes) -> None:
        events.append("write " + path.name)
        real_write(path, data)

    def spy_move(temp: Path, target: Path) -> None:
        events.append("move " + target.name)
        assert not target.exists()  # nothing visible under the real name before the move
        real_move(temp, target)

    monkeypatch.setattr(_pack, "write_file", spy_write)
    monkeypatch.setattr(_pack, "move_dir_into_place", spy_move)
    pack([INVOICE, STATEMENT, LICENCE], tmp_path, batch_id="20260420091500000")
    assert [e.split(".partial")[0] for e in events] == [
        "write HARM-MSG-2026-003402.xml",
        "write HARM-MSG-2026-005231.xml",
        "write HARM-MSG-2025-011377.xml",
        "write .BatchComplete_20260420091500000.xml",  # aside, then renamed
        "move 20260420091500000",
    ]


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_failure_mid_pack_leaves_no_batch_and_no_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    """A write failing at any step (a message, the manifest) leaves the out folder empty."""
    calls = 0
    real_write = _fs.write_file

    def failing_write(path: Path, data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(_pack, "write_file", failing_write)
    with pytest.raises(OSError, match="No space"):
        pack([INVOICE, STATEMENT], tmp_path)
    assert calls == fail_at
    assert list(tmp_path.iterdir()) == []


def test_failure_writing_a_zip_leaves_no_zip_and_no_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip whose flush to disk fails is removed: the out folder stays empty."""

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        pack([INVOICE, STATEMENT], tmp_path, zip=True)
    assert list(tmp_path.iterdir()) == []


def test_every_valid_sample_packs_and_verifies(tmp_path: Path) -> None:
    """All valid samples of every family in one batch: every entry accepted."""
    packed = pack(VALID_SAMPLES, tmp_path)
    report = verify(packed.path)
    assert report.all_accepted
    assert [e.message_id for e in report.entries] == [
        airex.check(p.read_bytes()).message_id for p in VALID_SAMPLES
    ]
    assert [e.data for e in report.entries_to_process()] == [p.read_bytes() for p in VALID_SAMPLES]
