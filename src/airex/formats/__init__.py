"""Wire formats: the hardened XML entry point every parse in airex goes through.

This package's top level never imports :mod:`airex.messages` (which imports it); the usage
report readers and writers, which need the message models, live in :mod:`airex.formats.usage`,
imported on demand.
"""

from airex.formats._hardened import ElementPaths, ParseLimits, local_path, parse_xml
from airex.formats._stream import (
    STREAM_CHUNK_SIZE,
    SchemaStreamError,
    UnexpectedRootError,
    locate_schema_error,
    stream_element_batches,
)

__all__ = [
    "STREAM_CHUNK_SIZE",
    "ElementPaths",
    "ParseLimits",
    "SchemaStreamError",
    "UnexpectedRootError",
    "local_path",
    "locate_schema_error",
    "parse_xml",
    "stream_element_batches",
]
