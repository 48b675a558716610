"""The spec's business rules: what XSD 1.0 cannot say, checked on a schema-valid document.

Rules run on the lxml tree (not the models) so that every error carries the source line and
the path of the element at fault. They assume the document is valid against the XSD (every
required element present, every number a number): validation runs them only then.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, localcontext
from typing import NamedTuple

from lxml import etree

from airex.errors import MessageError, MessageStatus
from airex.iso import quantize_minor
from airex.messages.common import NAMESPACE
from airex.messages.identifiers import WORK_ID_ERROR_CODES, check_work_id
from airex.xml import ElementPaths

__all__ = ["business_rule_errors"]

_NS = "{" + NAMESPACE + "}"
Element = etree._Element


class _Finding(NamedTuple):
    """A broken rule: the error (its path still to fill in) and the element at fault."""

    error: MessageError
    element: Element
    attribute: str | None = None


Rule = Callable[[Element], Iterable[_Finding]]


def _q(name: str) -> str:
    return _NS + name


def _error(code: str, element: Element, message: str, attribute: str | None = None) -> _Finding:
    # The path is filled in later, once per error reported (ElementPaths, in one pass).
    line = element.sourceline
    error = MessageError(
        code=code,
        message=message,
        line=line if isinstance(line, int) else None,
        status=MessageStatus.BUSINESS_RULE_VIOLATION,
    )
    return _Finding(error, element, attribute)


def _text(element: Element, child: str) -> str:
    found = element.find(_q(child))
    return (found.text or "").strip() if found is not None else ""


def _child(element: Element, child: str) -> Element | None:
    return element.find(_q(child))


def _decimal(element: Element | None) -> Decimal:
    assert element is not None
    return Decimal((element.text or "").strip())


def _date(element: Element, child: str) -> date | None:
    value = _text(element, child)
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:  # xs:date admits years Python's date cannot hold (12026, -0001)
        return None


# --- rules on shared types, wherever they occur -----------------------------------------------


def _work_ids(root: Element) -> Iterator[_Finding]:
    for el in root.iter(_q("WorkId")):
        type_ = el.get("Type", "")
        namespace = el.get("Namespace")
        if type_ == "Proprietary" and namespace is None:
            yield _error(
                "NamespaceMissing", el, "a Proprietary WorkId needs a Namespace", "Namespace"
            )
        elif type_ != "Proprietary" and namespace is not None:
            yield _error(
                "NamespaceNotAllowed",
                el,
                f"a WorkId of Type {type_} takes no Namespace (only Proprietary ids do)",
                "Namespace",
            )
        reason = check_work_id(type_, el.text or "")
        if reason:
            yield _error(WORK_ID_ERROR_CODES[type_], el, f"{type_} {el.text!r}: {reason}")


_PERIOD_ELEMENTS = ("ReportingPeriod", "InvoicePeriod", "StatementPeriod", "Term")


def _periods(root: Element) -> Iterator[_Finding]:
    for name in _PERIOD_ELEMENTS:
        for el in root.iter(_q(name)):
            start, end = _date(el, "StartDate"), _date(el, "EndDate")
            if start and end and end < start:
                yield _error(
                    "PeriodEndBeforeStart", el, f"{name} ends {end} before it starts {start}"
                )


def _territories(root: Element) -> Iterator[_Finding]:
    for el in root.iter(_q("Territory")):
        included = [c.text for c in el.iterfind(_q("TerritoryCode"))]
        excluded = el.find(_q("ExcludedTerritoryCode"))
        if excluded is not None and "Worldwide" not in included:
            yield _error(
                "ExclusionWithoutWorldwide",
                excluded,
                "ExcludedTerritoryCode is meaningful only beside TerritoryCode Worldwide",
            )


# --- rules of one family -------------------------------------------------------------------------


def _territory_key(territory: Element | None) -> tuple[frozenset[str], frozenset[str]]:
    if territory is None:
        return frozenset({"Worldwide"}), frozenset()
    return (
        frozenset((c.text or "").strip() for c in territory.iterfind(_q("TerritoryCode"))),
        frozenset((c.text or "").strip() for c in territory.iterfind(_q("ExcludedTerritoryCode"))),
    )


def _describe_territory(key: tuple[frozenset[str], frozenset[str]]) -> str:
    included, excluded = key
    text = "+".join(sorted(included))
    return text + (" excluding " + "+".join(sorted(excluded)) if excluded else "")


def _work_declaration(root: Element) -> Iterator[_Finding]:
    references: Counter[str] = Counter()
    for work in root.iter(_q("Work")):
        reference = _text(work, "WorkReference")
        references[reference] += 1
        if references[reference] == 2:
            yield _error(
                "DuplicateWorkReference",
                work,
                f"WorkReference {reference!r} is used by more than one work",
            )
        groups: dict[tuple[frozenset[str], frozenset[str]], Decimal] = {}
        for share in work.iterfind(_q("RightsShare")):
            key = _territory_key(_child(share, "Territory"))
            groups[key] = groups.get(key, Decimal(0)) + _decimal(_child(share, "SharePercentage"))
        for key, total in groups.items():
            if total != 100:
                yield _error(
                    "SharesNotHundred",
                    work,
                    f"work {reference!r}: RightsShares for {_describe_territory(key)} "
                    f"sum to {total}, not 100",
                )


_TARIFF_SHAPES = {
    "FlatFee": ("Amount", "BillingPeriod"),
    "MinimumGuarantee": ("Amount", "BillingPeriod"),
    "PerWork": ("Amount",),
    "PerUnit": ("Amount", "Unit", "PerQuantity"),
    "RevenueShare": ("Percentage", "Currency"),
}
_TARIFF_PARTS = ("Amount", "BillingPeriod", "Unit", "PerQuantity", "Percentage", "Currency")


def _licence_terms(root: Element) -> Iterator[_Finding]:
    for terms in root.iter(_q("LicenceTerms")):
        permitted = {(u.text or "").strip() for u in terms.iterfind(_q("PermittedUseType"))}
        tariff_ids: Counter[str] = Counter()
        for tariff in terms.iterfind(_q("Tariff")):
            tariff_id = _text(tariff, "TariffId")
            tariff_type = _text(tariff, "TariffType")
            tariff_ids[tariff_id] += 1
            if tariff_ids[tariff_id] == 2:
                yield _error("DuplicateTariffId", tariff, f"TariffId {tariff_id!r} is used twice")
            present = tuple(p for p in _TARIFF_PARTS if tariff.find(_q(p)) is not None)
            expected = _TARIFF_SHAPES.get(tariff_type)
            if expected is not None and present != expected:
                yield _error(
                    "TariffElementsMismatch",
                    tariff,
                    f"{tariff_type} tariff {tariff_id!r} takes {', '.join(expected)}; "
                    f"it has {', '.join(present) or 'none of them'}",
                )
            for use in tariff.iterfind(_q("UseType")):
                if (use.text or "").strip() not in permitted:
                    yield _error(
                        "TariffUseTypeNotPermitted",
                        use,
                        f"tariff {tariff_id!r} prices {use.text}, which is not a "
                        f"PermittedUseType ({', '.join(sorted(permitted))})",
                    )


def _usage_report(root: Element) -> Iterator[_Finding]:
    summary = root.find(f"{_q('UsageReport')}/{_q('UsageSummary')}")
    records = root.find(f"{_q('UsageReport')}/{_q('UsageRecordList')}")
    if summary is None or records is None:
        return
    declared = int(_text(summary, "NumberOfRecords"))
    present = sum(1 for _ in records.iterfind(_q("UsageRecord")))
    if declared != present:
        count = _child(summary, "NumberOfRecords")
        assert count is not None
        yield _error(
            "RecordCountMismatch",
            count,
            f"NumberOfRecords says {declared}, the report holds {present} records",
        )


def _amount(el: Element | None) -> tuple[Decimal, str]:
    assert el is not None
    return _decimal(el), el.get("Currency", "")


def _invoice(root: Element) -> Iterator[_Finding]:
    invoice = root.find(_q("Invoice"))
    if invoice is None:
        return
    total_el = _child(invoice, "TotalAmount")
    total, currency = _amount(total_el)
    issued, due = _date(invoice, "IssueDate"), _date(invoice, "DueDate")
    if issued and due and due < issued:
        due_el = _child(invoice, "DueDate")
        assert due_el is not None
        yield _error(
            "DueDateBeforeIssueDate", due_el, f"DueDate {due} is before IssueDate {issued}"
        )
    line_sum = Decimal(0)
    for line in invoice.iterfind(_q("InvoiceLine")):
        number = _text(line, "LineNumber")
        amount_el = _child(line, "LineAmount")
        amount, _ = _amount(amount_el)
        line_sum += amount
        price_el = _child(line, "UnitPrice")
        for el in (amount_el, price_el):
            if el is not None and el.get("Currency") != currency:
                yield _error(
                    "MixedCurrencies",
                    el,
                    f"line {number} is in {el.get('Currency')}, the invoice total in {currency}",
                )
        quantity_el = _child(line, "Quantity")
        if quantity_el is not None and price_el is not None:
            price, price_currency = _amount(price_el)
            expected = quantize_minor(_decimal(quantity_el) * price, price_currency)
            if amount != expected:
                assert amount_el is not None
                yield _error(
                    "LineAmountMismatch",
                    amount_el,
                    f"line {number}: LineAmount {amount} is not {quantity_el.text} × {price} "
                    f"= {expected} (half-up to the minor unit of {price_currency})",
                )
    if line_sum != total:
        assert total_el is not None
        yield _error(
            "TotalMismatch",
            total_el,
            f"TotalAmount {total} is not the sum of the line amounts, {line_sum}",
        )


def _payment(root: Element) -> Iterator[_Finding]:
    payment = root.find(_q("Payment"))
    if payment is None:
        return
    paid_el = _child(payment, "PaidAmount")
    paid, currency = _amount(paid_el)
    applied_sum = Decimal(0)
    for settled in payment.iterfind(_q("SettledDocument")):
        applied_el = _child(settled, "AppliedAmount")
        applied, applied_currency = _amount(applied_el)
        applied_sum += applied
        if applied_currency != currency:
            assert applied_el is not None
            yield _error(
                "MixedCurrencies",
                applied_el,
                f"AppliedAmount for {_text(settled, 'DocumentId')} is in {applied_currency}, "
                f"the PaidAmount in {currency}",
            )
    if applied_sum != paid:
        assert paid_el is not None
        yield _error(
            "AppliedAmountsMismatch",
            paid_el,
            f"PaidAmount {paid} {currency} is not the sum of the AppliedAmounts, {applied_sum}",
        )


_STATEMENT_FIGURES = ("GrossAmount", "AdministrationFee", "NetAmount")


def _royalty_statement(root: Element) -> Iterator[_Finding]:
    statement = root.find(_q("RoyaltyStatement"))
    if statement is None:
        return
    sums = dict.fromkeys(_STATEMENT_FIGURES, Decimal(0))
    for index, line in enumerate(statement.iterfind(_q("StatementLine")), start=1):
        figures = {name: _decimal(_child(line, name)) for name in _STATEMENT_FIGURES}
        for name in _STATEMENT_FIGURES:
            sums[name] += figures[name]
        expected = figures["GrossAmount"] - figures["AdministrationFee"]
        if figures["NetAmount"] != expected:
            net_el = _child(line, "NetAmount")
            assert net_el is not None
            yield _error(
                "NetAmountMismatch",
                net_el,
                f"line {index}: NetAmount {figures['NetAmount']} is not GrossAmount "
                f"{figures['GrossAmount']} − AdministrationFee "
                f"{figures['AdministrationFee']} = {expected}",
            )
    total = _child(statement, "StatementTotal")
    if total is None:
        return
    for name in _STATEMENT_FIGURES:
        el = _child(total, name)
        if el is not None and _decimal(el) != sums[name]:
            yield _error(
                "StatementTotalMismatch",
                el,
                f"StatementTotal {name} {el.text} is not the sum of the lines, {sums[name]}",
            )


_HASH_LENGTHS = {"MD5": 32, "SHA-256": 64, "SHA-512": 128}
_BATCH_ID = re.compile(r"^(\d{14})(\d{3})$")


def _manifest(root: Element) -> Iterator[_Finding]:
    batch_el = _child(root, "BatchId")
    if batch_el is not None:
        batch_id = (batch_el.text or "").strip()
        match = _BATCH_ID.match(batch_id)
        try:
            if not match:
                raise ValueError(batch_id)
            datetime.strptime(match.group(1), "%Y%m%d%H%M%S")
        except ValueError:
            yield _error(
                "InvalidBatchId",
                batch_el,
                f"BatchId {batch_id!r} is not a real date and time (YYYYMMDDhhmmssnnn, UTC)",
            )
    entries = root.findall(_q("MessageInBatch"))
    count_el = _child(root, "NumberOfMessages")
    if count_el is not None and int(_decimal(count_el)) != len(entries):
        yield _error(
            "MessageCountMismatch",
            count_el,
            f"NumberOfMessages says {count_el.text}, the manifest lists {len(entries)} messages",
        )
    for entry in entries:
        url_el = _child(entry, "URL")
        if url_el is not None and ".." in (url_el.text or "").split("/"):
            yield _error(
                "InvalidBatchUrl", url_el, f"URL {url_el.text!r} leaves the batch folder (..)"
            )
        elif url_el is not None and any(ord(c) < 32 or ord(c) == 127 for c in (url_el.text or "")):
            yield _error("InvalidBatchUrl", url_el, f"URL {url_el.text!r} holds control characters")
        hash_el = entry.find(f"{_q('HashSum')}/{_q('HashSumValue')}")
        algorithm = entry.findtext(f"{_q('HashSum')}/{_q('HashSumAlgorithmType')}", "")
        if hash_el is not None:
            value = (hash_el.text or "").strip()
            expected_length = _HASH_LENGTHS.get(algorithm.strip())
            if expected_length is not None and len(value) != expected_length:
                yield _error(
                    "HashSumLengthMismatch",
                    hash_el,
                    f"a {algorithm} hash has {expected_length} hex digits, this one {len(value)}",
                )


_COMMON_RULES: tuple[Rule, ...] = (_work_ids, _periods, _territories)
_FAMILY_RULES: dict[str, tuple[Rule, ...]] = {
    "WorkDeclarationMessage": (_work_declaration,),
    "LicenceOfferMessage": (_licence_terms,),
    "LicenceMessage": (_licence_terms,),
    "UsageReportMessage": (_usage_report,),
    "InvoiceMessage": (_invoice,),
    "PaymentNotificationMessage": (_payment,),
    "RoyaltyStatementMessage": (_royalty_statement,),
    "ManifestMessage": (_manifest,),
}


# xs:decimal has no digit limit, but the default decimal context rounds to 28 digits: sums and
# products are computed in a context wide enough to be exact for any document under the size limit.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def business_rule_errors(root: Element, message_type: str) -> Iterator[MessageError]:
    """Every business-rule error of a schema-valid message of ``message_type``, in order."""
    paths = ElementPaths()
    for rule in (*_COMMON_RULES, *_FAMILY_RULES.get(message_type, ())):
        with localcontext(_EXACT):  # not across a yield: the caller keeps its own context
            findings = list(rule(root))
        for error, element, attribute in findings:  # paths only for errors consumed
            path = paths.path(element)
            yield replace(error, path=f"{path}/@{attribute}" if attribute else path)
