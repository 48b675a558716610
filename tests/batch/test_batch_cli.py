"""`airex batch pack | verify | unpack`: output, JSON, ACK files and exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_support import CMO, DEV, INVALID, sample, write_zip
from typer.testing import CliRunner, Result

from airex.cli._app import app

INVOICE = sample("invoice", "music-cadenza-q1-2026")
STATEMENT = sample("royalty-statement", "music-cmo-to-label-q1-2026")
ID = "20260420091500000"


def run(*args: object) -> Result:
    """Invoke ``airex <args>`` in process."""
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def packed(tmp_path: Path, *extra: object) -> Path:
    """``airex batch pack`` of an invoice and a statement; the printed batch path."""
    result = run("batch", "pack", INVOICE, STATEMENT, "--out", tmp_path, "--batch-id", ID, *extra)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip())


def test_pack_prints_the_batch_path_and_verify_accepts_it(tmp_path: Path) -> None:
    """pack prints out/<BatchId>; verify lists each message as accepted and exits 0."""
    folder = packed(tmp_path)
    assert folder == tmp_path / ID
    result = run("batch", "verify", folder)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "HARM-MSG-2026-003402.xml: MessageAccepted InvoiceMessage HARM-MSG-2026-003402",
        "HARM-MSG-2026-005231.xml: MessageAccepted RoyaltyStatementMessage HARM-MSG-2026-005231",
    ]
    assert f"batch {ID}: 2 messages, 2 accepted, 0 rejected" in result.stderr


def test_pack_zip_and_options_reach_the_manifest(tmp_path: Path) -> None:
    """--zip, --sender, --recipient, --algorithm and --test are honoured."""
    archive = packed(
        tmp_path,
        "--zip",
        "--sender",
        DEV,
        "--recipient",
        CMO,
        "--recipient",
        "PADPIDA2026OTHER",
        "--algorithm",
        "MD5",
        "--test",
    )
    assert archive == tmp_path / f"{ID}.zip"
    result = run("batch", "verify", "--json", archive)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["batch_id"], report["complete"], report["processable"]) == (ID, True, True)
    assert [e["status"] for e in report["entries"]] == ["MessageAccepted"] * 2


def test_pack_folder_argument_collects_its_xml_files(tmp_path: Path) -> None:
    """A folder among MESSAGES contributes its *.xml files, in sorted order."""
    result = run("batch", "pack", INVOICE.parent, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "packed 4 messages" in result.stderr


def test_pack_refuses_an_invalid_message_with_its_errors(tmp_path: Path) -> None:
    """An invalid message: its errors as file:line: CODE lines, exit 1, nothing written."""
    bad = INVALID / "br-total-mismatch.xml"
    result = run("batch", "pack", INVOICE, bad, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert f"{bad}:" in result.stdout
    assert "TotalMismatch" in result.stdout
    assert "airex: 1 invalid message; nothing written" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-id", "2026"], "YYYYMMDDhhmmssnnn"),
        (["--algorithm", "CRC32"], "HashSumAlgorithmType"),
    ],
)
def test_pack_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    """A malformed --batch-id or --algorithm is a usage error (exit 2)."""
    result = run("batch", "pack", INVOICE, "--out", tmp_path, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_pack_never_overwrites_exit_2(tmp_path: Path) -> None:
    """Packing to an existing BatchId is refused with exit 2."""
    packed(tmp_path)
    result = run("batch", "pack", INVOICE, "--out", tmp_path, "--batch-id", ID)
    assert result.exit_code == 2
    assert "already exists" in result.stderr


def test_verify_rejection_exit_1_and_write_ack(tmp_path: Path) -> None:
    """A damaged file: its errors are printed, exit 1, and --write-ack writes ACK_<BatchId>.xml."""
    folder = packed(tmp_path)
    path = folder / "HARM-MSG-2026-003402.xml"
    path.write_bytes(path.read_bytes().replace(b"Harmonia", b"Harmonie", 1))
    result = run("batch", "verify", folder, "--write-ack")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "HARM-MSG-2026-003402.xml: SignatureOrHashSumWrongOrMissing "
        "InvoiceMessage HARM-MSG-2026-003402"
    )
    assert lines[1].startswith("  HARM-MSG-2026-003402.xml: HashSumMismatch: its SHA-256 hash")
    ack = tmp_path / f"ACK_{ID}.xml"
    assert f"acknowledgement written to {ack}" in result.stderr
    text = ack.read_text()
    assert f"<PartyId>{DEV}</PartyId>" in text.split("</MessageSender>")[0]  # first recipient
    assert text.count("<Acknowledgement>") == 3


def test_verify_ack_options(tmp_path: Path) -> None:
    """--as names who acknowledges and --ack-dir where the ACK goes; --json reports its path."""
    folder = packed(tmp_path)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    options = ["--json", "--write-ack", "--as", "PADPIDA2026ME", "--ack-dir", outbox]
    result = run("batch", "verify", folder, *options)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["ack"] == str(outbox / f"ACK_{ID}.xml")
    assert "<PartyId>PADPIDA2026ME</PartyId>" in (outbox / f"ACK_{ID}.xml").read_text()


def test_verify_incomplete_batch_exit_1(tmp_path: Path) -> None:
    """No BatchComplete file: the input is refused (exit 1, as every refusal), said on
    stderr, no ACK written even with --write-ack."""
    folder = packed(tmp_path)
    (folder / f"BatchComplete_{ID}.xml").unlink()
    result = run("batch", "verify", folder, "--write-ack")
    assert result.exit_code == 1
    assert "incomplete" in result.stderr
    assert not (tmp_path / f"ACK_{ID}.xml").exists()


def test_verify_refused_manifest_exit_1(tmp_path: Path) -> None:
    """An invalid manifest: the batch is refused as a whole, exit 1."""
    folder = packed(tmp_path)
    manifest = folder / f"BatchComplete_{ID}.xml"
    data = manifest.read_bytes()
    manifest.write_bytes(data.replace(b"<NumberOfMessages>2<", b"<NumberOfMessages>5<"))
    result = run("batch", "verify", folder)
    assert result.exit_code == 1
    assert "the batch is refused" in result.stdout
    assert "MessageCountMismatch" in result.stdout


def test_verify_no_such_path_exit_2(tmp_path: Path) -> None:
    """A path that does not exist is a usage error."""
    result = run("batch", "verify", tmp_path / "nope")
    assert result.exit_code == 2
    assert "no such batch" in result.stderr


def test_unpack_extracts_and_refuses_hostile_zips(tmp_path: Path) -> None:
    """unpack writes the zip's files to --out (default: the zip's name); hostile: exit 1."""
    archive = packed(tmp_path, "--zip")
    result = run("batch", "unpack", archive)
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip()) == tmp_path / ID
    assert run("batch", "verify", tmp_path / ID).exit_code == 0
    again = run("batch", "unpack", archive)
    assert again.exit_code == 2
    evil = write_zip(tmp_path / "evil.zip", [("../evil.xml", b"<x/>")])
    refused = run("batch", "unpack", evil, "--out", tmp_path / "evil")
    assert refused.exit_code == 1
    assert "UnsafeBatchMember" in refused.stdout
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("command", [[], ["pack"], ["verify"], ["unpack"]])
def test_help_has_examples(command: list[str]) -> None:
    """Every batch command's --help shows examples."""
    result = run("batch", *command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "airex batch" in result.stdout
