"""What a usage report is priced against: the licence (its state and terms in the grant
register, its licensee), the report versions priced before (a retry, a resend, the version a
correction replaces, what the licence's other reports already charged), the registry's checker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, DatabaseConfigError, read_transaction
from airex.formats.usage import ReportHeader
from airex.ledger import GrantPublic, GrantRegister
from airex.messages.licence import LicenceMessage
from airex.messages.terms import LicenceTerms
from airex.registry import LicenceScope, Registry
from airex.royalties._parallel import ParallelPricing, RegistryChecker
from airex.royalties._store import current_version
from airex.royalties._types import USE_TYPES
from airex.royalties.errors import (
    NotLicenseeError,
    ReportConflictError,
    ReportRefusedError,
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
from airex.royalties.pricing import PricingContext, UsageCheck

__all__ = [
    "CheckerSource",
    "authorise",
    "licence_of",
    "parallel_pricing",
    "pricing_context",
    "replaced_version",
    "report_by_id",
    "report_by_message",
    "same_message",
    "usage_checker",
]

_REPORT = table(ReportRow)
_LINE = table(ReportLineRow)
_INVOICE = table(InvoiceRow)
_INVOICE_LINE = table(InvoiceLineRow)
_HELD = table(HeldUsage)


class CheckerSource(Protocol):
    """What the service needs of the registry: a usage checker for a licence and period
    (:meth:`airex.registry.Registry.checker`)."""

    def checker(
        self, scope: LicenceScope, start: date, end: date, *, cache: bool = True
    ) -> UsageCheck:
        """A checker of uses under ``scope`` over ``start..end`` (``cache=False``: the
        caller asks about each (identifier, use type) once, the checker need not remember)."""
        ...


def report_by_message(engine: Engine, sender: str, message_id: str) -> Any:
    with read_transaction(engine) as connection:
        return connection.execute(
            sa.select(_REPORT).where(_REPORT.c.sender == sender, _REPORT.c.message_id == message_id)
        ).first()


def report_by_id(engine: Engine, sender: str, report_id: str) -> Any:
    with read_transaction(engine) as connection:
        return connection.execute(
            sa.select(_REPORT).where(_REPORT.c.sender == sender, _REPORT.c.report_id == report_id)
        ).first()


def same_message(stored: Any, header: ReportHeader) -> None:
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


def licence_of(grants: GrantRegister, header: ReportHeader) -> tuple[GrantPublic, LicenceTerms]:
    licence_id = header.licence_id
    period = header.reporting_period
    grant = grants.state_on(licence_id, period.end_date)
    if grant is None:
        history = grants.history(licence_id)
        if not history:
            raise UnknownLicenceError(
                f"report {header.report_id} names licence {licence_id}, which has no state "
                "in the grant register"
            )
        grant = history[0]
    source = grants.source_message(grant.id)
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


def usage_checker(
    registry: CheckerSource, header: ReportHeader, grant: GrantPublic, terms: LicenceTerms
) -> UsageCheck:
    """The registry's checker for the licence's scope over the reporting period."""
    scope = LicenceScope.from_terms(header.licence_id, str(grant.status), terms)
    period = header.reporting_period
    # Pricing asks once per (work, use type) and keeps the answer itself: the checker's
    # own cache would only hold millions of decisions (~150 bytes each) for nothing.
    return registry.checker(scope, period.start_date, period.end_date, cache=False)


def parallel_pricing(
    registry: CheckerSource,
    header: ReportHeader,
    grant: GrantPublic,
    terms: LicenceTerms,
    min_bytes: int | None,
    cuts: Sequence[int] | None,
) -> ParallelPricing | None:
    """How to price in parts, when asked and possible: child processes build their own
    checker from the registry's database URL (never an inherited engine), so the
    registry must be a :class:`~airex.registry.Registry` on a database file or server."""
    if min_bytes is None or not isinstance(registry, Registry):
        return None
    url = registry.engine.url.render_as_string(hide_password=False)
    try:
        DatabaseConfig(url=url).sqlalchemy_url()
    except DatabaseConfigError:  # an in-memory database: another process cannot see it
        return None
    scope = LicenceScope.from_terms(header.licence_id, str(grant.status), terms)
    period = header.reporting_period
    checker = RegistryChecker(url, registry.settings, scope, period.start_date, period.end_date)
    return ParallelPricing(checker, min_bytes=min_bytes, cuts=cuts)


def authorise(header: ReportHeader, grant: GrantPublic, cmo: str | None) -> None:
    message = header.message_header
    sender = message.message_sender.party_id
    behalf = message.sent_on_behalf_of.party_id if message.sent_on_behalf_of else None
    if grant.licensee not in (sender, behalf):
        raise NotLicenseeError(
            f"report {header.report_id} comes from {sender}"
            + (f" on behalf of {behalf}" if behalf else "")
            + f", but licence {grant.licence_id} was granted to {grant.licensee}"
        )
    if cmo is not None and grant.licensor != cmo:
        raise ReportRefusedError(
            f"licence {grant.licence_id} was granted by {grant.licensor}, not by this CMO "
            f"({cmo}): its usage is not invoiced here"
        )


def replaced_version(engine: Engine, header: ReportHeader, sender: str) -> Any:
    target_id = header.correction_of_report_id
    if target_id is None:
        return None
    if target_id == header.report_id:
        raise ReportRefusedError(
            f"report {header.report_id} names itself as the report it corrects"
        )
    with read_transaction(engine) as connection:
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
        return current_version(connection, target.id)


def pricing_context(
    engine: Engine, licence_id: str, terms: LicenceTerms, replaced: Any, in_force: bool
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
    with read_transaction(engine) as connection:
        lines = connection.execute(query).all()
    charged = frozenset(
        line.tariff_id for line in lines if line.tariff_id in one_off_fees and line.amount_minor > 0
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
        already[tariff_id] = sum(line.amount_minor for line in lines if line.tariff_id == tariff_id)
    return PricingContext(
        licence_in_force=in_force,
        one_off_charged=charged,
        prior_covered_minor=covered,
        prior_guarantee_minor=already,
    )


def _mask_of(terms: LicenceTerms, use_types: Sequence[str]) -> int:
    permitted = {str(u) for u in terms.permitted_use_types}
    chosen = {str(u) for u in use_types} & permitted if use_types else permitted
    return sum(1 << i for i, name in enumerate(USE_TYPES) if name in chosen)
