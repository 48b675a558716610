"""The ``airex`` command: validate and show messages, with the promised exit codes and formats."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import iscc_core
import pytest
from typer.testing import CliRunner, Result

import airex
from airex.cli import app
from airex.messages import (
    Acknowledgement,
    AcknowledgementError,
    AcknowledgementMessage,
    AirexMessage,
    AIUsePreference,
    Amount,
    HashSum,
    Invoice,
    InvoiceLine,
    InvoiceMessage,
    Licence,
    LicenceMessage,
    LicenceOfferMessage,
    LicenceRequest,
    LicenceRequestMessage,
    LicenceTerms,
    ManifestMessage,
    MessageHeader,
    MessageInBatch,
    Model,
    Offer,
    Party,
    Payment,
    PaymentNotificationMessage,
    Period,
    Quantity,
    Repertoire,
    ReportedRevenue,
    ReportingObligation,
    RightsShare,
    RoyaltyStatement,
    RoyaltyStatementMessage,
    SettledDocument,
    StatementLine,
    StatementTotal,
    Tariff,
    Term,
    Territory,
    UsageRecord,
    UsageRecordList,
    UsageReport,
    UsageReportMessage,
    UsageSummary,
    Work,
    WorkDeclarationMessage,
    WorkId,
    WorkList,
)
from airex.messages.codes import (
    BillingPeriod,
    DocumentType,
    HashSumAlgorithmType,
    LicenceStatus,
    MessageStatus,
    MessageType,
    PartyRole,
    Preference,
    ProposedAction,
    ReportFormat,
    ReportingFrequency,
    RevenueType,
    TariffType,
    Unit,
    UseType,
    WorkIdType,
    WorkType,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
AIREX = Path(sys.executable).parent / "airex"

ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<code>[A-Za-z]+) (?P<path>/\S+): .+$")
JSON_KEYS = {"file", "valid", "message_type", "message_id", "errors"}
ERROR_KEYS = {"code", "path", "line", "message"}

# Output must not depend on the terminal or colour settings of whoever runs the tests.
PLAIN_ENV: dict[str, str | None] = {
    "COLUMNS": "120",
    "NO_COLOR": "1",
    "FORCE_COLOR": None,
    "TTY_COMPATIBLE": None,
    "TTY_INTERACTIVE": None,
}

CMO = Party(
    party_id="PADPIDA2026CMO01",
    party_name="Nordic Music CMO",
    party_role=PartyRole.COLLECTIVE_MANAGEMENT_ORGANISATION,
)
DEV = Party(
    party_id="PADPIDA2026DEV01", party_name="Melodia AI Ltd", party_role=PartyRole.AI_DEVELOPER
)
PUB = Party(party_id="PADPIDA2026PUB01", party_name="Fjord Publishing")


def _isrc(value: str) -> WorkId:
    return WorkId(type=WorkIdType.ISRC, value=value)


def _terms() -> LicenceTerms:
    return LicenceTerms(
        repertoire=Repertoire.all_works(),
        permitted_use_types=[UseType.USE_FOR_TRAINING_GENERATIVE_AI, UseType.USE_AS_AI_INPUT],
        territory=Territory.worldwide("KP"),
        term=Term(start_date=date(2026, 1, 1), end_date=date(2026, 12, 31)),
        tariffs=[
            Tariff(
                tariff_id="T-TOKENS",
                tariff_type=TariffType.PER_UNIT,
                use_types=[UseType.USE_FOR_TRAINING_GENERATIVE_AI],
                amount=Amount.of("0.50", "EUR"),
                unit=Unit.TOKEN,
                per_quantity=1000000,
            ),
            Tariff(
                tariff_id="T-FLAT",
                tariff_type=TariffType.FLAT_FEE,
                amount=Amount.of("12000", "EUR"),
                billing_period=BillingPeriod.ANNUALLY,
            ),
        ],
        reporting_obligation=ReportingObligation(
            frequency=ReportingFrequency.QUARTERLY, due_days=30, report_formats=[ReportFormat.XML]
        ),
    )


def licence_message(licence_id: str = "LIC-2026-0001") -> LicenceMessage:
    """A granted licence: worldwide except KP, per-token and flat-fee tariffs."""
    return LicenceMessage(
        message_header=MessageHeader.build(CMO, DEV),
        licence=Licence(
            licence_id=licence_id,
            licensor=CMO,
            licensee=DEV,
            licence_status=LicenceStatus.GRANTED,
            issued_date_time=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            licence_terms=_terms(),
        ),
    )


def offer_message() -> LicenceOfferMessage:
    """An open offer of the licence terms."""
    return LicenceOfferMessage(
        message_header=MessageHeader.build(CMO, DEV),
        offer=Offer(
            offer_id="OFF-2026-01",
            licensor=CMO,
            licence_terms=_terms(),
            valid_until=datetime(2026, 3, 31, 23, 59, tzinfo=UTC),
        ),
    )


def request_message() -> LicenceRequestMessage:
    """A request accepting offer OFF-2026-01."""
    return LicenceRequestMessage(
        message_header=MessageHeader.build(DEV, CMO),
        licence_request=LicenceRequest(
            request_id="REQ-7",
            offer_id="OFF-2026-01",
            licensee=DEV,
            requested_start_date=date(2026, 2, 1),
        ),
    )


def declaration_message() -> WorkDeclarationMessage:
    """One work with an ISCC, two rights shares and a training opt-out."""
    iscc = iscc_core.gen_meta_code("Northern Lights")["iscc"]
    return WorkDeclarationMessage(
        message_header=MessageHeader.build(PUB, CMO),
        work_list=WorkList(
            works=[
                Work(
                    work_reference="W-001",
                    work_ids=[WorkId(type=WorkIdType.ISCC, value=iscc)],
                    title="Northern Lights",
                    work_type=WorkType.MUSICAL_WORK,
                    rights_shares=[
                        RightsShare(
                            rightsholder_party_id="PADPIDA2026PUB01", share_percentage=Decimal(60)
                        ),
                        RightsShare(
                            rightsholder_party_id="PADPIDA2026AUT01", share_percentage=Decimal(40)
                        ),
                    ],
                    ai_use_preferences=[
                        AIUsePreference(
                            use_type=UseType.USE_FOR_TRAINING_GENERATIVE_AI,
                            preference=Preference.OPT_OUT,
                        )
                    ],
                )
            ]
        ),
    )


def _record(isrc: str, use_type: UseType, quantity: str, unit: Unit) -> UsageRecord:
    return UsageRecord(
        work_ids=[_isrc(isrc)],
        use_type=use_type,
        quantity=Quantity(unit=unit, value=Decimal(quantity)),
        model_id="melodia-7b",
    )


def usage_message(records: list[UsageRecord] | None = None) -> UsageReportMessage:
    """A quarter's usage: three token records over two works, and one retrieval record."""
    records = records or [
        _record("SEABC2600001", UseType.USE_FOR_TRAINING_GENERATIVE_AI, "1250000", Unit.TOKEN),
        _record("SEABC2600002", UseType.USE_FOR_TRAINING_GENERATIVE_AI, "750000", Unit.TOKEN),
        _record("SEABC2600001", UseType.USE_FOR_TRAINING_GENERATIVE_AI, "1500000", Unit.TOKEN),
        _record("SEABC2600002", UseType.USE_AS_AI_INPUT, "42", Unit.RETRIEVAL),
    ]
    return UsageReportMessage(
        message_header=MessageHeader.build(DEV, CMO),
        usage_report=UsageReport(
            report_id="REP-2026-Q1",
            licence_id="LIC-2026-0001",
            reporting_period=Period(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)),
            models=[Model(model_id="melodia-7b", model_name="Melodia", model_version="7b")],
            usage_summary=UsageSummary(
                number_of_records=len(records),
                reported_revenues=[
                    ReportedRevenue(
                        currency="EUR",
                        value=Decimal("98000.00"),
                        revenue_type=RevenueType.SUBSCRIPTION,
                    )
                ],
            ),
            usage_record_list=UsageRecordList(usage_records=records),
        ),
    )


def invoice_message() -> InvoiceMessage:
    """Two lines: 1250 units at 0.50 EUR, and a flat fee; total 3625.00 EUR."""
    return InvoiceMessage(
        message_header=MessageHeader.build(CMO, DEV),
        invoice=Invoice(
            invoice_id="INV-2026-Q1",
            licence_id="LIC-2026-0001",
            usage_report_id="REP-2026-Q1",
            invoice_period=Period(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)),
            issue_date=date(2026, 4, 15),
            due_date=date(2026, 5, 15),
            invoice_lines=[
                InvoiceLine(
                    line_number=1,
                    tariff_id="T-TOKENS",
                    description="Training tokens",
                    quantity=Decimal(1250),
                    unit_price=Amount.of("0.50", "EUR"),
                    line_amount=Amount.of("625.00", "EUR"),
                ),
                InvoiceLine(
                    line_number=2,
                    tariff_id="T-FLAT",
                    description="Quarter of the annual fee",
                    line_amount=Amount.of("3000.00", "EUR"),
                ),
            ],
            total_amount=Amount.of("3625.00", "EUR"),
        ),
    )


def payment_message() -> PaymentNotificationMessage:
    """The developer pays the invoice in full."""
    return PaymentNotificationMessage(
        message_header=MessageHeader.build(DEV, CMO),
        payment=Payment(
            payment_id="PAY-0042",
            payer=DEV,
            payee=CMO,
            paid_amount=Amount.of("3625.00", "EUR"),
            payment_date=date(2026, 5, 2),
            settled_documents=[
                SettledDocument(
                    document_type=DocumentType.INVOICE,
                    document_id="INV-2026-Q1",
                    applied_amount=Amount.of("3625.00", "EUR"),
                )
            ],
        ),
    )


def statement_message() -> RoyaltyStatementMessage:
    """One line: gross 100.00, fee 15.00, net 85.00 EUR."""
    return RoyaltyStatementMessage(
        message_header=MessageHeader.build(CMO, PUB),
        royalty_statement=RoyaltyStatement(
            statement_id="STM-2026-Q1-PUB01",
            payee=PUB,
            statement_period=Period(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31)),
            currency="EUR",
            statement_lines=[
                StatementLine(
                    licence_id="LIC-2026-0001",
                    licensee_party_id="PADPIDA2026DEV01",
                    work_ids=[_isrc("SEABC2600001")],
                    use_type=UseType.USE_FOR_TRAINING_GENERATIVE_AI,
                    tariff_id="T-TOKENS",
                    units=Decimal(1250000),
                    gross_amount=Decimal("100.00"),
                    share_percentage=Decimal(50),
                    administration_fee=Decimal("15.00"),
                    net_amount=Decimal("85.00"),
                )
            ],
            statement_total=StatementTotal(
                gross_amount=Decimal("100.00"),
                administration_fee=Decimal("15.00"),
                net_amount=Decimal("85.00"),
            ),
        ),
    )


def acknowledgement_message() -> AcknowledgementMessage:
    """A rejection of an invoice whose total is wrong."""
    return AcknowledgementMessage(
        message_header=MessageHeader.build(DEV, CMO),
        acknowledgements=[
            Acknowledgement(
                acknowledged_message_id="AIREX-INV-0001",
                acknowledged_file_name="invoice-q1.xml",
                message_status=MessageStatus.BUSINESS_RULE_VIOLATION,
                errors=[
                    AcknowledgementError(
                        error_code="TotalMismatch",
                        path="/InvoiceMessage/Invoice/TotalAmount",
                        line_number=41,
                        error_text="TotalAmount is not the sum of the line amounts",
                    )
                ],
                proposed_action=ProposedAction.CORRECT_AND_RESEND,
            )
        ],
    )


def manifest_message() -> ManifestMessage:
    """A test batch of one usage report."""
    return ManifestMessage(
        message_header=MessageHeader.build(DEV, CMO),
        batch_id="20260502120000000",
        is_test_flag=True,
        number_of_messages=1,
        messages_in_batch=[
            MessageInBatch(
                message_type=MessageType.USAGE_REPORT_MESSAGE,
                message_id="AIREX-USAGE-0001",
                url="usage/q1.xml",
                hash_sum=HashSum(
                    hash_sum_value="9f86d081884c7d659a2feaa0c55ad015"
                    "a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    hash_sum_algorithm_type=HashSumAlgorithmType.SHA_256,
                ),
                file_size=4096,
            )
        ],
    )


def write(folder: Path, name: str, message: AirexMessage | bytes) -> Path:
    """Write ``message`` (a model, serialised, or raw bytes) to ``folder/name``."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(message if isinstance(message, bytes) else airex.serialise(message))
    return path


def broken_licence() -> bytes:
    """A licence with an unknown currency (UnknownCurrency, a schema error)."""
    return airex.serialise(licence_message()).replace(b'Currency="EUR"', b'Currency="EUX"', 1)


DOCTYPE = b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaa">]>\n<x>&a;</x>\n'


def run(*args: str | Path) -> Result:
    """Invoke the app in process, with plain output settings."""
    return CliRunner().invoke(app, [str(a) for a in args], env=PLAIN_ENV)


def run_script(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run the installed ``airex`` console script in a child process."""
    env = {k: v for k, v in os.environ.items() if k not in PLAIN_ENV}
    env.update({k: v for k, v in PLAIN_ENV.items() if v is not None})
    return subprocess.run(
        [str(AIREX), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# --- validate -----------------------------------------------------------------------------------


def test_validate_valid_message_exits_zero_silently(tmp_path: Path) -> None:
    """A valid message prints nothing on stdout, a summary on stderr, and exits 0."""
    path = write(tmp_path, "licence.xml", licence_message())
    result = run("validate", path)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == "checked 1 file: 1 valid, 0 invalid (0 errors)"


def test_validate_verbose_prints_ok_line_with_type_and_id(tmp_path: Path) -> None:
    """--verbose prints ``file: OK MessageType MessageId`` for each valid file."""
    message = licence_message()
    path = write(tmp_path, "licence.xml", message)
    result = run("validate", "--verbose", path)
    assert result.exit_code == 0
    assert result.stdout == f"{path}: OK LicenceMessage {message.message_id}\n"


def test_validate_invalid_message_prints_error_lines_and_exits_one(tmp_path: Path) -> None:
    """Each error is one ``file:line: CODE path: message`` line; the exit status is 1."""
    path = write(tmp_path, "bad.xml", broken_licence())
    result = run("validate", path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines
    for line in lines:
        match = ERROR_LINE.match(line)
        assert match is not None, line
        assert match["file"] == str(path)
    assert "UnknownCurrency" in result.stdout
    assert "@Currency" in result.stdout
    assert "1 invalid" in result.stderr


def test_validate_reports_every_error_of_a_file(tmp_path: Path) -> None:
    """A file with 40 errors prints 40 lines: none is dropped or merged."""
    records = [
        _record(f"BAD-ISRC-{n}", UseType.USE_FOR_DATA_MINING, "1", Unit.WORK) for n in range(40)
    ]
    path = write(tmp_path, "usage.xml", usage_message(records))
    expected = airex.check(path).errors
    assert len(expected) == 40
    result = run("validate", path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 40
    assert all(ERROR_LINE.match(line) for line in lines)
    assert all("InvalidISRC" in line for line in lines)
    assert "(40 errors)" in result.stderr


def test_validate_doctype_is_reported_as_doctype_forbidden(tmp_path: Path) -> None:
    """A document with a DOCTYPE is refused with DoctypeForbidden and its line, exit 1."""
    path = write(tmp_path, "hostile.xml", DOCTYPE)
    result = run("validate", path)
    assert result.exit_code == 1
    assert re.fullmatch(rf"{re.escape(str(path))}:2: DoctypeForbidden: .+\n", result.stdout)


def test_validate_folder_json_prints_one_object_per_file(tmp_path: Path) -> None:
    """--json prints one JSON object per file, in sorted order, with exactly the promised keys."""
    write(tmp_path, "b/licence.xml", licence_message())
    write(tmp_path, "a/bad.xml", broken_licence())
    write(tmp_path, "c/hostile.xml", DOCTYPE)
    write(tmp_path, "c/notes.txt", b"not a message")
    result = run("validate", "--json", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == ""
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(o["file"]).relative_to(tmp_path).as_posix() for o in objects] == [
        "a/bad.xml",
        "b/licence.xml",
        "c/hostile.xml",
    ]
    assert all(set(o) == JSON_KEYS for o in objects)
    bad, good, hostile = objects
    assert (bad["valid"], good["valid"], hostile["valid"]) == (False, True, False)
    assert good["message_type"] == "LicenceMessage"
    assert good["errors"] == []
    assert hostile["message_type"] is None
    assert [e["code"] for e in hostile["errors"]] == ["DoctypeForbidden"]
    for error in bad["errors"] + hostile["errors"]:
        assert set(error) == ERROR_KEYS
    assert bad["errors"][0]["code"] == "UnknownCurrency"
    assert isinstance(bad["errors"][0]["line"], int)


def test_validate_missing_path_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    """A path that does not exist exits 2 and the message names it."""
    missing = tmp_path / "no-such-message.xml"
    result = run("validate", missing)
    assert result.exit_code == 2
    assert str(missing) in result.stderr
    assert result.stdout == ""


def test_validate_folder_without_xml_is_a_usage_error(tmp_path: Path) -> None:
    """A folder with no *.xml file under it exits 2 and names the folder."""
    (tmp_path / "readme.txt").write_text("nothing here")
    result = run("validate", tmp_path)
    assert result.exit_code == 2
    assert "no *.xml file" in result.stderr
    assert str(tmp_path) in result.stderr


def test_validate_bad_option_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown option or a --max-bytes below 1 exits 2."""
    path = write(tmp_path, "licence.xml", licence_message())
    assert run("validate", "--no-such-option", path).exit_code == 2
    assert run("validate", "--max-bytes", "0", path).exit_code == 2


@pytest.mark.parametrize("pattern", ["invalid", "invalid/*", "*/bad.xml", "bad.xml"])
def test_validate_exclude_skips_matching_files_and_folders(tmp_path: Path, pattern: str) -> None:
    """--exclude matches a folder's name, a path relative to the folder, or a file name."""
    write(tmp_path, "licence/licence.xml", licence_message())
    write(tmp_path, "invalid/bad.xml", broken_licence())
    assert run("validate", tmp_path).exit_code == 1
    result = run("validate", "--verbose", tmp_path, "--exclude", pattern)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'licence' / 'licence.xml'}: OK LicenceMessage "
        f"{airex.check(tmp_path / 'licence' / 'licence.xml').message_id}"
    ]


def test_validate_exclude_of_everything_is_a_usage_error(tmp_path: Path) -> None:
    """When --exclude leaves nothing to check under a folder, the exit status is 2."""
    write(tmp_path, "invalid/bad.xml", broken_licence())
    result = run("validate", tmp_path, "-x", "invalid")
    assert result.exit_code == 2
    assert "--exclude invalid" in result.stderr


def test_validate_max_bytes_refuses_larger_files(tmp_path: Path) -> None:
    """--max-bytes sets the parse limit: a larger file is SizeLimitExceeded."""
    path = write(tmp_path, "licence.xml", licence_message())
    result = run("validate", "--max-bytes", "100", path)
    assert result.exit_code == 1
    assert f"{path}: SizeLimitExceeded: " in result.stdout


def test_validate_folder_named_xml_is_reported_not_a_crash(tmp_path: Path) -> None:
    """A folder whose name ends in .xml is reported as an unreadable file of the run."""
    write(tmp_path, "licence.xml", licence_message())
    (tmp_path / "odd.xml").mkdir()
    result = run("validate", tmp_path)
    assert result.exit_code == 1
    assert result.stdout == f"{tmp_path / 'odd.xml'}: FileUnreadable: " + (
        "cannot read the file: it is a folder, not a file\n"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_validate_unreadable_file_is_reported_not_a_crash(tmp_path: Path) -> None:
    """A file without read permission is an error of that file (exit 1), not a traceback."""
    path = write(tmp_path, "secret.xml", licence_message())
    path.chmod(0)
    try:
        result = run("validate", path)
    finally:
        path.chmod(0o600)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}: FileUnreadable: cannot read the file")


def test_validate_read_error_is_reported_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError while reading a file (as for a permission denied) is that file's error."""
    import airex.messages._api as api

    good = write(tmp_path, "a-good.xml", licence_message())
    secret = write(tmp_path, "b-secret.xml", licence_message())
    real_parse_xml = api.parse_xml

    def parse_xml(source: object, *args: Any, **kwargs: Any) -> Any:
        if str(source) == str(secret):
            raise PermissionError(13, "Permission denied", str(source))
        return real_parse_xml(source, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "parse_xml", parse_xml)
    result = run("validate", "--verbose", tmp_path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:] == [
        f"{secret}: FileUnreadable: cannot read {secret}: Permission denied"
    ]
    assert result.stdout.startswith(f"{good}: OK LicenceMessage ")


def test_validate_unlistable_subfolder_is_reported_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subfolder the walk cannot list is reported as an error, never silently skipped."""
    write(tmp_path, "licence.xml", licence_message())
    locked = tmp_path / "locked"
    write(locked, "hidden.xml", licence_message())
    real_scandir, real_access = os.scandir, os.access

    def scandir(path: str) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode)
    )
    result = run("validate", tmp_path)
    assert result.exit_code == 1
    assert result.stdout == (
        f"{locked}: FileUnreadable: cannot read the file: it is a folder that cannot be "
        "listed (permission denied)\n"
    )


def test_validate_file_name_starting_with_angle_bracket_is_read_as_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named ``<odd>.xml`` is read as a file, not mistaken for a document."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "<odd>.xml", licence_message())
    result = run("validate", "<odd>.xml")
    assert result.exit_code == 0, result.stdout


def test_validate_undecodable_file_name_is_checked_and_printed(tmp_path: Path) -> None:
    """A file name that is not UTF-8 is checked like any other and printed with ``\\xNN``."""
    name = os.fsdecode(b"licence-\xff.xml")
    try:
        write(tmp_path, name, licence_message())
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    write(tmp_path, os.fsdecode(b"hostile-\xfe.xml"), DOCTYPE)
    result = run("validate", "--verbose", tmp_path)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{tmp_path}/hostile-\\xfe.xml:2: DoctypeForbidden: ")
    assert lines[1].startswith(f"{tmp_path}/licence-\\xff.xml: OK LicenceMessage ")


def test_validate_many_files_without_a_terminal_shows_no_progress(tmp_path: Path) -> None:
    """With many files and no terminal, stderr holds only the summary line."""
    for n in range(25):
        write(tmp_path, f"licence-{n:02}.xml", licence_message(f"LIC-{n}"))
    result = run("validate", tmp_path)
    assert result.exit_code == 0
    assert result.stderr == "checked 25 files: 25 valid, 0 invalid (0 errors)\n"


# --- show ---------------------------------------------------------------------------------------

FAMILIES: dict[str, tuple[Callable[[], AirexMessage], list[str]]] = {
    "licence": (
        licence_message,
        [
            "LicenceMessage",
            "LIC-2026-0001",
            "Granted",
            "Nordic Music CMO (PADPIDA2026CMO01) → Melodia AI Ltd (PADPIDA2026DEV01)",
            "Worldwide except KP",
            "2026-01-01 to 2026-12-31",
            "UseForTrainingGenerativeAI, UseAsAIInput",
            "0.50 EUR",
            "1000000 Token",
            "12000 EUR",
            "Annually",
        ],
    ),
    "offer": (offer_message, ["OFF-2026-01", "anyone (open offer)", "T-FLAT", "2026-03-31"]),
    "request": (request_message, ["REQ-7", "OFF-2026-01", "2026-02-01", "Melodia AI Ltd"]),
    "declaration": (
        declaration_message,
        ["W-001", "Northern Lights", "MusicalWork", "ISCC::ISCC:", "PADPIDA2026AUT01", "OptOut"],
    ),
    "usage": (
        usage_message,
        [
            "REP-2026-Q1",
            "2026-01-01 to 2026-03-31",
            "melodia-7b Melodia 7b",
            "98000.00 EUR Subscription",
        ],
    ),
    "invoice": (
        invoice_message,
        ["INV-2026-Q1", "2026-04-15 / 2026-05-15", "Training tokens", "625.00 EUR", "3625.00 EUR"],
    ),
    "payment": (
        payment_message,
        ["PAY-0042", "Melodia AI Ltd (PADPIDA2026DEV01) → Nordic Music CMO", "INV-2026-Q1"],
    ),
    "statement": (statement_message, ["STM-2026-Q1-PUB01", "Fjord Publishing", "85.00 EUR"]),
    "acknowledgement": (
        acknowledgement_message,
        ["AIREX-INV-0001", "invoice-q1.xml", "BusinessRuleViolation", "TotalMismatch"],
    ),
    "manifest": (
        manifest_message,
        ["20260502120000000", "AIREX-USAGE-0001", "usage/q1.xml", "SHA-256", "4096"],
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_show_prints_key_figures_of_each_family(tmp_path: Path, family: str) -> None:
    """``show`` exits 0 on a valid message and prints its type, id and key figures."""
    build, figures = FAMILIES[family]
    message = build()
    path = write(tmp_path, f"{family}.xml", message)
    assert airex.is_valid(path), airex.check(path).errors
    result = run("show", path)
    assert result.exit_code == 0, result.stdout
    for figure in [message.message_type, message.message_id, *figures]:
        assert figure in result.stdout, figure
    assert "\x1b[" not in result.stdout


def test_show_usage_report_totals_per_use_type_and_unit(tmp_path: Path) -> None:
    """A usage report shows record count, distinct works and summed quantities per unit."""
    path = write(tmp_path, "usage.xml", usage_message())
    out = run("show", path).stdout
    assert re.search(r"Records\s+4 \(declared 4\)", out)
    assert re.search(r"Distinct works\s+2\b", out)
    assert re.search(r"UseForTrainingGenerativeAI\s+Token\s+3\s+3500000\b", out)
    assert re.search(r"UseAsAIInput\s+Retrieval\s+1\s+42\b", out)


def test_show_declaration_lists_shares_and_preferences(tmp_path: Path) -> None:
    """A work declaration shows each work's full ids, its shares and its AI-use preferences."""
    message = declaration_message()
    out = run("show", write(tmp_path, "declaration.xml", message)).stdout
    assert str(message.work_list.works[0].work_ids[0]) in out  # on one line, never folded
    assert re.search(r"W-001\s+PADPIDA2026PUB01\s+60%\s+Worldwide", out)
    assert re.search(r"W-001\s+PADPIDA2026AUT01\s+40%\s+Worldwide", out)
    assert re.search(r"W-001\s+UseForTrainingGenerativeAI\s+OptOut", out)


def test_show_statement_totals(tmp_path: Path) -> None:
    """A royalty statement shows its line count and gross, fee and net totals."""
    out = run("show", write(tmp_path, "statement.xml", statement_message())).stdout
    assert re.search(r"Lines\s+1\b", out)
    assert re.search(r"Gross\s+100\.00 EUR", out)
    assert re.search(r"Administration fee\s+15\.00 EUR", out)
    assert re.search(r"Net\s+85\.00 EUR", out)


def test_show_output_is_plain_text_without_trailing_spaces(tmp_path: Path) -> None:
    """Piped output has no escape codes and no padding at the ends of lines."""
    out = run("show", write(tmp_path, "licence.xml", licence_message())).stdout
    assert "\x1b" not in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_show_does_not_read_message_text_as_markup(tmp_path: Path) -> None:
    """Text in square brackets from a message is printed as is, not taken for Rich markup."""
    message = invoice_message()
    message.invoice.invoice_lines[1].description = "[bold]Quarter[/bold] fee"
    out = run("show", write(tmp_path, "invoice.xml", message)).stdout
    assert "[bold]Quarter[/bold] fee" in out


def test_show_invalid_message_prints_its_errors_and_exits_one(tmp_path: Path) -> None:
    """An invalid file shows its errors in the validate format and exits 1."""
    good = write(tmp_path, "licence.xml", licence_message())
    bad = write(tmp_path, "bad.xml", broken_licence())
    result = run("show", good, bad)
    assert result.exit_code == 1
    error_lines = [line for line in result.stdout.splitlines() if line.startswith(str(bad))]
    assert error_lines
    assert all(ERROR_LINE.match(line) for line in error_lines)
    assert "UnknownCurrency" in result.stdout
    assert "LIC-2026-0001" in result.stdout  # the valid one is still shown


def test_show_hostile_file_reports_doctype_forbidden(tmp_path: Path) -> None:
    """``show`` refuses a DOCTYPE like ``validate`` does."""
    result = run("show", write(tmp_path, "hostile.xml", DOCTYPE))
    assert result.exit_code == 1
    assert "DoctypeForbidden" in result.stdout


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_show_missing_file_or_folder_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    """``show`` takes files: a missing path or a folder exits 2 and names it."""
    path = tmp_path / "nothing.xml" if kind == "missing" else tmp_path
    result = run("show", path)
    assert result.exit_code == 2
    assert str(path) in result.stderr


# --- version and help ---------------------------------------------------------------------------


def test_version_prints_name_and_version() -> None:
    """``airex --version`` prints ``airex <version>`` and exits 0."""
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"airex {airex.__version__}\n"


def test_no_arguments_prints_help_listing_commands() -> None:
    """``airex`` alone prints the help, which explains airex and lists its commands."""
    result = run()
    assert result.exit_code == 0
    assert "AI Rights Exchange" in result.stdout
    assert "validate" in result.stdout
    assert "show" in result.stdout


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ([], "airex validate samples --exclude invalid"),
        (["validate"], "airex validate licence.xml"),
        (["show"], "airex show samples/licence/*.xml"),
    ],
)
def test_help_of_each_command_shows_an_example(command: list[str], example: str) -> None:
    """Every command's --help has an Examples section with a real command line."""
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert example in result.stdout


# --- the installed console script ---------------------------------------------------------------


def test_script_validate_exit_codes(tmp_path: Path) -> None:
    """The installed script exits 0 for a valid message, 1 for an invalid one, 2 for no file."""
    good = write(tmp_path, "licence.xml", licence_message())
    bad = write(tmp_path, "bad.xml", broken_licence())
    ok = run_script("validate", good)
    assert (ok.returncode, ok.stdout) == (0, "")
    failed = run_script("validate", good, bad)
    assert failed.returncode == 1
    assert all(ERROR_LINE.match(line) for line in failed.stdout.splitlines())
    assert "checked 2 files: 1 valid, 1 invalid" in failed.stderr
    missing = run_script("validate", tmp_path / "missing.xml")
    assert missing.returncode == 2
    assert str(tmp_path / "missing.xml") in missing.stderr


def test_script_show_and_version(tmp_path: Path) -> None:
    """The installed script shows a message (exit 0) and prints its version."""
    shown = run_script("show", write(tmp_path, "invoice.xml", invoice_message()))
    assert shown.returncode == 0
    assert "INV-2026-Q1" in shown.stdout
    version = run_script("--version")
    assert (version.returncode, version.stdout) == (0, f"airex {airex.__version__}\n")


def test_python_dash_m_airex_runs_the_command() -> None:
    """``python -m airex --version`` is the same command as ``airex --version``."""
    result = subprocess.run(
        [sys.executable, "-m", "airex", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, f"airex {airex.__version__}\n")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_script_progress_on_terminal_keeps_stdout_clean(tmp_path: Path) -> None:
    """With stderr on a terminal, a progress bar is drawn there; stdout keeps only error lines."""
    for n in range(22):
        write(tmp_path, f"licence-{n:02}.xml", licence_message(f"LIC-{n}"))
    bad = write(tmp_path, "zz-bad.xml", broken_licence())
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once the child has closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    env = {k: v for k, v in os.environ.items() if k not in PLAIN_ENV}
    env["TERM"] = "xterm"
    try:
        proc = subprocess.run(
            [str(AIREX), "validate", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=slave,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 1
    lines = proc.stdout.decode().splitlines()
    assert lines
    assert all(ERROR_LINE.match(line) and line.startswith(str(bad)) for line in lines)
    assert "/23" in terminal  # the bar's "n/23" counter
    assert "checked 23 files: 22 valid, 1 invalid" in terminal


# --- the samples, when present ------------------------------------------------------------------


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="samples/ is not there")
def test_readme_command_validates_the_samples() -> None:
    """The README's command, ``validate --verbose samples --exclude invalid``, exits 0."""
    result = run("validate", "--verbose", SAMPLES, "--exclude", "invalid")
    assert result.exit_code == 0, result.stdout
    assert all(": OK " in line for line in result.stdout.splitlines())


@pytest.mark.skipif(not (SAMPLES / "invalid").is_dir(), reason="samples/invalid/ is not there")
def test_every_invalid_sample_is_reported_invalid() -> None:
    """``validate --json samples/invalid`` reports each of its XML files invalid, with errors."""
    result = run("validate", "--json", SAMPLES / "invalid")
    assert result.exit_code == 1
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert objects
    assert all(not o["valid"] and o["errors"] for o in objects)


@pytest.mark.skipif(not (SAMPLES / "licence").is_dir(), reason="samples/licence/ is not there")
def test_readme_command_shows_the_sample_licences() -> None:
    """The README's ``show samples/licence/*.xml`` exits 0 and shows each licence id."""
    files = sorted((SAMPLES / "licence").glob("*.xml"))
    if not files:
        pytest.skip("samples/licence/ holds no XML file yet")
    result = run("show", *files)
    assert result.exit_code == 0, result.stdout
    for file in files:
        message = airex.parse(file)
        assert isinstance(message, LicenceMessage)
        assert message.licence.licence_id in result.stdout
