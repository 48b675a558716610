"""The demo's usage report, written in the form asked for: one XML file, or the flat file
(``.tsv.gz``), split into ``_<n>of<N>`` parts when it holds more records than a part may."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from airex.demo._scenario import Scenario

__all__ = ["SPLIT_RECORDS", "ReportForm", "write_report"]

ReportForm = Literal["xml", "flat"]
SPLIT_RECORDS: Final = 1_000_000
"""Records a flat report's file holds at most: a larger report is split into parts."""


def write_report(
    scenario: Scenario,
    licence_id: str,
    folder: Path,
    form: ReportForm = "xml",
    *,
    split_records: int = SPLIT_RECORDS,
) -> list[Path]:
    """Write the scenario's usage report under ``licence_id`` in ``folder``; return its files
    (one, or a flat report's parts in FileNumber order)."""
    from airex.formats.usage import FlatUsageWriter, XmlUsageWriter

    header = scenario.usage_header(licence_id)
    message_id = header.message_header.message_id
    rows = scenario.usage_rows(licence_id)
    if form == "xml":
        path = folder / f"{message_id}.xml"
        with XmlUsageWriter(str(path), header, number_of_records=scenario.records) as writer:
            writer.write_all(rows)
        return [path]
    split = split_records if scenario.records > split_records else None
    with FlatUsageWriter(
        str(folder / f"{message_id}.tsv.gz"),
        header,
        number_of_records=scenario.records,
        split_records=split,
    ) as flat:
        flat.write_all(rows)
    return [Path(p) for p in flat.paths]
