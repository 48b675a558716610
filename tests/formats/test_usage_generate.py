"""Synthetic usage reports: realistic, valid, deterministic."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import airex
from airex.formats.usage import WorkRef, XmlUsageReader
from airex.formats.usage._generate import (
    SOURCE,
    generate_report,
    generate_rows,
    generate_works,
    synthetic_header,
)
from airex.formats.usage._records import work_id_error
from airex.messages.codes import PartyRole, Unit, UseType

TRAIN = UseType.USE_FOR_TRAINING_GENERATIVE_AI


def _fields(rows: object) -> list[tuple[object, ...]]:
    return [tuple(row[:6]) for row in rows]  # type: ignore[attr-defined]


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    """A seed fixes every row; another seed gives another report."""
    header = synthetic_header(500, seed=3)
    first = list(generate_rows(500, seed=3, header=header))
    again = list(generate_rows(500, seed=3, header=synthetic_header(500, seed=3)))
    other = list(generate_rows(500, seed=4, header=header))
    assert first == again
    assert _fields(first) != _fields(other)
    assert synthetic_header(500, seed=3) == header


@pytest.mark.parametrize(("n", "works"), [(7, None), (2_000, None), (300, 40)])
def test_generate_works_is_the_table_the_rows_draw_from(n: int, works: int | None) -> None:
    """Every row names a work of generate_works(same arguments), and every such work is used."""
    header = synthetic_header(n, seed=5)
    table = generate_works(n, seed=5, works=works, header=header)
    rows = list(generate_rows(n, seed=5, works=works, header=header))
    assert len(set(table)) == len(table) == (works or max(1, n // 10))
    assert {row.work_ids for row in rows} == set(table)


@pytest.mark.parametrize(("n", "works"), [(1, None), (7, None), (2_000, None), (300, 40)])
def test_exactly_n_valid_rows(n: int, works: int | None) -> None:
    """n rows, numbered 1..n, every WorkId valid, every value within the standard."""
    header = synthetic_header(n, seed=1)
    rows = list(generate_rows(n, seed=1, works=works, header=header))
    assert len(rows) == n
    assert [row.line for row in rows] == list(range(1, n + 1))
    assert {row.file for row in rows} == {SOURCE}
    models = {model.model_id for model in header.models} | {None}
    for row in rows:
        for position, work_id in enumerate(row.work_ids):
            assert work_id_error(work_id, path=None, line=row.line, file=SOURCE) is None
            assert position == 0 or work_id.type in ("Proprietary", "DOI")
        assert row.use_type in set(UseType)
        assert row.unit in set(Unit)
        assert row.quantity >= 0
        assert -row.quantity.as_tuple().exponent <= 6  # type: ignore[operator]
        assert row.attribution_share is None or 0 <= row.attribution_share <= 1
        assert row.model_id in models


def test_works_and_popularity() -> None:
    """Every one of the works is used; a few works account for much of the usage."""
    rows = list(generate_rows(5_000, seed=2, header=synthetic_header(5_000, seed=2)))
    uses = Counter(row.work for row in rows)
    assert len(uses) == 500  # n // 10 by default, each used at least once
    top = sum(count for _, count in uses.most_common(10))
    assert top > 0.1 * len(rows)  # 2 % of the works, over 10 % of the records
    types = Counter(row.work.type for row in rows)
    assert types["ISRC"] > types["ISWC"] > 0
    assert types["ISBN"] > 0
    assert any(len(row.work_ids) == 2 for row in rows)
    by_use = Counter(row.use_type for row in rows)
    assert by_use.most_common(1)[0][0] == UseType.USE_FOR_TRAINING_GENERATIVE_AI
    assert by_use[UseType.USE_FOR_DATA_MINING] > 0
    assert by_use[UseType.USE_AS_AI_INPUT] > 0
    assert all(row.unit == "Retrieval" for row in rows if row.use_type == "UseAsAIInput")
    assert all(row.unit == "Token" for row in rows if row.use_type == TRAIN)
    assert any(row.quantity != row.quantity.to_integral_value() for row in rows)
    assert any(row.attribution_share is not None for row in rows)


def test_more_works_than_records() -> None:
    """With more works than records, every record names a different work."""
    rows = list(generate_rows(50, seed=0, works=1_000, header=synthetic_header(50, seed=0)))
    assert len({row.work for row in rows}) == 50


def test_header_is_a_developer_reporting_a_quarter_to_a_cmo() -> None:
    """Sender an AI developer, recipient a CMO, a calendar quarter, 2-3 models, n records."""
    header = synthetic_header(1234, seed=9)
    sender = header.message_header.message_sender
    (recipient,) = header.message_header.message_recipients
    assert sender.party_role == PartyRole.AI_DEVELOPER
    assert recipient.party_role == PartyRole.COLLECTIVE_MANAGEMENT_ORGANISATION
    assert sender.party_id.startswith("PADPIDA")
    assert recipient.party_id.startswith("PADPIDA")
    period = header.reporting_period
    assert period.start_date.day == 1
    assert period.start_date.month in (1, 4, 7, 10)
    assert 89 <= (period.end_date - period.start_date).days <= 91
    assert header.message_header.message_created_date_time.date() > period.end_date
    assert 2 <= len(header.models) <= 3
    assert header.number_of_records == 1234
    assert header.report_id
    assert header.licence_id


@pytest.mark.parametrize("name", ["report.xml", "report.xml.gz"])
def test_generated_xml_report_is_valid_and_holds_the_rows(tmp_path: Path, name: str) -> None:
    """The XML report validates (XSD and rules) and reads back as the generated rows."""
    path = tmp_path / name
    assert generate_report(path, 300, seed=5) == [str(path)]
    if name.endswith(".xml"):
        assert airex.check(path).errors == []
    reader = XmlUsageReader(path)
    header = synthetic_header(300, seed=5)
    assert reader.header == header
    assert _fields(reader) == _fields(generate_rows(300, seed=5, header=header))


def test_generated_flat_report_holds_the_rows(tmp_path: Path) -> None:
    """The flat form, split into files, reads back as the generated rows."""
    flat = pytest.importorskip("airex.formats.usage")
    paths = generate_report(tmp_path / "report.tsv.gz", 250, seed=6, split_records=100)
    assert len(paths) == 3
    reader = flat.FlatUsageReader(paths)
    expected = generate_rows(250, seed=6, header=synthetic_header(250, seed=6))
    assert _fields(reader) == _fields(expected)
    assert reader.errors == []


def test_names_that_say_no_form_are_refused(tmp_path: Path) -> None:
    """Only .xml, .xml.gz, .tsv and .tsv.gz say which form to write; XML is never split."""
    with pytest.raises(ValueError, match=r"\.xml, \.xml\.gz, \.tsv or \.tsv\.gz"):
        generate_report(tmp_path / "report.csv", 10)
    with pytest.raises(ValueError, match="flat files"):
        generate_report(tmp_path / "report.xml", 10, split_records=5)
    assert list(tmp_path.iterdir()) == []


def test_first_work_ids_are_distinct() -> None:
    """The works table never gives two works the same first identifier."""
    rows = generate_rows(20_000, seed=11, works=20_000, header=synthetic_header(1, seed=11))
    firsts = {row.work for row in rows}
    assert len(firsts) == 20_000
    assert all(isinstance(work, WorkRef) for work in firsts)
