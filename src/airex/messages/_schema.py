"""XSD validation with libxml2 (lxml), its errors turned into airex's stable codes.

libxml2 is fast but terse: its error kinds are grouped into a few stable codes, the
message is cleaned of namespace noise (and of enumerations with hundreds of members), and the
positional path libxml2 gives (``/*/*[2]/*[1]``) is resolved to a readable one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from importlib import resources

from lxml import etree

from airex.errors import MessageError, MessageStatus
from airex.xml import ElementPaths

__all__ = ["SCHEMA_FILE", "schema_error", "schema_errors", "xml_schema"]

SCHEMA_FILE = "airex.xsd"

_local = threading.local()  # lxml validators are not shared between threads


def xml_schema() -> etree.XMLSchema:
    """The compiled schema of the whole standard (one per thread, compiled once)."""
    schema: etree.XMLSchema | None = getattr(_local, "schema", None)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        with resources.as_file(resources.files("airex.schemas") / SCHEMA_FILE) as path:
            schema = etree.XMLSchema(etree.parse(str(path), parser))
        _local.schema = schema
    return schema


# libxml2 error kind -> airex code (kinds not listed fall back to SchemaInvalid)
_KIND_CODES = {
    "SCHEMAV_CVC_COMPLEX_TYPE_4": "MissingAttribute",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": "UnexpectedAttribute",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": "UnexpectedAttribute",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_1": "UnexpectedContent",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": "UnexpectedContent",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": "UnexpectedElement",
    "SCHEMAV_CVC_ELT_1": "UnknownMessageType",
    "SCHEMAV_CVC_AU": "UnsupportedSchemaVersion",
    "SCHEMAV_CVC_ENUMERATION_VALID": "ValueNotAllowed",
    "SCHEMAV_CVC_PATTERN_VALID": "PatternMismatch",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "ValueOutOfRange",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "ValueOutOfRange",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "ValueOutOfRange",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "ValueOutOfRange",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "TooManyFractionDigits",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "ValueOutOfRange",
    "SCHEMAV_CVC_MINLENGTH_VALID": "InvalidLength",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "InvalidLength",
    "SCHEMAV_CVC_LENGTH_VALID": "InvalidLength",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "InvalidValue",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_2": "InvalidValue",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_3": "InvalidValue",
    "SCHEMAV_CVC_TYPE_3_1_1": "UnexpectedAttribute",
    "SCHEMAV_CVC_TYPE_3_1_2": "UnexpectedContent",
}

# pattern facet (as libxml2 quotes it) -> a more precise code
_PATTERN_CODES = {
    r"[A-Za-z0-9._:\-]{1,64}": "InvalidIdentifier",
    "PADPIDA[A-Za-z0-9]+": "InvalidPartyId",
    r".+(Z|[+\-][0-9]{2}:[0-9]{2})": "DateTimeWithoutZone",
}

_CURRENCY_HOLDERS = {"Currency"}  # the element Currency and every attribute Currency
_TERRITORY_HOLDERS = {"TerritoryCode", "ExcludedTerritoryCode"}

_NS_NOISE = re.compile(r"\{urn:airex:xml:1\}")
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(?:, attribute '([^']*)')?: ")
_LONG_SET = re.compile(r"\{('[^']*', ){8,}'[^']*'\}")
_PATTERN_IN_MESSAGE = re.compile(r"pattern '(.*)'\.$")


def _code_for(kind: str, message: str, element_name: str, attribute: str | None) -> str:
    code = _KIND_CODES.get(kind, "SchemaInvalid")
    if code == "UnexpectedElement" or kind == "SCHEMAV_ELEMENT_CONTENT":
        code = "MissingElement" if "Missing child element" in message else "UnexpectedElement"
    holder = attribute or element_name
    if code in ("ValueNotAllowed", "InvalidValue"):
        if holder in _CURRENCY_HOLDERS:
            return "UnknownCurrency"
        if holder in _TERRITORY_HOLDERS:
            return "UnknownTerritory"
    if code == "PatternMismatch":
        match = _PATTERN_IN_MESSAGE.search(message)
        if match:
            return _PATTERN_CODES.get(match.group(1), code)
    return code


def _clean(message: str) -> tuple[str, str | None]:
    """Strip libxml2's "Element '...': " prefix (the path says it) and namespace noise."""
    message = _NS_NOISE.sub("", message.strip())
    attribute = None
    prefix = _ELEMENT_PREFIX.match(message)
    if prefix:
        attribute = prefix.group(1)
        message = message[prefix.end() :]
        if attribute:
            message = f"attribute {attribute}: {message}"
    message = _LONG_SET.sub("{...} (see the schema's code list)", message)
    return message, attribute


def schema_errors(tree: etree._ElementTree) -> Iterator[MessageError]:
    """Validate ``tree`` against the standard's XSD; yield one error per libxml2 report."""
    schema = xml_schema()
    if schema.validate(tree):
        return
    paths = ElementPaths()
    for entry in schema.error_log:  # type: ignore[attr-defined]  # iterable; stubs lag
        element = paths.locate(tree, entry.path) if entry.path else None
        message, attribute = _clean(entry.message)
        name = etree.QName(element).localname if element is not None else ""
        path = paths.path(element) if element is not None else entry.path
        if attribute:
            attribute = attribute.rpartition("}")[2]  # a foreign attribute: its local name
            path = f"{path}/@{attribute}"
        yield MessageError(
            code=_code_for(entry.type_name, entry.message, name, attribute),
            message=message,
            path=path,
            line=entry.line or None,
            status=MessageStatus.SCHEMA_INVALID,
        )


_ELEMENT_NAME = re.compile(r"^Element '(?:\{[^}]*\})?([^']*)'")


def schema_error(kind: str, raw_message: str, line: int | None, path: str | None) -> MessageError:
    """One libxml2 schema report (as a streaming parser gives it) as an airex error."""
    message, attribute = _clean(raw_message)
    named = _ELEMENT_NAME.match(raw_message.strip())
    if attribute:
        attribute = attribute.rpartition("}")[2]
    return MessageError(
        code=_code_for(kind, raw_message, named.group(1) if named else "", attribute),
        message=message,
        path=f"{path}/@{attribute}" if path and attribute else path,
        line=line,
        status=MessageStatus.SCHEMA_INVALID,
    )
