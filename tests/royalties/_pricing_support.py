"""Shared helpers of the pricing and invoice tests: terms, tariffs, reports and a fake registry.

Everything is built with the message models, so what the tests price is what a licence and a
usage report really say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, create_engine
from airex.formats.usage import ReportHeader, UsageRow, WorkRef, open_writer
from airex.ledger import GrantRecord, GrantRegister
from airex.messages import serialise
from airex.messages.common import Amount, MessageHeader, Party, Period, Territory
from airex.messages.licence import Licence, LicenceMessage
from airex.messages.terms import LicenceTerms, Repertoire, ReportingObligation, Tariff, Term
from airex.messages.usage import ReportedRevenue
from airex.registry import Decision, LicenceScope, Reason
from parties import CMO, DEV

LICENCE = "HARM-LIC-2026-0042"
TRAIN = "UseForTrainingGenerativeAI"
TRAIN_OTHER = "UseForTrainingNonGenerativeAI"
MINING = "UseForDataMining"
INPUT = "UseAsAIInput"
INDEX = "UseForAISearchIndexing"
ALL_USES = (TRAIN, TRAIN_OTHER, MINING, INPUT, INDEX)
Q1 = (date(2026, 1, 1), date(2026, 3, 31))


def per_unit(
    tariff_id: str,
    amount: str,
    unit: str = "Token",
    per: int = 1_000_000,
    *uses: str,
    currency: str = "EUR",
) -> Tariff:
    """A PerUnit tariff."""
    return Tariff(
        tariff_id=tariff_id,
        tariff_type="PerUnit",
        use_types=list(uses),
        amount=Amount.of(amount, currency),
        unit=unit,
        per_quantity=per,
    )


def per_work(tariff_id: str, amount: str, *uses: str, currency: str = "EUR") -> Tariff:
    """A PerWork tariff."""
    return Tariff(
        tariff_id=tariff_id,
        tariff_type="PerWork",
        use_types=list(uses),
        amount=Amount.of(amount, currency),
    )


def flat(
    tariff_id: str, amount: str, period: str = "Quarterly", *uses: str, currency: str = "EUR"
) -> Tariff:
    """A FlatFee tariff."""
    return Tariff(
        tariff_id=tariff_id,
        tariff_type="FlatFee",
        use_types=list(uses),
        amount=Amount.of(amount, currency),
        billing_period=period,
    )


def guarantee(
    tariff_id: str, amount: str, period: str = "Quarterly", *uses: str, currency: str = "EUR"
) -> Tariff:
    """A MinimumGuarantee tariff."""
    return Tariff(
        tariff_id=tariff_id,
        tariff_type="MinimumGuarantee",
        use_types=list(uses),
        amount=Amount.of(amount, currency),
        billing_period=period,
    )


def revenue(tariff_id: str, percentage: str, *uses: str, currency: str = "EUR") -> Tariff:
    """A RevenueShare tariff."""
    return Tariff(
        tariff_id=tariff_id,
        tariff_type="RevenueShare",
        use_types=list(uses),
        percentage=Decimal(percentage),
        currency=currency,
    )


def terms(
    *tariffs: Tariff,
    permitted: Sequence[str] = ALL_USES,
    start: date = date(2026, 1, 1),
    end: date | None = date(2027, 12, 31),
    territories: Sequence[str] = ("Worldwide",),
) -> LicenceTerms:
    """Licence terms over every represented work with these tariffs."""
    return LicenceTerms(
        repertoire=Repertoire.all_works(),
        permitted_use_types=list(permitted),
        territory=Territory(territory_codes=list(territories)),
        term=Term(start_date=start, end_date=end),
        tariffs=list(tariffs),
        reporting_obligation=ReportingObligation(
            frequency="Quarterly", due_days=30, report_formats=["Xml", "FlatFile"]
        ),
    )


def header(
    report_id: str = "CAD-UR-2026-Q1",
    *,
    period: tuple[date, date] = Q1,
    correction_of: str | None = None,
    revenues: Iterable[tuple[str, str, str]] = (),
    message_id: str | None = None,
    sender: str = DEV,
    licence: str = LICENCE,
    records: int | None = None,
) -> ReportHeader:
    """A usage report's header (``revenues``: ``(value, currency, type)`` triples)."""
    return ReportHeader(
        message_header=MessageHeader(
            message_id=message_id or f"MSG-{report_id}",
            message_sender=Party(party_id=sender),
            message_recipients=[Party(party_id=CMO)],
            message_created_date_time=datetime(2026, 4, 2, 9, 0, tzinfo=UTC),
        ),
        report_id=report_id,
        licence_id=licence,
        reporting_period=Period(start_date=period[0], end_date=period[1]),
        number_of_records=records,
        correction_of_report_id=correction_of,
        reported_revenues=[
            ReportedRevenue(currency=ccy, value=Decimal(value), revenue_type=kind)
            for value, ccy, kind in revenues
        ],
    )


def isrc(n: int) -> str:
    """A valid ISRC, distinct per ``n``."""
    return f"GBAAA26{n:05d}"


def row(
    work: str | Sequence[str],
    use_type: str = TRAIN,
    quantity: str | int = 1000,
    unit: str = "Token",
    share: str | None = None,
    *,
    line: int = 0,
    file: str = "report.xml",
) -> UsageRow:
    """One usage record naming ``work`` (ISRC values, or ``Type::Value`` ids)."""
    ids = [work] if isinstance(work, str) else list(work)
    refs = tuple(WorkRef.from_flat(i) if "::" in i else WorkRef("ISRC", i) for i in ids)
    return UsageRow(
        refs,
        use_type,
        Decimal(quantity),
        unit,
        Decimal(share) if share is not None else None,
        None,
        line,
        file,
    )


def numbered(rows: Iterable[UsageRow], first_line: int = 10) -> list[UsageRow]:
    """``rows`` with their lines numbered from ``first_line``."""
    return [r._replace(line=first_line + i) for i, r in enumerate(rows)]


def work_key(value: str) -> int:
    """The fake registry's stable key of an identifier value."""
    return int(hashlib.sha256(value.encode()).hexdigest()[:12], 16)


@dataclass
class FakeChecker:
    """A registry answer per identifier value: OptedIn (key from the value) unless told."""

    reasons: Mapping[str, Reason] = field(default_factory=dict)
    unknown_keys: frozenset[str] = frozenset()
    calls: int = 0

    def check(self, ref: WorkRef, use_type: str) -> Decision:
        """The decision for ``ref``."""
        self.calls += 1
        reason = self.reasons.get(ref.value, Reason.OPTED_IN)
        unknown = ref.value in self.unknown_keys or reason in (
            Reason.UNKNOWN_WORK,
            Reason.UNKNOWN_WORK_OPT_OUT_REGIME,
        )
        return Decision(None if unknown else work_key(ref.value), reason)


@dataclass
class FakeRegistry:
    """A registry that hands out :class:`FakeChecker` s (and remembers what it was asked)."""

    checker_: FakeChecker = field(default_factory=FakeChecker)
    scopes: list[tuple[LicenceScope, date, date]] = field(default_factory=list)

    def checker(
        self, scope: LicenceScope, start: date, end: date, *, cache: bool = True
    ) -> FakeChecker:
        """The fake checker (it keeps no cache whatever ``cache`` says)."""
        self.scopes.append((scope, start, end))
        return self.checker_


def licence_message(
    licence_terms: LicenceTerms,
    *,
    status: str = "Granted",
    issued: datetime = datetime(2025, 12, 12, 9, 0, tzinfo=UTC),
    licence: str = LICENCE,
    licensor: str = CMO,
    licensee: str = DEV,
) -> LicenceMessage:
    """A LicenceMessage of one state of the licence."""
    return LicenceMessage(
        message_header=MessageHeader.build(licensor, licensee),
        licence=Licence(
            licence_id=licence,
            licensor=Party(party_id=licensor),
            licensee=Party(party_id=licensee),
            licence_status=status,
            issued_date_time=issued,
            licence_terms=licence_terms,
        ),
    )


def record_licence(engine: Engine, message: LicenceMessage) -> None:
    """Record ``message`` in the grant register, with its bytes."""
    raw = serialise(message)
    licence = message.licence
    t = licence.licence_terms
    GrantRegister(engine).record(
        GrantRecord(
            licence_id=licence.licence_id,
            status=str(licence.licence_status),
            licensor=licence.licensor.party_id,
            licensee=licence.licensee.party_id,
            issued_at=licence.issued_date_time,
            term_start=t.term.start_date,
            term_end=t.term.end_date,
            use_types=[str(u) for u in t.permitted_use_types],
            all_works=True,
            territories=list(t.territory.territory_codes),
            excluded_territories=list(t.territory.excluded_territory_codes),
            source_message_id=f"{message.message_header.message_sender.party_id}:"
            f"{message.message_id}",
            source_message=raw,
        )
    )


def write_report(path: Path, report_header: ReportHeader, rows: Sequence[UsageRow]) -> Path:
    """Write a usage report (XML or flat file, by the name) and return its path."""
    with open_writer(path, report_header, number_of_records=len(rows)) as writer:
        writer.write_all(rows)
    return path


# --- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pricing_pg_url(request: pytest.FixtureRequest) -> str:
    """URL of the session's throwaway PostgreSQL database (``pg_database``, tests/conftest.py)."""
    url: str = request.getfixturevalue("pg_database").url
    return url


def migrated(url: str) -> Engine:
    """An engine on ``url`` with every part's schema at head."""
    from airex.db import schema_histories

    engine = create_engine(DatabaseConfig(url=url))
    for history in schema_histories():
        history.upgrade(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database with every schema at head: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'airex.db'}"
    else:
        request.getfixturevalue("pricing_pg_url")
        url = request.getfixturevalue("pg_database").empty()
    made = migrated(url)
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite database with every schema at head."""
    made = migrated(f"sqlite:///{tmp_path / 'airex.db'}")
    try:
        yield made
    finally:
        made.dispose()


def declare(db: Engine, opted_in: Iterable[str], opted_out: Iterable[str] = ()) -> None:
    """Declare ISRC works to the real registry (rightsholder PADPIDA2026LABEL01, 100 %),
    opted in or out of generative training."""
    from airex.registry import DeclaredWork, Preference, Registry, Share

    def work(value: str, preference: str) -> DeclaredWork:
        return DeclaredWork(
            work_ids=[("ISRC", value, None)],
            title=f"Work {value}",
            work_type="SoundRecording",
            shares=[Share("PADPIDA2026LABEL01", Decimal(100))],
            preferences=[Preference(TRAIN, preference)],
        )

    works = [work(v, "OptIn") for v in opted_in] + [work(v, "OptOut") for v in opted_out]
    Registry(db).import_works(
        works,
        declared_by="PADPIDA2026LABEL01",
        source="test-works",
        effective_from=date(2025, 1, 1),
    )


def grant_licence(db: Engine, licence_terms: LicenceTerms) -> None:
    """Record the licence, Granted on these terms, in the grant register."""
    record_licence(db, licence_message(licence_terms))
