"""Batch zips: the same layout as folders; hostile archives refused whole, before extraction."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest
from batch_support import member, sample, write_zip, zip_folder

from airex.batch import (
    BatchExistsError,
    BatchLimits,
    BatchRefusedError,
    open_batch,
    pack,
    unpack,
    verify,
)

INVOICE = sample("invoice", "music-cadenza-q1-2026")
STATEMENT = sample("royalty-statement", "music-cmo-to-label-q1-2026")
ID = "20260420091500000"


def packed_zip(tmp_path: Path) -> Path:
    """A valid batch zip of an invoice and a statement."""
    return pack([INVOICE, STATEMENT], tmp_path / "out", batch_id=ID, zip=True).path


def batch_members(tmp_path: Path) -> list[tuple[zipfile.ZipInfo | str, bytes]]:
    """The members of a valid batch zip, as (name, bytes), in order."""
    with zipfile.ZipFile(packed_zip(tmp_path)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def refusal_codes(path: Path, limits: BatchLimits | None = None) -> list[str]:
    """The codes for which the batch at ``path`` is refused as a whole."""
    batch = open_batch(path, limits=limits)
    report = verify(batch)
    assert report.entries == []
    assert report.entries_to_process() == []
    return [e.code for e in report.manifest_errors]


def test_zip_round_trip_and_its_folder_twin_agree(tmp_path: Path) -> None:
    """A packed zip verifies as its unpacked folder does, entry for entry."""
    archive = packed_zip(tmp_path)
    folder = unpack(archive, tmp_path / "unpacked")
    zipped, unzipped = verify(archive), verify(folder)
    assert zipped.all_accepted
    assert [e.as_json() for e in zipped.entries] == [e.as_json() for e in unzipped.entries]
    assert sorted(p.name for p in folder.iterdir()) == [
        f"BatchComplete_{ID}.xml",
        "HARM-MSG-2026-003402.xml",
        "HARM-MSG-2026-005231.xml",
    ]


def test_zip_of_a_batch_folder_with_its_top_folder_is_read(tmp_path: Path) -> None:
    """A zip whose files sit under one top folder (<BatchId>/...) reads like the folder."""
    folder = pack([INVOICE, STATEMENT], tmp_path / "out", batch_id=ID).path
    archive = zip_folder(folder, tmp_path / "whole.zip", prefix=f"{ID}/")
    report = verify(archive)
    assert (report.batch_id, report.all_accepted, len(report.entries)) == (ID, True, 2)


def test_zip_without_manifest_is_incomplete(tmp_path: Path) -> None:
    """A zip lacking BatchComplete: incomplete, nothing processed."""
    members = [m for m in batch_members(tmp_path) if "BatchComplete" not in str(m[0])]
    report = verify(write_zip(tmp_path / f"{ID}.zip", members))
    assert (report.complete, report.entries, report.manifest_errors) == (False, [], [])


def test_hash_mismatch_inside_a_zip_rejects_only_that_message(tmp_path: Path) -> None:
    """A member changed after packing: SignatureOrHashSumWrongOrMissing for it, the rest stand."""
    members = batch_members(tmp_path)
    name, data = members[0]
    members[0] = (name, data.replace(b"Harmonia", b"Harmonie", 1))
    report = verify(write_zip(tmp_path / "tampered.zip", members))
    assert [str(e.status) for e in report.entries] == [
        "SignatureOrHashSumWrongOrMissing",
        "MessageAccepted",
    ]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.xml", ".."),
        ("a/../../evil.xml", ".."),
        ("/etc/evil.xml", "absolute"),
        ("C:/evil.xml", "drive"),
        ("c:evil.xml", "drive"),
        ("dir\\..\\evil.xml", "backslash"),
        ("a//b.xml", "empty"),
        ("./a.xml", "."),
        ("a\x01b.xml", "control"),
    ],
)
def test_member_names_that_could_escape_refuse_the_archive(
    tmp_path: Path, name: str, why: str
) -> None:
    """Traversal, absolute, drive, backslash and odd names refuse the whole zip."""
    members = [*batch_members(tmp_path), (name, b"<x/>")]
    archive = write_zip(tmp_path / f"{ID}.zip", members)
    batch = open_batch(archive)
    assert [e.code for e in batch.refusal] == ["UnsafeBatchMember"]
    assert why in batch.refusal[0].message
    assert refusal_codes(archive) == ["UnsafeBatchMember"]


def test_symlink_member_refuses_the_archive(tmp_path: Path) -> None:
    """A member that is a symbolic link (Unix mode in the zip) refuses the zip."""
    link = member("link.xml", mode=stat.S_IFLNK | 0o777)
    archive = write_zip(tmp_path / f"{ID}.zip", [*batch_members(tmp_path), (link, b"/etc/passwd")])
    assert refusal_codes(archive) == ["UnsafeBatchMember"]
    assert "symbolic link" in open_batch(archive).refusal[0].message


def test_device_member_refuses_the_archive(tmp_path: Path) -> None:
    """A member whose Unix mode is a character device refuses the zip."""
    device = member("tty.xml", mode=stat.S_IFCHR | 0o666)
    archive = write_zip(tmp_path / f"{ID}.zip", [*batch_members(tmp_path), (device, b"")])
    assert refusal_codes(archive) == ["UnsafeBatchMember"]


@pytest.mark.parametrize(
    "second", ["HARM-MSG-2026-003402.xml", "harm-msg-2026-003402.XML"], ids=["exact", "case"]
)
def test_duplicate_member_names_refuse_the_archive(tmp_path: Path, second: str) -> None:
    """The same name twice (or differing only in case) refuses the zip."""
    archive = write_zip(tmp_path / f"{ID}.zip", [*batch_members(tmp_path), (second, b"<x/>")])
    assert refusal_codes(archive) == ["UnsafeBatchMember"]


def test_name_that_is_both_file_and_folder_refuses_the_archive(tmp_path: Path) -> None:
    """a.xml as a file and a.xml/b.xml under it cannot both be extracted: refused."""
    members = [*batch_members(tmp_path), ("a.xml", b"<x/>"), ("a.xml/b.xml", b"<x/>")]
    assert refusal_codes(write_zip(tmp_path / f"{ID}.zip", members)) == ["UnsafeBatchMember"]


def test_zip_bomb_member_refuses_the_archive(tmp_path: Path) -> None:
    """A member that expands more than max_compression_ratio times (2 MiB of zeros) refuses."""
    bomb = [*batch_members(tmp_path), ("bomb.xml", b"\0" * (2 * 1024 * 1024))]
    archive = write_zip(tmp_path / f"{ID}.zip", bomb)
    assert refusal_codes(archive) == ["CompressionRatioExceeded"]
    relaxed = BatchLimits(max_compression_ratio=10_000)
    assert open_batch(archive, limits=relaxed).refusal == []


def test_member_beyond_the_file_limit_is_rejected_alone_never_decompressed(
    tmp_path: Path,
) -> None:
    """A member declared larger than max_file_bytes is not read; its entry is rejected."""
    limits = BatchLimits(max_file_bytes=3000)  # the statement (4664 bytes) is too large
    report = verify(open_batch(packed_zip(tmp_path), limits=limits))
    assert [[x.code for x in e.errors] for e in report.entries] == [[], ["SizeLimitExceeded"]]
    with pytest.raises(BatchRefusedError) as caught:
        unpack(packed_zip(tmp_path / "again"), tmp_path / "x", limits=limits)
    assert [e.code for e in caught.value.errors] == ["SizeLimitExceeded"]
    assert not (tmp_path / "x").exists()


def test_too_many_members_or_bytes_refuse_the_archive(tmp_path: Path) -> None:
    """More members than max_files, or more bytes than max_total_bytes, refuse the zip."""
    archive = packed_zip(tmp_path)
    assert refusal_codes(archive, BatchLimits(max_files=2)) == ["BatchTooLarge"]
    assert refusal_codes(archive, BatchLimits(max_total_bytes=5000)) == ["BatchTooLarge"]


def test_encrypted_member_refuses_the_archive(tmp_path: Path) -> None:
    """A member flagged encrypted cannot be checked: the zip is refused."""
    archive = write_zip(tmp_path / f"{ID}.zip", [*batch_members(tmp_path), ("secret.xml", b"<x/>")])
    data = bytearray(archive.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # the last central directory entry: secret.xml
    assert data[central + 46 : central + 56] == b"secret.xml"
    local = int.from_bytes(data[central + 42 : central + 46], "little")
    data[central + 8] |= 0x1  # general purpose flag bit 0: encrypted
    data[local + 6] |= 0x1
    archive.write_bytes(bytes(data))
    assert refusal_codes(archive) == ["UnsafeBatchMember"]
    assert "encrypted" in open_batch(archive).refusal[0].message


def test_member_lying_about_its_size_is_never_expanded_beyond_it(tmp_path: Path) -> None:
    """A bomb declaring 1000 bytes (real: 64 MiB of zeros) is cut at 1000 and refused (CRC)."""
    bomb = b"\0" * (64 * 1024 * 1024)
    archive = write_zip(tmp_path / f"{ID}.zip", [*batch_members(tmp_path), ("bomb.xml", bomb)])
    data = bytearray(archive.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    assert data[central + 46 : central + 54] == b"bomb.xml"
    local = int.from_bytes(data[central + 42 : central + 46], "little")
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")  # uncompressed size
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as reader:
        assert reader.getinfo("bomb.xml").file_size == 1000
    assert refusal_codes(archive) == ["ArchiveUnreadable"]
    assert "CRC" in open_batch(archive).refusal[0].message


def test_corrupt_member_data_refuses_the_archive(tmp_path: Path) -> None:
    """A member whose compressed bytes were damaged (bad CRC or stream) is ArchiveUnreadable."""
    archive = packed_zip(tmp_path)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as reader:
        first = reader.infolist()[0]
        offset = first.header_offset + 30 + len(first.filename.encode()) + len(first.extra)
    data[offset + 20] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    assert refusal_codes(damaged) == ["ArchiveUnreadable"]


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_file_that_is_not_a_zip_is_refused(tmp_path: Path, content: bytes) -> None:
    """Anything that is not a readable zip is ArchiveUnreadable, never a crash."""
    path = tmp_path / f"{ID}.zip"
    path.write_bytes(content)
    assert refusal_codes(path) == ["ArchiveUnreadable"]


def test_truncated_zip_is_refused(tmp_path: Path) -> None:
    """A zip cut short in transit (no central directory) is ArchiveUnreadable."""
    archive = packed_zip(tmp_path)
    archive.write_bytes(archive.read_bytes()[:-40])
    assert refusal_codes(archive) == ["ArchiveUnreadable"]


def test_unpack_refuses_hostile_archives_and_writes_nothing(tmp_path: Path) -> None:
    """unpack of a traversal zip raises BatchRefusedError and creates nothing anywhere."""
    archive = write_zip(
        tmp_path / "evil.zip", [*batch_members(tmp_path), ("../../escaped.xml", b"<x/>")]
    )
    with pytest.raises(BatchRefusedError, match="UnsafeBatchMember"):
        unpack(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert not (tmp_path.parent / "escaped.xml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip", "out"]


def test_unpack_never_overwrites(tmp_path: Path) -> None:
    """unpack into a non-empty folder is refused; into an empty one it fills it."""
    archive = packed_zip(tmp_path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(BatchExistsError):
        unpack(archive, busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert unpack(archive, empty) == empty
    assert verify(empty).all_accepted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "empty", "out"]


def test_directory_claiming_too_many_members_is_refused_before_it_is_loaded(
    tmp_path: Path,
) -> None:
    """A zip whose end record claims more members than max_files is refused from that record."""
    archive = packed_zip(tmp_path)
    data = bytearray(archive.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    data[end + 8 : end + 12] = (60000).to_bytes(2, "little") * 2  # on this disk, and in total
    archive.write_bytes(bytes(data))
    assert refusal_codes(archive) == ["BatchTooLarge"]
    assert "60000 members" in open_batch(archive).refusal[0].message


def test_refused_zip_is_acknowledged_under_the_zip_name(tmp_path: Path) -> None:
    """A zip refused as a whole (here a bomb beside a valid manifest) is named by the zip's
    file name in its acknowledgement, not by its BatchComplete file."""
    bomb = ("bomb.xml", b"\0" * (2 * 1024 * 1024))
    report = verify(write_zip(tmp_path / f"{ID}.zip", [*batch_members(tmp_path), bomb]))
    assert report.container_refused
    assert report.manifest_name == f"BatchComplete_{ID}.xml"
    assert report.manifest_file_name == f"{ID}.zip"
