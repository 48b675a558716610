"""Huge usage reports: streaming readers and writers of both forms, conversion, aggregation.

Both forms of UsageReportMessage — XML and the tab-separated flat file (plain or gzip, one
file or split into ``_1ofN`` parts) — read into the same :class:`UsageRow` records and
:class:`ReportHeader`, in constant memory::

    from airex.formats.usage import open_report, UsageTotals
    reader = open_report("q1.tsv.gz")          # or an .xml file
    print(reader.header.licence_id)
    totals = UsageTotals()
    totals.add_all(reader)                     # raises MessageInvalidError on the first error
                                               # (strict=False: collect reader.errors instead)

Not imported by :mod:`airex.formats` itself (this package needs :mod:`airex.messages`, which
needs the hardened parser of :mod:`airex.formats`): ``import airex.formats.usage``.
"""

from airex.formats.usage._aggregate import UsageTotals
from airex.formats.usage._convert import (
    Conversion,
    Form,
    convert,
    form_of,
    open_report,
    open_writer,
)
from airex.formats.usage._flat_form import RangeScan, flat_file_names
from airex.formats.usage._flat_reader import FlatUsageReader
from airex.formats.usage._flat_writer import FlatUsageWriter
from airex.formats.usage._generate import (
    generate_report,
    generate_rows,
    generate_works,
    synthetic_header,
)
from airex.formats.usage._records import (
    ReportHeader,
    UsageReader,
    UsageRow,
    UsageWriter,
    WorkRef,
    work_id_error,
)
from airex.formats.usage._xml import STREAMING_LIMITS, XmlUsageReader
from airex.formats.usage._xml_writer import XmlUsageWriter

__all__ = [
    "STREAMING_LIMITS",
    "Conversion",
    "FlatUsageReader",
    "FlatUsageWriter",
    "Form",
    "RangeScan",
    "ReportHeader",
    "UsageReader",
    "UsageRow",
    "UsageTotals",
    "UsageWriter",
    "WorkRef",
    "XmlUsageReader",
    "XmlUsageWriter",
    "convert",
    "flat_file_names",
    "form_of",
    "generate_report",
    "generate_rows",
    "generate_works",
    "open_report",
    "open_writer",
    "synthetic_header",
    "work_id_error",
]
