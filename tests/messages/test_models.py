"""Model behaviours that the wire format depends on, beyond what samples and properties cover."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import airex
from airex.messages import Party, WorkDeclarationMessage, WorkId

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "work-declaration"


def test_text_refuses_characters_xml_cannot_carry() -> None:
    """A party name with a vertical tab is refused when set, naming the character."""
    with pytest.raises(ValidationError, match="U\\+000B cannot appear in XML"):
        Party(party_id="PADPIDA2026CMO01", party_name="bad\x0bname")


def test_work_id_value_refuses_characters_xml_cannot_carry() -> None:
    """A WorkId value with a NUL character is refused when set."""
    with pytest.raises(ValidationError, match="U\\+0000"):
        WorkId(type="Proprietary", namespace="PADPIDA2026CMO01", value="a\x00b")


def test_proprietary_work_id_may_contain_inner_line_break() -> None:
    """The spec forbids only surrounding white space in a WorkId: an inner newline round-trips."""
    path = next(p for p in sorted(SAMPLE.glob("*.xml")) if b'Type="Proprietary"' in p.read_bytes())
    message = airex.parse(path)
    assert isinstance(message, WorkDeclarationMessage)
    for work in message.work_list.works:
        for work_id in work.work_ids:
            if work_id.type == "Proprietary":
                work_id.value = "shelf 12\nbox 4"
    xml = airex.serialise(message)
    assert airex.check(xml).errors == []
    assert airex.parse(xml) == message
