"""The demo's cast and the messages each party sends, built with the message models.

One CMO, two rightsholders and one AI developer (all fictional):

* the rightsholders declare the works a synthetic usage report will name
  (:func:`airex.formats.usage.generate_works`), in messages of at most
  :data:`WORKS_PER_DECLARATION` works: a third belong to each rightsholder alone, a third are
  co-owned 60/40, every twentieth work is left undeclared (its usage is unknown to the CMO), and
  the second rightsholder opts *out* of generative training for every fiftieth work;
* the CMO offers the developer a licence (per-token, per-retrieval and per-byte tariffs with
  a quarterly minimum guarantee) for three use types; the developer requests it;
* the developer reports a quarter's usage, ``records`` records, and pays the invoice it gets.

Usage the licence does not cover (the two use types it does not permit, opted-out and
undeclared works) is in the report on purpose: the demo shows it held back with warnings,
never priced and never dropped.

One clock, the scenario's (:data:`TIMELINE`): the rightsholders declare in December 2025,
the CMO offers and the developer takes the licence for 2026 in mid-December, the developer
reports the first quarter on 2 April 2026 and pays on 15 May. Every date a message carries
comes from there, and the demo runs the exchange on the same clock (``AIREX_CLOCK_FILE``, set
to each step's instant), so the licence is issued, and every message received, on the
scenario's dates: the licence is in force over the whole reported quarter, and ``airex
registry check`` agrees with what pricing charged.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from airex.formats.usage import ReportHeader, UsageRow, WorkRef, generate_rows, generate_works
from airex.messages.codes import (
    BillingPeriod,
    DocumentType,
    PartyRole,
    Preference,
    ReportFormat,
    ReportingFrequency,
    TariffType,
    Unit,
    UserType,
    UseType,
    WorkIdType,
    WorkType,
)
from airex.messages.common import Amount, MessageHeader, Party, Period, Territory, WorkId
from airex.messages.declaration import (
    AIUsePreference,
    RightsShare,
    Work,
    WorkDeclarationMessage,
    WorkList,
)
from airex.messages.invoice import InvoiceMessage
from airex.messages.offer import LicenceOfferMessage, Offer
from airex.messages.payment import Payment, PaymentNotificationMessage, SettledDocument
from airex.messages.request import LicenceRequest, LicenceRequestMessage
from airex.messages.terms import (
    LicenceTerms,
    Repertoire,
    ReportingObligation,
    Tariff,
    Term,
)

__all__ = ["MIN_WORKS", "TIMELINE", "WORKS_PER_DECLARATION", "Cast", "Scenario"]

WORKS_PER_DECLARATION = 2_000
"""Works per WorkDeclarationMessage (a rightsholder sends its declarations as one batch)."""

CURRENCY = "EUR"
PERIOD = Period(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))
TERM = Term(start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))
TIMELINE = MappingProxyType(
    {
        "declarations": datetime(2025, 12, 1, 9, 0, tzinfo=UTC),
        "offer": datetime(2025, 12, 10, 10, 0, tzinfo=UTC),
        "request": datetime(2025, 12, 15, 10, 0, tzinfo=UTC),
        "usage report": datetime(2026, 4, 2, 9, 30, tzinfo=UTC),
        "payment": datetime(2026, 5, 15, 10, 0, tzinfo=UTC),
    }
)
"""When each party sends what (the scenario's clock; the exchange's runs on it too)."""

MIN_WORKS = 3
"""The catalogue has at least this many works, so that each rightsholder owns one (a report of
a few records still names works of both)."""

PERMITTED = (
    UseType.USE_FOR_TRAINING_GENERATIVE_AI,
    UseType.USE_FOR_DATA_MINING,
    UseType.USE_AS_AI_INPUT,
)


@dataclass(frozen=True)
class Cast:
    """The four parties of the demo."""

    cmo: Party
    rightsholders: tuple[Party, Party]
    developer: Party

    @classmethod
    def default(cls) -> Cast:
        """Aurora Collective Rights, Nordlys Records, Verso Music Publishing and Loom AI Labs."""
        return cls(
            cmo=Party(
                party_id="PADPIDA2026AURORA",
                party_name="Aurora Collective Rights",
                party_role=PartyRole.COLLECTIVE_MANAGEMENT_ORGANISATION,
            ),
            rightsholders=(
                Party(
                    party_id="PADPIDA2026NORDLYS",
                    party_name="Nordlys Records",
                    party_role=PartyRole.RIGHTSHOLDER,
                ),
                Party(
                    party_id="PADPIDA2026VERSO",
                    party_name="Verso Music Publishing",
                    party_role=PartyRole.RIGHTSHOLDER,
                ),
            ),
            developer=Party(
                party_id="PADPIDA2026LOOMAI",
                party_name="Loom AI Labs",
                party_role=PartyRole.AI_DEVELOPER,
            ),
        )

    @property
    def parties(self) -> tuple[Party, ...]:
        """Every party, CMO first."""
        return (self.cmo, *self.rightsholders, self.developer)


def _ref(party: Party) -> Party:
    """The party as a message names it (id and name, role included)."""
    return party.model_copy()


class Scenario:
    """The messages of one demo run: ``records`` usage records, deterministic for ``seed``."""

    def __init__(self, records: int, *, seed: int = 2026, cast: Cast | None = None) -> None:
        if records < 1:
            raise ValueError(f"the demo needs at least one usage record, not {records}")
        self.records = records
        self.seed = seed
        self.cast = cast or Cast.default()
        self._header = self.usage_header("LICENCE-PENDING")
        # the generator's default (a tenth of the records), never fewer than MIN_WORKS
        self.work_count = max(MIN_WORKS, records // 10) if records // 10 < MIN_WORKS else None
        self.works = generate_works(records, seed=seed, works=self.work_count, header=self._header)
        self.offer_id = "AUR-OFF-2026-0001"
        self.request_id = "LOOM-REQ-2026-0001"
        self.report_id = f"LOOM-UR-2026-Q1-{seed}"

    # --- rightsholders ------------------------------------------------------------------

    def owners(self, index: int) -> tuple[tuple[Party, Decimal], ...]:
        """Who owns work ``index`` and in which shares (empty: the work is not declared)."""
        first, second = self.cast.rightsholders
        if index % 20 == 19:
            return ()
        kind = index % 3
        if kind == 0:
            return ((first, Decimal(100)),)
        if kind == 1:
            return ((second, Decimal(100)),)
        return ((first, Decimal(60)), (second, Decimal(40)))

    def _work(self, index: int, ids: Sequence[WorkRef]) -> Work:
        shares = [
            RightsShare(rightsholder_party_id=party.party_id, share_percentage=share)
            for party, share in self.owners(index)
        ]
        preferences = [
            AIUsePreference(use_type=use_type, preference=Preference.OPT_IN)
            for use_type in PERMITTED
        ]
        if index % 50 == 1:  # the second rightsholder's works opting out of generative training
            preferences[0] = AIUsePreference(
                use_type=UseType.USE_FOR_TRAINING_GENERATIVE_AI,
                preference=Preference.OPT_OUT,
                effective_date=date(2025, 12, 1),
            )
        first = ids[0]
        kind = {
            "ISRC": WorkType.SOUND_RECORDING,
            "ISWC": WorkType.MUSICAL_WORK,
        }.get(first.type, WorkType.TEXT)
        return Work(
            work_reference=f"W{index:07d}",
            work_ids=[
                WorkId(type=WorkIdType(ref.type), value=ref.value, namespace=ref.namespace)
                for ref in ids
            ],
            title=f"Demo work {index + 1}",
            work_type=kind,
            rights_shares=shares,
            ai_use_preferences=preferences,
        )

    def declarations(self, rightsholder: Party) -> Iterator[WorkDeclarationMessage]:
        """The declarations ``rightsholder`` sends: every declared work it has a share in.

        A co-owned work is declared by its first owner only (one declaration per work)."""
        chunk: list[Work] = []
        number = 0
        for index, ids in enumerate(self.works):
            owners = self.owners(index)
            if not owners or owners[0][0].party_id != rightsholder.party_id:
                continue
            chunk.append(self._work(index, ids))
            if len(chunk) == WORKS_PER_DECLARATION:
                number += 1
                yield self._declaration(rightsholder, chunk, number)
                chunk = []
        if chunk:
            yield self._declaration(rightsholder, chunk, number + 1)

    def _declaration(
        self, rightsholder: Party, works: list[Work], number: int
    ) -> WorkDeclarationMessage:
        header = MessageHeader.build(_ref(rightsholder), _ref(self.cast.cmo))
        header.message_id = f"{rightsholder.party_id[7:]}-DECL-{self.seed}-{number:04d}"
        header.message_created_date_time = TIMELINE["declarations"]
        return WorkDeclarationMessage(message_header=header, work_list=WorkList(works=works))

    # --- the licence ----------------------------------------------------------------------

    def terms(self) -> LicenceTerms:
        """Three use types worldwide for 2026; tokens, retrievals and bytes; EUR 5 000 a quarter
        at least."""

        def per_unit(tariff_id: str, use: UseType, price: str, unit: Unit, per: int) -> Tariff:
            return Tariff(
                tariff_id=tariff_id,
                tariff_type=TariffType.PER_UNIT,
                use_types=[use],
                amount=Amount.of(price, CURRENCY),
                unit=unit,
                per_quantity=per,
            )

        return LicenceTerms(
            repertoire=Repertoire.all_works(),
            permitted_use_types=list(PERMITTED),
            territory=Territory.worldwide(),
            term=TERM.model_copy(),
            user_type=UserType.COMMERCIAL,
            tariffs=[
                per_unit(
                    "AUR-T-TRAIN", UseType.USE_FOR_TRAINING_GENERATIVE_AI, "2.75", Unit.TOKEN, 10**6
                ),
                per_unit("AUR-T-MINE", UseType.USE_FOR_DATA_MINING, "0.80", Unit.TOKEN, 10**6),
                per_unit("AUR-T-MINE-BYTES", UseType.USE_FOR_DATA_MINING, "0.05", Unit.BYTE, 10**6),
                per_unit("AUR-T-RAG", UseType.USE_AS_AI_INPUT, "0.40", Unit.RETRIEVAL, 1_000),
                Tariff(
                    tariff_id="AUR-T-MG",
                    tariff_type=TariffType.MINIMUM_GUARANTEE,
                    amount=Amount.of("5000.00", CURRENCY),
                    billing_period=BillingPeriod.QUARTERLY,
                ),
            ],
            reporting_obligation=ReportingObligation(
                frequency=ReportingFrequency.QUARTERLY,
                due_days=30,
                report_formats=[ReportFormat.XML, ReportFormat.FLAT_FILE],
            ),
        )

    def offer(self) -> LicenceOfferMessage:
        """The CMO's offer to the developer."""
        cmo, developer = _ref(self.cast.cmo), _ref(self.cast.developer)
        header = MessageHeader.build(cmo, developer)
        header.message_id = f"AUR-MSG-OFFER-{self.seed}"
        header.message_created_date_time = TIMELINE["offer"]
        return LicenceOfferMessage(
            message_header=header,
            offer=Offer(
                offer_id=self.offer_id,
                licensor=cmo,
                licensee=developer,
                licence_terms=self.terms(),
                valid_until=TIMELINE["offer"] + timedelta(days=30),
            ),
        )

    def request(self) -> LicenceRequestMessage:
        """The developer accepts the offer."""
        developer = _ref(self.cast.developer)
        header = MessageHeader.build(developer, _ref(self.cast.cmo))
        header.message_id = f"LOOM-MSG-REQ-{self.seed}"
        header.message_created_date_time = TIMELINE["request"]
        return LicenceRequestMessage(
            message_header=header,
            licence_request=LicenceRequest(
                request_id=self.request_id, offer_id=self.offer_id, licensee=developer
            ),
        )

    # --- usage and payment ------------------------------------------------------------------

    def usage_header(self, licence_id: str) -> ReportHeader:
        """The header of the developer's Q1 2026 report under ``licence_id``."""
        header = MessageHeader.build(_ref(self.cast.developer), _ref(self.cast.cmo))
        header.message_id = f"LOOM-MSG-UR-{self.seed}"
        header.message_created_date_time = TIMELINE["usage report"]
        return ReportHeader(
            message_header=header,
            report_id=f"LOOM-UR-2026-Q1-{self.seed}",
            licence_id=licence_id,
            reporting_period=PERIOD.model_copy(),
            number_of_records=self.records,
        )

    def usage_rows(self, licence_id: str) -> Iterator[UsageRow]:
        """The report's records (the same for every licence id: the works do not depend on it)."""
        return generate_rows(
            self.records,
            seed=self.seed,
            works=self.work_count,
            header=self.usage_header(licence_id),
        )

    def payment(
        self, invoice: InvoiceMessage, *, paid_on: date | None = None
    ) -> PaymentNotificationMessage:
        """The developer pays ``invoice`` in full (on the scenario's payment day)."""
        paid_on = paid_on or TIMELINE["payment"].date()
        total = invoice.invoice.total_amount
        developer = _ref(self.cast.developer)
        header = MessageHeader.build(developer, _ref(self.cast.cmo))
        header.message_id = f"LOOM-MSG-PAY-{invoice.invoice.invoice_id}"[:64]
        header.message_created_date_time = TIMELINE["payment"]
        return PaymentNotificationMessage(
            message_header=header,
            payment=Payment(
                payment_id=f"LOOM-PAY-{invoice.invoice.invoice_id}"[:64],
                payer=developer,
                payee=_ref(self.cast.cmo),
                paid_amount=total.model_copy(),
                payment_date=paid_on,
                settled_documents=[
                    SettledDocument(
                        document_type=DocumentType.INVOICE,
                        document_id=invoice.invoice.invoice_id,
                        applied_amount=total.model_copy(),
                    )
                ],
            ),
        )
