"""Hypothesis strategies that build valid airex messages of all ten families.

"Valid" means what ``shared/spec/messages-1.0.md`` says: every generated model serialises to XML
that passes the XSD and every business rule. The strategies stay inside the spec but reach for
its edges: non-ASCII and XML-special free text up to 1024 characters, dates from year 1 to 9999,
date-times in any whole-minute offset from -14:00 to +14:00, decimals with every allowed number of
fraction digits (and far more than 28 significant digits), WorkIds of every type, territories with
exclusions, rights shares split into exact groups of 100, optional elements present and absent.

Imported by ``messages/test_properties.py`` and the ``formats`` tests as a plain module:
``tests/`` is on pytest's ``pythonpath`` (pyproject.toml).
"""

from __future__ import annotations

import io
import string
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Context, Decimal, localcontext
from functools import cache
from typing import Any, TypeVar

import iscc_core
from hypothesis import strategies as st

from airex.iso import country_codes, currency_codes, quantize_minor
from airex.messages.acknowledgement import (
    Acknowledgement,
    AcknowledgementError,
    AcknowledgementMessage,
)
from airex.messages.codes import (
    BillingPeriod,
    ContainsAI,
    DocumentType,
    HashSumAlgorithmType,
    InvoiceType,
    LicenceStatus,
    MessageControlType,
    MessageStatus,
    MessageType,
    PartyRole,
    Preference,
    ProposedAction,
    ReportFormat,
    ReportingFrequency,
    RevenueType,
    TariffType,
    Unit,
    UserType,
    UseType,
    WorkType,
)
from airex.messages.common import (
    AirexMessage,
    Amount,
    MessageHeader,
    Party,
    Period,
    Territory,
    WorkId,
)
from airex.messages.declaration import (
    AIUsePreference,
    Contributor,
    RightsShare,
    Work,
    WorkDeclarationMessage,
    WorkList,
)
from airex.messages.error_codes import CODES
from airex.messages.identifiers import isbn13_check_digit, iswc_check_digit
from airex.messages.invoice import Invoice, InvoiceLine, InvoiceMessage
from airex.messages.licence import Licence, LicenceMessage
from airex.messages.manifest import HashSum, ManifestMessage, MessageInBatch
from airex.messages.offer import LicenceOfferMessage, Offer
from airex.messages.payment import Payment, PaymentNotificationMessage, SettledDocument
from airex.messages.request import LicenceRequest, LicenceRequestMessage
from airex.messages.statement import (
    RoyaltyStatement,
    RoyaltyStatementMessage,
    StatementLine,
    StatementTotal,
)
from airex.messages.terms import (
    LicenceTerms,
    Repertoire,
    ReportingObligation,
    Tariff,
    Term,
    WorkIdList,
    WorkTypeList,
)
from airex.messages.usage import (
    Model,
    Quantity,
    ReportedRevenue,
    UsageRecord,
    UsageRecordList,
    UsageReport,
    UsageReportMessage,
    UsageSummary,
)

__all__ = ["MESSAGES", "exact", "isbns", "iswcs", "work_ids"]

T = TypeVar("T")
Draw = Callable[[st.SearchStrategy[T]], T]


def exact() -> AbstractContextManager[Context]:
    """A decimal context wide enough that sums and products of message figures are exact."""
    return localcontext(Context(prec=10_000))


def optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """The value or None (an absent optional element)."""
    return st.none() | strategy


# --- scalars -----------------------------------------------------------------------------------

#: Every character XML 1.0 can carry (surrogates, most C0 controls and U+FFFE/U+FFFF cannot).
XML_CHARS = st.characters(
    codec="utf-8",
    exclude_categories=("Cs",),
    exclude_characters="".join(map(chr, [*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]))
    + "\ufffe\uffff",
)

_FREE_TEXT_SAMPLES = (
    "Zoë Ångström-Øster",
    "Antonín Dvořák: Symfonie č. 9 „Z Nového světa“",
    "山田 太郎",
    "東京物語 (Tōkyō Monogatari)",
    "Ελληνική μουσική",
    "Пётр Ильич Чайковский",
    "مرحبا بالعالم",
    "한국어 텍스트",
    "AT&T <Research> \"Labs\" 'R&D' & co.",
    "]]> <![CDATA[ not a section ]]> &amp; &#38; &lt;",
    "  leading and trailing blanks  ",
    "tab\there, newline\nthere, CR\rand CRLF\r\n",
    "🎵🎶 𝄞 music",
    " ",
)

#: Free text (Title, Name, Role, Description, PartyName, ...): 1 to 1024 characters.
texts: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(_FREE_TEXT_SAMPLES),
    st.text(XML_CHARS, min_size=1, max_size=40),
    # the full 1024 characters, counted in code points (astral characters included)
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "語", "𝄞", "&", "<"]), st.just(1024)),
)

_ID_CHARS = string.ascii_letters + string.digits + "._:-"

#: MessageId and every *Id / *Reference: 1-64 of [A-Za-z0-9._:-].
identifiers: st.SearchStrategy[str] = st.text(_ID_CHARS, min_size=1, max_size=64)

#: DDEX party ids: PADPIDA + letters and digits, at most 64 characters.
party_ids: st.SearchStrategy[str] = st.text(
    string.ascii_letters + string.digits, min_size=1, max_size=64 - len("PADPIDA")
).map(lambda tail: "PADPIDA" + tail)

#: xs:language values.
languages: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(["en", "de", "fr-CA", "zh-Hans-CN", "pt-BR", "sr-Latn", "ja", "x-klingon"]),
    st.from_regex(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8}){0,2}", fullmatch=True),
)

#: Time zones an xs:dateTime can write: whole minutes from -14:00 to +14:00, UTC (written Z).
offsets: st.SearchStrategy[timezone] = st.one_of(
    st.just(UTC),
    st.sampled_from([timedelta(hours=h, minutes=m) for h, m in [(5, 30), (-3, -30), (14, 0)]]).map(
        timezone
    ),
    st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)

#: Time-zone-aware date-times (years 2 to 9998, so that every offset stays representable).
aware_datetimes: st.SearchStrategy[datetime] = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets
)

dates: st.SearchStrategy[date] = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@st.composite
def ordered_dates(draw: Draw[Any]) -> tuple[date, date]:
    """Two dates, the first on or before the second."""
    first, second = draw(dates), draw(dates)
    return (first, second) if first <= second else (second, first)


periods: st.SearchStrategy[Period] = ordered_dates().map(
    lambda pair: Period(start_date=pair[0], end_date=pair[1])
)


@st.composite
def fixed_decimals(
    draw: Draw[Any], max_fraction_digits: int, min_value: int = 0, max_value: int = 10**9
) -> Decimal:
    """A decimal in [min_value, max_value] with 0..max_fraction_digits fraction digits."""
    digits = draw(st.integers(0, max_fraction_digits))
    scale = 10**digits
    units = draw(st.integers(min_value * scale, max_value * scale))
    return Decimal(f"{units}E-{digits}")


#: Money figures (Amount values, statement figures): >= 0, at most 4 fraction digits; now and
#: then far beyond the 28 significant digits of Python's default decimal context.
money_values: st.SearchStrategy[Decimal] = st.one_of(
    fixed_decimals(4, 0, 10**9),
    fixed_decimals(4, 10**28, 10**32),  # more digits than the default decimal context keeps
    # trailing zeros: fractionDigits limits the value ("1.500000" is 1.5), not the lexical form
    fixed_decimals(4, 0, 10**9).map(lambda d: d.quantize(Decimal("1E-7"))),
)

#: SharePercentage: 0 < x <= 100, at most 2 fraction digits.
share_percentages: st.SearchStrategy[Decimal] = st.integers(1, 10_000).map(
    lambda cents: Decimal(f"{cents}E-2")
)

currencies: st.SearchStrategy[str] = st.sampled_from(sorted(currency_codes()))
countries: st.SearchStrategy[str] = st.sampled_from(sorted(country_codes()))


def amounts(currency: st.SearchStrategy[str] = currencies) -> st.SearchStrategy[Amount]:
    """An Amount: a money value and its ISO 4217 currency."""
    return st.builds(Amount, currency=currency, value=money_values)


# --- WorkIds -----------------------------------------------------------------------------------


@cache
def iscc_pool() -> tuple[str, ...]:
    """Valid ISCCs of many kinds, generated once with iscc-core (never invented)."""
    pool = [
        iscc_core.gen_meta_code_v0(title, description="d", bits=bits)["iscc"]
        for title in ("Die Zauberflöte", "東京物語", "AT&T <R&D>")
        for bits in (64, 128, 256)
    ]
    text = [iscc_core.gen_text_code_v0(t * 20)["iscc"] for t in ("Hello. ", "Übermäßig ", "音楽 ")]
    data = [iscc_core.gen_data_code_v0(io.BytesIO(b * 5000))["iscc"] for b in (b"a", b"bc")]
    instance = [iscc_core.gen_instance_code_v0(io.BytesIO(b * 5000))["iscc"] for b in (b"a", b"bc")]
    pool += text + data + instance
    pool.append(iscc_core.gen_image_code_v0([i % 256 for i in range(1024)])["iscc"])
    pool.append(iscc_core.gen_mixed_code_v0(text[:2])["iscc"])
    pool.append(iscc_core.gen_iscc_code_v0([pool[0], text[0], data[0], instance[0]])["iscc"])
    pool.append(iscc_core.gen_iscc_code_v0([text[1], data[1], instance[1]])["iscc"])
    pool.append(iscc_core.gen_iscc_code_v0([data[0], instance[0]])["iscc"])
    return tuple(pool)


isccs: st.SearchStrategy[str] = st.deferred(lambda: st.sampled_from(iscc_pool()))

isrcs: st.SearchStrategy[str] = st.from_regex(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}", fullmatch=True)


@st.composite
def iswcs(draw: Draw[Any]) -> str:
    """An ISWC with a correct ISO 15707 check digit, each separator present or not."""
    digits = draw(st.text("0123456789", min_size=9, max_size=9))
    sep = [draw(st.booleans()) for _ in range(4)]
    return (
        "T"
        + ("-" if sep[0] else "")
        + digits[:3]
        + ("." if sep[1] else "")
        + digits[3:6]
        + ("." if sep[2] else "")
        + digits[6:]
        + ("-" if sep[3] else "")
        + str(iswc_check_digit(digits))
    )


@st.composite
def isbns(draw: Draw[Any]) -> str:
    """An ISBN-13 (978/979) with a correct check digit, hyphenated anywhere or not at all."""
    digits = draw(st.sampled_from(["978", "979"])) + draw(
        st.text("0123456789", min_size=9, max_size=9)
    )
    digits += str(isbn13_check_digit(digits))
    cuts = sorted(draw(st.sets(st.integers(1, 12), max_size=5)))
    parts = [digits[a:b] for a, b in zip([0, *cuts], [*cuts, 13], strict=True)]
    return "-".join(parts)


#: Characters that are neither white space to Python (the WorkId checks) nor to XSD.
_NON_SPACE = XML_CHARS.filter(lambda c: not c.isspace())

dois: st.SearchStrategy[str] = st.builds(
    lambda registrant, sub, suffix: f"10.{registrant}{sub}/{suffix}",
    st.integers(0, 10**9).map(str),
    st.sampled_from(["", ".1", ".2000"]),
    st.one_of(
        st.sampled_from(["182", "nature.2024.<1&2>", "abc'def\"", "日本語/論文"]),
        st.text(_NON_SPACE, min_size=1, max_size=30),
    ),
)

_HOSTS = st.one_of(
    st.sampled_from(
        ["example.com", "localhost", "127.0.0.1", "[::1]", "bücher.example", "xn--bcher-kva.ch"]
    ),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True),
)
_URL_TEXT = st.text(
    st.sampled_from(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%<>\"é語"), max_size=20
)

urls: st.SearchStrategy[str] = st.builds(
    lambda scheme, host, port, path, query, fragment: (
        f"{scheme}://{host}{port}/{path}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTPS"]),
    _HOSTS,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
    _URL_TEXT,
    st.one_of(st.just(""), _URL_TEXT.map(lambda q: "?" + q)),
    st.one_of(st.just(""), _URL_TEXT.map(lambda f: "#" + f)),
)

# The XSD pattern of WorkIdValue, \S(.*\S)?, admits no line break inside the value (XSD's "."
# excludes CR and LF); the spec only says "no surrounding white space". Reported, not generated.
_PROPRIETARY_CHARS = XML_CHARS.filter(lambda c: c not in "\r\n")

proprietary_values: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(["cat:0001", "Katalog Nr. 7 <Bände 1 & 2>", "作品-42", "x"]),
    st.text(_PROPRIETARY_CHARS, min_size=1, max_size=40).filter(
        lambda v: not v[0].isspace() and not v[-1].isspace()
    ),
)

_WORK_ID_VALUES: dict[str, st.SearchStrategy[str]] = {
    "ISCC": isccs,
    "ISRC": isrcs,
    "ISWC": iswcs(),
    "ISBN": isbns(),
    "DOI": dois,
    "URL": urls,
}

#: A WorkId of any type with a value valid for it (Namespace exactly for Proprietary ids).
work_ids: st.SearchStrategy[WorkId] = st.one_of(
    *(st.builds(WorkId, type=st.just(t), value=v) for t, v in _WORK_ID_VALUES.items()),
    st.builds(
        WorkId,
        type=st.just("Proprietary"),
        namespace=identifiers | party_ids,
        value=proprietary_values,
    ),
)


# --- shared complex types ----------------------------------------------------------------------

parties: st.SearchStrategy[Party] = st.builds(
    Party,
    party_id=party_ids,
    party_name=optional(texts),
    party_role=optional(st.sampled_from(PartyRole)),
)

headers: st.SearchStrategy[MessageHeader] = st.builds(
    MessageHeader,
    message_thread_id=optional(identifiers),
    message_id=identifiers,
    message_sender=parties,
    sent_on_behalf_of=optional(parties),
    message_recipients=st.lists(parties, min_size=1, max_size=3),
    message_created_date_time=aware_datetimes,
    message_control_type=optional(st.sampled_from(MessageControlType)),
)

TerritoryKey = tuple[frozenset[str], frozenset[str]]
_WORLDWIDE = "Worldwide"

#: What a territory means: (included codes, excluded codes); exclusions only beside Worldwide.
territory_keys: st.SearchStrategy[TerritoryKey] = st.one_of(
    st.just((frozenset({_WORLDWIDE}), frozenset[str]())),
    st.tuples(
        st.just(frozenset({_WORLDWIDE})),
        st.frozensets(countries, min_size=1, max_size=3),
    ),
    st.tuples(st.frozensets(countries, min_size=1, max_size=4), st.just(frozenset[str]())),
    # Worldwide beside countries: redundant but valid, and exclusions stay meaningful
    st.tuples(
        st.frozensets(countries, min_size=1, max_size=2).map(lambda c: c | {_WORLDWIDE}),
        st.frozensets(countries, max_size=2),
    ),
)


@st.composite
def territory_for(draw: Draw[Any], key: TerritoryKey) -> Territory:
    """A Territory element with the meaning ``key``, its codes in any order."""
    included, excluded = key
    return Territory(
        territory_codes=draw(st.permutations(sorted(included))),
        excluded_territory_codes=draw(st.permutations(sorted(excluded - included))),
    )


territories: st.SearchStrategy[Territory] = territory_keys.flatmap(territory_for)


# --- WorkDeclarationMessage --------------------------------------------------------------------


@st.composite
def split_hundred(draw: Draw[Any], max_parts: int = 4) -> list[Decimal]:
    """100 split into 1..max_parts positive shares of at most 2 fraction digits."""
    parts = draw(st.integers(1, max_parts))
    cuts = sorted(draw(st.sets(st.integers(1, 9_999), min_size=parts - 1, max_size=parts - 1)))
    cents = [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]
    return [Decimal(f"{c}E-2") for c in cents]


@st.composite
def rights_shares(draw: Draw[Any]) -> list[RightsShare]:
    """Shares in 1..3 territory groups, each group summing to exactly 100, shuffled."""
    keys = draw(st.lists(territory_keys, min_size=1, max_size=3, unique=True))
    shares: list[RightsShare] = []
    for key in keys:
        for value in draw(split_hundred()):
            if key == (frozenset({_WORLDWIDE}), frozenset()) and draw(st.booleans()):
                territory = None  # absent = Worldwide, the same group
            else:
                territory = draw(territory_for(key))
            shares.append(
                RightsShare(
                    rightsholder_party_id=draw(party_ids),
                    share_percentage=value,
                    territory=territory,
                )
            )
    return list(draw(st.permutations(shares)))


ai_use_preferences: st.SearchStrategy[AIUsePreference] = st.builds(
    AIUsePreference,
    use_type=st.sampled_from(UseType),
    preference=st.sampled_from(Preference),
    effective_date=optional(dates),
    territory=optional(territories),
)


def works(reference: st.SearchStrategy[str] = identifiers) -> st.SearchStrategy[Work]:
    """One declared work."""
    return st.builds(
        Work,
        work_reference=reference,
        work_ids=st.lists(work_ids, min_size=1, max_size=3),
        title=texts,
        work_type=st.sampled_from(WorkType),
        contributors=st.lists(
            st.builds(Contributor, name=texts, role=texts), min_size=0, max_size=2
        ),
        contains_ai=optional(st.sampled_from(ContainsAI)),
        rights_shares=rights_shares(),
        ai_use_preferences=st.lists(ai_use_preferences, max_size=3),
    )


def work_declaration_messages(min_works: int = 1) -> st.SearchStrategy[WorkDeclarationMessage]:
    """WorkDeclarationMessages with unique WorkReferences."""
    return st.builds(
        WorkDeclarationMessage,
        language_and_script_code=languages,
        message_header=headers,
        work_list=st.builds(
            WorkList,
            works=st.lists(
                works(),
                min_size=min_works,
                max_size=max(3, min_works),
                unique_by=lambda w: w.work_reference,
            ),
        ),
    )


# --- LicenceTerms, LicenceOfferMessage, LicenceRequestMessage, LicenceMessage ------------------

repertoires: st.SearchStrategy[Repertoire] = st.one_of(
    st.just(Repertoire.all_works()),
    st.builds(
        Repertoire,
        work_id_list=st.builds(WorkIdList, work_ids=st.lists(work_ids, min_size=1, max_size=3)),
    ),
    st.builds(
        Repertoire,
        work_type_list=st.builds(
            WorkTypeList,
            work_types=st.lists(st.sampled_from(WorkType), min_size=1, max_size=3, unique=True),
        ),
    ),
)


@st.composite
def terms(draw: Draw[Any]) -> Term:
    """A Term, open-ended or ending on or after its start."""
    start, end = draw(ordered_dates())
    return Term(start_date=start, end_date=draw(st.sampled_from([None, end])))


@st.composite
def tariffs(draw: Draw[Any], tariff_id: str, permitted: list[UseType]) -> Tariff:
    """A Tariff carrying exactly the elements of its type, pricing only permitted use types."""
    tariff_type = draw(st.sampled_from(TariffType))
    parts: dict[str, Any] = {}
    if tariff_type is TariffType.REVENUE_SHARE:
        parts["percentage"] = draw(fixed_decimals(4, 0, 100))
        parts["currency"] = draw(currencies)
    else:
        parts["amount"] = draw(amounts())
    if tariff_type in (TariffType.FLAT_FEE, TariffType.MINIMUM_GUARANTEE):
        parts["billing_period"] = draw(st.sampled_from(BillingPeriod))
    if tariff_type is TariffType.PER_UNIT:
        parts["unit"] = draw(st.sampled_from(Unit))
        parts["per_quantity"] = draw(st.integers(1, 10**12))
    use_types = draw(st.lists(st.sampled_from(permitted), unique=True, max_size=len(permitted)))
    return Tariff(tariff_id=tariff_id, tariff_type=tariff_type, use_types=use_types, **parts)


@st.composite
def licence_terms(draw: Draw[Any], min_tariffs: int = 1) -> LicenceTerms:
    """LicenceTerms whose tariffs have unique ids and price only permitted use types."""
    permitted = draw(st.lists(st.sampled_from(UseType), min_size=1, max_size=5, unique=True))
    ids = draw(
        st.lists(identifiers, min_size=min_tariffs, max_size=max(3, min_tariffs), unique=True)
    )
    return LicenceTerms(
        repertoire=draw(repertoires),
        permitted_use_types=permitted,
        territory=draw(territories),
        term=draw(terms()),
        user_type=draw(optional(st.sampled_from(UserType))),
        tariffs=[draw(tariffs(tariff_id, permitted)) for tariff_id in ids],
        reporting_obligation=draw(
            st.builds(
                ReportingObligation,
                frequency=st.sampled_from(ReportingFrequency),
                due_days=st.integers(0, 10**6),
                report_formats=st.lists(
                    st.sampled_from(ReportFormat), min_size=1, max_size=2, unique=True
                ),
            )
        ),
        attribution_required=draw(optional(st.booleans())),
    )


def licence_offer_messages(min_tariffs: int = 1) -> st.SearchStrategy[LicenceOfferMessage]:
    """LicenceOfferMessages, open (no Licensee) or addressed."""
    return st.builds(
        LicenceOfferMessage,
        language_and_script_code=languages,
        message_header=headers,
        offer=st.builds(
            Offer,
            offer_id=identifiers,
            licensor=parties,
            licensee=optional(parties),
            licence_terms=licence_terms(min_tariffs),
            valid_until=aware_datetimes,
        ),
    )


licence_request_messages: st.SearchStrategy[LicenceRequestMessage] = st.builds(
    LicenceRequestMessage,
    language_and_script_code=languages,
    message_header=headers,
    licence_request=st.builds(
        LicenceRequest,
        request_id=identifiers,
        offer_id=identifiers,
        licensee=parties,
        requested_start_date=optional(dates),
    ),
)

licence_messages: st.SearchStrategy[LicenceMessage] = st.builds(
    LicenceMessage,
    language_and_script_code=languages,
    message_header=headers,
    licence=st.builds(
        Licence,
        licence_id=identifiers,
        offer_id=optional(identifiers),
        request_id=optional(identifiers),
        licensor=parties,
        licensee=parties,
        licence_status=st.sampled_from(LicenceStatus),
        status_reason=optional(texts),
        issued_date_time=aware_datetimes,
        licence_terms=licence_terms(),
    ),
)


# --- UsageReportMessage ------------------------------------------------------------------------

usage_records: st.SearchStrategy[UsageRecord] = st.builds(
    UsageRecord,
    work_ids=st.lists(work_ids, min_size=1, max_size=2),
    use_type=st.sampled_from(UseType),
    quantity=st.builds(Quantity, unit=st.sampled_from(Unit), value=fixed_decimals(6, 0, 10**15)),
    attribution_share=optional(fixed_decimals(6, 0, 1)),
    model_id=optional(identifiers),
)


@st.composite
def usage_report_messages(draw: Draw[Any]) -> UsageReportMessage:
    """UsageReportMessages whose NumberOfRecords counts their records."""
    records = draw(st.lists(usage_records, min_size=1, max_size=5))
    revenues = draw(
        st.lists(
            st.builds(
                ReportedRevenue,
                currency=currencies,
                value=money_values,
                revenue_type=st.sampled_from(RevenueType),
            ),
            max_size=3,
        )
    )
    report = UsageReport(
        report_id=draw(identifiers),
        licence_id=draw(identifiers),
        reporting_period=draw(periods),
        correction_of_report_id=draw(optional(identifiers)),
        models=draw(
            st.lists(
                st.builds(
                    Model,
                    model_id=identifiers,
                    model_name=optional(texts),
                    model_version=optional(texts),
                ),
                max_size=2,
            )
        ),
        usage_summary=UsageSummary(number_of_records=len(records), reported_revenues=revenues),
        usage_record_list=UsageRecordList(usage_records=records),
    )
    return UsageReportMessage(
        language_and_script_code=draw(languages),
        message_header=draw(headers),
        usage_report=report,
    )


# --- InvoiceMessage ----------------------------------------------------------------------------


@st.composite
def invoice_lines(draw: Draw[Any], number: int, currency: str, priced: bool) -> InvoiceLine:
    """A line in ``currency``; with Quantity and UnitPrice, LineAmount is their rounded product."""
    shape = "both" if priced else draw(st.sampled_from(["both", "quantity", "price", "neither"]))
    quantity = unit_price = None
    if shape == "both":
        # now and then a product whose rounding needs more than 28 digits
        quantity = draw(fixed_decimals(8, 0, 10**9) | fixed_decimals(8, 10**20, 10**24))
        unit_price = Amount(currency=currency, value=draw(fixed_decimals(4, 0, 10**6)))
        with exact():
            line_amount = quantize_minor(quantity * unit_price.value, currency)
    else:
        if shape == "quantity":
            quantity = draw(fixed_decimals(8, -(10**6), 10**9))  # a plain xs:decimal
        if shape == "price":
            unit_price = Amount(currency=currency, value=draw(money_values))
        line_amount = draw(money_values)
    return InvoiceLine(
        line_number=number,
        tariff_id=draw(identifiers),
        description=draw(texts),
        quantity=quantity,
        unit_price=unit_price,
        line_amount=Amount(currency=currency, value=line_amount),
    )


@st.composite
def invoice_messages(draw: Draw[Any], priced_lines: int = 0) -> InvoiceMessage:
    """InvoiceMessages in one currency whose total is the exact sum of their line amounts.

    The first ``priced_lines`` lines carry both Quantity and UnitPrice.
    """
    currency = draw(currencies)
    count = draw(st.integers(max(1, priced_lines), max(4, priced_lines)))
    first_number = draw(st.integers(1, 1000))
    lines = [
        draw(invoice_lines(first_number + i, currency, priced=i < priced_lines))
        for i in range(count)
    ]
    with exact():
        total = sum((line.line_amount.value for line in lines), Decimal(0))
    issued, due = draw(ordered_dates())
    invoice = Invoice(
        invoice_id=draw(identifiers),
        invoice_type=draw(optional(st.sampled_from(InvoiceType))),
        licence_id=draw(identifiers),
        usage_report_id=draw(optional(identifiers)),
        invoice_period=draw(periods),
        issue_date=issued,
        due_date=due,
        invoice_lines=lines,
        total_amount=Amount(currency=currency, value=total),
    )
    return InvoiceMessage(
        language_and_script_code=draw(languages), message_header=draw(headers), invoice=invoice
    )


# --- PaymentNotificationMessage ----------------------------------------------------------------


@st.composite
def payment_notification_messages(
    draw: Draw[Any], min_documents: int = 1
) -> PaymentNotificationMessage:
    """Payments whose applied amounts split the paid amount exactly, in its currency."""
    currency = draw(currencies)
    applied = draw(st.lists(money_values, min_size=min_documents, max_size=max(4, min_documents)))
    with exact():
        paid = sum(applied, Decimal(0))
    documents = [
        SettledDocument(
            document_type=draw(st.sampled_from(DocumentType)),
            document_id=draw(identifiers),
            applied_amount=Amount(currency=currency, value=value),
        )
        for value in applied
    ]
    payment = Payment(
        payment_id=draw(identifiers),
        payer=draw(parties),
        payee=draw(parties),
        paid_amount=Amount(currency=currency, value=paid),
        payment_date=draw(dates),
        settled_documents=documents,
        payment_reference=draw(optional(identifiers)),
    )
    return PaymentNotificationMessage(
        language_and_script_code=draw(languages), message_header=draw(headers), payment=payment
    )


# --- RoyaltyStatementMessage -------------------------------------------------------------------


@st.composite
def statement_lines(draw: Draw[Any]) -> StatementLine:
    """A line whose NetAmount is GrossAmount less AdministrationFee."""
    fee, net = draw(money_values), draw(money_values)
    with exact():
        gross = fee + net
    return StatementLine(
        licence_id=draw(identifiers),
        licensee_party_id=draw(party_ids),
        work_ids=draw(st.lists(work_ids, min_size=1, max_size=2)),
        use_type=draw(st.sampled_from(UseType)),
        tariff_id=draw(identifiers),
        units=draw(optional(money_values)),
        gross_amount=gross,
        share_percentage=draw(share_percentages),
        administration_fee=fee,
        net_amount=net,
    )


@st.composite
def royalty_statement_messages(draw: Draw[Any]) -> RoyaltyStatementMessage:
    """Statements whose totals are the exact sums of their lines."""
    lines = draw(st.lists(statement_lines(), min_size=1, max_size=4))
    with exact():
        total = StatementTotal(
            gross_amount=sum((line.gross_amount for line in lines), Decimal(0)),
            administration_fee=sum((line.administration_fee for line in lines), Decimal(0)),
            net_amount=sum((line.net_amount for line in lines), Decimal(0)),
        )
    statement = RoyaltyStatement(
        statement_id=draw(identifiers),
        payee=draw(parties),
        statement_period=draw(periods),
        currency=draw(currencies),
        statement_lines=lines,
        statement_total=total,
    )
    return RoyaltyStatementMessage(
        language_and_script_code=draw(languages),
        message_header=draw(headers),
        royalty_statement=statement,
    )


# --- AcknowledgementMessage --------------------------------------------------------------------

_TOKEN_WORDS = st.text(_NON_SPACE, min_size=1, max_size=20)

#: ErrorCode: an xs:token of 1..64 characters (catalogued codes and anything else).
error_codes: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(sorted(CODES)),
    st.lists(_TOKEN_WORDS, min_size=1, max_size=3).map(" ".join).filter(lambda t: len(t) <= 64),
)

acknowledgement_messages: st.SearchStrategy[AcknowledgementMessage] = st.builds(
    AcknowledgementMessage,
    language_and_script_code=languages,
    message_header=headers,
    acknowledgements=st.lists(
        st.builds(
            Acknowledgement,
            acknowledged_message_id=optional(identifiers),
            acknowledged_file_name=optional(texts),
            message_status=st.sampled_from(MessageStatus),
            errors=st.lists(
                st.builds(
                    AcknowledgementError,
                    error_code=error_codes,
                    path=optional(texts),
                    line_number=optional(st.integers(1, 10**9)),
                    error_text=texts,
                ),
                max_size=3,
            ),
            proposed_action=optional(st.sampled_from(ProposedAction)),
        ),
        min_size=1,
        max_size=3,
    ),
)


# --- ManifestMessage ---------------------------------------------------------------------------

HASH_LENGTHS = {
    HashSumAlgorithmType.MD5: 32,
    HashSumAlgorithmType.SHA_256: 64,
    HashSumAlgorithmType.SHA_512: 128,
}


def batch_id_of(moment: datetime, millisecond: int) -> str:
    """``YYYYMMDDhhmmssnnn`` of a (UTC) moment."""
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}{millisecond:03d}"
    )


batch_ids: st.SearchStrategy[str] = st.builds(
    batch_id_of,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(0, 999),
)

hash_sums: st.SearchStrategy[HashSum] = st.sampled_from(HashSumAlgorithmType).flatmap(
    lambda algorithm: st.builds(
        HashSum,
        hash_sum_value=st.text(
            "0123456789abcdef", min_size=HASH_LENGTHS[algorithm], max_size=HASH_LENGTHS[algorithm]
        ),
        hash_sum_algorithm_type=st.just(algorithm),
    )
)

_SEGMENT_CHARS = XML_CHARS.filter(lambda c: c not in "/\\" and not (ord(c) < 32 or ord(c) == 127))

#: Paths relative to the batch folder: non-empty /-separated segments, no backslash, no
#: control character, no .. segment, and a first segment with no colon that does not start
#: with white space.
_segments = st.one_of(
    st.sampled_from(["messages", "2026-01", ".", "Bericht Q1 (endgültig).xml", "a&b<c>.xml"]),
    st.text(_SEGMENT_CHARS, min_size=1, max_size=20).filter(lambda s: s != ".."),
)
batch_urls: st.SearchStrategy[str] = st.tuples(
    _segments.filter(lambda s: ":" not in s and s[0] not in " \t"),
    st.lists(_segments, max_size=3),
).map(lambda parts: "/".join([parts[0], *parts[1]]))

manifest_entries: st.SearchStrategy[MessageInBatch] = st.builds(
    MessageInBatch,
    message_type=st.sampled_from(MessageType),
    message_id=identifiers,
    url=batch_urls,
    hash_sum=hash_sums,
    file_size=optional(st.integers(0, 10**12)),
)


@st.composite
def manifest_messages(draw: Draw[Any]) -> ManifestMessage:
    """Manifests whose NumberOfMessages counts their entries."""
    entries = draw(st.lists(manifest_entries, min_size=1, max_size=4))
    return ManifestMessage(
        language_and_script_code=draw(languages),
        message_header=draw(headers),
        batch_id=draw(batch_ids),
        is_test_flag=draw(optional(st.booleans())),
        number_of_messages=len(entries),
        messages_in_batch=entries,
    )


# --- all families ------------------------------------------------------------------------------

MESSAGES: dict[str, st.SearchStrategy[AirexMessage]] = {
    "WorkDeclarationMessage": work_declaration_messages(),
    "LicenceOfferMessage": licence_offer_messages(),
    "LicenceRequestMessage": licence_request_messages,
    "LicenceMessage": licence_messages,
    "UsageReportMessage": usage_report_messages(),
    "InvoiceMessage": invoice_messages(),
    "PaymentNotificationMessage": payment_notification_messages(),
    "RoyaltyStatementMessage": royalty_statement_messages(),
    "AcknowledgementMessage": acknowledgement_messages,
    "ManifestMessage": manifest_messages(),
}
"""Root element name → strategy of valid messages of that family."""
