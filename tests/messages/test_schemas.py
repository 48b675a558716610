"""The XSDs: XSD 1.0, one namespace, shipped as package data; the error-code catalogue is complete.

Also the schema-level rules the spec requires that no business rule backs up (a Tariff takes
either an Amount or a Percentage, a Repertoire exactly one choice, date-times carry a zone,
SchemaVersion is 1.0), checked by lxml against small edits of a valid, model-built message.
"""

from __future__ import annotations

import ast
import functools
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

import airex
from airex.errors import MessageError, MessageStatus
from airex.messages import (
    Amount,
    LicenceOfferMessage,
    LicenceTerms,
    MessageHeader,
    Offer,
    Party,
    Repertoire,
    ReportingObligation,
    Tariff,
    Term,
    Territory,
)
from airex.messages.codes import (
    BillingPeriod,
    ReportFormat,
    ReportingFrequency,
    TariffType,
    UseType,
)
from airex.messages.error_codes import CODES

NAMESPACE = "urn:airex:xml:1"
XS = "http://www.w3.org/2001/XMLSchema"
PACKAGE_DIR = Path(airex.__file__).resolve().parent
SCHEMA_DIR = PACKAGE_DIR / "schemas"
PROJECT_DIR = PACKAGE_DIR.parent.parent
SCHEMA_FILES = sorted(p.name for p in SCHEMA_DIR.glob("*.xsd"))

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def test_schema_files_are_the_expected_set() -> None:
    """The package holds airex.xsd, the four shared files and one file per family."""
    assert SCHEMA_FILES == [
        "acknowledgement.xsd",
        "airex-codes.xsd",
        "airex-common.xsd",
        "airex-iso.xsd",
        "airex-terms.xsd",
        "airex.xsd",
        "invoice.xsd",
        "licence-offer.xsd",
        "licence-request.xsd",
        "licence.xsd",
        "manifest.xsd",
        "payment-notification.xsd",
        "royalty-statement.xsd",
        "usage-report.xsd",
        "work-declaration.xsd",
    ]


# --- XSD 1.0, one namespace ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_file_loads_standalone_as_xsd_1_0(name: str) -> None:
    """xmlschema's XSD 1.0 validator (which refuses XSD 1.1 constructs) loads the file alone."""
    schema = xmlschema.XMLSchema10(str(SCHEMA_DIR / name))
    assert schema.XSD_VERSION == "1.0"
    assert schema.target_namespace == NAMESPACE


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_file_declares_namespace_and_qualified_elements(name: str) -> None:
    """Each file's xs:schema says targetNamespace urn:airex:xml:1, elementFormDefault qualified."""
    root = etree.parse(str(SCHEMA_DIR / name), _SAFE_PARSER).getroot()
    assert root.tag == f"{{{XS}}}schema"
    assert root.get("targetNamespace") == NAMESPACE
    assert root.get("elementFormDefault") == "qualified"
    assert root.nsmap.get(None) == NAMESPACE  # unprefixed type references are airex types


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_libxml2_compiles_schema_file(name: str) -> None:
    """lxml (libxml2, an XSD 1.0 processor) compiles the file."""
    etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name), _SAFE_PARSER))


def test_airex_xsd_includes_every_family_file() -> None:
    """airex.xsd includes the ten family files, so it validates any airex message."""
    root = etree.parse(str(SCHEMA_DIR / "airex.xsd"), _SAFE_PARSER).getroot()
    included = sorted(el.get("schemaLocation") for el in root.iter(f"{{{XS}}}include"))
    shared = {"airex.xsd", "airex-codes.xsd", "airex-common.xsd", "airex-iso.xsd"}
    shared.add("airex-terms.xsd")
    assert included == sorted(set(SCHEMA_FILES) - shared)


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_file_refers_only_to_files_of_the_package(name: str) -> None:
    """Every xs:include / xs:import points at a sibling file (nothing fetched from the network)."""
    root = etree.parse(str(SCHEMA_DIR / name), _SAFE_PARSER).getroot()
    locations = [
        el.get("schemaLocation")
        for tag in ("include", "import", "redefine")
        for el in root.iter(f"{{{XS}}}{tag}")
    ]
    assert [loc for loc in locations if loc not in SCHEMA_FILES] == []


# --- package data -------------------------------------------------------------------------------


def test_schemas_are_package_resources() -> None:
    """importlib.resources finds every XSD in airex.schemas, with the source file's content."""
    package = resources.files("airex.schemas")
    shipped = sorted(p.name for p in package.iterdir() if p.name.endswith(".xsd"))
    assert shipped == SCHEMA_FILES
    for name in SCHEMA_FILES:
        assert (package / name).read_bytes() == (SCHEMA_DIR / name).read_bytes()


def test_wheel_ships_the_schemas(tmp_path: Path) -> None:
    """A wheel built from the project (hatchling, offline) contains airex/schemas/*.xsd."""
    wheel_builder = pytest.importorskip("hatchling.builders.wheel")
    builder = wheel_builder.WheelBuilder(str(PROJECT_DIR))
    (wheel,) = list(builder.build(directory=str(tmp_path), versions=["standard"]))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {f"airex/schemas/{name}" for name in SCHEMA_FILES} <= names


# --- the error-code catalogue is complete ---------------------------------------------------------

# Where a code is produced implies its status.
STATUS_OF_PRODUCER = {
    "xml/_hardened.py": MessageStatus.XML_NOT_WELL_FORMED,
    "messages/_api.py": MessageStatus.SCHEMA_INVALID,
    "messages/_schema.py": MessageStatus.SCHEMA_INVALID,
    "messages/_rules.py": MessageStatus.BUSINESS_RULE_VIOLATION,
    "messages/identifiers.py": MessageStatus.BUSINESS_RULE_VIOLATION,
}
# The one code the API yields about the file rather than its XML: an I/O failure is internal.
STATUS_OF_CODE = {"FileUnreadable": MessageStatus.INTERNAL_ERROR}

_STATUS_FIELD = {f.name: f for f in fields(MessageError)}["status"]
MESSAGE_ERROR_DEFAULT_STATUS = _STATUS_FIELD.default
assert MESSAGE_ERROR_DEFAULT_STATUS is not MISSING


@dataclass(frozen=True)
class Production:
    """A code that src/airex can put in a MessageError, the status it gets, and where."""

    code: str
    status: MessageStatus
    where: str  # "messages/_rules.py:172"


@dataclass(frozen=True)
class Forwarder:
    """A function that builds a MessageError from its parameter ``param`` (or MessageError)."""

    position: int  # of the code among the positional arguments
    keyword: str
    status: MessageStatus | None  # fixed by the function; None: the call's status= decides


class UnrecognisedCode(AssertionError):
    """The scan met a code expression it cannot resolve; extend the scan rather than guess."""


class CodeScan:
    """Finds, with ``ast``, every error code src/airex can yield and the status it carries.

    A *producer* call is a call of ``MessageError`` or of a *forwarder*: a function whose
    parameter flows unchanged into the code of a producer call (``_error`` in _rules.py,
    ``_security`` in _hardened.py, found by fixpoint, not by name). At each producer call the
    code expression is resolved to string literals: a literal; a conditional of literals; a
    ``DICT.get(key, default)`` or ``DICT[key]`` of a module-level dict of literals (its values:
    ``_KIND_CODES``, ``_PATTERN_CODES``, ``WORK_ID_ERROR_CODES``); a local variable (its
    assignments); a call of a local function (its return values, as ``_code_for``). Anything
    else fails the scan, so a new way of producing codes cannot slip past the catalogue.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules = {
            path.relative_to(root).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted(root.rglob("*.py"))
        }
        self.imports = self._imported_names()
        self.dicts = self._literal_dicts()
        self.constants = self._module_constants()
        self.functions = {
            (module, node.name): node
            for module, tree in self.modules.items()
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
        }
        self.forwarders: dict[tuple[str, str], Forwarder] = {}
        self._find_forwarders()
        self.productions = list(self._productions())

    # names a module imports from another module of the package: (module, name) -> its home
    def _imported_names(self) -> dict[tuple[str, str], tuple[str, str]]:
        found: dict[tuple[str, str], tuple[str, str]] = {}
        for module, tree in self.modules.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airex."):
                    home = (node.module or "").removeprefix("airex.").replace(".", "/")
                    home = home + ".py" if f"{home}.py" in self.modules else home + "/__init__.py"
                    for alias in node.names:
                        found[(module, alias.asname or alias.name)] = (home, alias.name)
        return found

    # dicts of literals, by name, across the package
    def _literal_dicts(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for tree in self.modules.values():
            for node in tree.body:
                target, value = None, None
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                elif isinstance(node, ast.AnnAssign):
                    target, value = node.target, node.value
                if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
                    values = [v.value for v in value.values if isinstance(v, ast.Constant)]
                    if len(values) == len(value.values) and all(isinstance(v, str) for v in values):
                        found.setdefault(target.id, set()).update(values)
        return found

    # module-level NAME = "literal" and NAME = MessageStatus.X, by name, across the package
    def _module_constants(self) -> dict[str, set[ast.expr]]:
        found: dict[str, set[ast.expr]] = {}
        for tree in self.modules.values():
            for node in tree.body:
                if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, ast.Name):
                            found.setdefault(target.id, set()).add(node.value)
        return found

    def _forwarder_of(self, module: str, call: ast.Call) -> Forwarder | None:
        func = call.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name is None:
            return None
        if (module, name) in self.forwarders:
            return self.forwarders[(module, name)]
        if self.imports.get((module, name)) in self.forwarders:  # a forwarder of another module
            return self.forwarders[self.imports[(module, name)]]
        if name == "MessageError":
            return Forwarder(position=0, keyword="code", status=None)
        return None

    @staticmethod
    def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
        for kw in call.keywords:
            if kw.arg == keyword:
                return kw.value
        return call.args[position] if len(call.args) > position else None

    def _call_status(self, call: ast.Call, forwarder: Forwarder, where: str) -> MessageStatus:
        if forwarder.status is not None:
            return forwarder.status
        expr = self._argument(call, 4, "status")
        if expr is None:
            return MESSAGE_ERROR_DEFAULT_STATUS
        if isinstance(expr, ast.Name) and len(self.constants.get(expr.id, ())) == 1:
            (expr,) = self.constants[expr.id]
        if (
            isinstance(expr, ast.Attribute)
            and isinstance(expr.value, ast.Name)
            and expr.value.id == "MessageStatus"
        ):
            return MessageStatus[expr.attr]
        raise UnrecognisedCode(f"{where}: cannot tell the status {ast.unparse(expr)}")

    def _calls(self) -> Iterator[tuple[str, ast.FunctionDef | None, ast.Call]]:
        """Every call in the package, with its module and innermost enclosing function."""
        for module, tree in self.modules.items():
            stack: list[tuple[ast.AST, ast.FunctionDef | None]] = [(tree, None)]
            while stack:
                node, function = stack.pop()
                if isinstance(node, ast.Call):
                    yield module, function, node
                inner = node if isinstance(node, ast.FunctionDef) else function
                stack.extend((child, inner) for child in ast.iter_child_nodes(node))

    def _find_forwarders(self) -> None:
        changed = True
        while changed:
            changed = False
            for module, function, call in self._calls():
                if function is None or (module, function.name) in self.forwarders:
                    continue
                forwarder = self._forwarder_of(module, call)
                if forwarder is None:
                    continue
                code = self._argument(call, forwarder.position, forwarder.keyword)
                params = [a.arg for a in function.args.args]
                if isinstance(code, ast.Name) and code.id in params:
                    where = f"{module}:{call.lineno}"
                    self.forwarders[(module, function.name)] = Forwarder(
                        position=params.index(code.id),
                        keyword=code.id,
                        status=self._call_status(call, forwarder, where),
                    )
                    changed = True

    def _codes(
        self, expr: ast.expr, module: str, function: ast.FunctionDef | None, where: str
    ) -> set[str]:
        """The string literals ``expr`` can evaluate to."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if isinstance(expr, ast.IfExp):
            return self._codes(expr.body, module, function, where) | self._codes(
                expr.orelse, module, function, where
            )
        if (
            isinstance(expr, ast.Subscript)
            and isinstance(expr.value, ast.Name)
            and expr.value.id in self.dicts
        ):
            return set(self.dicts[expr.value.id])
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            owner = expr.func.value
            if expr.func.attr == "get" and isinstance(owner, ast.Name) and owner.id in self.dicts:
                default = (
                    self._codes(expr.args[1], module, function, where)
                    if len(expr.args) > 1
                    else set()
                )
                return self.dicts[owner.id] | default
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            callee = self.functions.get((module, expr.func.id))
            if callee is not None:
                returns = [
                    n.value
                    for n in ast.walk(callee)
                    if isinstance(n, ast.Return) and n.value is not None
                ]
                return set().union(*(self._codes(r, module, callee, where) for r in returns))
        if isinstance(expr, ast.Name) and function is not None:
            assigned = [
                n.value
                for n in ast.walk(function)
                if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)
            ]
            if assigned and expr.id not in [a.arg for a in function.args.args]:
                return set().union(*(self._codes(v, module, function, where) for v in assigned))
        if isinstance(expr, ast.Name) and expr.id in self.constants:
            values = self.constants[expr.id]
            return set().union(*(self._codes(v, module, None, where) for v in values))
        raise UnrecognisedCode(f"{where}: cannot tell which codes {ast.unparse(expr)} yields")

    def _productions(self) -> Iterator[Production]:
        for module, function, call in self._calls():
            forwarder = self._forwarder_of(module, call)
            if forwarder is None:
                continue
            where = f"{module}:{call.lineno}"
            code = self._argument(call, forwarder.position, forwarder.keyword)
            if code is None:
                raise UnrecognisedCode(f"{where}: a MessageError without a code")
            if (
                function is not None
                and (module, function.name) in self.forwarders
                and isinstance(code, ast.Name)
                and code.id in [a.arg for a in function.args.args]
            ):
                continue  # the forwarder's own body: its callers are scanned
            status = self._call_status(call, forwarder, where)
            for value in sorted(self._codes(code, module, function, where)):
                yield Production(value, status, where)


@functools.cache
def code_scan() -> CodeScan:
    return CodeScan(PACKAGE_DIR)


def test_scan_finds_codes_in_every_producing_module() -> None:
    """The scan sees codes produced by the hardened parser, the API, the XSD layer and the rules."""
    modules = {p.where.split(":")[0] for p in code_scan().productions}
    assert set(STATUS_OF_PRODUCER) - {"messages/identifiers.py"} <= modules
    forwarders = {name for _, name in code_scan().forwarders}
    assert {"_error", "_security"} <= forwarders


def test_scan_resolves_dictionaries_of_codes() -> None:
    """The libxml2-kind, pattern and WorkId-type code tables are part of what the scan yields."""
    produced = {p.code for p in code_scan().productions}
    for table in ("_KIND_CODES", "_PATTERN_CODES", "WORK_ID_ERROR_CODES"):
        assert code_scan().dicts[table] <= produced, table


def test_every_code_airex_can_yield_is_catalogued() -> None:
    """Every error code string src/airex can put in a MessageError is a key of CODES."""
    uncatalogued = sorted(
        {f"{p.code} ({p.where})" for p in code_scan().productions if p.code not in CODES}
    )
    assert uncatalogued == []


def test_every_catalogued_code_is_produced_somewhere() -> None:
    """CODES lists no code that src/airex never yields."""
    produced = {p.code for p in code_scan().productions}
    assert sorted(set(CODES) - produced) == []


def test_catalogued_status_is_the_status_the_code_is_produced_with() -> None:
    """Each MessageError carries the status CODES gives its code."""
    mismatched = sorted(
        f"{p.code} at {p.where}: produced as {p.status}, catalogued as {CODES[p.code].status}"
        for p in code_scan().productions
        if p.code in CODES and CODES[p.code].status != p.status
    )
    assert mismatched == []


def test_catalogued_status_follows_the_producing_module() -> None:
    """Parser codes are XmlNotWellFormed, XSD-layer ones SchemaInvalid, rules' ones BR."""
    mismatched = sorted(
        f"{p.code} at {p.where}: catalogued as {CODES[p.code].status}, "
        f"expected {STATUS_OF_CODE.get(p.code, STATUS_OF_PRODUCER[module])}"
        for p in code_scan().productions
        if (module := p.where.split(":")[0]) in STATUS_OF_PRODUCER
        and p.code in CODES
        and CODES[p.code].status != STATUS_OF_CODE.get(p.code, STATUS_OF_PRODUCER[module])
    )
    assert mismatched == []


# --- schema-level rules, checked by libxml2 on edits of a valid message --------------------------


@functools.cache
def libxml2_schema() -> etree.XMLSchema:
    """airex.xsd compiled by lxml straight from the package (not through airex's validator)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "airex.xsd"), _SAFE_PARSER))


def q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def offer_message() -> LicenceOfferMessage:
    """A valid offer: all works, worldwide, a flat annual fee and a revenue share."""
    return LicenceOfferMessage(
        message_header=MessageHeader.build("PADPIDA2026CMO01", "PADPIDA2026AIDEV1"),
        offer=Offer(
            offer_id="OFFER-1",
            licensor=Party(party_id="PADPIDA2026CMO01"),
            licence_terms=LicenceTerms(
                repertoire=Repertoire.all_works(),
                permitted_use_types=[UseType.USE_FOR_TRAINING_GENERATIVE_AI],
                territory=Territory.worldwide(),
                term=Term(start_date=date(2026, 1, 1)),
                tariffs=[
                    Tariff(
                        tariff_id="FLAT",
                        tariff_type=TariffType.FLAT_FEE,
                        amount=Amount.of("10000", "EUR"),
                        billing_period=BillingPeriod.ANNUALLY,
                    ),
                    Tariff(
                        tariff_id="SHARE",
                        tariff_type=TariffType.REVENUE_SHARE,
                        percentage="2.5",
                        currency="EUR",
                    ),
                ],
                reporting_obligation=ReportingObligation(
                    frequency=ReportingFrequency.QUARTERLY,
                    due_days=30,
                    report_formats=[ReportFormat.XML],
                ),
            ),
            valid_until=datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
    )


def offer_tree() -> etree._Element:
    return etree.fromstring(airex.serialise(offer_message()), _SAFE_PARSER)


def sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, q(name))
    child.text = text
    return child


def tariff(root: etree._Element, tariff_id: str) -> etree._Element:
    (found,) = [t for t in root.iter(q("Tariff")) if t.findtext(q("TariffId")) == tariff_id]
    return found


def flat_fee_with_percentage(root: etree._Element) -> None:
    flat = tariff(root, "FLAT")
    sub(flat, "Percentage", "2.5")
    sub(flat, "Currency", "EUR")


def amount_then_percentage(root: etree._Element) -> None:
    flat = tariff(root, "FLAT")
    flat.remove(flat.find(q("BillingPeriod")))
    sub(flat, "Percentage", "2.5")


def revenue_share_with_amount(root: etree._Element) -> None:
    share = tariff(root, "SHARE")
    amount = etree.Element(q("Amount"), Currency="EUR")
    amount.text = "100"
    share.find(q("Percentage")).addprevious(amount)


def repertoire_with_two_choices(root: etree._Element) -> None:
    repertoire = next(root.iter(q("Repertoire")))
    sub(sub(repertoire, "WorkTypeList"), "WorkType", "Text")


def created_without_zone(root: etree._Element) -> None:
    next(root.iter(q("MessageCreatedDateTime"))).text = "2026-03-01T12:00:00"


def valid_until_without_zone(root: etree._Element) -> None:
    next(root.iter(q("ValidUntil"))).text = "2026-12-31T23:59:59"


def schema_version_1_1(root: etree._Element) -> None:
    root.set("SchemaVersion", "1.1")


EDITS: list[tuple[Callable[[etree._Element], None], str, str]] = [
    # (edit, what libxml2's error names, airex's stable code for it)
    (flat_fee_with_percentage, "Percentage", "UnexpectedElement"),
    (amount_then_percentage, "Percentage", "UnexpectedElement"),
    (revenue_share_with_amount, "Percentage", "UnexpectedElement"),
    (repertoire_with_two_choices, "WorkTypeList", "UnexpectedElement"),
    (created_without_zone, "MessageCreatedDateTime", "DateTimeWithoutZone"),
    (valid_until_without_zone, "ValidUntil", "DateTimeWithoutZone"),
    (schema_version_1_1, "SchemaVersion", "UnsupportedSchemaVersion"),
]


def test_model_built_offer_is_schema_valid() -> None:
    """The unedited message the negative cases start from is valid (XSD and business rules)."""
    root = offer_tree()
    assert libxml2_schema().validate(root), libxml2_schema().error_log
    assert airex.check(etree.tostring(root)).errors == []


@pytest.mark.parametrize(("edit", "named", "code"), EDITS, ids=[e[0].__name__ for e in EDITS])
def test_schema_rejects_edited_offer(
    edit: Callable[[etree._Element], None], named: str, code: str
) -> None:
    """libxml2 rejects the edited message, naming the offending element or attribute."""
    root = offer_tree()
    edit(root)
    schema = libxml2_schema()
    assert not schema.validate(root)
    messages = [entry.message for entry in schema.error_log]  # type: ignore[attr-defined]
    assert any(named in m for m in messages), messages


@pytest.mark.parametrize(("edit", "named", "code"), EDITS, ids=[e[0].__name__ for e in EDITS])
def test_check_reports_edited_offer_with_stable_code(
    edit: Callable[[etree._Element], None], named: str, code: str
) -> None:
    """airex.check reports the schema violation with its stable code and status SchemaInvalid."""
    root = offer_tree()
    edit(root)
    result = airex.check(etree.tostring(root))
    assert code in [e.code for e in result.errors], result.errors
    assert result.status == MessageStatus.SCHEMA_INVALID
