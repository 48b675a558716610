"""``airex show``: a readable summary of a message, drawn with Rich.

Each message is a panel of key figures (header, then what matters in its family) followed by
tables for its lists (works, tariffs, totals, lines...). Values from the message are never read
as Rich markup, and on a pipe or file the output is plain text (no colour, nothing truncated).
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TypeAlias

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from airex.messages import (
    AcknowledgementMessage,
    AirexMessage,
    Amount,
    InvoiceMessage,
    LicenceMessage,
    LicenceOfferMessage,
    LicenceRequestMessage,
    LicenceTerms,
    ManifestMessage,
    Party,
    PaymentNotificationMessage,
    Period,
    Repertoire,
    RoyaltyStatementMessage,
    Tariff,
    Term,
    Territory,
    UsageRecord,
    UsageReportMessage,
    WorkDeclarationMessage,
    WorkId,
)

__all__ = ["make_console", "render"]

PIPE_WIDTH = 120
"""Width of the output on a pipe or file (unless ``COLUMNS`` says otherwise)."""

NONE = "-"
"""What an absent optional value is shown as."""

Rows: TypeAlias = list[tuple[str, str]]
Sheet: TypeAlias = tuple[Rows, list[Table]]


def make_console() -> Console:
    """A console on stdout that never interprets text from messages as markup or emoji."""
    width = None
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        width = PIPE_WIDTH
    return Console(markup=False, highlight=False, emoji=False, width=width)


def render(console: Console, name: str, message: AirexMessage) -> None:
    """Print the summary of ``message`` (read from the file ``name``)."""
    more, tables = _family(message)
    rows = _header(name, message) + more
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    panel = Panel(grid, title=Text(message.message_type, style="bold"), expand=False)
    if console.is_terminal:
        console.print(panel, *tables)
        console.print()
        return
    with console.capture() as capture:  # on a pipe or file: no padding at the ends of lines
        console.print(panel, *tables)
    lines = [line.rstrip() for line in capture.get().splitlines()]
    console.file.write("\n".join(lines) + "\n\n")


# --- values -------------------------------------------------------------------------------------


def _dec(value: Decimal) -> str:
    return format(value, "f")


def _amount(amount: Amount | None) -> str:
    return f"{_dec(amount.value)} {amount.currency}" if amount is not None else NONE


def _party(party: Party | None) -> str:
    if party is None:
        return NONE
    return f"{party.party_name} ({party.party_id})" if party.party_name else party.party_id


def _period(period: Period) -> str:
    return f"{period.start_date} to {period.end_date}"


def _term(term: Term) -> str:
    if term.end_date is None:
        return f"from {term.start_date}, open-ended"
    return f"{term.start_date} to {term.end_date}"


def _territory(territory: Territory | None) -> str:
    if territory is None:
        return Territory.WORLDWIDE
    text = ", ".join(territory.territory_codes)
    if territory.excluded_territory_codes:
        text += " except " + ", ".join(territory.excluded_territory_codes)
    return text


def _work_id(work_id: WorkId) -> str:
    return f"{work_id} ({work_id.namespace})" if work_id.namespace else str(work_id)


def _work_ids(work_ids: Iterable[WorkId]) -> str:
    return "\n".join(_work_id(w) for w in work_ids)


def _opt(value: object) -> str:
    return NONE if value is None else str(value)


def _repertoire(repertoire: Repertoire) -> str:
    if repertoire.work_id_list is not None:
        ids = repertoire.work_id_list.work_ids
        return f"{len(ids)} listed work(s):\n{_work_ids(ids)}"
    if repertoire.work_type_list is not None:
        return "all represented works of type " + ", ".join(repertoire.work_type_list.work_types)
    return "all represented works"


_UNBROKEN = frozenset(
    {"Id", "Ids", "Reference", "Work", "Message id", "MessageId", "Tariff", "URL"}
    | {"Type", "Use type", "Use types"}
)
"""Columns of identifiers and codes: kept on one line, so they can be copied and searched for."""


def _table(title: str, *headers: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, title_style="bold")
    for header in headers:
        table.add_column(header, overflow="fold", no_wrap=header in _UNBROKEN)
    return table


# --- header -------------------------------------------------------------------------------------


def _header(name: str, message: AirexMessage) -> Rows:
    header = message.message_header
    sender = _party(header.message_sender)
    if header.sent_on_behalf_of is not None:
        sender += f", on behalf of {_party(header.sent_on_behalf_of)}"
    recipients = ", ".join(_party(r) for r in header.message_recipients)
    control = header.message_control_type or "LiveMessage (default)"
    rows: Rows = [("File", name), ("MessageId", header.message_id)]
    if header.message_thread_id:
        rows.append(("Thread", header.message_thread_id))
    rows += [
        ("From → to", f"{sender} → {recipients}"),
        ("Created", header.message_created_date_time.isoformat()),
        ("Control type", str(control)),
    ]
    return rows


# --- families -----------------------------------------------------------------------------------


def _declaration(message: WorkDeclarationMessage) -> Sheet:
    works = message.work_list.works
    table = _table("Works", "Reference", "Title", "Type", "Ids")
    shares = _table("Rights shares", "Work", "Rightsholder", "Share", "Territory")
    preferences = _table(
        "AI-use preferences", "Work", "Use type", "Preference", "From", "Territory"
    )
    for work in works:
        table.add_row(
            work.work_reference, work.title, str(work.work_type), _work_ids(work.work_ids)
        )
        for share in work.rights_shares:
            shares.add_row(
                work.work_reference,
                share.rightsholder_party_id,
                f"{_dec(share.share_percentage)}%",
                _territory(share.territory),
            )
        for preference in work.ai_use_preferences:
            preferences.add_row(
                work.work_reference,
                str(preference.use_type),
                str(preference.preference),
                _opt(preference.effective_date),
                _territory(preference.territory),
            )
    opted_out = sum(1 for w in works if any(p.preference == "OptOut" for p in w.ai_use_preferences))
    rows: Rows = [("Works", f"{len(works)} ({opted_out} with an opt-out)")]
    return rows, [table, shares, *([preferences] if preferences.row_count else [])]


def _terms(terms: LicenceTerms) -> Sheet:
    obligation = terms.reporting_obligation
    rows: Rows = [
        ("Repertoire", _repertoire(terms.repertoire)),
        ("Permitted use types", ", ".join(terms.permitted_use_types)),
        ("Territory", _territory(terms.territory)),
        ("Term", _term(terms.term)),
    ]
    if terms.user_type is not None:
        rows.append(("User type", str(terms.user_type)))
    rows.append(
        (
            "Reporting",
            f"{obligation.frequency}, due {obligation.due_days} days after the period, as "
            + ", ".join(obligation.report_formats),
        )
    )
    if terms.attribution_required is not None:
        rows.append(("Attribution required", "yes" if terms.attribution_required else "no"))
    return rows, [_tariffs(terms.tariffs)]


def _price(tariff: Tariff) -> str:
    """``2.75 EUR per 1000000 Token``, ``100000.00 EUR billed Annually``, ``4.5% of revenue``."""
    parts: list[str] = []
    if tariff.amount is not None:
        parts.append(_amount(tariff.amount))
    if tariff.unit is not None or tariff.per_quantity is not None:
        parts.append(f"per {_opt(tariff.per_quantity)} {_opt(tariff.unit)}")
    elif tariff.tariff_type == "PerWork":
        parts.append("per work used")
    if tariff.billing_period is not None:
        parts.append(f"billed {tariff.billing_period}")
    if tariff.percentage is not None:
        parts.append(f"{_dec(tariff.percentage)}% of revenue")
    if tariff.currency is not None:
        parts.append(f"in {tariff.currency}")
    return " ".join(parts) or NONE


def _tariffs(tariffs: Sequence[Tariff]) -> Table:
    table = _table("Tariffs", "Id", "Type", "Use types", "Price")
    for tariff in tariffs:
        table.add_row(
            tariff.tariff_id,
            str(tariff.tariff_type),
            "\n".join(tariff.use_types) or "all permitted",
            _price(tariff),
        )
    return table


def _offer(message: LicenceOfferMessage) -> Sheet:
    offer = message.offer
    licensee = _party(offer.licensee) if offer.licensee is not None else "anyone (open offer)"
    rows: Rows = [
        ("Offer id", offer.offer_id),
        ("Valid until", offer.valid_until.isoformat()),
        ("Licensor", _party(offer.licensor)),
        ("Licensee", licensee),
    ]
    more, tables = _terms(offer.licence_terms)
    return rows + more, tables


def _licence(message: LicenceMessage) -> Sheet:
    licence = message.licence
    status = str(licence.licence_status)
    if licence.status_reason:
        status += f" ({licence.status_reason})"
    rows: Rows = [
        ("Licence id", licence.licence_id),
        ("Status", status),
        ("Issued", licence.issued_date_time.isoformat()),
        ("Offer id", _opt(licence.offer_id)),
        ("Request id", _opt(licence.request_id)),
        ("Licensor", _party(licence.licensor)),
        ("Licensee", _party(licence.licensee)),
    ]
    more, tables = _terms(licence.licence_terms)
    return rows + more, tables


def _request(message: LicenceRequestMessage) -> Sheet:
    request = message.licence_request
    return [
        ("Request id", request.request_id),
        ("Offer id", request.offer_id),
        ("Licensee", _party(request.licensee)),
        ("Requested start", _opt(request.requested_start_date)),
    ], []


def _distinct_works(records: Sequence[UsageRecord]) -> int:
    """Records whose ids overlap name the same work: count the connected groups of ids."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for record in records:
        keys = [_work_id(w) for w in record.work_ids]
        first = find(keys[0])
        for key in keys[1:]:
            parent[find(key)] = first
    return len({find(key) for key in parent})


def _usage(message: UsageReportMessage) -> Sheet:
    report = message.usage_report
    records = report.usage_record_list.usage_records
    totals: dict[tuple[str, str], tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
    for record in records:
        key = (str(record.use_type), str(record.quantity.unit))
        count, quantity = totals[key]
        totals[key] = (count + 1, quantity + record.quantity.value)
    models = "\n".join(
        " ".join(v for v in (m.model_id, m.model_name, m.model_version) if v) for m in report.models
    )
    revenue = "\n".join(
        f"{_amount(r)} {r.revenue_type}" for r in report.usage_summary.reported_revenues
    )
    rows: Rows = [
        ("Report id", report.report_id),
        ("Licence id", report.licence_id),
        ("Period", _period(report.reporting_period)),
        ("Correction of", _opt(report.correction_of_report_id)),
        ("Models", models or NONE),
        ("Records", f"{len(records)} (declared {report.usage_summary.number_of_records})"),
        ("Distinct works", str(_distinct_works(records))),
        ("Reported revenue", revenue or NONE),
    ]
    table = _table("Totals per use type and unit", "Use type", "Unit", "Records", "Quantity")
    for (use_type, unit), (count, quantity) in sorted(totals.items()):
        table.add_row(use_type, unit, str(count), _dec(quantity))
    return rows, [table]


def _invoice(message: InvoiceMessage) -> Sheet:
    invoice = message.invoice
    rows: Rows = [
        ("Invoice id", invoice.invoice_id),
        ("Type", str(invoice.invoice_type or "Invoice")),
        ("Licence id", invoice.licence_id),
        ("Usage report id", _opt(invoice.usage_report_id)),
        ("Period", _period(invoice.invoice_period)),
        ("Issued / due", f"{invoice.issue_date} / {invoice.due_date}"),
        ("Lines", str(len(invoice.invoice_lines))),
        ("Total", _amount(invoice.total_amount)),
    ]
    table = _table("Lines", "No.", "Tariff", "Description", "Quantity", "Unit price", "Amount")
    for line in invoice.invoice_lines:
        table.add_row(
            str(line.line_number),
            line.tariff_id,
            line.description,
            _dec(line.quantity) if line.quantity is not None else NONE,
            _amount(line.unit_price),
            _amount(line.line_amount),
        )
    return rows, [table]


def _payment(message: PaymentNotificationMessage) -> Sheet:
    payment = message.payment
    rows: Rows = [
        ("Payment id", payment.payment_id),
        ("Payer → payee", f"{_party(payment.payer)} → {_party(payment.payee)}"),
        ("Paid", _amount(payment.paid_amount)),
        ("Payment date", str(payment.payment_date)),
        ("Reference", _opt(payment.payment_reference)),
    ]
    table = _table("Settled documents", "Type", "Id", "Applied")
    for document in payment.settled_documents:
        table.add_row(
            str(document.document_type), document.document_id, _amount(document.applied_amount)
        )
    return rows, [table]


def _statement(message: RoyaltyStatementMessage) -> Sheet:
    statement = message.royalty_statement
    total = statement.statement_total
    currency = statement.currency
    rows: Rows = [
        ("Statement id", statement.statement_id),
        ("Payee", _party(statement.payee)),
        ("Period", _period(statement.statement_period)),
        ("Currency", currency),
        ("Lines", str(len(statement.statement_lines))),
        ("Gross", f"{_dec(total.gross_amount)} {currency}"),
        ("Administration fee", f"{_dec(total.administration_fee)} {currency}"),
        ("Net", f"{_dec(total.net_amount)} {currency}"),
    ]
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for line in statement.statement_lines:
        figures = sums[str(line.use_type)]
        figures[0] += 1
        figures[1] += line.gross_amount
        figures[2] += line.administration_fee
        figures[3] += line.net_amount
    table = _table("Totals per use type", "Use type", "Lines", "Gross", "Fee", "Net")
    for use_type, (count, gross, fee, net) in sorted(sums.items()):
        table.add_row(use_type, str(count), _dec(gross), _dec(fee), _dec(net))
    return rows, [table]


def _acknowledgement(message: AcknowledgementMessage) -> Sheet:
    acks = message.acknowledgements
    table = _table("Acknowledgements", "Message id", "File", "Status", "Errors", "Proposed action")
    errors = _table("Errors", "Message id", "Code", "Line", "Path and text")
    for ack in acks:
        message_id = _opt(ack.acknowledged_message_id)
        table.add_row(
            message_id,
            _opt(ack.acknowledged_file_name),
            str(ack.message_status),
            str(len(ack.errors)),
            _opt(ack.proposed_action),
        )
        for error in ack.errors:
            where = f"{error.path}\n" if error.path else ""
            errors.add_row(
                message_id, error.error_code, _opt(error.line_number), where + error.error_text
            )
    accepted = sum(1 for a in acks if a.message_status == "MessageAccepted")
    rows: Rows = [("Acknowledgements", f"{len(acks)} ({accepted} accepted)")]
    return rows, [table, *([errors] if errors.row_count else [])]


def _manifest(message: ManifestMessage) -> Sheet:
    entries = message.messages_in_batch
    rows: Rows = [
        ("Batch id", message.batch_id),
        ("Test batch", "yes" if message.is_test_flag else "no"),
        ("Messages", f"{len(entries)} (declared {message.number_of_messages})"),
    ]
    table = _table("Messages in batch", "Type", "MessageId", "URL", "Hash", "Size")
    for entry in entries:
        digest = entry.hash_sum
        table.add_row(
            str(entry.message_type),
            entry.message_id,
            entry.url,
            f"{digest.hash_sum_algorithm_type} {digest.hash_sum_value[:12]}…",
            _opt(entry.file_size),
        )
    return rows, [table]


def _family(message: AirexMessage) -> Sheet:
    """The rows and tables of ``message``'s family."""
    if isinstance(message, WorkDeclarationMessage):
        return _declaration(message)
    if isinstance(message, LicenceOfferMessage):
        return _offer(message)
    if isinstance(message, LicenceRequestMessage):
        return _request(message)
    if isinstance(message, LicenceMessage):
        return _licence(message)
    if isinstance(message, UsageReportMessage):
        return _usage(message)
    if isinstance(message, InvoiceMessage):
        return _invoice(message)
    if isinstance(message, PaymentNotificationMessage):
        return _payment(message)
    if isinstance(message, RoyaltyStatementMessage):
        return _statement(message)
    if isinstance(message, AcknowledgementMessage):
        return _acknowledgement(message)
    if isinstance(message, ManifestMessage):
        return _manifest(message)
    return [], []
