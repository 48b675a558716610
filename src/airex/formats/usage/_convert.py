"""Pick the reader or writer of a usage report by its form, and convert between forms.

The form comes from the file name: ``.xml`` / ``.xml.gz`` is the XML form, ``.tsv`` /
``.tsv.gz`` the flat file. A name that says neither is sniffed: XML starts with ``<`` (after an
optional byte-order mark and white space), a flat file with ``HEAD`` or a ``#`` heading.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from airex.errors import ReportWriteError
from airex.formats.usage._records import ReportHeader, UsageReader, UsageWriter
from airex.formats.usage._xml import XmlUsageReader, open_binary

__all__ = ["Conversion", "Form", "convert", "form_of", "open_report", "open_writer"]

Form = Literal["xml", "flat"]


def form_of(path: str | os.PathLike[str], *, sniff: bool = True) -> Form:
    """The form of the report at ``path``: by its name, else (``sniff``) by its first bytes."""
    name = os.fspath(path).lower().removesuffix(".gz")
    if name.endswith(".xml"):
        return "xml"
    if name.endswith((".tsv", ".txt")):
        return "flat"
    if sniff and os.path.isfile(path):
        try:
            with open_binary(os.fspath(path)) as stream:
                start = stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
        except (OSError, EOFError, zlib.error):  # unreadable or not gzip: the form is unknown
            start = b""
        if start.startswith(b"<"):
            return "xml"
        if start.startswith((b"HEAD\t", b"#")):
            return "flat"
    raise ValueError(
        f"{os.fspath(path)}: cannot tell the report's form; name it .xml or .tsv (optionally .gz)"
    )


def open_report(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, strict: bool = True
) -> UsageReader:
    """A reader of the report in ``paths``: one XML file, or the file(s) of a flat report."""
    files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not files:
        raise ValueError("no report file given")
    forms = {form_of(f) for f in files}
    if forms == {"xml"}:
        if len(files) > 1:
            raise ValueError("an XML usage report is one file; give the files one at a time")
        return XmlUsageReader(files[0], strict=strict)
    if forms == {"flat"}:
        from airex.formats.usage._flat_reader import FlatUsageReader

        return FlatUsageReader(files, strict=strict)
    raise ValueError("the files given mix the XML and flat-file forms: they are not one report")


def open_writer(
    path: str | os.PathLike[str],
    header: ReportHeader,
    *,
    number_of_records: int,
    split_records: int | None = None,
) -> UsageWriter:
    """A writer of the form ``path``'s name asks for (``.xml[.gz]`` or ``.tsv[.gz]``)."""
    form = form_of(path, sniff=False)
    if form == "xml":
        if split_records is not None:
            raise ReportWriteError("only flat-file reports are split; drop the split size")
        from airex.formats.usage._xml_writer import XmlUsageWriter

        return XmlUsageWriter(path, header, number_of_records=number_of_records)
    from airex.formats.usage._flat_writer import FlatUsageWriter

    return FlatUsageWriter(
        path, header, number_of_records=number_of_records, split_records=split_records
    )


@dataclass
class Conversion:
    """What a conversion did: the files written, the records, and what the target lost."""

    paths: list[str]
    records: int
    dropped: list[str] = field(default_factory=list)
    """Header fields the target form cannot carry (flat files carry fewer than XML)."""


def convert(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    target: str | os.PathLike[str],
    *,
    split_records: int | None = None,
) -> Conversion:
    """Convert a usage report to the form ``target`` names, streaming, in constant memory.

    The source is read strictly: an invalid report raises
    :class:`~airex.errors.MessageInvalidError` and nothing is left at ``target``.
    """
    reader = open_report(source)
    header = reader.header
    count = header.number_of_records
    if count is None:  # a flat report states its count in its last FOOT: count first
        counter = open_report(source)
        count = sum(1 for _ in counter)
    dropped: list[str] = []
    if form_of(target, sniff=False) == "flat":
        from airex.formats.usage._flat_writer import FlatUsageWriter

        dropped = FlatUsageWriter.dropped_fields(header)
    with open_writer(target, header, number_of_records=count, split_records=split_records) as out:
        out.write_all(reader)
    return Conversion(paths=out.paths, records=count, dropped=dropped)
