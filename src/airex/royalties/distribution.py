"""Distribution: a licensee's payment of an invoice, shared out to rightsholders and posted.

The flow, for a CMO (the licensor) receiving a PaymentNotificationMessage::

    from airex.royalties.distribution import Distributor

    distributor = Distributor(engine)                 # settings: admin fee 15 % by default
    recorded = distributor.record_payment(message)    # cash in, then distributed
    distributor.distribute_pending(PeriodSpec.parse("2026-Q2"))   # catch up, idempotent

1. :meth:`Distributor.record_payment` records each SettledDocument of type Invoice (the
   invoice must be known, issued by the payee to the payer, in the payment's currency, and
   not paid beyond its total), and posts the cash: debit ``CASH`` (CMO), credit
   ``LICENSEE_RECEIVABLE`` (payer, per licence), under the key
   ``payment:<payer>:<PaymentId>:<InvoiceId>``.
2. :meth:`Distributor.distribute_payment` shares the applied amount out with
   :func:`airex.royalties._distribution_core.distribute` (largest remainder at every step,
   the rightsholders' shares from the registry as declared on the invoice period's last day,
   for the licence's territory) and stores the result, then posts it: debit the licence's
   ``DISTRIBUTABLE_POOL`` by the whole applied amount; credit each rightsholder's
   ``RIGHTSHOLDER_PAYABLE`` its net, the CMO's ``ADMIN_FEE_REVENUE`` the fees and its
   ``SUSPENSE`` what could not be attributed. The postings are split into balanced entries of
   at most :attr:`DistributionSettings.parties_per_entry` rightsholders each (part 0 holds
   the fee and suspense), keyed ``distribution:<payer>:<PaymentId>:<InvoiceId>:<part>``.

Nothing is done twice: a payment already recorded is recognised by (payer, PaymentId,
InvoiceId), a distribution by its payment, ledger entries by their keys. A distribution is
stored before it is posted and marked posted after: a run that stops in between is finished
by the next one from what was stored (the same entries, so nothing new if they were posted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex._gc import paused_gc
from airex.db import read_transaction, run_write
from airex.royalties import _distribution_store as store
from airex.royalties._distribution_core import distribute
from airex.royalties._distribution_ledger import post_distribution, summary_of
from airex.royalties._distribution_period import PeriodSpec
from airex.royalties._distribution_result import (
    Distribution,
    DistributionLine,
    Rightsholder,
    Shares,
    SharesLookup,
    SuspenseLine,
    SuspenseReason,
)
from airex.royalties._distribution_save import save_distribution
from airex.royalties._distribution_types import (
    DistributionSettings,
    DistributionSummary,
    InvoiceSource,
    PayableInvoice,
    RecordedPayment,
    SharesSource,
    StoredInvoices,
)
from airex.royalties._payments import (
    cash_entries,
    check_payment_dates,
    record_one,
    settled_invoices,
)
from airex.royalties.errors import (
    DistributionError,
    OverpaymentError,
    PaymentError,
    UnknownSettledDocumentError,
)

__all__ = [
    "Distribution",
    "DistributionError",
    "DistributionLine",
    "DistributionSettings",
    "DistributionSummary",
    "Distributor",
    "InvoiceSource",
    "OverpaymentError",
    "PayableInvoice",
    "PaymentError",
    "PeriodSpec",
    "RecordedPayment",
    "Rightsholder",
    "Shares",
    "SharesLookup",
    "SharesSource",
    "StoredInvoices",
    "SuspenseLine",
    "SuspenseReason",
    "UnknownSettledDocumentError",
    "distribute",
]


class Distributor:
    """Records licensees' payments and distributes them, on one database.

    ``invoices`` (default :class:`StoredInvoices`) and ``shares`` (default the registry's
    :meth:`~airex.registry.Registry.shares`) can be replaced, e.g. in tests.
    """

    def __init__(
        self,
        engine: Engine,
        settings: DistributionSettings | None = None,
        *,
        invoices: InvoiceSource | None = None,
        shares: SharesSource | None = None,
        check_schema: bool = True,
    ) -> None:
        from airex.ledger import Journal

        if check_schema:
            from airex.royalties.schema import require_current

            require_current(engine)
        self.engine = engine
        self.settings = settings if settings is not None else DistributionSettings()
        self.invoices: InvoiceSource = invoices if invoices is not None else StoredInvoices(engine)
        self._shares = shares
        self.journal = Journal(engine, check_schema=check_schema)

    def _shares_source(self) -> SharesSource:
        if self._shares is None:
            from airex.registry import Registry

            self._shares = Registry(self.engine).shares
        return self._shares

    # --- payments ----------------------------------------------------------------------------
    def record_payment(
        self,
        message: Any,
        *,
        distribute: bool = True,
        received_on: date | None = None,
        days_ahead: int = 0,
    ) -> list[RecordedPayment]:
        """Record a :class:`~airex.messages.PaymentNotificationMessage` of licence fees.

        Every SettledDocument must be an invoice issued here by the payee to the payer, in the
        payment's currency, with an AppliedAmount no larger than what is still open on it
        (its total less the payments recorded before); otherwise :class:`PaymentError`
        (:class:`UnknownSettledDocumentError`, :class:`OverpaymentError`) says which, and nothing of
        the message is recorded. A message recorded before is recognised (``created`` is
        ``False``); the same PaymentId and invoice with another amount or date is refused.
        With ``distribute`` each recorded amount is then distributed.

        Dates are checked before anything is written: a PaymentDate before an invoice it
        settles was issued, or (given ``received_on``, the day the payment reached the CMO)
        more than ``days_ahead`` days after it, is :class:`PaymentDateError`. (A payment of
        nothing is recorded and distributes nothing; the exchange's CMO refuses one before it
        gets here: :class:`ZeroPaymentError`.)
        """
        payment, wanted = settled_invoices(message, self.invoices)
        check_payment_dates(payment, wanted, received_on, days_ahead)
        payer = payment.payer.party_id
        payee = payment.payee.party_id
        day = payment.payment_date
        message_id = message.message_header.message_id

        def record(connection: Connection) -> list[tuple[int, bool]]:
            done = []
            for invoice, minor in wanted:
                done.append(
                    record_one(
                        connection,
                        payer,
                        payment.payment_id,
                        payee,
                        invoice,
                        minor,
                        day,
                        message_id,
                    )
                )
            return done

        rows = run_write(self.engine, record)
        self.journal.post_many(cash_entries(payment, wanted))
        results = []
        for (invoice, minor), (row_id, created) in zip(wanted, rows, strict=True):
            summary = self.distribute_payment(row_id) if distribute else None
            results.append(
                RecordedPayment(
                    payer,
                    payment.payment_id,
                    invoice.invoice_id,
                    invoice.currency,
                    minor,
                    day,
                    created,
                    summary,
                )
            )
        return results

    # --- distribution ------------------------------------------------------------------------

    def distribute_pending(self, period: PeriodSpec | None = None) -> list[DistributionSummary]:
        """Distribute every recorded payment (paid in ``period``, or all) not yet distributed,
        and finish any distribution stored but not yet posted. Running it again does nothing."""
        payment = store.PAYMENT
        dist = store.DISTRIBUTION
        query = (
            sa.select(payment.c.id)
            .select_from(payment.outerjoin(dist, dist.c.payment == payment.c.id))
            .where(dist.c.posted_at.is_(None))
            .order_by(payment.c.payment_date, payment.c.id)
        )
        if period is not None:
            query = query.where(payment.c.payment_date.between(period.start, period.end))
        with read_transaction(self.engine) as connection:
            pending = [int(row_id) for (row_id,) in connection.execute(query)]
        return [self.distribute_payment(row_id) for row_id in pending]

    def distribute_payment(self, payment: int) -> DistributionSummary:
        """Distribute the recorded payment ``payment`` (a ``royalties_payment`` row id);
        idempotent: a distributed payment returns its stored summary (``created=False``)."""
        with paused_gc():  # millions of basis rows and lines: see :func:`paused_gc`
            return self._distribute_payment(payment)

    def _distribute_payment(self, payment: int) -> DistributionSummary:
        row = self._payment(payment)
        stored = self._stored(payment)
        if stored is not None and stored["posted_at"] is not None:
            return summary_of(stored, row, created=False)
        created = stored is None
        if stored is None:
            invoice = self.invoices.load(row["document_id"])
            if invoice.invoice_id != row["document_id"]:
                raise DistributionError(
                    f"loading invoice {row['document_id']} gave invoice {invoice.invoice_id}"
                )
            on = invoice.period_end
            territories = invoice.territories
            source = self._shares_source()

            def lookup(keys: Sequence[int]) -> Mapping[int, Shares]:
                return source(keys, on, territories)

            result = distribute(
                invoice, int(row["applied_minor"]), lookup, self.settings.admin_fee_percent
            )
            try:
                self._save(row, result)
            except sa.exc.IntegrityError:
                # Another process stored the same payment's distribution first: use it.
                if self._stored(payment) is None:
                    raise
                created = False
            stored = self._stored(payment)
            assert stored is not None
        self._post(stored, row)
        stored = self._stored(payment)
        assert stored is not None
        return summary_of(stored, row, created=created)

    def _payment(self, payment: int) -> sa.RowMapping:
        with read_transaction(self.engine) as connection:
            row = (
                connection.execute(sa.select(store.PAYMENT).where(store.PAYMENT.c.id == payment))
                .mappings()
                .first()
            )
        if row is None:
            raise DistributionError(f"there is no recorded payment {payment}")
        return row

    def _stored(self, payment: int) -> sa.RowMapping | None:
        with read_transaction(self.engine) as connection:
            return (
                connection.execute(
                    sa.select(store.DISTRIBUTION).where(store.DISTRIBUTION.c.payment == payment)
                )
                .mappings()
                .first()
            )

    def _save(self, payment: sa.RowMapping, result: Distribution) -> int:
        return save_distribution(self.engine, payment, result, self.settings.parties_per_entry)

    def _post(self, stored: sa.RowMapping, payment: sa.RowMapping) -> None:
        """Post the stored distribution's entries (again: they are idempotent), mark it posted."""
        post_distribution(
            self.engine, self.journal, stored, payment, self.settings.parties_per_entry
        )

    # --- reading -----------------------------------------------------------------------------

    def distributions(self, period: PeriodSpec | None = None) -> list[DistributionSummary]:
        """The posted distributions (of payments made in ``period``, or all), by payment date."""
        payment = store.PAYMENT
        dist = store.DISTRIBUTION
        query = (
            sa.select(dist, payment.c.payer, payment.c.payment_id)
            .join(payment, payment.c.id == dist.c.payment)
            .where(dist.c.posted_at.is_not(None))
            .order_by(dist.c.payment_date, dist.c.id)
        )
        if period is not None:
            query = query.where(dist.c.payment_date.between(period.start, period.end))
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query).mappings().all()
        return [summary_of(row, row, created=False) for row in rows]
