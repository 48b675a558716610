"""Property tests: every valid message of every family validates, round-trips and re-serialises
byte for byte; breaking one business rule is reported as exactly that rule; generated check
digits are right and a wrong one is caught."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import airex
from airex.errors import MessageStatus
from airex.iso import minor_unit
from airex.messages.codes import HashSumAlgorithmType, TariffType, UseType
from airex.messages.common import AirexMessage, Territory, WorkId
from airex.messages.identifiers import check_work_id
from strategies import (
    HASH_LENGTHS,
    MESSAGES,
    countries,
    currencies,
    exact,
    identifiers,
    invoice_messages,
    isbns,
    iswcs,
    licence_offer_messages,
    manifest_messages,
    payment_notification_messages,
    royalty_statement_messages,
    usage_report_messages,
    work_declaration_messages,
    work_ids,
)

settings.register_profile("airex-properties", deadline=None, max_examples=50)
PROPERTIES = settings.get_profile("airex-properties")
RULE_BREAKING = settings(PROPERTIES, max_examples=40)

FAMILIES = sorted(MESSAGES)


def _codes(message: AirexMessage) -> list[str]:
    return [error.code for error in airex.check(message).errors]


def _get(node: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        node = node[step] if isinstance(step, int) else getattr(node, step)
    return node


def _set(node: Any, path: Sequence[str | int], value: Any) -> Any:
    """A copy of ``node`` with the field or list item at ``path`` replaced by ``value``."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(node)
        items[head] = _set(items[head], rest, value)
        return items
    return node.model_copy(update={head: _set(getattr(node, head), rest, value)})


def _index(data: st.DataObject, items: Sequence[Any]) -> int:
    return data.draw(st.integers(0, len(items) - 1), label="index")


# --- 1 and 2: valid, round trip, stable serialisation ------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@PROPERTIES
@given(data=st.data())
def test_generated_message_passes_every_check_and_parses_back_equal(
    family: str, data: st.DataObject
) -> None:
    """A valid message of any family serialises to XML with no error and parses back equal."""
    message = data.draw(MESSAGES[family], label="message")
    xml = airex.serialise(message)
    result = airex.check(xml)
    assert result.errors == [], "\n".join(
        [*(f"{e.code} {e.path} line {e.line}: {e.message}" for e in result.errors), xml.decode()]
    )
    assert result.message_type == family
    assert airex.parse(xml) == message


@pytest.mark.parametrize("family", FAMILIES)
@PROPERTIES
@given(data=st.data())
def test_serialisation_is_deterministic_and_stable_across_a_round_trip(
    family: str, data: st.DataObject
) -> None:
    """Serialising twice, or serialising what was parsed, gives the same bytes."""
    message = data.draw(MESSAGES[family], label="message")
    xml = airex.serialise(message)
    assert airex.serialise(message) == xml
    assert airex.serialise(airex.parse(xml)) == xml


# --- 3: breaking one rule -------------------------------------------------------------------


Breaker = Callable[[st.DataObject, Any], Any]


@dataclass(frozen=True)
class Breakage:
    """A valid-message strategy, how to break one rule in a drawn message, the codes expected."""

    messages: st.SearchStrategy[Any]
    breaker: Breaker
    expected: list[str]


def _invoice_total_plus_a_cent(data: st.DataObject, m: Any) -> Any:
    path = ("invoice", "total_amount", "value")
    with exact():
        return _set(m, path, _get(m, path) + Decimal("0.01"))


def _line_amount_off_by_a_minor_unit(data: st.DataObject, m: Any) -> Any:
    # line 0 has Quantity and UnitPrice; the total follows the line, so only the line is wrong
    currency = m.invoice.total_amount.currency
    step = Decimal(1).scaleb(-minor_unit(currency))
    line = ("invoice", "invoice_lines", 0, "line_amount", "value")
    total = ("invoice", "total_amount", "value")
    with exact():
        m = _set(m, line, _get(m, line) + step)
        return _set(m, total, _get(m, total) + step)


def _line_amount_in_another_currency(data: st.DataObject, m: Any) -> Any:
    lines = m.invoice.invoice_lines
    path = ("invoice", "invoice_lines", _index(data, lines), "line_amount", "currency")
    other = data.draw(currencies.filter(lambda c: c != m.invoice.total_amount.currency))
    return _set(m, path, other)


def _due_date_before_issue_date(data: st.DataObject, m: Any) -> Any:
    issued = m.invoice.issue_date
    if issued == date.min:
        m = _set(m, ("invoice", "issue_date"), issued := issued + timedelta(days=1))
    return _set(m, ("invoice", "due_date"), issued - timedelta(days=1))


def _reporting_period_reversed(data: st.DataObject, m: Any) -> Any:
    period = ("usage_report", "reporting_period")
    end = _get(m, (*period, "end_date"))
    if end == date.max:
        m = _set(m, (*period, "end_date"), end := end - timedelta(days=1))
    return _set(m, (*period, "start_date"), end + timedelta(days=1))


def _rights_share_off_by_a_cent(data: st.DataObject, m: Any) -> Any:
    works = m.work_list.works
    w = _index(data, works)
    s = _index(data, works[w].rights_shares)
    path = ("work_list", "works", w, "rights_shares", s, "share_percentage")
    value = _get(m, path)
    return _set(m, path, value + (Decimal("0.01") if value < 100 else Decimal("-0.01")))


def _duplicate_work_reference(data: st.DataObject, m: Any) -> Any:
    works = m.work_list.works
    return _set(m, ("work_list", "works", 1, "work_reference"), works[0].work_reference)


def _record_count_plus_one(data: st.DataObject, m: Any) -> Any:
    path = ("usage_report", "usage_summary", "number_of_records")
    return _set(m, path, _get(m, path) + 1)


def _net_amount_off(data: st.DataObject, m: Any) -> Any:
    lines = m.royalty_statement.statement_lines
    path = ("royalty_statement", "statement_lines", _index(data, lines), "net_amount")
    with exact():
        return _set(m, path, _get(m, path) + Decimal("0.0001"))


def _statement_total_off(data: st.DataObject, m: Any) -> Any:
    figure = data.draw(st.sampled_from(["gross_amount", "administration_fee", "net_amount"]))
    path = ("royalty_statement", "statement_total", figure)
    with exact():
        return _set(m, path, _get(m, path) + Decimal("0.0001"))


def _settled_document_dropped(data: st.DataObject, m: Any) -> Any:
    documents = m.payment.settled_documents
    paying = [i for i, d in enumerate(documents) if d.applied_amount.value != 0]
    if not paying:  # every document applied 0: make the first one count
        with exact():
            m = _set(m, ("payment", "paid_amount", "value"), Decimal(1))
        m = _set(m, ("payment", "settled_documents", 0, "applied_amount", "value"), Decimal(1))
        paying = [0]
    drop = data.draw(st.sampled_from(paying))
    kept = [d for i, d in enumerate(m.payment.settled_documents) if i != drop]
    return _set(m, ("payment", "settled_documents"), kept)


def _applied_amount_in_another_currency(data: st.DataObject, m: Any) -> Any:
    documents = m.payment.settled_documents
    path = ("payment", "settled_documents", _index(data, documents), "applied_amount", "currency")
    other = data.draw(currencies.filter(lambda c: c != m.payment.paid_amount.currency))
    return _set(m, path, other)


_TERMS = ("offer", "licence_terms")


def _duplicate_tariff_id(data: st.DataObject, m: Any) -> Any:
    first = _get(m, (*_TERMS, "tariffs", 0, "tariff_id"))
    return _set(m, (*_TERMS, "tariffs", 1, "tariff_id"), first)


def _tariff_prices_a_use_type_not_permitted(data: st.DataObject, m: Any) -> Any:
    permitted = _get(m, (*_TERMS, "permitted_use_types"))
    if len(permitted) == len(UseType):  # make room for one that is not permitted
        m = _set(m, (*_TERMS, "permitted_use_types"), permitted[:-1])
        tariffs = _get(m, (*_TERMS, "tariffs"))
        for i, tariff in enumerate(tariffs):
            kept = [u for u in tariff.use_types if u != permitted[-1]]
            m = _set(m, (*_TERMS, "tariffs", i, "use_types"), kept)
        permitted = permitted[:-1]
    outsider = data.draw(st.sampled_from([u for u in UseType if u not in permitted]))
    path = (*_TERMS, "tariffs", 0, "use_types")
    return _set(m, path, [*_get(m, path), outsider])


_OTHER_SHAPE = {
    TariffType.FLAT_FEE: TariffType.PER_WORK,
    TariffType.MINIMUM_GUARANTEE: TariffType.PER_UNIT,
    TariffType.PER_WORK: TariffType.FLAT_FEE,
    TariffType.PER_UNIT: TariffType.REVENUE_SHARE,
    TariffType.REVENUE_SHARE: TariffType.MINIMUM_GUARANTEE,
}


def _tariff_type_without_its_elements(data: st.DataObject, m: Any) -> Any:
    tariffs = _get(m, (*_TERMS, "tariffs"))
    path = (*_TERMS, "tariffs", _index(data, tariffs), "tariff_type")
    return _set(m, path, _OTHER_SHAPE[_get(m, path)])


def _exclusion_without_worldwide(data: st.DataObject, m: Any) -> Any:
    included = data.draw(st.lists(countries, min_size=1, max_size=3, unique=True))
    excluded = data.draw(countries.filter(lambda c: c not in included))
    territory = Territory(territory_codes=included, excluded_territory_codes=[excluded])
    return _set(m, (*_TERMS, "territory"), territory)


def _replace_a_record_work_id(work_id: WorkId) -> Breaker:
    def breaker(data: st.DataObject, m: Any) -> Any:
        records = m.usage_report.usage_record_list.usage_records
        r = _index(data, records)
        path = ("usage_report", "usage_record_list", "usage_records", r, "work_ids", 0)
        return _set(m, path, work_id)

    return breaker


def _iswc_with_wrong_check_digit(data: st.DataObject, m: Any) -> Any:
    value = _flip_check_digit(data, data.draw(iswcs()))
    return _replace_a_record_work_id(WorkId(type="ISWC", value=value))(data, m)


def _proprietary_without_namespace(data: st.DataObject, m: Any) -> Any:
    work_id = WorkId(type="Proprietary", value=data.draw(identifiers))
    return _replace_a_record_work_id(work_id)(data, m)


def _isrc_with_namespace(data: st.DataObject, m: Any) -> Any:
    work_id = WorkId(type="ISRC", namespace=data.draw(identifiers), value="USRC17607839")
    return _replace_a_record_work_id(work_id)(data, m)


def _message_count_plus_one(data: st.DataObject, m: Any) -> Any:
    return _set(m, ("number_of_messages",), m.number_of_messages + 1)


def _batch_id_not_a_real_time(data: st.DataObject, m: Any) -> Any:
    # YYYY MM DD hh mm ss nnn: put an impossible value in one of month, day, hour, minute, second
    start, bad = data.draw(st.sampled_from([(4, "13"), (4, "00"), (6, "32"), (6, "00"),
                                            (8, "24"), (10, "60"), (12, "60")]))  # fmt: skip
    batch_id = m.batch_id[:start] + bad + m.batch_id[start + 2 :]
    return _set(m, ("batch_id",), batch_id)


def _url_leaving_the_batch(data: st.DataObject, m: Any) -> Any:
    entries = m.messages_in_batch
    path = ("messages_in_batch", _index(data, entries), "url")
    segments = _get(m, path).split("/")
    at = data.draw(st.integers(0, len(segments)))
    return _set(m, path, "/".join([*segments[:at], "..", *segments[at:]]))


def _hash_of_another_length(data: st.DataObject, m: Any) -> Any:
    entries = m.messages_in_batch
    path = ("messages_in_batch", _index(data, entries), "hash_sum", "hash_sum_algorithm_type")
    current = _get(m, path)
    other = data.draw(
        st.sampled_from(
            [a for a in HashSumAlgorithmType if HASH_LENGTHS[a] != HASH_LENGTHS[current]]
        )
    )
    return _set(m, path, other)


BREAKAGES: dict[str, Breakage] = {
    "invoice TotalAmount + 0.01": Breakage(
        invoice_messages(), _invoice_total_plus_a_cent, ["TotalMismatch"]
    ),
    "LineAmount off by one minor unit": Breakage(
        invoice_messages(priced_lines=1), _line_amount_off_by_a_minor_unit, ["LineAmountMismatch"]
    ),
    "LineAmount in another currency": Breakage(
        invoice_messages(), _line_amount_in_another_currency, ["MixedCurrencies"]
    ),
    "DueDate before IssueDate": Breakage(
        invoice_messages(), _due_date_before_issue_date, ["DueDateBeforeIssueDate"]
    ),
    "ReportingPeriod ends before it starts": Breakage(
        usage_report_messages(), _reporting_period_reversed, ["PeriodEndBeforeStart"]
    ),
    "RightsShare off by 0.01": Breakage(
        work_declaration_messages(), _rights_share_off_by_a_cent, ["SharesNotHundred"]
    ),
    "WorkReference used twice": Breakage(
        work_declaration_messages(min_works=2),
        _duplicate_work_reference,
        ["DuplicateWorkReference"],
    ),
    "NumberOfRecords + 1": Breakage(
        usage_report_messages(), _record_count_plus_one, ["RecordCountMismatch"]
    ),
    "statement line NetAmount + 0.0001": Breakage(
        royalty_statement_messages(),
        _net_amount_off,
        ["NetAmountMismatch", "StatementTotalMismatch"],
    ),
    "StatementTotal figure + 0.0001": Breakage(
        royalty_statement_messages(), _statement_total_off, ["StatementTotalMismatch"]
    ),
    "SettledDocument dropped": Breakage(
        payment_notification_messages(min_documents=2),
        _settled_document_dropped,
        ["AppliedAmountsMismatch"],
    ),
    "AppliedAmount in another currency": Breakage(
        payment_notification_messages(), _applied_amount_in_another_currency, ["MixedCurrencies"]
    ),
    "TariffId used twice": Breakage(
        licence_offer_messages(min_tariffs=2), _duplicate_tariff_id, ["DuplicateTariffId"]
    ),
    "tariff prices a use type not permitted": Breakage(
        licence_offer_messages(),
        _tariff_prices_a_use_type_not_permitted,
        ["TariffUseTypeNotPermitted"],
    ),
    "TariffType without its elements": Breakage(
        licence_offer_messages(), _tariff_type_without_its_elements, ["TariffElementsMismatch"]
    ),
    "exclusion without Worldwide": Breakage(
        licence_offer_messages(), _exclusion_without_worldwide, ["ExclusionWithoutWorldwide"]
    ),
    "ISWC with a wrong check digit": Breakage(
        usage_report_messages(), _iswc_with_wrong_check_digit, ["InvalidISWC"]
    ),
    "Proprietary WorkId without Namespace": Breakage(
        usage_report_messages(), _proprietary_without_namespace, ["NamespaceMissing"]
    ),
    "ISRC WorkId with a Namespace": Breakage(
        usage_report_messages(), _isrc_with_namespace, ["NamespaceNotAllowed"]
    ),
    "NumberOfMessages + 1": Breakage(
        manifest_messages(), _message_count_plus_one, ["MessageCountMismatch"]
    ),
    "BatchId not a real date and time": Breakage(
        manifest_messages(), _batch_id_not_a_real_time, ["InvalidBatchId"]
    ),
    "URL with a .. segment": Breakage(
        manifest_messages(), _url_leaving_the_batch, ["InvalidBatchUrl"]
    ),
    "HashSum of another algorithm's length": Breakage(
        manifest_messages(), _hash_of_another_length, ["HashSumLengthMismatch"]
    ),
}


@pytest.mark.parametrize("case", list(BREAKAGES))
@RULE_BREAKING
@given(data=st.data())
def test_breaking_one_business_rule_reports_exactly_that_rule(
    case: str, data: st.DataObject
) -> None:
    """A valid message with one rule broken is rejected with that rule's code and no other."""
    breakage = BREAKAGES[case]
    message = data.draw(breakage.messages, label="message")
    assert _codes(message) == []
    broken = breakage.breaker(data, message)
    result = airex.check(broken)
    assert [e.code for e in result.errors] == breakage.expected, airex.serialise(broken).decode()
    assert {e.status for e in result.errors} == {MessageStatus.BUSINESS_RULE_VIOLATION}


# --- 4: identifiers ---------------------------------------------------------------------------


def _flip_check_digit(data: st.DataObject, value: str) -> str:
    """``value`` with its last character (the check digit) changed to another digit."""
    shift = data.draw(st.integers(1, 9), label="shift")
    return value[:-1] + str((int(value[-1]) + shift) % 10)


@PROPERTIES
@given(work_id=work_ids)
def test_generated_work_ids_are_valid_for_their_type(work_id: WorkId) -> None:
    """Every WorkId the strategies generate passes the check of its Type."""
    assert check_work_id(work_id.type, work_id.value) is None


@pytest.mark.parametrize(("type_", "values"), [("ISWC", iswcs()), ("ISBN", isbns())])
@PROPERTIES
@given(data=st.data())
def test_a_flipped_check_digit_is_caught(
    type_: str, values: st.SearchStrategy[str], data: st.DataObject
) -> None:
    """A generated ISWC or ISBN passes its check and fails it once its check digit is changed."""
    value = data.draw(values, label="value")
    assert check_work_id(type_, value) is None
    flipped = _flip_check_digit(data, value)
    reason = check_work_id(type_, flipped)
    assert reason is not None
    assert "check digit" in reason
