"""Invoicing a usage report: licence → pricing → stored version → InvoiceMessage → ledger.

:class:`InvoiceService` is the plain service function behind ``airex royalties invoice`` and
the exchange's task (which takes ids, calls it, commits, enqueues)::

    service = InvoiceService(engine, RoyaltySettings.from_env(), registry)
    result = service.invoice(open_report("q1.tsv.gz"), today=date(2026, 4, 20))
    result.documents[0].message            # the InvoiceMessage bytes
    result.acknowledgement()               # MessageAccepted, held usage as warnings

What it does, in order:

1. **the exact retry** — a report whose sender and MessageId were priced before returns the
   stored result (after checking it names the same ReportId, licence and period), posting
   nothing new;
2. **the licence** — its state on the reporting period's last day in the grant register (the
   first state recorded, when none was issued by then), and its terms from the stored
   LicenceMessage. The sender (or the party it sends on behalf of) must be the licensee; with
   ``cmo_party_id`` set, the licensor must be the CMO. A state other than Granted holds every
   record (``LicenceNotInForce``) and charges nothing;
3. **the correction target** — a report with CorrectionOfReportId R replaces the *current*
   version of R (following earlier corrections), which must exist under the same licence;
4. **pricing** — :func:`~airex.royalties.pricing.price_report`, one streaming pass; held
   records are spooled to a temporary file and stored with the version;
5. **the resend** — a ReportId priced before (same sender): same content hash → the stored
   result; other content without a CorrectionOfReportId → :class:`ReportConflictError`;
6. **storing** (one transaction) the version, its works, usage, lines and held records; for a
   correction, the replaced version is marked superseded; then the documents:

   * an original report: one Invoice ``INV-<ReportId>`` with every priced line, when its
     total is positive (a zero total issues nothing; the result says so);
   * a correction: per tariff, new amount − the replaced version's amount; the increases
     make an Invoice ``INV-<ReportId>``, the decreases a CreditNote ``CN-<ReportId>``
     (amounts non-negative, owed back to the licensee), each only when non-empty. An
     increase's basis rows are the correction's, a decrease's the replaced version's.

   An InvoiceId longer than 64 characters, or already taken, becomes ``INV-`` + 40 hex
   digits of SHA-256(sender:ReportId). IssueDate = ``today``, DueDate = IssueDate +
   ``due_days``; every document is checked with :func:`airex.check` before it is stored;
7. **the ledger** — each document posts one entry under the key ``invoice:<InvoiceId>``:
   an Invoice debits the licensee's receivable and credits the licensor's distributable pool
   of the licence; a CreditNote the reverse. Posting is idempotent, and redone whenever a
   stored result is returned, so a crash between the two commits heals on the retry.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import IO, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import DatabaseConfig, DatabaseConfigError, read_transaction, run_write
from airex.errors import MessageError, MessageStatus
from airex.formats.usage import FlatUsageReader, ReportHeader, UsageReader, UsageRow
from airex.ledger import (
    AccountKey,
    AccountKind,
    GrantPublic,
    GrantRegister,
    Journal,
    NewEntry,
    credit,
    debit,
)
from airex.ledger.money import currency_exponent
from airex.messages.acknowledgement import AcknowledgementMessage
from airex.messages.codes import InvoiceType
from airex.messages.common import Amount, MessageHeader, Party, Period
from airex.messages.invoice import Invoice, InvoiceLine, InvoiceMessage
from airex.messages.licence import LicenceMessage
from airex.messages.terms import LicenceTerms
from airex.registry import LicenceScope, Registry
from airex.royalties import _store
from airex.royalties._parallel import DEFAULT_MIN_BYTES, ParallelPricing, RegistryChecker
from airex.royalties._types import USE_TYPES, HeldRecord, PricedReport
from airex.royalties._warnings import WARNING_LIMIT, acknowledgement, warnings_for
from airex.royalties.errors import (
    NotLicenseeError,
    ReportConflictError,
    ReportRefusedError,
    RoyaltiesError,
    UnknownLicenceError,
    UnknownReportError,
)
from airex.royalties.models import (
    HeldUsage,
    InvoiceLineRow,
    InvoiceRow,
    ReportLineRow,
    ReportRow,
    ReportStatus,
    table,
)
from airex.royalties.pricing import (
    PricingContext,
    RefuseAll,
    UsageCheck,
    price_report,
)
from airex.royalties.schema import require_current
from airex.royalties.settings import RoyaltySettings

__all__ = [
    "CheckerSource",
    "InvoiceResult",
    "InvoiceService",
    "IssuedDocument",
    "PricedLineSummary",
]

_REPORT = table(ReportRow)
_LINE = table(ReportLineRow)
_INVOICE = table(InvoiceRow)
_INVOICE_LINE = table(InvoiceLineRow)
_HELD = table(HeldUsage)
_ID_LIMIT = 64
_REPORT_WARNINGS: dict[str, str] = {"RevenueNotReported": "RevenueNotReported"}
"""Report-level warning codes pricing yields (literal, for the error-code catalogue test)."""


class CheckerSource(Protocol):
    """What the service needs of the registry: a usage checker for a licence and period
    (:meth:`airex.registry.Registry.checker`)."""

    def checker(
        self, scope: LicenceScope, start: date, end: date, *, cache: bool = True
    ) -> UsageCheck:
        """A checker of uses under ``scope`` over ``start..end`` (``cache=False``: the
        caller asks about each (identifier, use type) once, the checker need not remember)."""
        ...


@dataclass(frozen=True, slots=True)
class PricedLineSummary:
    """One line of a report version's full pricing (for display)."""

    line_number: int
    tariff_id: str
    tariff_type: str
    description: str
    amount_minor: int
    quantity: Decimal | None
    unit_price: Decimal | None
    basis_rows: int


@dataclass(frozen=True, slots=True)
class IssuedDocument:
    """An Invoice or CreditNote issued for a report version, as stored and sent."""

    invoice_id: str
    invoice_type: str
    currency: str
    total_minor: int
    issue_date: date
    due_date: date
    message_id: str
    message: bytes
    """The InvoiceMessage (UTF-8 XML)."""
    ledger_key: str
    licence_id: str
    licensor: str
    licensee: str

    @property
    def total(self) -> Decimal:
        """The TotalAmount as a decimal of the currency."""
        return Decimal(self.total_minor).scaleb(-currency_exponent(self.currency))

    def ledger_entry(self, report_id: str) -> NewEntry:
        """The journal entry this document posts (see the module doc)."""
        amount = self.total
        receivable = AccountKey(
            self.licensee, AccountKind.LICENSEE_RECEIVABLE, self.currency, self.licence_id
        )
        pool = AccountKey(
            self.licensor, AccountKind.DISTRIBUTABLE_POOL, self.currency, self.licence_id
        )
        if self.invoice_type == "CreditNote":
            lines = (debit(pool, amount), credit(receivable, amount))
        else:
            lines = (debit(receivable, amount), credit(pool, amount))
        return NewEntry(
            idempotency_key=self.ledger_key,
            effective_on=self.issue_date,
            lines=lines,
            description=(
                f"{self.invoice_type} {self.invoice_id}: usage report {report_id} under "
                f"licence {self.licence_id}"
            ),
        )


@dataclass(slots=True)
class InvoiceResult:
    """What pricing a usage report did (or had done, for a retry: ``created`` False)."""

    report_id: str
    sender: str
    message_id: str
    licence_id: str
    licensor: str
    period_start: date
    period_end: date
    currency: str
    total_minor: int
    """The total of this version's full pricing (for a correction: not the difference)."""
    records: int
    held_records: int
    held_by_reason: dict[str, int]
    lines: list[PricedLineSummary]
    documents: list[IssuedDocument]
    warnings: list[MessageError]
    """The acknowledgement's warnings (at most 1000 held records, then a summary)."""
    notes: list[str]
    created: bool
    correction_of: str | None = None
    replaced_report_id: str | None = None
    """The ReportId of the version this correction replaced."""
    header: ReportHeader | None = field(default=None, repr=False)
    acknowledging_party: str = ""

    @property
    def invoice(self) -> IssuedDocument | None:
        """The Invoice issued (``None`` when nothing was invoiced)."""
        return next((d for d in self.documents if d.invoice_type == "Invoice"), None)

    @property
    def credit_note(self) -> IssuedDocument | None:
        """The CreditNote issued (corrections that lower a tariff's amount)."""
        return next((d for d in self.documents if d.invoice_type == "CreditNote"), None)

    def acknowledgement(self, *, file_name: str | None = None) -> AcknowledgementMessage:
        """The AcknowledgementMessage for the report: MessageAccepted, warnings as errors."""
        if self.header is None:  # pragma: no cover - every result is built with its header
            raise RoyaltiesError("this result has no report header to acknowledge")
        return acknowledgement(
            self.header.message_header,
            self.warnings,
            sender=self.acknowledging_party,
            file_name=file_name,
        )


class _HeldSpool:
    """Held records as they pass: the first :data:`WARNING_LIMIT` in memory, every one in a
    temporary file (``marshal``-ed tuples), so memory stays flat however many are held."""

    def __init__(self) -> None:
        self.first: list[HeldRecord] = []
        self.count = 0
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="airex-held-")  # noqa: SIM115
        self._dump = marshal.dump

    def add(self, record: HeldRecord) -> None:
        """Keep one held record."""
        if len(self.first) < WARNING_LIMIT:
            self.first.append(record)
        self.count += 1
        self._dump(
            (
                record.file,
                record.line,
                "|".join(record.work_ids),
                record.use_type,
                f"{record.quantity:f}",
                record.unit,
                record.reason,
            ),
            self._file,
        )

    def rows(self, report_pk: int) -> Iterator[tuple[Any, ...]]:
        """Every held record as a ``royalties_held`` row (re-readable: starts over each time)."""
        self._file.flush()
        self._file.seek(0)
        load = marshal.load
        for _ in range(self.count):
            yield (report_pk, *load(self._file))

    def close(self) -> None:
        """Drop the temporary file."""
        self._file.close()


def _minor_text(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


class InvoiceService:
    """Prices usage reports into invoices for one CMO (see the module doc).

    ``registry`` is anything with :meth:`~airex.registry.Registry.checker` (the registry;
    tests may pass a fake). The database must be at the head revision of the ledger and of
    the royalties (``airex db upgrade``).
    """

    def __init__(
        self,
        engine: Engine,
        settings: RoyaltySettings,
        registry: CheckerSource,
        *,
        check_schema: bool = True,
        parallel_min_bytes: int | None = DEFAULT_MIN_BYTES,
        parallel_cuts: Sequence[int] | None = None,
    ) -> None:
        if check_schema:
            require_current(engine)
        self.parallel_min_bytes = parallel_min_bytes
        """A plain flat file of at least this many bytes is priced in parts, one process
        each, when the machine has several cores (:mod:`airex.royalties._parallel`);
        ``None``: always in one pass."""
        self.parallel_cuts = parallel_cuts
        """Byte offsets to cut the file at (each moved to the next line start; for tests)."""
        self.last_pricing = ""
        """How the last report was priced: ``"parallel: N parts"``, ``"serial: <why>"``."""
        self.engine = engine
        self.settings = settings
        self.registry = registry
        self.grants = GrantRegister(engine, check_schema=check_schema)
        self.journal = Journal(engine, check_schema=check_schema)

    # --- the service function ------------------------------------------------------------

    def invoice(
        self,
        reader: UsageReader | Iterable[UsageRow],
        *,
        header: ReportHeader | None = None,
        today: date | None = None,
        form: str | None = None,
    ) -> InvoiceResult:
        """Price the usage report ``reader`` (a reader from
        :func:`airex.formats.usage.open_report`, or any rows with ``header`` given, and
        ``form`` ``"xml"`` or ``"flat"`` for the record; by default, the reader's) and issue,
        store and post what it owes (see the module doc). ``today`` is the IssueDate (default:
        today in UTC). Raises :class:`ReportRefusedError` (and subclasses) when the report is
        refused whole, :class:`~airex.royalties.PricingError` when the licence's terms cannot
        be invoiced, :class:`~airex.errors.MessageInvalidError` when the report is invalid."""
        if header is None:
            found = getattr(reader, "header", None)
            if not isinstance(found, ReportHeader):
                raise TypeError("give a usage report reader, or its rows and header=")
            header = found
        issue_date = today or datetime.now(UTC).date()
        message = header.message_header
        sender = message.message_sender.party_id
        if form is None:
            form = "flat" if isinstance(reader, FlatUsageReader) else "xml"

        stored = self._by_message(sender, message.message_id)
        if stored is not None:
            self._same_message(stored, header)
            return self._stored(stored.id, header)

        grant, terms = self._licence(header)
        self._authorise(header, grant)
        replaced = self._replaced(header, sender)
        in_force = str(grant.status) == "Granted"
        context = self._context(header.licence_id, terms, replaced, in_force)
        spool = _HeldSpool()
        try:
            # The checker is made in the call, so that pricing can let it (and the registry's
            # tables it loaded) go as soon as the records are read.
            parallel = self._parallel(header, grant, terms) if in_force else None
            priced = price_report(
                header,
                reader,
                terms,
                self._checker(header, grant, terms) if in_force else RefuseAll(),
                on_held=spool.add,
                context=context,
                parallel=parallel,
            )
            self.last_pricing = parallel.last if parallel is not None else "serial: not asked"
            existing = self._by_report(sender, header.report_id)
            if existing is not None:
                return self._resent(existing, priced, header)
            try:
                report_pk = run_write(
                    self.engine,
                    lambda c: self._persist(
                        c, header, form, grant, terms, priced, spool, replaced, issue_date
                    ),
                )
            except sa.exc.IntegrityError:
                # Another process stored the same report (or message) at the same time.
                existing = self._by_report(sender, header.report_id) or self._by_message(
                    sender, message.message_id
                )
                if existing is None:
                    raise
                return self._resent(existing, priced, header)
        finally:
            spool.close()
        return self._stored(
            report_pk,
            header,
            created=True,
            held_first=spool.first,
            held_by_reason=priced.held_by_reason,
        )

    # --- lookups ---------------------------------------------------------------------------

    def _by_message(self, sender: str, message_id: str) -> Any:
        with read_transaction(self.engine) as connection:
            return connection.execute(
                sa.select(_REPORT).where(
                    _REPORT.c.sender == sender, _REPORT.c.message_id == message_id
                )
            ).first()

    def _by_report(self, sender: str, report_id: str) -> Any:
        with read_transaction(self.engine) as connection:
            return connection.execute(
                sa.select(_REPORT).where(
                    _REPORT.c.sender == sender, _REPORT.c.report_id == report_id
                )
            ).first()

    @staticmethod
    def _same_message(stored: Any, header: ReportHeader) -> None:
        period = header.reporting_period
        if (stored.report_id, stored.licence_id, stored.period_start, stored.period_end) != (
            header.report_id,
            header.licence_id,
            period.start_date,
            period.end_date,
        ):
            raise ReportConflictError(
                f"message {header.message_header.message_id} of {stored.sender} was priced "
                f"before as report {stored.report_id} (licence {stored.licence_id}, "
                f"{stored.period_start} to {stored.period_end}); it now says report "
                f"{header.report_id} (licence {header.licence_id}, {period.start_date} to "
                f"{period.end_date}): a new report needs a new MessageId"
            )

    def _resent(self, existing: Any, priced: PricedReport, header: ReportHeader) -> InvoiceResult:
        if existing.content_hash != priced.content_hash:
            raise ReportConflictError(
                f"report {header.report_id} of {existing.sender} was priced before (message "
                f"{existing.message_id}) with other content; to change a priced report, send "
                "a new report with CorrectionOfReportId "
                f"{existing.report_id}"
            )
        return self._stored(existing.id, header)

    def _licence(self, header: ReportHeader) -> tuple[GrantPublic, LicenceTerms]:
        licence_id = header.licence_id
        period = header.reporting_period
        grant = self.grants.state_on(licence_id, period.end_date)
        if grant is None:
            history = self.grants.history(licence_id)
            if not history:
                raise UnknownLicenceError(
                    f"report {header.report_id} names licence {licence_id}, which has no state "
                    "in the grant register"
                )
            grant = history[0]
        source = self.grants.source_message(grant.id)
        if source is None:
            raise UnknownLicenceError(
                f"licence {licence_id}: the grant register keeps no LicenceMessage for its "
                f"state {grant.status} of {grant.issued_at.isoformat()}, so its tariffs are "
                "unknown"
            )
        from airex.messages import parse

        message = parse(source)
        if not isinstance(message, LicenceMessage):
            raise UnknownLicenceError(
                f"licence {licence_id}: the message recorded for its state {grant.status} is "
                f"a {message.message_type}, not a LicenceMessage"
            )
        return grant, message.licence.licence_terms

    def _checker(self, header: ReportHeader, grant: GrantPublic, terms: LicenceTerms) -> UsageCheck:
        """The registry's checker for the licence's scope over the reporting period."""
        scope = LicenceScope.from_terms(header.licence_id, str(grant.status), terms)
        period = header.reporting_period
        # Pricing asks once per (work, use type) and keeps the answer itself: the checker's
        # own cache would only hold millions of decisions (~150 bytes each) for nothing.
        return self.registry.checker(scope, period.start_date, period.end_date, cache=False)

    def _parallel(
        self, header: ReportHeader, grant: GrantPublic, terms: LicenceTerms
    ) -> ParallelPricing | None:
        """How to price in parts, when asked and possible: child processes build their own
        checker from the registry's database URL (never an inherited engine), so the
        registry must be a :class:`~airex.registry.Registry` on a database file or server."""
        registry = self.registry
        if self.parallel_min_bytes is None or not isinstance(registry, Registry):
            return None
        url = registry.engine.url.render_as_string(hide_password=False)
        try:
            DatabaseConfig(url=url).sqlalchemy_url()
        except DatabaseConfigError:  # an in-memory database: another process cannot see it
            return None
        scope = LicenceScope.from_terms(header.licence_id, str(grant.status), terms)
        period = header.reporting_period
        checker = RegistryChecker(url, registry.settings, scope, period.start_date, period.end_date)
        return ParallelPricing(checker, min_bytes=self.parallel_min_bytes, cuts=self.parallel_cuts)

    def _authorise(self, header: ReportHeader, grant: GrantPublic) -> None:
        message = header.message_header
        sender = message.message_sender.party_id
        behalf = message.sent_on_behalf_of.party_id if message.sent_on_behalf_of else None
        if grant.licensee not in (sender, behalf):
            raise NotLicenseeError(
                f"report {header.report_id} comes from {sender}"
                + (f" on behalf of {behalf}" if behalf else "")
                + f", but licence {grant.licence_id} was granted to {grant.licensee}"
            )
        cmo = self.settings.cmo_party_id
        if cmo is not None and grant.licensor != cmo:
            raise ReportRefusedError(
                f"licence {grant.licence_id} was granted by {grant.licensor}, not by this CMO "
                f"({cmo}): its usage is not invoiced here"
            )

    def _replaced(self, header: ReportHeader, sender: str) -> Any:
        target_id = header.correction_of_report_id
        if target_id is None:
            return None
        if target_id == header.report_id:
            raise ReportRefusedError(
                f"report {header.report_id} names itself as the report it corrects"
            )
        with read_transaction(self.engine) as connection:
            rows = connection.execute(
                sa.select(_REPORT)
                .where(_REPORT.c.report_id == target_id, _REPORT.c.licence_id == header.licence_id)
                .order_by(_REPORT.c.id)
            ).all()
            if not rows:
                raise UnknownReportError(
                    f"report {header.report_id} corrects report {target_id}, which was never "
                    f"priced under licence {header.licence_id}"
                )
            target = next((r for r in rows if r.sender == sender), rows[0])
            return _store.current_version(connection, target.id)

    def _context(
        self, licence_id: str, terms: LicenceTerms, replaced: Any, in_force: bool
    ) -> PricingContext:
        """What the licence's other current versions already charged (one-off fees, the
        lines a one-off guarantee floors, what such a guarantee charged)."""
        one_off_fees = {
            t.tariff_id
            for t in terms.tariffs
            if t.tariff_type == "FlatFee" and t.billing_period == "OneOff"
        }
        guarantees = {
            t.tariff_id: t
            for t in terms.tariffs
            if t.tariff_type == "MinimumGuarantee" and t.billing_period == "OneOff"
        }
        if not one_off_fees and not guarantees:
            return PricingContext(licence_in_force=in_force)
        query = (
            sa.select(_LINE)
            .join(_REPORT, _REPORT.c.id == _LINE.c.report)
            .where(
                _REPORT.c.licence_id == licence_id,
                _REPORT.c.status == ReportStatus.CURRENT,
            )
        )
        if replaced is not None:
            query = query.where(_REPORT.c.id != replaced.id)
        with read_transaction(self.engine) as connection:
            lines = connection.execute(query).all()
        charged = frozenset(
            line.tariff_id
            for line in lines
            if line.tariff_id in one_off_fees and line.amount_minor > 0
        )
        covered: dict[str, int] = {}
        already: dict[str, int] = {}
        for tariff_id, tariff in guarantees.items():
            mask = _mask_of(terms, tariff.use_types)
            covered[tariff_id] = sum(
                line.amount_minor
                for line in lines
                if line.tariff_type != "MinimumGuarantee" and line.use_type_mask & mask
            )
            already[tariff_id] = sum(
                line.amount_minor for line in lines if line.tariff_id == tariff_id
            )
        return PricingContext(
            licence_in_force=in_force,
            one_off_charged=charged,
            prior_covered_minor=covered,
            prior_guarantee_minor=already,
        )

    # --- storing -----------------------------------------------------------------------------

    def _persist(
        self,
        connection: Connection,
        header: ReportHeader,
        form: str,
        grant: GrantPublic,
        terms: LicenceTerms,
        priced: PricedReport,
        spool: _HeldSpool,
        replaced: Any,
        issue_date: date,
    ) -> int:
        message = header.message_header
        period = header.reporting_period
        sender = message.message_sender.party_id
        recipient = message.message_recipients[0].party_id
        notes = {
            "warnings": [{"code": w.code, "text": w.message} for w in priced.warnings],
            "notes": priced.notes,
        }
        report_pk = connection.execute(
            sa.insert(_REPORT)
            .values(
                report_id=header.report_id,
                licence_id=header.licence_id,
                sender=sender,
                recipient=recipient,
                message_id=message.message_id,
                period_start=period.start_date,
                period_end=period.end_date,
                correction_of=header.correction_of_report_id,
                replaces_id=replaced.id if replaced is not None else None,
                superseded_by_id=None,
                status=ReportStatus.CURRENT,
                content_hash=priced.content_hash,
                form=form,
                currency=priced.currency,
                total_minor=priced.total_minor,
                records=priced.records,
                held_records=priced.held_records,
                notes=json.dumps(notes, ensure_ascii=False),
                priced_at=datetime.now(UTC),
            )
            .returning(_REPORT.c.id)
        ).scalar_one()
        _store.insert_report_rows(connection, report_pk, priced)
        if priced.lines:
            connection.execute(
                sa.insert(_LINE), [_store.line_values(report_pk, line) for line in priced.lines]
            )
        _store.bulk_insert(
            connection,
            "royalties_held",
            ("report", "file", "line", "work_ids", "use_type", "quantity", "unit", "reason"),
            spool.rows(report_pk),
        )
        if replaced is not None:
            done = connection.execute(
                sa.update(_REPORT)
                .where(_REPORT.c.id == replaced.id, _REPORT.c.status == ReportStatus.CURRENT)
                .values(status=ReportStatus.SUPERSEDED, superseded_by_id=report_pk)
            )
            if done.rowcount != 1:
                raise ReportConflictError(
                    f"report {replaced.report_id} was corrected by another report while "
                    f"{header.report_id} was being priced; send {header.report_id} again to "
                    "correct the version now in force"
                )
        for document in self._documents(connection, report_pk, header, priced, replaced):
            self._issue(connection, report_pk, document, header, grant, terms, issue_date)
        return int(report_pk)

    def _documents(
        self,
        connection: Connection,
        report_pk: int,
        header: ReportHeader,
        priced: PricedReport,
        replaced: Any,
    ) -> list[_Draft]:
        if replaced is None:
            if priced.total_minor <= 0:
                return []
            lines = [
                _DraftLine(
                    line.tariff_id,
                    line.tariff_type,
                    line.description,
                    line.amount_minor,
                    str(line.basis),
                    line.quantity,
                    line.unit_price,
                    line.line_number,
                )
                for line in priced.lines
            ]
            return [_Draft("Invoice", "INV", report_pk, lines)]
        old = {row.tariff_id: row for row in _store.report_lines(connection, replaced.id)}
        new = {line.tariff_id: line for line in priced.lines}
        increases: list[_DraftLine] = []
        decreases: list[_DraftLine] = []
        currency = priced.currency
        for tariff_id in [*new, *(t for t in old if t not in new)]:
            line = new.get(tariff_id)
            before = old.get(tariff_id)
            was = before.amount_minor if before is not None else 0
            now = line.amount_minor if line is not None else 0
            if now == was:
                continue
            description = (
                f"Correction of report {replaced.report_id}, tariff {tariff_id}: "
                f"{_minor_text(was, currency)} → {_minor_text(now, currency)} {currency}"
            )
            if now > was:
                assert line is not None
                increases.append(
                    _DraftLine(
                        tariff_id,
                        line.tariff_type,
                        description,
                        now - was,
                        str(line.basis),
                        None,
                        None,
                        line.line_number,
                    )
                )
            else:
                assert before is not None
                decreases.append(
                    _DraftLine(
                        tariff_id,
                        before.tariff_type,
                        description,
                        was - now,
                        before.basis,
                        None,
                        None,
                        before.line_number,
                    )
                )
        drafts = []
        if increases:
            drafts.append(_Draft("Invoice", "INV", report_pk, increases))
        if decreases:
            drafts.append(_Draft("CreditNote", "CN", replaced.id, decreases))
        return drafts

    def _issue(
        self,
        connection: Connection,
        report_pk: int,
        draft: _Draft,
        header: ReportHeader,
        grant: GrantPublic,
        terms: LicenceTerms,
        issue_date: date,
    ) -> None:
        message = header.message_header
        sender = message.message_sender.party_id
        invoice_id = self._document_id(connection, draft.prefix, sender, header.report_id)
        currency = _currency_of(terms)
        period = header.reporting_period
        due_date = issue_date + timedelta(days=self.settings.due_days)
        total = sum(line.amount_minor for line in draft.lines)
        invoice_lines = [
            InvoiceLine(
                line_number=number,
                tariff_id=line.tariff_id,
                description=line.description,
                quantity=line.quantity,
                unit_price=(
                    Amount.of(line.unit_price, currency) if line.unit_price is not None else None
                ),
                line_amount=Amount.of(_minor_text(line.amount_minor, currency), currency),
            )
            for number, line in enumerate(draft.lines, start=1)
        ]
        document = InvoiceMessage(
            message_header=MessageHeader.build(
                Party(party_id=grant.licensor),
                Party(party_id=grant.licensee),
                thread_id=message.message_thread_id,
            ),
            invoice=Invoice(
                invoice_id=invoice_id,
                invoice_type=InvoiceType.CREDIT_NOTE if draft.kind == "CreditNote" else None,
                licence_id=header.licence_id,
                usage_report_id=header.report_id,
                invoice_period=Period(start_date=period.start_date, end_date=period.end_date),
                issue_date=issue_date,
                due_date=due_date,
                invoice_lines=invoice_lines,
                total_amount=Amount.of(_minor_text(total, currency), currency),
            ),
        )
        from airex.messages import check, serialise

        xml = serialise(document)
        problems = check(xml).errors
        if problems:
            raise RoyaltiesError(
                f"{draft.kind} {invoice_id} for report {header.report_id} does not validate: "
                + "; ".join(str(p) for p in problems[:5])
            )
        invoice_pk = connection.execute(
            sa.insert(_INVOICE)
            .values(
                invoice_id=invoice_id,
                invoice_type=draft.kind,
                report=report_pk,
                basis_report=draft.basis_pk,
                licence_id=header.licence_id,
                licensor=grant.licensor,
                licensee=grant.licensee,
                currency=currency,
                total_minor=total,
                issue_date=issue_date,
                due_date=due_date,
                period_start=period.start_date,
                period_end=period.end_date,
                territories=json.dumps(list(terms.territory.territory_codes)),
                excluded_territories=json.dumps(list(terms.territory.excluded_territory_codes)),
                message_id=document.message_id,
                message=xml,
                ledger_key=f"invoice:{invoice_id}",
                created_at=datetime.now(UTC),
            )
            .returning(_INVOICE.c.id)
        ).scalar_one()
        connection.execute(
            sa.insert(_INVOICE_LINE),
            [
                {
                    "invoice": invoice_pk,
                    "line_number": number,
                    "tariff_id": line.tariff_id,
                    "tariff_type": line.tariff_type,
                    "description": line.description,
                    "amount_minor": line.amount_minor,
                    "basis": line.basis,
                    "quantity": None if line.quantity is None else f"{line.quantity:f}",
                    "unit_price": None if line.unit_price is None else f"{line.unit_price:f}",
                    "source_line": line.source_line,
                }
                for number, line in enumerate(draft.lines, start=1)
            ],
        )

    @staticmethod
    def _document_id(connection: Connection, prefix: str, sender: str, report_id: str) -> str:
        candidate = f"{prefix}-{report_id}"
        taken = connection.execute(
            sa.select(_INVOICE.c.id).where(_INVOICE.c.invoice_id == candidate)
        ).first()
        if len(candidate) <= _ID_LIMIT and taken is None:
            return candidate
        digest = hashlib.sha256(f"{sender}:{report_id}".encode()).hexdigest()[:40]
        return f"{prefix}-{digest}"

    # --- results -------------------------------------------------------------------------------

    def _stored(
        self,
        report_pk: int,
        header: ReportHeader,
        *,
        created: bool = False,
        held_first: Sequence[HeldRecord] | None = None,
        held_by_reason: dict[str, int] | None = None,
    ) -> InvoiceResult:
        """The result of the stored version ``report_pk``; posts its documents (idempotent)."""
        with read_transaction(self.engine) as connection:
            row = connection.execute(sa.select(_REPORT).where(_REPORT.c.id == report_pk)).one()
            lines = _store.report_lines(connection, report_pk)
            documents = [
                _document(doc)
                for doc in connection.execute(
                    sa.select(_INVOICE)
                    .where(_INVOICE.c.report == report_pk)
                    .order_by(_INVOICE.c.id)
                )
            ]
            replaced_id = None
            if row.replaces_id is not None:
                replaced_id = connection.execute(
                    sa.select(_REPORT.c.report_id).where(_REPORT.c.id == row.replaces_id)
                ).scalar_one()
        if held_first is None:
            held_first = list(
                _store.held_records(
                    self.engine, row.report_id, sender=row.sender, limit=WARNING_LIMIT
                )
            )
        if held_by_reason is None:
            held_by_reason = self._held_by_reason(report_pk)
        for document in documents:
            self.journal.post(document.ledger_entry(row.report_id))
        stored_notes = json.loads(row.notes)
        report_warnings = [
            MessageError(
                _REPORT_WARNINGS.get(w["code"], "RevenueNotReported"),
                w["text"],
                status=MessageStatus.MESSAGE_ACCEPTED,
            )
            for w in stored_notes["warnings"]
        ]
        return InvoiceResult(
            report_id=row.report_id,
            sender=row.sender,
            message_id=row.message_id,
            licence_id=row.licence_id,
            licensor=documents[0].licensor if documents else row.recipient,
            period_start=row.period_start,
            period_end=row.period_end,
            currency=row.currency,
            total_minor=row.total_minor,
            records=row.records,
            held_records=row.held_records,
            held_by_reason=dict(held_by_reason),
            lines=[
                PricedLineSummary(
                    line_number=line.line_number,
                    tariff_id=line.tariff_id,
                    tariff_type=line.tariff_type,
                    description=line.description,
                    amount_minor=line.amount_minor,
                    quantity=None if line.quantity is None else Decimal(line.quantity),
                    unit_price=None if line.unit_price is None else Decimal(line.unit_price),
                    basis_rows=line.row_count,
                )
                for line in lines
            ],
            documents=documents,
            warnings=warnings_for(row.report_id, held_first, row.held_records, report_warnings),
            notes=list(stored_notes["notes"]),
            created=created,
            correction_of=row.correction_of,
            replaced_report_id=replaced_id,
            header=header,
            acknowledging_party=row.recipient,
        )

    def _held_by_reason(self, report_pk: int) -> dict[str, int]:
        with read_transaction(self.engine) as connection:
            return self._held_counts(connection, report_pk)

    @staticmethod
    def _held_counts(connection: Connection, report_pk: int) -> dict[str, int]:
        return {
            reason: int(count)
            for reason, count in connection.execute(
                sa.select(_HELD.c.reason, sa.func.count())
                .where(_HELD.c.report == report_pk)
                .group_by(_HELD.c.reason)
                .order_by(_HELD.c.reason)
            )
        }


@dataclass(frozen=True, slots=True)
class _DraftLine:
    tariff_id: str
    tariff_type: str
    description: str
    amount_minor: int
    basis: str
    quantity: Decimal | None
    unit_price: Decimal | None
    source_line: int | None


@dataclass(frozen=True, slots=True)
class _Draft:
    kind: str
    prefix: str
    basis_pk: int
    """The version whose usage the lines' basis rows come from."""
    lines: list[_DraftLine]

    def __post_init__(self) -> None:
        if not self.lines:  # pragma: no cover - drafts are only made with lines
            raise RoyaltiesError("a document needs at least one line")


def _document(row: Any) -> IssuedDocument:
    return IssuedDocument(
        invoice_id=row.invoice_id,
        invoice_type=row.invoice_type,
        currency=row.currency,
        total_minor=row.total_minor,
        issue_date=row.issue_date,
        due_date=row.due_date,
        message_id=row.message_id,
        message=bytes(row.message),
        ledger_key=row.ledger_key,
        licence_id=row.licence_id,
        licensor=row.licensor,
        licensee=row.licensee,
    )


def _currency_of(terms: LicenceTerms) -> str:
    for tariff in terms.tariffs:
        if tariff.amount is not None:
            return tariff.amount.currency
        if tariff.currency is not None:
            return tariff.currency
    raise RoyaltiesError("the licence's tariffs name no currency")  # pragma: no cover


def _mask_of(terms: LicenceTerms, use_types: Sequence[str]) -> int:
    permitted = {str(u) for u in terms.permitted_use_types}
    chosen = {str(u) for u in use_types} & permitted if use_types else permitted
    return sum(1 << i for i, name in enumerate(USE_TYPES) if name in chosen)
