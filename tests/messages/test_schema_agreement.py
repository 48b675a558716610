"""The pydantic-xml models and the XSDs agree element for element, so they cannot drift apart.

The walk starts at each of the ten root elements of ``airex.xsd`` (``MESSAGE_TYPES`` maps each
to its model class) and descends the XSD's element declarations and the models' fields in
parallel. For every complex type it checks that the model's element fields, in declaration
order, are the XSD content model's child elements in document order (sequences and choices
flattened: Tariff's choice becomes Amount, BillingPeriod, Unit, PerQuantity, Percentage,
Currency), that occurrence agrees (maxOccurs > 1 ⇔ list; optional ⇔ optional), that the
attributes and the simple content agree, and that leaf types are compatible; then it recurses
into the sub-models.

How a model field's XML shape is read
-------------------------------------
pydantic-xml stores what ``element()``, ``attr()`` and ``wrapped()`` declare as
``XmlEntityInfo`` records in the pydantic ``FieldInfo.metadata``;
``pydantic_xml.fields.extract_field_xml_entity_info(field_info)`` (exported in that module's
``__all__``, and what pydantic-xml's own ``ModelSerializer`` calls) merges them into one record:
``location`` is ``EntityLocation.ELEMENT`` / ``ATTRIBUTE`` / ``WRAPPED``, ``path`` the tag or
attribute name, ``ns`` an explicit namespace. A field without such a record follows
pydantic-xml's rule: a sub-model is the element named by the sub-model's tag, a primitive is the
element's text. Tags left unset default to the field alias or name, as in pydantic-xml. The
Python type comes from pydantic's resolved ``FieldInfo.annotation`` (Optional, list and
Annotated unwrapped), list bounds from its ``MinLen`` / ``MaxLen`` metadata. This reads the
declarations only, not the private state of pydantic-xml's serialiser tree, so it survives
refactors of that tree; the one serialiser property used is the public
``Model.__xml_serializer__.element_name``, to check that each model's element is in the airex
namespace (``elementFormDefault="qualified"``).

What "required" and "optional" mean here
----------------------------------------
A required XSD element or attribute must be a model field that is never absent from the
model's output: not ``Optional`` and with no ``None`` default (a value-producing default such as
a fresh ``MessageId``, ``MessageCreatedDateTime`` now, ``LanguageAndScriptCode="en"`` or the
fixed ``SchemaVersion="1.0"`` is allowed, since the element or attribute is still always
written). An optional one (minOccurs 0, or under a choice with several options or an optional
choice; ``use="optional"``) must be ``Optional`` with default ``None``. A repeated one must be a
list whose ``min_length`` equals the effective minOccurs (and with a default when that is 0)
and whose ``max_length`` equals maxOccurs.

Leaf types: an enumeration ⇔ the StrEnum of the same name in ``airex.messages.codes`` (ISO 4217 /
3166 code lists of ``airex-iso.xsd`` and unions such as TerritoryCodeValue ⇔ ``str``);
xs:boolean ⇔ bool, integer-derived ⇔ int, decimal-derived ⇔ Decimal, xs:date ⇔ date,
xs:dateTime ⇔ datetime (``AwareDatetime`` when the XSD type refuses a date-time without zone),
string-derived ⇔ str.
"""

from __future__ import annotations

import functools
import types
import typing
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import annotated_types
import pydantic_core
import pytest
import xmlschema
from pydantic import AwareDatetime
from pydantic.fields import FieldInfo
from pydantic_xml import BaseXmlModel, attr, element
from pydantic_xml.fields import NoXml, extract_field_xml_entity_info
from pydantic_xml.typedefs import EntityLocation
from xmlschema.validators import (
    XsdAnyElement,
    XsdAtomicBuiltin,
    XsdComplexType,
    XsdElement,
    XsdGroup,
    XsdUnion,
)

import airex.errors
import airex.messages
from airex.messages import MESSAGE_TYPES, AirexMessage
from airex.messages import codes as codes_module
from airex.messages.codes import PartyRole, WorkIdType

NAMESPACE = "urn:airex:xml:1"
SCHEMA_DIR = Path(airex.messages.__file__).resolve().parent.parent / "schemas"
CODE_ENUMS: dict[str, type[StrEnum]] = {
    name: obj
    for name in codes_module.__all__
    if isinstance(obj := getattr(codes_module, name), type) and issubclass(obj, StrEnum)
}


@functools.cache
def airex_schema() -> xmlschema.XMLSchema10:
    """The whole standard, as xmlschema reads it (loaded once)."""
    return xmlschema.XMLSchema10(str(SCHEMA_DIR / "airex.xsd"))


# --- the XSD side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class XsdChild:
    """A child element of a flattened content model, with its effective occurrence."""

    name: str
    declaration: XsdElement
    min_occurs: int
    max_occurs: int | None  # None: unbounded


def flatten(group: XsdGroup, group_min: int = 1, group_max: int | None = 1) -> list[XsdChild]:
    """The child elements of ``group`` in document order, sequences and choices flattened.

    ``group_min`` / ``group_max`` are the group's own effective occurrence: a particle's minimum is
    0 when it is one option of a choice with several options, else the group's minimum times its
    own; its maximum is the group's maximum times its own.
    """
    alternatives = group.model == "choice" and len(group) > 1
    children: list[XsdChild] = []
    for particle in group:
        low = 0 if alternatives else group_min * particle.min_occurs
        high = (
            None
            if group_max is None or particle.max_occurs is None
            else group_max * particle.max_occurs
        )
        if isinstance(particle, XsdGroup):
            children.extend(flatten(particle, low, high))
        elif isinstance(particle, XsdAnyElement):
            raise AssertionError(f"xs:any in {group!r} is not supported by this walk")
        else:
            children.append(XsdChild(particle.local_name, particle, low, high))
    return children


def type_label(xsd_type: Any, where: str) -> str:
    """The XSD type's name, or where an anonymous type is declared."""
    name: str | None = xsd_type.local_name
    return name if name else f"(anonymous type of {where})"


def builtin_ancestry(simple_type: Any) -> list[str]:
    """The local names of the XSD built-in types ``simple_type`` derives from, nearest first."""
    names: list[str] = []
    current = simple_type
    while current is not None:
        if isinstance(current, XsdAtomicBuiltin):
            names.append(current.local_name)
        base = getattr(current, "base_type", None)
        current = None if base is current else base
    return names


def requires_zone(simple_type: Any) -> bool:
    """Whether the XSD date-time type refuses a date-time without a time zone."""
    return not simple_type.is_valid("2026-01-31T12:00:00") and simple_type.is_valid(
        "2026-01-31T12:00:00Z"
    )


def expected_python_types(simple_type: Any) -> tuple[type, ...]:
    """The Python types a model may use for a value of the XSD simple type."""
    if isinstance(simple_type, XsdUnion):
        return (str,)
    enumeration = getattr(simple_type, "enumeration", None)
    if enumeration:
        name = simple_type.local_name
        if name is None or str(simple_type.schema.url).endswith("/airex-iso.xsd"):
            return (str,)
        enum = CODE_ENUMS.get(name)
        return (enum,) if enum is not None else ()
    ancestry = builtin_ancestry(simple_type)
    if "boolean" in ancestry:
        return (bool,)
    if "integer" in ancestry:
        return (int,)
    if "decimal" in ancestry:
        return (Decimal,)
    if "dateTime" in ancestry:
        return (AwareDatetime,) if requires_zone(simple_type) else (datetime, AwareDatetime)
    if "date" in ancestry:
        return (date,)
    if "string" in ancestry:
        return (str,)
    return ()


def describe_simple_type(simple_type: Any) -> str:
    name = simple_type.local_name
    if name is None:
        name = "anonymous " + (builtin_ancestry(simple_type) or ["?"])[0]
    return name if not isinstance(simple_type, XsdAtomicBuiltin) else f"xs:{name}"


# --- the model side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelField:
    """One field of a pydantic-xml model, as it appears in XML."""

    name: str
    kind: str  # "element", "attribute", "text", "wrapped"
    tag: str
    item_type: Any  # the Python type of one value (list and Optional unwrapped)
    is_list: bool
    nullable: bool
    default: Any  # pydantic_core.PydanticUndefined when there is none
    has_default_factory: bool
    min_length: int
    max_length: int | None
    ns: str | None

    @property
    def has_default(self) -> bool:
        return self.has_default_factory or self.default is not pydantic_core.PydanticUndefined

    @property
    def always_present(self) -> bool:
        """Never absent from the model's output."""
        return not self.nullable and self.default is not None


def _strip_annotated(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def unwrap(annotation: Any) -> tuple[Any, bool, bool]:
    """``(item type, nullable, is_list)`` of a field annotation."""
    tp = _strip_annotated(annotation)
    nullable = False
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(tp) if m is not type(None)]
        nullable = len(members) < len(typing.get_args(tp))
        tp = _strip_annotated(members[0]) if len(members) == 1 else tp
    is_list = typing.get_origin(tp) is list
    if is_list:
        tp = _strip_annotated(typing.get_args(tp)[0])
    return tp, nullable, is_list


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseXmlModel)


def read_field(name: str, info: FieldInfo) -> ModelField:
    """How pydantic-xml puts field ``name`` on the wire (see the module docstring)."""
    item_type, nullable, is_list = unwrap(info.annotation)
    entity = extract_field_xml_entity_info(info)
    location = entity.location if entity is not None else None
    alias = info.alias or name
    if location is EntityLocation.ATTRIBUTE:
        kind, tag = "attribute", (entity.path if entity and entity.path else alias)
    elif location is EntityLocation.WRAPPED:
        kind, tag = "wrapped", (entity.path if entity and entity.path else alias)
    elif location is EntityLocation.ELEMENT:
        kind, tag = "element", (entity.path if entity and entity.path else alias)
    elif is_model(item_type):
        kind, tag = "element", item_type.__xml_tag__ or item_type.__name__
    else:
        kind, tag = "text", ""
    min_length, max_length = 0, None
    for meta in info.metadata:
        if isinstance(meta, annotated_types.MinLen):
            min_length = meta.min_length
        if isinstance(meta, annotated_types.MaxLen):
            max_length = meta.max_length
    return ModelField(
        name=name,
        kind=kind,
        tag=tag,
        item_type=item_type,
        is_list=is_list,
        nullable=nullable,
        default=info.default,
        has_default_factory=info.default_factory is not None,
        min_length=min_length,
        max_length=max_length,
        ns=entity.ns if entity is not None else None,
    )


def xml_fields(cls: type[BaseXmlModel]) -> list[ModelField]:
    """The model's fields that appear in XML, in declaration order."""
    return [
        read_field(name, info)
        for name, info in cls.model_fields.items()
        if NoXml not in info.metadata
    ]


def type_name(tp: Any) -> str:
    return getattr(tp, "__name__", repr(tp))


# --- the walk -----------------------------------------------------------------------------------


@dataclass
class Walk:
    """Compares XSD complex types with model classes, recursively; collects every difference."""

    problems: list[str] = field(default_factory=list)
    types_seen: dict[str, set[type]] = field(default_factory=lambda: defaultdict(set))
    models_seen: dict[type, set[str]] = field(default_factory=lambda: defaultdict(set))
    _done: set[tuple[int, type]] = field(default_factory=set)

    def root(self, schema: xmlschema.XMLSchema10, root_name: str, cls: type) -> None:
        """Compare root element ``root_name`` with model class ``cls``."""
        declaration = schema.elements.get(root_name)
        if declaration is None:
            self.problems.append(f"{root_name}: no such root element in the XSD")
            return
        if not is_model(cls):
            self.problems.append(f"{root_name}: {type_name(cls)} is not a pydantic-xml model")
            return
        if cls.__xml_tag__ != root_name:
            self.problems.append(
                f"{root_name}: model {cls.__name__} has tag {cls.__xml_tag__!r}, not {root_name!r}"
            )
        self.complex_type(declaration.type, cls, root_name)

    def complex_type(self, xsd_type: Any, cls: type[BaseXmlModel], where: str) -> None:
        """Compare XSD complex type ``xsd_type`` (used at path ``where``) with ``cls``."""
        label = type_label(xsd_type, where)
        self.types_seen[label].add(cls)
        self.models_seen[cls].add(label)
        if (id(xsd_type), cls) in self._done:
            return
        self._done.add((id(xsd_type), cls))

        def problem(text: str) -> None:
            self.problems.append(f"{where}: XSD type {label!r} / model {cls.__name__}: {text}")

        serializer = cls.__xml_serializer__
        if serializer is None or not serializer.element_name.startswith(f"{{{NAMESPACE}}}"):
            got = serializer.element_name if serializer else None
            problem(f"the model's element {got!r} is not in namespace {NAMESPACE}")
        fields = xml_fields(cls)
        for f in fields:
            if f.kind == "wrapped" or "/" in f.tag:
                problem(f"field {cls.__name__}.{f.name} is wrapped ({f.tag!r}): the XSD has none")
            if f.ns is not None:
                problem(f"field {cls.__name__}.{f.name} sets its own namespace {f.ns!r}")
        self._attributes(xsd_type, cls, fields, problem)
        self._content(xsd_type, cls, fields, where, label, problem)

    def _attributes(self, xsd_type: Any, cls: type, fields: list[ModelField], problem: Any) -> None:
        declared = {
            name: a
            for name, a in xsd_type.attributes.items()
            if getattr(a, "use", "") != "prohibited"
        }
        if None in declared:
            problem("xs:anyAttribute is not supported by this walk")
            declared.pop(None)
        model_attrs = {f.tag: f for f in fields if f.kind == "attribute"}
        for name in sorted(set(declared) - set(model_attrs)):
            problem(f"XSD attribute {name!r} has no model attribute in {cls.__name__}")
        for name in sorted(set(model_attrs) - set(declared)):
            problem(
                f"model attribute {cls.__name__}.{model_attrs[name].name} ({name!r}) "
                "is not an attribute of the XSD type"
            )
        for name in sorted(set(declared) & set(model_attrs)):
            xsd_attr, f = declared[name], model_attrs[name]
            at = f"attribute {name!r} vs {cls.__name__}.{f.name}"
            if f.is_list:
                problem(f"{at}: a list, but an attribute holds one value")
            if xsd_attr.use == "required" and not f.always_present:
                problem(f"{at}: required in the XSD but optional in the model")
            if xsd_attr.use != "required" and not (f.nullable and f.default is None):
                problem(f"{at}: optional in the XSD but the model does not default it to None")
            if xsd_attr.fixed is not None and f.default != xsd_attr.fixed:
                problem(
                    f"{at}: fixed to {xsd_attr.fixed!r} in the XSD, model default {f.default!r}"
                )
            leaf = leaf_problem(xsd_attr.type, f.item_type)
            if leaf:
                problem(f"{at}: {leaf}")

    def _content(
        self,
        xsd_type: Any,
        cls: type,
        fields: list[ModelField],
        where: str,
        label: str,
        problem: Any,
    ) -> None:
        texts = [f for f in fields if f.kind == "text"]
        elements = [f for f in fields if f.kind == "element"]
        if xsd_type.mixed:
            problem("mixed content is not supported by this walk")
        if xsd_type.has_simple_content():
            if len(texts) != 1:
                problem(
                    f"simple content needs exactly one text field, {cls.__name__} has "
                    f"{[f.name for f in texts]}"
                )
            else:
                leaf = leaf_problem(xsd_type.content, texts[0].item_type)
                if leaf:
                    problem(f"text {cls.__name__}.{texts[0].name}: {leaf}")
            for f in elements:
                problem(
                    f"model field {cls.__name__}.{f.name} (element {f.tag!r}) is not in the "
                    "XSD type, which has simple content"
                )
            return
        for f in texts:
            problem(f"model text field {cls.__name__}.{f.name}: the XSD type has no text content")
        children = flatten(xsd_type.content) if isinstance(xsd_type.content, XsdGroup) else []
        xsd_names = [c.name for c in children]
        model_names = [f.tag for f in elements]
        if len(set(xsd_names)) != len(xsd_names):
            problem(f"an element name repeats in the content model {xsd_names}")
        by_name = {f.tag: f for f in elements}
        for child in children:
            if child.name not in by_name:
                problem(f"XSD element {child.name!r} has no model field in {cls.__name__}")
        for f in elements:
            if f.tag not in xsd_names:
                problem(
                    f"model field {cls.__name__}.{f.name} (element {f.tag!r}) is not an "
                    "element of the XSD type"
                )
        if xsd_names != model_names and set(xsd_names) == set(model_names):
            problem(f"elements out of order: XSD {xsd_names}, model {model_names}")
        for child in children:
            f = by_name.get(child.name)
            if f is not None:
                self._element(child, f, cls, f"{where}/{child.name}", problem)

    def _element(self, child: XsdChild, f: ModelField, cls: type, where: str, problem: Any) -> None:
        at = f"element {child.name!r} vs {cls.__name__}.{f.name}"
        high = "unbounded" if child.max_occurs is None else child.max_occurs
        repeated = child.max_occurs is None or child.max_occurs > 1
        if repeated != f.is_list:
            kind = "a list" if f.is_list else "not a list"
            problem(f"{at}: XSD maxOccurs={high} but the model field is {kind}")
        elif repeated:
            if f.nullable:
                problem(f"{at}: a list field must not be Optional")
            if f.min_length != child.min_occurs:
                problem(f"{at}: XSD minOccurs={child.min_occurs}, model min_length={f.min_length}")
            if child.min_occurs == 0 and not f.has_default:
                problem(f"{at}: optional (minOccurs=0) list without a default")
            if f.max_length != child.max_occurs:
                problem(f"{at}: XSD maxOccurs={high}, model max_length={f.max_length}")
        elif child.min_occurs == 0 and not (f.nullable and f.default is None):
            problem(f"{at}: optional in the XSD but the model field is not Optional, default None")
        elif child.min_occurs >= 1 and not f.always_present:
            problem(
                f"{at}: required in the XSD (minOccurs={child.min_occurs}) but optional in "
                "the model"
            )
        xsd_type = child.declaration.type
        if xsd_type.is_complex():
            if is_model(f.item_type):
                self.complex_type(xsd_type, f.item_type, where)
            else:
                problem(
                    f"{at}: XSD complex type {type_label(xsd_type, where)!r} but the model "
                    f"field is {type_name(f.item_type)}"
                )
        else:
            leaf = leaf_problem(xsd_type, f.item_type)
            if leaf:
                problem(f"{at}: {leaf}")


def leaf_problem(simple_type: Any, python_type: Any) -> str | None:
    """Why ``python_type`` cannot hold the values of XSD ``simple_type`` (None when it can)."""
    expected = expected_python_types(simple_type)
    if any(python_type is e for e in expected):
        return None
    wanted = " or ".join(type_name(e) for e in expected) or (
        f"a StrEnum named {simple_type.local_name} in airex.messages.codes"
    )
    return (
        f"XSD type {describe_simple_type(simple_type)} needs {wanted}, "
        f"the model has {type_name(python_type)}"
    )


def compare(xsd_type: Any, cls: type[BaseXmlModel], where: str | None = None) -> list[str]:
    """Every difference between XSD complex type ``xsd_type`` and model ``cls`` (and below)."""
    walk = Walk()
    walk.complex_type(xsd_type, cls, where or type_label(xsd_type, cls.__name__))
    return walk.problems


@functools.cache
def full_walk() -> Walk:
    """The walk from all ten root elements."""
    walk = Walk()
    for root_name, cls in MESSAGE_TYPES.items():
        walk.root(airex_schema(), root_name, cls)
    return walk


# --- tests --------------------------------------------------------------------------------------


def test_roots_of_the_schema_are_the_message_types() -> None:
    """The XSD declares exactly the ten root elements that MESSAGE_TYPES maps to models."""
    assert sorted(airex_schema().elements) == sorted(MESSAGE_TYPES)
    assert len(MESSAGE_TYPES) == 10


@pytest.mark.parametrize("root_name", list(MESSAGE_TYPES))
def test_model_agrees_with_xsd_element_for_element(root_name: str) -> None:
    """The message model and its XSD root element agree in every element, attribute and type."""
    walk = Walk()
    walk.root(airex_schema(), root_name, MESSAGE_TYPES[root_name])
    assert walk.problems == [], "\n".join(walk.problems)


def test_walk_checks_every_complex_type_of_the_schema() -> None:
    """No named complexType of airex.xsd is left out of the walk from the ten roots."""
    named = {name for name, t in airex_schema().types.items() if isinstance(t, XsdComplexType)}
    assert named - set(full_walk().types_seen) == set()
    anonymous = {label for label in full_walk().types_seen if label.startswith("(anonymous")}
    assert anonymous == {f"(anonymous type of {root})" for root in MESSAGE_TYPES}


def test_walk_checks_every_model_class() -> None:
    """Every pydantic-xml model exported by airex.messages is compared with an XSD type."""
    exported = {
        obj for name in airex.messages.__all__ if is_model(obj := getattr(airex.messages, name))
    }
    # AirexMessage is the abstract base of the roots: its fields are checked in each of them.
    assert all(issubclass(cls, AirexMessage) for cls in MESSAGE_TYPES.values())
    unchecked = exported - {AirexMessage} - set(full_walk().models_seen)
    assert {cls.__name__ for cls in unchecked} == set()


def test_each_complex_type_maps_to_one_model_and_back() -> None:
    """An XSD complex type is modelled by one class, and a class models one XSD type."""
    walk = full_walk()
    types_many = {
        label: sorted(c.__name__ for c in classes)
        for label, classes in walk.types_seen.items()
        if len(classes) != 1
    }
    models_many = {
        cls.__name__: sorted(labels) for cls, labels in walk.models_seen.items() if len(labels) != 1
    }
    assert types_many == {}
    assert models_many == {}


def test_flattened_choices_keep_document_order_and_become_optional() -> None:
    """Tariff's and Repertoire's choices flatten to optional elements in document order."""
    schema = airex_schema()
    tariff = flatten(schema.types["Tariff"].content)
    assert [c.name for c in tariff] == [
        "TariffId", "TariffType", "UseType",
        "Amount", "BillingPeriod", "Unit", "PerQuantity", "Percentage", "Currency",
    ]  # fmt: skip
    assert [(c.min_occurs, c.max_occurs) for c in tariff] == [
        (1, 1), (1, 1), (0, None), (0, 1), (0, 1), (0, 1), (0, 1), (0, 1), (0, 1),
    ]  # fmt: skip
    repertoire = flatten(schema.types["Repertoire"].content)
    assert [(c.name, c.min_occurs, c.max_occurs) for c in repertoire] == [
        ("AllRepresentedWorks", 0, 1),
        ("WorkIdList", 0, 1),
        ("WorkTypeList", 0, 1),
    ]


# --- the comparison can fail: deliberately drifted throwaway models ------------------------------


class _Drift(BaseXmlModel, ns="", nsmap={"": NAMESPACE}, search_mode="strict"):
    """Base of the throwaway models: the airex namespace, like the real ones."""


class PartyWithExtraElement(_Drift, tag="Party"):
    party_id: str = element(tag="PartyId")
    party_name: str | None = element(tag="PartyName", default=None)
    party_role: PartyRole | None = element(tag="PartyRole", default=None)
    party_email: str | None = element(tag="PartyEmail", default=None)


class PartyMissingElement(_Drift, tag="Party"):
    party_id: str = element(tag="PartyId")
    party_name: str | None = element(tag="PartyName", default=None)


class PartyReordered(_Drift, tag="Party"):
    party_id: str = element(tag="PartyId")
    party_role: PartyRole | None = element(tag="PartyRole", default=None)
    party_name: str | None = element(tag="PartyName", default=None)


class PartyRenamedElement(_Drift, tag="Party"):
    party_id: str = element(tag="PartyID")
    party_name: str | None = element(tag="PartyName", default=None)
    party_role: PartyRole | None = element(tag="PartyRole", default=None)


class PartyOptionalMadeRequired(_Drift, tag="Party"):
    party_id: str = element(tag="PartyId")
    party_name: str = element(tag="PartyName")
    party_role: PartyRole | None = element(tag="PartyRole", default=None)


class PartyRequiredMadeOptional(_Drift, tag="Party"):
    party_id: str | None = element(tag="PartyId", default=None)
    party_name: str | None = element(tag="PartyName", default=None)
    party_role: PartyRole | None = element(tag="PartyRole", default=None)


class PartyWithStrForEnum(_Drift, tag="Party"):
    party_id: str = element(tag="PartyId")
    party_name: str | None = element(tag="PartyName", default=None)
    party_role: str | None = element(tag="PartyRole", default=None)


class PartyWithList(_Drift, tag="Party"):
    party_id: str = element(tag="PartyId")
    party_names: list[str] = element(tag="PartyName", default_factory=list)
    party_role: PartyRole | None = element(tag="PartyRole", default=None)


class PartyWithAttribute(_Drift, tag="Party"):
    kind: str = attr(name="Kind")
    party_id: str = element(tag="PartyId")
    party_name: str | None = element(tag="PartyName", default=None)
    party_role: PartyRole | None = element(tag="PartyRole", default=None)


class TerritoryListWithoutMinimum(_Drift, tag="Territory"):
    territory_codes: list[str] = element(tag="TerritoryCode", default_factory=list)
    excluded_territory_codes: list[str] = element(tag="ExcludedTerritoryCode", default_factory=list)


class WorkIdWithoutNamespaceAttr(_Drift, tag="WorkId"):
    type: WorkIdType = attr(name="Type")
    value: str


class WorkIdOptionalType(_Drift, tag="WorkId"):
    type: WorkIdType | None = attr(name="Type", default=None)
    namespace: str | None = attr(name="Namespace", default=None)
    value: str


class AmountWithIntValue(_Drift, tag="Amount"):
    currency: str = attr(name="Currency")
    value: int


class PeriodWithDatetime(_Drift, tag="Period"):
    start_date: datetime = element(tag="StartDate")
    end_date: date = element(tag="EndDate")


class HeaderWithDriftedSender(_Drift, tag="MessageHeader"):
    message_thread_id: str | None = element(tag="MessageThreadId", default=None)
    message_id: str = element(tag="MessageId")
    message_sender: PartyMissingElement = element(tag="MessageSender")
    sent_on_behalf_of: airex.messages.Party | None = element(tag="SentOnBehalfOf", default=None)
    message_recipients: list[airex.messages.Party] = element(tag="MessageRecipient", min_length=1)
    message_created_date_time: datetime = element(tag="MessageCreatedDateTime")
    message_control_type: str | None = element(tag="MessageControlType", default=None)


DRIFTS = [
    # (XSD type, drifted model, words the report must contain)
    (
        "Party",
        PartyWithExtraElement,
        ["'Party'", "PartyEmail", "PartyWithExtraElement.party_email"],
    ),
    ("Party", PartyMissingElement, ["'Party'", "PartyRole", "PartyMissingElement"]),
    ("Party", PartyReordered, ["'Party'", "out of order", "PartyReordered"]),
    ("Party", PartyRenamedElement, ["'Party'", "PartyID", "PartyRenamedElement.party_id"]),
    ("Party", PartyOptionalMadeRequired, ["'PartyName'", "PartyOptionalMadeRequired.party_name"]),
    ("Party", PartyRequiredMadeOptional, ["'PartyId'", "PartyRequiredMadeOptional.party_id"]),
    ("Party", PartyWithStrForEnum, ["'Party'", "'PartyRole'", "PartyWithStrForEnum.party_role"]),
    ("Party", PartyWithList, ["'Party'", "'PartyName'", "PartyWithList.party_names"]),
    ("Party", PartyWithAttribute, ["'Party'", "'Kind'", "PartyWithAttribute.kind"]),
    ("Territory", TerritoryListWithoutMinimum, ["'TerritoryCode'", "min_length=0"]),
    (
        "WorkId",
        WorkIdWithoutNamespaceAttr,
        ["'WorkId'", "'Namespace'", "WorkIdWithoutNamespaceAttr"],
    ),
    ("WorkId", WorkIdOptionalType, ["'WorkId'", "'Type'", "WorkIdOptionalType.type"]),
    ("Amount", AmountWithIntValue, ["'Amount'", "AmountWithIntValue.value", "Decimal"]),
    ("Period", PeriodWithDatetime, ["'Period'", "'StartDate'", "PeriodWithDatetime.start_date"]),
    ("MessageHeader", HeaderWithDriftedSender, ["'Party'", "MessageSender", "PartyMissingElement"]),
]


@pytest.mark.parametrize(
    ("xsd_type_name", "model", "words"), DRIFTS, ids=[d[1].__name__ for d in DRIFTS]
)
def test_comparison_reports_a_drifted_model(
    xsd_type_name: str, model: type[BaseXmlModel], words: list[str]
) -> None:
    """A throwaway model that differs from its XSD type is reported, naming type, element, field."""
    problems = compare(airex_schema().types[xsd_type_name], model)
    assert problems, f"{model.__name__} drifted from {xsd_type_name} but no problem was reported"
    assert any(all(word in p for word in words) for p in problems), "\n".join(problems)


def test_comparison_accepts_the_real_model() -> None:
    """The same comparison finds nothing to report for the real Party model (control case)."""
    assert compare(airex_schema().types["Party"], airex.messages.Party) == []


# --- the code lists: every StrEnum equals its XSD enumeration -------------------------------------


@functools.cache
def codes_schema() -> xmlschema.XMLSchema10:
    """airex-codes.xsd on its own."""
    return xmlschema.XMLSchema10(str(SCHEMA_DIR / "airex-codes.xsd"))


def enumerated_code_types() -> dict[str, list[str]]:
    """Each simpleType of airex-codes.xsd with an enumeration: its values in document order."""
    return {
        name: list(t.enumeration)
        for name, t in codes_schema().types.items()
        if getattr(t, "enumeration", None)
    }


def test_every_code_list_of_the_xsd_has_its_enum() -> None:
    """Every enumerated simpleType of airex-codes.xsd has a StrEnum of the same name in codes."""
    assert sorted(enumerated_code_types()) == sorted(CODE_ENUMS)
    assert set(CODE_ENUMS) == set(codes_module.__all__)


def test_message_status_enum_is_the_one_of_airex_errors() -> None:
    """codes.MessageStatus is airex.errors.MessageStatus (the XML layer below messages uses it)."""
    assert codes_module.MessageStatus is airex.errors.MessageStatus
    assert enumerated_code_types()["MessageStatus"] == [m.value for m in airex.errors.MessageStatus]


@pytest.mark.parametrize("name", sorted(CODE_ENUMS))
def test_enum_equals_its_xsd_enumeration_member_for_member(name: str) -> None:
    """The StrEnum's values are the XSD enumeration's values, in the same order."""
    assert [m.value for m in CODE_ENUMS[name]] == enumerated_code_types()[name]
