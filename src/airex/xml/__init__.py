"""The hardened XML parser: the one entry point every XML input of airex goes through.

Whole documents (:func:`parse_xml`) and streams too large to hold (:func:`stream_element_batches`)
pass the same gate: no DTD (any ``<!DOCTYPE`` refused), no entity expansion, no network or file
access, a size and a depth limit (:class:`ParseLimits`), and proof that the root element really
closed. This floor imports nothing of airex but :mod:`airex.errors`; :mod:`airex.messages`
builds on it.
"""

from airex.xml._hardened import ElementPaths, ParseLimits, local_path, parse_xml
from airex.xml._stream import STREAM_CHUNK_SIZE, locate_schema_error, stream_element_batches
from airex.xml.errors import SchemaStreamError, UnexpectedRootError

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
