"""The valid samples under samples/<family>/ are golden test data.

Each one must validate with no error at all, survive parse → serialise → parse unchanged, and
serialise deterministically; each folder holds messages of its own family only, and every
family has at least two samples. (samples/invalid/ is covered by test_invalid_samples.py.)
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

import airex
from airex.errors import MessageError

SAMPLES = Path(__file__).parents[2] / "samples"

FAMILY_ROOTS = {
    "work-declaration": "WorkDeclarationMessage",
    "licence-offer": "LicenceOfferMessage",
    "licence-request": "LicenceRequestMessage",
    "licence": "LicenceMessage",
    "usage-report": "UsageReportMessage",
    "invoice": "InvoiceMessage",
    "payment-notification": "PaymentNotificationMessage",
    "royalty-statement": "RoyaltyStatementMessage",
    "acknowledgement": "AcknowledgementMessage",
    "manifest": "ManifestMessage",
}
"""Sample folder → the root element name of the messages it holds."""

INVALID_FOLDER = "invalid"

VALID_SAMPLES = sorted(p for p in SAMPLES.glob("*/*.xml") if p.parent.name != INVALID_FOLDER)


def _id(path: Path) -> str:
    return path.relative_to(SAMPLES).as_posix()


def _describe(errors: list[MessageError]) -> str:
    return "\n".join(str(error) for error in errors)


@cache
def _xsd() -> etree.XMLSchema:
    # Compiled straight from the packaged schema, independently of airex's own validation path.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    with resources.as_file(resources.files("airex.schemas") / "airex.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path), parser))


def _xsd_errors(xml: bytes) -> list[str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    schema = _xsd()
    valid = schema.validate(etree.fromstring(xml, parser))
    return [] if valid else [str(error) for error in schema.error_log]


samples = pytest.mark.parametrize("path", VALID_SAMPLES, ids=_id)


@samples
def test_sample_is_valid(path: Path) -> None:
    """A valid sample passes the XSD and every business rule with no error at all."""
    errors = airex.check(path).errors
    assert errors == [], _describe(errors)


@samples
def test_sample_round_trips_through_the_model(path: Path) -> None:
    """Parsing, serialising and parsing again yields an equal model, valid at every step."""
    message = airex.parse(path)
    xml = airex.serialise(message)
    assert _xsd_errors(xml) == []
    errors = airex.check(xml).errors
    assert errors == [], _describe(errors)
    assert airex.parse(xml) == message


@samples
def test_serialising_a_sample_is_deterministic(path: Path) -> None:
    """Serialising the re-parsed serialisation of a sample gives back the same bytes."""
    xml = airex.serialise(airex.parse(path))
    assert airex.serialise(airex.parse(xml)) == xml


@samples
def test_sample_message_type_matches_its_folder(path: Path) -> None:
    """A sample's root element is the family its folder is named after."""
    expected = FAMILY_ROOTS[path.parent.name]
    assert airex.check(path).message_type == expected
    assert airex.parse(path).message_type == expected


# Spellings the XSD allows for a value already in a sample: (sample, canonical text, variant
# text, text the canonical is replaced with to give the expected model; None = unchanged).
SPELLINGS = {
    "boolean-with-white-space": (
        "licence/text-publisher-grants-lookout.xml",
        "<AttributionRequired>true</AttributionRequired>",
        "<AttributionRequired>\n      true\n    </AttributionRequired>",
        None,
    ),
    "boolean-as-digit": (
        "manifest/text-lookout-test-batch.xml",
        "<IsTestFlag>true</IsTestFlag>",
        "<IsTestFlag> 1 </IsTestFlag>",
        None,
    ),
    "date-time-with-white-space": (
        "invoice/music-cadenza-q1-2026.xml",
        "<MessageCreatedDateTime>2026-04-20T09:15:00+02:00<",
        "<MessageCreatedDateTime>\n  2026-04-20T09:15:00+02:00\n<",
        None,
    ),
    "date-time-24-00-ending-a-day": (
        "invoice/music-cadenza-q1-2026.xml",
        "<MessageCreatedDateTime>2026-04-20T09:15:00+02:00<",
        "<MessageCreatedDateTime>2026-04-19T24:00:00+02:00<",
        "<MessageCreatedDateTime>2026-04-20T00:00:00+02:00<",
    ),
    "date-with-time-zone": (
        "invoice/music-cadenza-q1-2026.xml",
        "<IssueDate>2026-04-20</IssueDate>",
        "<IssueDate>2026-04-20+02:00</IssueDate>",
        None,
    ),
    "numbers-with-sign-and-padding": (
        "licence-offer/music-cmo-to-cadenza.xml",
        "<PerQuantity>1000000</PerQuantity>",
        "<PerQuantity> +01000000 </PerQuantity>",
        None,
    ),
    "processing-instruction-comment-and-cdata": (
        "licence-request/music-cadenza-accepts-offer.xml",
        "<RequestId>CAD-REQ-2025-0019</RequestId>",
        "<?app note?><!-- ok --><RequestId><![CDATA[CAD-REQ-2025-0019]]></RequestId>",
        None,
    ),
}


@pytest.mark.parametrize(
    ("sample", "canonical", "variant", "expected"), SPELLINGS.values(), ids=SPELLINGS.keys()
)
def test_spec_allowed_spelling_of_a_sample_reads_as_the_same_message(
    sample: str, canonical: str, variant: str, expected: str | None
) -> None:
    """A spelling the XSD allows for a sample's value validates and parses to the same model."""
    text = (SAMPLES / sample).read_text(encoding="utf-8")
    assert text.count(canonical) == 1
    xml = text.replace(canonical, variant).encode()
    errors = airex.check(xml).errors
    assert errors == [], _describe(errors)
    expected_xml = text.replace(canonical, expected or canonical).encode()
    assert airex.parse(xml) == airex.parse(expected_xml)


def test_a_date_beyond_year_9999_does_not_crash_validation() -> None:
    """xs:date admits five-digit years; validation reports on them instead of raising."""
    text = (SAMPLES / "invoice/music-cadenza-q1-2026.xml").read_text(encoding="utf-8")
    xml = text.replace("<DueDate>2026-05-20</DueDate>", "<DueDate>12026-05-20</DueDate>")
    assert isinstance(airex.check(xml.encode()), airex.CheckResult)


def test_sample_folders_are_the_families_and_invalid() -> None:
    """Every folder under samples/ is a message family or the invalid samples' folder."""
    folders = {p.name for p in SAMPLES.iterdir() if p.is_dir()}
    assert folders <= {*FAMILY_ROOTS, INVALID_FOLDER}


def test_family_roots_cover_every_message_type() -> None:
    """The folder mapping names each of the standard's root elements exactly once."""
    assert sorted(FAMILY_ROOTS.values()) == sorted(airex.MESSAGE_TYPES)


@pytest.mark.parametrize("family", sorted(FAMILY_ROOTS))
def test_every_family_has_at_least_two_samples(family: str) -> None:
    """Each family folder holds at least two valid sample messages."""
    assert len(list((SAMPLES / family).glob("*.xml"))) >= 2
