"""Resources: many tiny elements cannot make validation cost gigabytes (issue 13, item 5).

12 MB of ``<x/>`` used to cost 20 s and 1.3 GB to validate, 64 MiB 111 s and 6.5 GB; the
hardened parser now counts elements (``ParseLimits.max_elements``, a million by default) and
refuses the document at the first one over the limit, before any schema work.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from exchange_support import DEV, Env, codes, licence_request

from airex.errors import XmlSecurityError
from airex.messages import check
from airex.xml import ParseLimits, parse_xml


def _tiny_elements(size: int, root: str = "WorkDeclarationMessage") -> bytes:
    start, end = f"<{root} xmlns='urn:airex:xml:1'>".encode(), f"</{root}>".encode()
    return start + b"<x/>" * ((size - len(start) - len(end)) // 4) + end


def test_64_mib_of_tiny_elements_is_refused_by_count() -> None:
    """The review's 64 MiB file: refused ElementLimitExceeded (not validated against the
    schema), the error at the first element over the limit."""
    result = check(_tiny_elements(64 * 1024 * 1024))
    assert [e.code for e in result.errors] == ["ElementLimitExceeded"]
    assert "more than 1000000 elements" in result.errors[0].message


def test_the_element_limit_is_a_setting() -> None:
    """The count includes the root; a document at the limit passes, one over it does not."""
    document = b"<a>" + b"<b/>" * 9 + b"</a>"
    parse_xml(document, ParseLimits(max_elements=10))
    with pytest.raises(XmlSecurityError) as refused:
        parse_xml(document, ParseLimits(max_elements=9))
    assert refused.value.errors[0].code == "ElementLimitExceeded"
    with pytest.raises(ValueError, match="max_elements"):
        ParseLimits(max_elements=0)


def test_the_exchange_refuses_it_and_acknowledges(embedded: Env) -> None:
    """Handed in, such a file is refused and acknowledged with the code; nothing is routed.
    As a usage report (read as a stream, in constant memory) it is refused too, its errors
    capped at 1 000."""
    exchange = embedded.exchange()
    declaration = exchange.receive_bytes(
        _tiny_elements(16 * 1024 * 1024), arrival_party=DEV, publish=False
    )
    report = exchange.receive_bytes(
        _tiny_elements(4 * 1024 * 1024, "UsageReportMessage"), arrival_party=DEV, publish=False
    )
    outcomes = [exchange.process(i) for i in (declaration, report)]
    assert [str(o.status) for o in outcomes] == ["XmlNotWellFormed", "SchemaInvalid"]
    found = exchange.acknowledgement_of(received_id=declaration)
    assert found is not None
    assert codes(found[1]) == [["ElementLimitExceeded"]]
    found = exchange.acknowledgement_of(received_id=report)
    assert found is not None
    assert 0 < len(codes(found[1])[0]) <= 1000
    assert embedded.scalar("SELECT count(*) FROM exchange_inbox") == 0


@pytest.mark.parametrize("codec", ["utf-32", "utf-32-le", "utf-32-be"])
def test_utf32_is_read_with_or_without_its_byte_order_mark(codec: str) -> None:
    """UTF-32 without a byte order mark was accepted and with one refused; both are read."""
    document = '<?xml version="1.0" encoding="UTF-32"?><a>é</a>'.encode(codec)
    if codec == "utf-32-be":
        document = b"\x00\x00\xfe\xff" + document
    assert parse_xml(document).getroot().text == "é"


@pytest.mark.parametrize("levels", [150, 300, 30_000])
def test_deep_nesting_is_refused_as_too_deep(levels: int) -> None:
    """Nesting beyond libxml2's own limit (256) used to come back as XmlNotWellFormed; every
    depth over the limit (100) is DepthLimitExceeded."""
    document = (
        b"<WorkDeclarationMessage xmlns='urn:airex:xml:1'>"
        + b"<a>" * levels
        + b"</a>" * levels
        + b"</WorkDeclarationMessage>"
    )
    assert [e.code for e in check(document).errors] == ["DepthLimitExceeded"]


def test_a_manifest_url_with_control_characters_is_refused(tmp_path: Path) -> None:
    """A MessageInBatch URL holding a tab or a newline (XML allows them in text) is refused
    InvalidBatchUrl, as a ``..`` segment is."""
    from airex.batch import pack, verify

    packed = pack([licence_request()], tmp_path / "out", sender=DEV)
    manifest = next(packed.path.glob("BatchComplete_*.xml"))
    text = manifest.read_text(encoding="utf-8")
    (entry,) = [p.name for p in packed.path.iterdir() if p != manifest]
    manifest.write_text(text.replace(f">{entry}<", f">{entry}&#9;x<"), encoding="utf-8")
    report = verify(packed.path)
    codes = {e.code for e in report.manifest_errors}
    codes |= {e.code for entry in report.entries for e in entry.errors}
    assert "InvalidBatchUrl" in codes
