"""Bulk wire formats: streaming readers and writers for files too large to hold as one model.

:mod:`airex.formats.usage` reads and writes both forms of UsageReportMessage (XML and the
tab-separated flat file, plain, gzip or split into parts) in constant memory. Every XML byte goes
through the hardened parser of :mod:`airex.xml`, the floor below :mod:`airex.messages`.
"""

__all__: list[str] = []
