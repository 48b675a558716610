"""The CMO's business: what the CMO the exchange runs for does with the messages it receives.

One handler per message family, in a table (:attr:`CmoBusinessActions.handlers`)::

    WorkDeclarationMessage      → the registry imports the works
    LicenceRequestMessage       → a licence is granted, recorded and sent
    UsageReportMessage          → priced; the invoice is sent
    PaymentNotificationMessage  → recorded, distributed; statements and payouts sent

This floor sits above the exchange (floor 7) and plugs into it through the exchange's hook
(:class:`airex.exchange.CmoActions`): the exchange never imports this package. The top floor
wires it: ``airex worker`` / ``airex serve``, ``worker/airex_celery.py`` and the demo hand
:func:`make_actions` to the exchange (``AIREX_CMO_ACTIONS`` may name another factory).
``docs/cmo-actions.md`` gives every rule.
"""

from airex.cmo.actions import (
    CONFLICT_WARNING_LIMIT,
    CmoBusinessActions,
    Handler,
    derived_message_id,
    grant_record_from_licence,
    make_actions,
    payment_statement_id,
    statement_period_of,
)

__all__ = [
    "CONFLICT_WARNING_LIMIT",
    "CmoBusinessActions",
    "Handler",
    "derived_message_id",
    "grant_record_from_licence",
    "make_actions",
    "payment_statement_id",
    "statement_period_of",
]
