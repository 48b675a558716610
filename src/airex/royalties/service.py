"""Invoicing a usage report: licence → pricing → stored version → InvoiceMessage → ledger.

:class:`InvoiceService` is the plain service function behind ``airex royalties invoice`` and
the exchange's task (which takes ids, calls it, commits, enqueues)::

    service = InvoiceService(engine, RoyaltySettings.from_env(), registry)
    result = service.invoice(open_report("q1.tsv.gz"), today=date(2026, 4, 20))
    result.documents[0].message            # the InvoiceMessage bytes
    result.acknowledgement()               # MessageAccepted, held usage as warnings

What it does, in order:

1. **the exact retry** — a report whose sender and MessageId were priced before returns the
   stored result, posting nothing new, once every record has been read and it is the same
   report: the same ReportId, licence and period, and the content hash pricing stored (a
   damaged copy is refused by the reader, other content is :class:`ReportConflictError`);
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

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import run_write
from airex.formats.usage import FlatUsageReader, ReportHeader, UsageReader, UsageRow
from airex.ledger import GrantRegister, Journal
from airex.royalties._held_spool import HeldSpool
from airex.royalties._invoice_issue import persist
from airex.royalties._invoice_lookup import (
    CheckerSource,
    authorise,
    licence_of,
    parallel_pricing,
    pricing_context,
    replaced_version,
    report_by_id,
    report_by_message,
    same_message,
    usage_checker,
)
from airex.royalties._invoice_results import (
    InvoiceResult,
    IssuedDocument,
    PricedLineSummary,
    stored_result,
)
from airex.royalties._parallel import DEFAULT_MIN_BYTES
from airex.royalties._types import HeldRecord, PricedReport
from airex.royalties.errors import ReportConflictError
from airex.royalties.pricing import RefuseAll, price_report, report_content_hash
from airex.royalties.schema import require_current
from airex.royalties.settings import RoyaltySettings

__all__ = [
    "CheckerSource",
    "InvoiceResult",
    "InvoiceService",
    "IssuedDocument",
    "PricedLineSummary",
]


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

        stored = report_by_message(self.engine, sender, message.message_id)
        if stored is not None:
            same_message(stored, header)
            self._same_content(stored, header, reader)
            return self._stored(stored.id, header)

        grant, terms = licence_of(self.grants, header)
        authorise(header, grant, self.settings.cmo_party_id)
        replaced = replaced_version(self.engine, header, sender)
        in_force = str(grant.status) == "Granted"
        context = pricing_context(self.engine, header.licence_id, terms, replaced, in_force)
        spool = HeldSpool()
        try:
            # The checker is made in the call, so that pricing can let it (and the registry's
            # tables it loaded) go as soon as the records are read.
            parallel = (
                parallel_pricing(
                    self.registry,
                    header,
                    grant,
                    terms,
                    self.parallel_min_bytes,
                    self.parallel_cuts,
                )
                if in_force
                else None
            )
            priced = price_report(
                header,
                reader,
                terms,
                usage_checker(self.registry, header, grant, terms) if in_force else RefuseAll(),
                on_held=spool.add,
                context=context,
                parallel=parallel,
            )
            self.last_pricing = parallel.last if parallel is not None else "serial: not asked"
            existing = report_by_id(self.engine, sender, header.report_id)
            if existing is not None:
                return self._resent(existing, priced, header)
            try:
                report_pk = run_write(
                    self.engine,
                    lambda c: persist(
                        c,
                        self.settings,
                        header,
                        form,
                        grant,
                        terms,
                        priced,
                        spool,
                        replaced,
                        issue_date,
                    ),
                )
            except sa.exc.IntegrityError:
                # Another process stored the same report (or message) at the same time.
                existing = report_by_id(self.engine, sender, header.report_id) or report_by_message(
                    self.engine, sender, message.message_id
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

    # --- results ----------------------------------------------------------------------------

    def _same_content(self, stored: Any, header: ReportHeader, rows: Iterable[UsageRow]) -> None:
        """A MessageId priced before is answered from the stored result only when every
        record of the report is read (a damaged one raises) and says what the stored one
        said; other content is :class:`ReportConflictError`."""
        if stored.content_hash != report_content_hash(header, rows):
            raise ReportConflictError(
                f"message {header.message_header.message_id} of {stored.sender} was priced "
                f"before as report {stored.report_id} with other content; a new report needs "
                "a new MessageId (to change a priced report, send a new report with "
                f"CorrectionOfReportId {stored.report_id})"
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
        return stored_result(
            self.engine,
            self.journal,
            report_pk,
            header,
            created=created,
            held_first=held_first,
            held_by_reason=held_by_reason,
        )
