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

from array import array
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import repeat
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex._gc import paused_gc
from airex.db import backend_of, read_transaction, run_write
from airex.royalties import _distribution_store as store
from airex.royalties._distribution_core import (
    Distribution,
    DistributionError,
    DistributionLine,
    Rightsholder,
    Shares,
    SharesLookup,
    SuspenseLine,
    SuspenseReason,
    distribute,
)
from airex.royalties._distribution_period import PeriodSpec
from airex.royalties._split import percent_ratio
from airex.royalties._types import Basis, PricedInvoice

if TYPE_CHECKING:
    from airex.ledger import NewEntry
    from airex.royalties.settings import RoyaltySettings

__all__ = [
    "Distribution",
    "DistributionError",
    "DistributionLine",
    "DistributionSettings",
    "DistributionSummary",
    "Distributor",
    "InvoiceSource",
    "InvoiceSummary",
    "OverpaymentError",
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


class PaymentError(DistributionError):
    """A payment cannot be recorded as sent (what and which document are in the message)."""


class UnknownSettledDocumentError(PaymentError):
    """A SettledDocument names an invoice that was never issued here."""


class OverpaymentError(PaymentError):
    """An AppliedAmount is more than what is still open on the invoice."""


@dataclass(frozen=True, slots=True)
class DistributionSettings:
    """How a CMO distributes: its administration fee, and how postings are batched.

    ``admin_fee_percent`` (0–100, a ``Decimal``) is kept from every rightsholder line's gross
    amount, rounded half-up to the minor unit. ``parties_per_entry`` bounds the postings of
    one ledger entry (a distribution to 100 000 rightsholders is ten balanced entries).
    """

    admin_fee_percent: Decimal = Decimal(15)
    parties_per_entry: int = 10_000

    def __post_init__(self) -> None:
        try:
            percent_ratio(self.admin_fee_percent)
        except ValueError as exc:
            raise DistributionError(f"administration fee: {exc}") from None
        if self.parties_per_entry < 1:
            raise DistributionError(
                f"parties_per_entry must be at least 1, not {self.parties_per_entry}"
            )

    @classmethod
    def from_settings(cls, settings: RoyaltySettings) -> DistributionSettings:
        """The distribution settings of the CMO's :class:`~airex.royalties.RoyaltySettings`
        (``AIREX_ADMIN_FEE_PERCENT`` through ``RoyaltySettings.from_env()``)."""
        return cls(admin_fee_percent=settings.admin_fee_percent)


@dataclass(frozen=True, slots=True)
class InvoiceSummary:
    """What recording a payment needs to know of an invoice."""

    invoice_id: str
    invoice_type: str
    licence_id: str
    licensor: str
    licensee: str
    currency: str
    total_minor: int


class InvoiceSource(Protocol):
    """Where issued invoices come from (pricing's store by default: :class:`StoredInvoices`)."""

    def summary(self, invoice_id: str) -> InvoiceSummary | None:
        """The invoice ``invoice_id``, or ``None`` when it was never issued."""

    def load(self, invoice_id: str) -> PricedInvoice:
        """The invoice with its priced report and basis rows."""


SharesSource = Callable[[Sequence[int], date, Sequence[str]], Mapping[int, Shares]]
"""``(work keys, day, territories) → work key → shares``: the shape of
:meth:`airex.registry.Registry.shares`."""


class StoredInvoices:
    """The invoices pricing issued, from its tables (:mod:`airex.royalties.models`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def summary(self, invoice_id: str) -> InvoiceSummary | None:
        """The invoice ``invoice_id`` (pricing's ``invoice_summary``), or ``None``."""
        from airex.royalties._store import UnknownInvoiceError as NotIssued
        from airex.royalties._store import invoice_summary

        try:
            found = invoice_summary(self.engine, invoice_id)
        except NotIssued:
            return None
        return InvoiceSummary(
            found.invoice_id,
            found.invoice_type,
            found.licence_id,
            found.licensor,
            found.licensee,
            found.currency,
            int(found.total_minor),
        )

    def load(self, invoice_id: str) -> PricedInvoice:
        """The invoice with its basis rows (pricing's ``load_priced_invoice``)."""
        from airex.royalties._store import load_priced_invoice

        return load_priced_invoice(self.engine, invoice_id)


@dataclass(frozen=True, slots=True)
class DistributionSummary:
    """A stored distribution: whose payment, of which invoice, and where the money went."""

    distribution_id: int
    payer: str
    payment_id: str
    invoice_id: str
    licence_id: str
    licensor: str
    currency: str
    payment_date: date
    paid_minor: int
    gross_minor: int
    fee_minor: int
    net_minor: int
    suspense_minor: int
    parties: int
    lines: int
    created: bool
    """Whether this call stored it (``False``: it was distributed before)."""


@dataclass(frozen=True, slots=True)
class RecordedPayment:
    """One SettledDocument of a payment, as recorded (and distributed, when asked)."""

    payer: str
    payment_id: str
    invoice_id: str
    currency: str
    applied_minor: int
    payment_date: date
    created: bool
    """Whether this call recorded it (``False``: it was recorded before)."""
    distribution: DistributionSummary | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _payment_key(payer: str, payment_id: str, invoice_id: str) -> str:
    return f"payment:{payer}:{payment_id}:{invoice_id}"


def _distribution_key(payer: str, payment_id: str, invoice_id: str) -> str:
    return f"distribution:{payer}:{payment_id}:{invoice_id}"


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

    def record_payment(self, message: Any, *, distribute: bool = True) -> list[RecordedPayment]:
        """Record a :class:`~airex.messages.PaymentNotificationMessage` of licence fees.

        Every SettledDocument must be an invoice issued here by the payee to the payer, in the
        payment's currency, with an AppliedAmount no larger than what is still open on it
        (its total less the payments recorded before); otherwise :class:`PaymentError`
        (:class:`UnknownSettledDocumentError`, :class:`OverpaymentError`) says which, and nothing of
        the message is recorded. A message recorded before is recognised (``created`` is
        ``False``); the same PaymentId and invoice with another amount or date is refused.
        With ``distribute`` each recorded amount is then distributed.
        """
        from airex.ledger import AccountKey, AccountKind, Money, NewEntry, PostingLine
        from airex.ledger.errors import InvalidAmountError
        from airex.messages import PaymentNotificationMessage, check

        if not isinstance(message, PaymentNotificationMessage):
            raise TypeError(
                f"record_payment takes a PaymentNotificationMessage, not {type(message).__name__}"
            )
        payment = message.payment
        where = f"payment {payment.payment_id} of {payment.payer.party_id}"
        errors = check(message).errors
        if errors:
            detail = "; ".join(f"{e.code}: {e.message}" for e in errors[:5])
            raise PaymentError(f"{where}: the message is not valid ({detail})")
        payer = payment.payer.party_id
        payee = payment.payee.party_id
        wanted: list[tuple[InvoiceSummary, int]] = []
        seen: set[str] = set()
        for document in payment.settled_documents:
            doc = f"{where}, SettledDocument {document.document_id}"
            if document.document_id in seen:
                raise PaymentError(f"{doc}: settled twice in one payment; apply it once")
            seen.add(document.document_id)
            if document.document_type != "Invoice":
                raise PaymentError(
                    f"{doc}: settles a {document.document_type}; only invoices are paid in "
                    "licence fees (a royalty payout is recorded by the CMO when it pays)"
                )
            invoice = self.invoices.summary(document.document_id)
            if invoice is None:
                raise UnknownSettledDocumentError(
                    f"{doc}: no invoice {document.document_id} was issued"
                )
            if invoice.invoice_type != "Invoice":
                raise PaymentError(f"{doc}: {document.document_id} is a {invoice.invoice_type}")
            if invoice.licensee != payer or invoice.licensor != payee:
                raise PaymentError(
                    f"{doc}: invoice {invoice.invoice_id} was issued by {invoice.licensor} to "
                    f"{invoice.licensee}, but the payment is from {payer} to {payee}"
                )
            currency = document.applied_amount.currency
            if currency != invoice.currency:
                raise PaymentError(
                    f"{doc}: applied in {currency}, but invoice {invoice.invoice_id} is in "
                    f"{invoice.currency}"
                )
            try:
                minor = Money.of(document.applied_amount.value, currency).minor
            except InvalidAmountError as exc:
                raise PaymentError(f"{doc}: {exc}") from None
            wanted.append((invoice, minor))

        day = payment.payment_date
        message_id = message.message_header.message_id

        def record(connection: Connection) -> list[tuple[int, bool]]:
            done = []
            for invoice, minor in wanted:
                done.append(
                    self._record_one(
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
        entries = []
        for invoice, minor in wanted:
            if not minor:
                continue
            cash = AccountKey(payee, AccountKind.CASH, invoice.currency)
            receivable = AccountKey(
                payer, AccountKind.LICENSEE_RECEIVABLE, invoice.currency, invoice.licence_id
            )
            entries.append(
                NewEntry(
                    idempotency_key=_payment_key(payer, payment.payment_id, invoice.invoice_id),
                    effective_on=day,
                    lines=(
                        PostingLine(cash, Money(minor, invoice.currency)),
                        PostingLine(receivable, Money(-minor, invoice.currency)),
                    ),
                    description=(
                        f"Payment {payment.payment_id} from {payer} of invoice {invoice.invoice_id}"
                    ),
                )
            )
        self.journal.post_many(entries)
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

    def _record_one(
        self,
        connection: Connection,
        payer: str,
        payment_id: str,
        payee: str,
        invoice: InvoiceSummary,
        minor: int,
        day: date,
        message_id: str,
    ) -> tuple[int, bool]:
        table = store.PAYMENT
        if backend_of(connection.engine) == "postgresql":
            # One payment of an invoice at a time: the open amount is read and written under it.
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"royalties-invoice:{invoice.invoice_id}"},
            )
        existing = connection.execute(
            sa.select(table.c.id, table.c.applied_minor, table.c.payment_date).where(
                table.c.payer == payer,
                table.c.payment_id == payment_id,
                table.c.document_id == invoice.invoice_id,
            )
        ).first()
        where = f"payment {payment_id} of {payer}, invoice {invoice.invoice_id}"
        if existing is not None:
            if int(existing.applied_minor) != minor or existing.payment_date != day:
                raise PaymentError(
                    f"{where}: recorded before with {existing.applied_minor} minor units on "
                    f"{existing.payment_date}; now {minor} on {day}. A payment is never changed"
                )
            return int(existing.id), False
        paid_before = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(table.c.applied_minor), 0)).where(
                table.c.document_id == invoice.invoice_id
            )
        ).scalar_one()
        open_minor = invoice.total_minor - int(paid_before)
        if minor > open_minor:
            raise OverpaymentError(
                f"{where}: applies {minor} minor units of {invoice.currency}, but only "
                f"{open_minor} of the invoice's {invoice.total_minor} are still open"
            )
        result = connection.execute(
            table.insert().values(
                payer=payer,
                payment_id=payment_id,
                document_id=invoice.invoice_id,
                payee=payee,
                currency=invoice.currency,
                applied_minor=minor,
                payment_date=day,
                message_id=message_id,
                ledger_key=_payment_key(payer, payment_id, invoice.invoice_id),
                recorded_at=_now(),
            )
        )
        (row_id,) = result.inserted_primary_key or (None,)
        assert row_id is not None
        return int(row_id), True

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
            return _summary(stored, row, created=False)
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
        return _summary(stored, row, created=created)

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
        invoice = result.invoice
        priced = invoice.report.lines
        holders = list(result.totals())
        key = _distribution_key(payment["payer"], payment["payment_id"], payment["document_id"])
        columns = _line_columns(result)
        works = invoice.report.works
        columns["work_keys"] = store.encode_column([-1 if k is None else k for k in works.keys])
        columns["work_ids"] = store.encode_texts(works.ids)
        lines_meta = store.invoice_lines_json(
            [
                {
                    "line_number": line.line_number,
                    "tariff_id": line.tariff_id,
                    "tariff_type": line.tariff_type,
                    "basis": str(line.basis),
                    "amount_minor": line.amount_minor,
                    "money_minor": money,
                }
                for line, money in zip(priced, result.line_money, strict=True)
            ]
        )
        suspense_rows = [
            (
                seq,
                item.line_number,
                item.tariff_id,
                item.use_type,
                None if item.work_position is None else works.keys[item.work_position],
                None if item.work_position is None else "|".join(works.ids[item.work_position]),
                item.amount_minor,
                item.reason,
            )
            for seq, item in enumerate(result.suspense)
        ]
        entries = _entry_count(
            [gross - fee for _, _, gross, fee, _ in holders],
            result.fee_minor,
            result.suspense_minor,
            self.settings.parties_per_entry,
        )

        def save(connection: Connection) -> int:
            earlier = connection.execute(
                sa.select(sa.func.count())
                .select_from(store.DISTRIBUTION)
                .where(store.DISTRIBUTION.c.invoice_id == invoice.invoice_id)
            ).scalar_one()
            inserted = connection.execute(
                store.DISTRIBUTION.insert().values(
                    payment=payment["id"],
                    invoice_id=invoice.invoice_id,
                    licence_id=invoice.licence_id,
                    licensor=invoice.licensor,
                    licensee=invoice.licensee,
                    currency=result.currency,
                    payment_date=payment["payment_date"],
                    shares_on=invoice.period_end,
                    paid_minor=result.paid_minor,
                    gross_minor=result.gross_minor,
                    fee_minor=result.fee_minor,
                    net_minor=result.net_minor,
                    suspense_minor=result.suspense_minor,
                    admin_fee_percent=str(result.admin_fee_percent),
                    parties=len(holders),
                    lines=result.line_count,
                    units_shown=not earlier,
                    invoice_lines=lines_meta,
                    ledger_key=key,
                    entries=entries,
                    created_at=_now(),
                    posted_at=None,
                )
            )
            (distribution_id,) = inserted.inserted_primary_key or (None,)
            assert distribution_id is not None
            store.insert_rows(
                connection,
                store.PARTY,
                (
                    "distribution",
                    "party",
                    "position",
                    "gross_minor",
                    "fee_minor",
                    "net_minor",
                    "lines",
                ),
                [
                    (distribution_id, party, index, gross, fee, gross - fee, count)
                    for index, party, gross, fee, count in holders
                ],
            )
            store.insert_rows(
                connection,
                store.SUSPENSE,
                (
                    "distribution",
                    "seq",
                    "line_number",
                    "tariff_id",
                    "use_type",
                    "work_key",
                    "work_ids",
                    "amount_minor",
                    "reason",
                ),
                [(distribution_id, *item) for item in suspense_rows],
            )
            store.save_blocks(connection, int(distribution_id), columns)
            return int(distribution_id)

        return run_write(self.engine, save)

    def _post(self, stored: sa.RowMapping, payment: sa.RowMapping) -> None:
        """Post the stored distribution's entries (again: they are idempotent), mark it posted."""
        with read_transaction(self.engine) as connection:
            nets = [
                (party, int(net))
                for party, net in connection.execute(
                    sa.select(store.PARTY.c.party, store.PARTY.c.net_minor)
                    .where(store.PARTY.c.distribution == stored["id"])
                    .order_by(store.PARTY.c.party)
                )
            ]
        entries = _ledger_entries(stored, payment, nets, self.settings.parties_per_entry)
        if len(entries) != stored["entries"]:
            raise DistributionError(
                f"distribution {stored['id']}: stored with {stored['entries']} ledger entries "
                f"but its rows make {len(entries)}; it was stored by another setting of "
                "parties_per_entry"
            )
        self.journal.post_many(entries, batch_size=max(1, len(entries)))

        def mark(connection: Connection) -> None:
            connection.execute(
                store.DISTRIBUTION.update()
                .where(
                    store.DISTRIBUTION.c.id == stored["id"],
                    store.DISTRIBUTION.c.posted_at.is_(None),
                )
                .values(posted_at=_now())
            )

        run_write(self.engine, mark)

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
        return [_summary(row, row, created=False) for row in rows]


def _line_columns(result: Distribution) -> dict[str, list[bytes]]:
    """The stored columns of the rightsholder lines: ``party`` (an index into the party rows'
    ``position``), ``line`` (the invoice line's index), ``work`` (the work's position in the
    invoice's works), ``use_type`` (into :data:`~airex.royalties._types.USE_TYPES`),
    ``share`` (hundredths of a percent), ``gross``, ``fee`` (minor units) and ``units`` (the
    row's units in millionths on a per-unit line, ``-1`` on others)."""
    priced = result.invoice.report.lines
    line_index = result.line_index
    line_row = result.line_row
    work = array("q")
    use_type = array("q")
    units: list[int] = []
    start = 0
    count = len(line_index)
    while start < count:  # lines come ordered by invoice line: one slice per invoice line
        index = line_index[start]
        end = bisect_right(line_index, index, start, count)
        line = priced[index]
        rows = line_row[start:end]
        work.extend(map(line.work_index.__getitem__, rows))
        use_type.extend(map(line.use_type_index.__getitem__, rows))
        if line.basis is Basis.UNITS:
            units.extend(map(line.units_micro.__getitem__, rows))
        else:
            units.extend(repeat(-1, end - start))
        start = end
    columns = {
        "party": store.encode_column(result.line_party),
        "line": store.encode_column(line_index),
        "work": store.encode_column(work),
        "use_type": store.encode_column(use_type),
        "share": store.encode_column(result.line_share),
        "gross": store.encode_column(result.line_gross),
        "fee": store.encode_column(result.line_fee),
    }
    columns.update(store.encode_units(units))
    return columns


def _entry_count(nets: Sequence[int], fee: int, suspense: int, per_entry: int) -> int:
    paying = sum(1 for net in nets if net)
    return (1 if fee or suspense else 0) + -(-paying // per_entry)


def _ledger_entries(
    stored: sa.RowMapping,
    payment: sa.RowMapping,
    nets: Sequence[tuple[str, int]],
    per_entry: int,
) -> list[NewEntry]:
    """The balanced entries that post a stored distribution (see the module doc)."""
    from airex.ledger import AccountKey, AccountKind, Money, NewEntry, PostingLine

    currency = stored["currency"]
    licensor = stored["licensor"]
    pool = AccountKey(licensor, AccountKind.DISTRIBUTABLE_POOL, currency, stored["licence_id"])
    key = stored["ledger_key"]
    day = stored["payment_date"]
    what = f"payment {payment['payment_id']} of invoice {stored['invoice_id']}"
    paying = [(party, net) for party, net in nets if net]
    entries = []
    fee = int(stored["fee_minor"])
    suspense = int(stored["suspense_minor"])
    if fee or suspense:
        lines = [PostingLine(pool, Money(fee + suspense, currency))]
        if fee:
            revenue = AccountKey(licensor, AccountKind.ADMIN_FEE_REVENUE, currency)
            lines.append(PostingLine(revenue, Money(-fee, currency)))
        if suspense:
            held = AccountKey(licensor, AccountKind.SUSPENSE, currency)
            lines.append(PostingLine(held, Money(-suspense, currency)))
        entries.append(
            NewEntry(
                f"{key}:0", day, lines, f"Distribution of {what}: administration fee, suspense"
            )
        )
    parts = -(-len(paying) // per_entry)
    for part in range(parts):
        chunk = paying[part * per_entry : (part + 1) * per_entry]
        lines = [PostingLine(pool, Money(sum(net for _, net in chunk), currency))]
        lines.extend(
            PostingLine(
                AccountKey(party, AccountKind.RIGHTSHOLDER_PAYABLE, currency), Money(-net, currency)
            )
            for party, net in chunk
        )
        entries.append(
            NewEntry(
                f"{key}:{part + 1}",
                day,
                lines,
                f"Distribution of {what}: rightsholders, part {part + 1} of {parts}",
            )
        )
    return entries


def _summary(
    stored: sa.RowMapping, payment: sa.RowMapping, *, created: bool
) -> DistributionSummary:
    return DistributionSummary(
        distribution_id=int(stored["id"]),
        payer=payment["payer"],
        payment_id=payment["payment_id"],
        invoice_id=stored["invoice_id"],
        licence_id=stored["licence_id"],
        licensor=stored["licensor"],
        currency=stored["currency"],
        payment_date=stored["payment_date"],
        paid_minor=int(stored["paid_minor"]),
        gross_minor=int(stored["gross_minor"]),
        fee_minor=int(stored["fee_minor"]),
        net_minor=int(stored["net_minor"]),
        suspense_minor=int(stored["suspense_minor"]),
        parties=int(stored["parties"]),
        lines=int(stored["lines"]),
        created=created,
    )
