"""samples/invalid/: each broken message yields exactly the errors its manifest entry lists.

``samples/invalid/manifest.json`` maps every file to the multiset of error codes airex must
report for it (order-insensitive, duplicates count), the MessageStatus of its first error, and
a sentence saying why. Hostile and unreadable files are refused before parsing and may lack a
path; every error of a document that parsed points at its line and element.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import airex
from airex.errors import (
    AirexError,
    MessageInvalidError,
    MessageStatus,
    UnknownMessageTypeError,
    XmlRejectedError,
)
from airex.messages.error_codes import CODES

INVALID = Path(__file__).resolve().parents[2] / "samples" / "invalid"
MANIFEST: dict[str, dict[str, Any]] = json.loads(
    (INVALID / "manifest.json").read_text(encoding="utf-8")
)
NAMES = sorted(MANIFEST)


@pytest.mark.parametrize("name", NAMES)
def test_sample_yields_exactly_its_manifest_codes(name: str) -> None:
    """check() reports exactly the manifest's multiset of codes for the sample."""
    result = airex.check(INVALID / name)
    assert sorted(e.code for e in result.errors) == sorted(MANIFEST[name]["codes"])


@pytest.mark.parametrize("name", NAMES)
def test_first_error_has_manifest_status(name: str) -> None:
    """The first error's status, and so the message's, is the manifest's status."""
    result = airex.check(INVALID / name)
    expected = MessageStatus(MANIFEST[name]["status"])
    assert result.errors[0].status == expected
    assert result.status == expected


@pytest.mark.parametrize("name", NAMES)
def test_every_error_says_what_is_wrong(name: str) -> None:
    """Every error carries a non-empty human-readable message."""
    result = airex.check(INVALID / name)
    assert result.errors
    assert all(e.message.strip() for e in result.errors)


@pytest.mark.parametrize("name", NAMES)
def test_errors_of_a_parsed_document_point_at_line_and_path(name: str) -> None:
    """Once a document parsed, each error has a line number and an XPath path from the root."""
    result = airex.check(INVALID / name)
    if result.tree is None:  # refused before parsing: hostile or not well-formed
        assert all(e.status is MessageStatus.XML_NOT_WELL_FORMED for e in result.errors)
        return
    for error in result.errors:
        assert isinstance(error.line, int)
        assert error.line >= 1
        assert error.path is not None
        assert error.path.startswith("/")


@pytest.mark.parametrize("name", NAMES)
def test_validate_raises_a_value_error_carrying_the_same_errors(name: str) -> None:
    """validate() raises an AirexError that is a ValueError, with check()'s errors."""
    expected = airex.check(INVALID / name).errors
    with pytest.raises(AirexError) as caught:
        airex.validate(INVALID / name)
    error = caught.value
    assert isinstance(error, ValueError)
    assert isinstance(error, XmlRejectedError | UnknownMessageTypeError | MessageInvalidError)
    assert error.errors == expected


def test_manifest_and_folder_list_the_same_files() -> None:
    """Every .xml in samples/invalid/ has a manifest entry, and every entry has its file."""
    on_disk = {p.name for p in INVALID.glob("*.xml")}
    assert on_disk == set(MANIFEST)


def test_manifest_entries_are_well_formed() -> None:
    """Each entry lists at least one code, a known MessageStatus and a reason."""
    for name, entry in MANIFEST.items():
        assert set(entry) == {"codes", "status", "why"}, name
        assert entry["codes"], name
        assert entry["status"] in {s.value for s in MessageStatus}, name
        assert entry["why"].strip(), name


def test_manifest_codes_are_in_the_catalogue() -> None:
    """Every code the manifest expects is a documented code of CODES."""
    used = {code for entry in MANIFEST.values() for code in entry["codes"]}
    assert used - set(CODES) == set()


def test_manifest_status_is_the_status_of_a_code_it_lists() -> None:
    """The manifest's status is the catalogued status of one of the codes it expects."""
    for name, entry in MANIFEST.items():
        assert entry["status"] in {CODES[c].status.value for c in entry["codes"]}, name


def test_there_are_at_least_thirty_samples() -> None:
    """The invalid corpus holds at least thirty broken messages."""
    assert len(MANIFEST) >= 30


def test_several_samples_break_more_than_one_thing() -> None:
    """At least two samples hold several independent errors, each of them reported."""
    multi = [name for name, entry in MANIFEST.items() if len(set(entry["codes"])) > 1]
    assert len(multi) >= 2


# Rules of the flat-file form only: no XML message can break them (tested in test_usage_flat).
FLAT_FILE_ONLY = {"LineCountMismatch", "ReportPartMissing", "ReportPartsDisagree"}
# Rules of batches (a file against the manifest listing it, a manifest against its file name,
# several BatchComplete files): one message alone cannot break them (tested in tests/batch).
BATCH_ONLY = {
    "BatchIdMismatch",
    "DuplicateBatchUrl",
    "ManifestAmbiguous",
    "MessageIdMismatch",
    "MessageTypeMismatch",
}
# Refusals of a usage report by pricing: stored reports and licences decide them, not the
# message alone (tested in tests/royalties).
PRICING_ONLY = {"ReportConflict", "ReportNotPriced"}
# Refusals by the CMO's actions: the registry, the offers the CMO sent, the invoices it
# issued and the exchange's clock decide them (tested in tests/cmo/test_actions_rules.py and
# tests/adversarial/test_dates.py).
CMO_ACTIONS_ONLY = {
    "DeclarationRefused",
    "LicenceStateRefused",
    "OfferExpired",
    "Overpayment",
    "PaymentDateOutOfRange",
    "PaymentRefused",
    "RequestAlreadyGranted",
    "StartDateOutsideTerm",
    "ZeroPayment",
}


def test_every_business_rule_has_a_sample() -> None:
    """Each BusinessRuleViolation code of XML messages is expected by some sample."""
    rules = {
        c.code
        for c in CODES.values()
        if c.status is MessageStatus.BUSINESS_RULE_VIOLATION
        and c.code not in FLAT_FILE_ONLY | BATCH_ONLY | PRICING_ONLY | CMO_ACTIONS_ONLY
    }
    used = Counter(code for entry in MANIFEST.values() for code in entry["codes"])
    assert {code for code in rules if not used[code]} == set()
