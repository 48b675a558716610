"""The CMO's business actions: what the CMO the exchange runs for does with what it receives.

The top floor plugs them into the exchange through its hook (:mod:`airex.exchange.hooks`):
``airex worker`` / ``airex serve`` and ``worker/airex_celery.py`` pass :func:`make_actions`
(the factory) to the exchange, which calls :meth:`CmoBusinessActions.act` for every valid,
non-duplicate, live message addressed to the CMO (``AIREX_CMO_PARTY_ID``). ``act`` looks the
message's family up in a table (:attr:`CmoBusinessActions.handlers`, one handler per family)::

    WorkDeclarationMessage      → the registry imports the works (identifier conflicts are
                                  warnings on the accepted acknowledgement)
    LicenceRequestMessage       → the offer it accepts is found among the CMO's offers sent
                                  through the exchange; a LicenceMessage (Granted) is recorded
                                  in the grant register and sent to the developer
    UsageReportMessage          → priced under its licence; the Invoice (or CreditNote) is
                                  sent to the developer, held usage listed as warnings
    PaymentNotificationMessage  → recorded and distributed; each rightsholder the payment
                                  reached gets a RoyaltyStatementMessage and a payout
                                  PaymentNotificationMessage, and the payout is posted
    LicenceMessage (the CMO's   → a later state of its licence (Suspended, Revoked, Expired,
    own, :attr:`records_sent`)    Granted again) recorded in the grant register: pricing
                                  then holds usage under a licence no longer in force
    anything else               → accepted, no effect

Rejections are results (an acknowledgement status with its error codes), never exceptions;
an exception is a fault (the exchange retries transient ones and gives up on the others).
A message acts for its sender only: one naming another party in SentOnBehalfOf is refused
(NotAuthorised / BehalfNotAuthorised; the exchange registers no mandates). Every effect is
idempotent and everything sent is derived from the incoming message and what was stored (its
time of receipt included), never from the clock at the time of acting: running
:meth:`~CmoBusinessActions.act` twice for the same message (a worker killed before the
exchange committed) posts nothing twice and sends the same bytes. ``docs/cmo-actions.md``
gives every decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from airex.cmo._licence import (
    OfferBook,
    derived_message_id,
    grant_licence,
    grant_record_from_licence,
)
from airex.cmo._money import (
    StatementPeriod,
    invoice_report,
    payment_statement_id,
    settle_payment,
    statement_period_of,
)
from airex.db import SchemaNotCurrentError
from airex.errors import MessageError, MessageStatus
from airex.exchange.directory import ENTITLEMENTS, PartyDirectory
from airex.exchange.errors import ExchangeConfigError
from airex.exchange.hooks import Accepted, ActionResult, CmoActions, NoActions, OutgoingMessage
from airex.exchange.store import MessageStore
from airex.ledger import IdempotencyConflictError, InvalidGrantError
from airex.messages import (
    LicenceMessage,
    LicenceRequestMessage,
    PaymentNotificationMessage,
    WorkDeclarationMessage,
)
from airex.registry import InvalidDeclarationError, RegistrySettings, SourceConflictError
from airex.royalties import RoyaltySettings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airex.exchange.models import ReceivedMessage
    from airex.exchange.settings import ExchangeSettings
    from airex.ledger import GrantRegister, Journal
    from airex.messages import AirexMessage
    from airex.registry import Registry
    from airex.royalties import InvoiceService
    from airex.royalties.distribution import Distributor

_SOME_DAY = date(2026, 1, 1)

Handler = Callable[["Accepted", "bytes | None", "ReceivedMessage", "Engine"], ActionResult]
"""One message family's handler: ``(message, raw, received, engine) → ActionResult``:
``message`` the accepted message (header, stored file, ``model()`` for a small family),
``raw`` its bytes (``None`` for a usage report, which is streamed from ``message.path``)."""

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

CONFLICT_WARNING_LIMIT = 1000
"""Identifier conflicts of one declaration listed one by one; the rest are counted."""


@dataclass
class _Services:
    """The registry, royalties and ledger services on one engine (made once, when first
    needed: each checks its schema when made)."""

    registry: Registry
    invoices: InvoiceService
    distributor: Distributor
    journal: Journal
    grants: GrantRegister


class CmoBusinessActions:
    """The CMO's actions (see the module doc), for the CMO ``settings.cmo_party_id``.

    ``royalties`` and ``registry`` are the CMO's pricing/distribution and registry settings
    (default: from the environment, see :func:`make_actions`); ``statement_period`` the
    length of the period a payment's statements cover: the calendar ``"quarter"`` (default),
    ``"month"`` or ``"year"`` containing the PaymentDate. Making one is cheap: nothing is
    opened until the first message.
    """

    def __init__(
        self,
        settings: ExchangeSettings,
        *,
        royalties: RoyaltySettings | None = None,
        registry: RegistrySettings | None = None,
        statement_period: StatementPeriod = "quarter",
    ) -> None:
        cmo = settings.cmo_party_id
        if cmo is None:
            raise ExchangeConfigError(
                "the CMO's actions need the CMO's party id (AIREX_CMO_PARTY_ID)"
            )
        try:
            statement_period_of(_SOME_DAY, statement_period)
        except ValueError as exc:
            raise ExchangeConfigError(f"the CMO's actions: {exc}") from exc
        self.cmo = cmo
        self.settings = settings
        base = royalties if royalties is not None else RoyaltySettings(cmo_party_id=cmo)
        self.royalties = replace(base, cmo_party_id=cmo)
        self.registry_settings = registry if registry is not None else RegistrySettings()
        self.statement_period = statement_period
        self.store = MessageStore(settings.store_dir)
        self.offers = OfferBook(self.store, cmo)
        self._services: dict[int, tuple[Engine, _Services]] = {}
        self.handlers: dict[str, Handler] = {
            "WorkDeclarationMessage": self.declare,
            "LicenceRequestMessage": self.grant,
            "UsageReportMessage": self.invoice,
            "PaymentNotificationMessage": self.settle,
            "LicenceMessage": self.record_licence,
        }
        """The table: message type → its handler (a family not listed is accepted, no effect)."""
        self.records_sent = frozenset({"LicenceMessage"})
        """The CMO's own messages the actions record (the exchange calls ``act`` for them):
        a licence's later states (Suspended, Revoked, Expired, reinstated) go into the grant
        register, so that pricing holds usage under a licence no longer in force."""
        self.validates_streamed = frozenset({"UsageReportMessage"})
        """The streamed families whose handler validates every record in the pass that acts
        on it (pricing's strict reading): the exchange does not read them twice."""

    def services(self, engine: Engine) -> _Services:
        """The services on ``engine`` (made on first use, kept for the engine's life)."""
        known = self._services.get(id(engine))
        if known is not None and known[0] is engine:
            return known[1]
        from airex.ledger import GrantRegister, Journal
        from airex.registry import Registry
        from airex.royalties import InvoiceService
        from airex.royalties.distribution import DistributionSettings, Distributor

        try:
            registry = Registry(engine, self.registry_settings)
            made = _Services(
                registry=registry,
                invoices=InvoiceService(engine, self.royalties, registry),
                distributor=Distributor(
                    engine,
                    DistributionSettings.from_settings(self.royalties),
                    shares=registry.shares,
                ),
                journal=Journal(engine),
                grants=GrantRegister(engine),
            )
        except SchemaNotCurrentError as exc:
            # a deployment fault, not a poison message: retried once `airex db upgrade` ran
            raise ExchangeConfigError(
                f"the CMO's actions cannot run: {exc} (run `airex db upgrade`)"
            ) from exc
        self._services[id(engine)] = (engine, made)
        return made

    def act(
        self,
        message: Accepted | AirexMessage,
        raw: bytes | None,
        received: ReceivedMessage,
        engine: Engine,
    ) -> ActionResult:
        """Act on ``message`` (see the module doc); idempotently. ``message`` is what the
        exchange accepted (:class:`~airex.exchange.hooks.Accepted`: header, stored file, a
        model on demand); a model already in memory is taken too."""
        if not isinstance(message, Accepted):
            message = Accepted.of(message)
        header = message.header
        behalf = header.on_behalf_of
        if behalf is not None and behalf != header.sender:
            # No mandates are registered: a message acts for its (authenticated) sender only,
            # never for a party it merely names.
            return _refused(
                MessageError(
                    "BehalfNotAuthorised",
                    f"{header.sender} sent {message.message_type} "
                    f"{header.message_id} on behalf of {behalf}, but the exchange holds "
                    "no mandate to act for another party: send it from that party's own drop "
                    "folder or account",
                    path=f"/{message.message_type}/MessageHeader/SentOnBehalfOf/PartyId",
                    status=MessageStatus.NOT_AUTHORISED,
                )
            )
        handler = self.handlers.get(message.message_type)
        if handler is None:
            return ActionResult()
        return handler(message, raw, received, engine)

    # --- the actions -------------------------------------------------------------------------

    def declare(
        self, message: Accepted, raw: bytes | None, received: ReceivedMessage, engine: Engine
    ) -> ActionResult:
        """Import the declared works into the registry; conflicts become warnings."""
        declaration = message.model()
        assert isinstance(declaration, WorkDeclarationMessage)
        if raw is None and message.path is not None:
            raw = message.path.read_bytes()
        try:
            result = self.services(engine).registry.import_declaration(declaration, raw=raw)
        except InvalidDeclarationError as exc:
            ordinal = getattr(exc, "ordinal", None)
            where = f"/WorkDeclarationMessage/WorkList/Work[{ordinal}]" if ordinal else None
            return _refused(
                MessageError(
                    "DeclarationRefused",
                    f"the registry refused the declaration: {exc}",
                    path=where,
                    status=MessageStatus.BUSINESS_RULE_VIOLATION,
                )
            )
        except SourceConflictError as exc:
            return _refused(
                MessageError(
                    "DeclarationRefused",
                    f"the registry refused the declaration: {exc}",
                    status=MessageStatus.BUSINESS_RULE_VIOLATION,
                )
            )
        details = result.conflict_details
        warnings = [
            MessageError(
                "DeclarationConflict",
                f"{conflict} (kept for the CMO to settle)",
                path=f"/WorkDeclarationMessage/WorkList/Work[{conflict.ordinal}]/WorkId",
                status=MessageStatus.MESSAGE_ACCEPTED,
            )
            for conflict in details[:CONFLICT_WARNING_LIMIT]
        ]
        if len(details) > CONFLICT_WARNING_LIMIT:
            warnings.append(
                MessageError(
                    "DeclarationConflict",
                    f"{len(details) - CONFLICT_WARNING_LIMIT:,} more identifier conflicts of "
                    f"this declaration are not listed here (airex registry import lists them)",
                    status=MessageStatus.MESSAGE_ACCEPTED,
                )
            )
        return ActionResult(errors=warnings)

    def grant(
        self, message: Accepted, raw: bytes | None, received: ReceivedMessage, engine: Engine
    ) -> ActionResult:
        """Grant the licence the request asks for and send it, or refuse the request."""
        request = message.model()
        assert isinstance(request, LicenceRequestMessage)
        granted = grant_licence(
            request,
            received.dedupe_key or _key_of(request),
            received_at=received.received_at,
            cmo=self.cmo,
            offers=self.offers,
            register=self.services(engine).grants,
            engine=engine,
        )
        if granted.error is not None:
            return _refused(granted.error)
        assert granted.licence is not None
        name = f"LicenceMessage_{granted.licence.licence.licence_id}.xml"
        return ActionResult(outgoing=[OutgoingMessage.checked(granted.raw, name)])

    def invoice(
        self, message: Accepted, raw: bytes | None, received: ReceivedMessage, engine: Engine
    ) -> ActionResult:
        """Price the report and send its invoice; held usage becomes warnings. The report is
        never materialised: pricing streams it from the stored file."""
        done = invoice_report(
            message.path or self.store.path(received.sha256),
            file_name=received.file_name,
            service=self.services(engine).invoices,
            issued_on=received.received_at.date(),  # the exchange's clock, not the report's
        )
        if done.invalid:
            return ActionResult(status=done.invalid[0].status, errors=done.invalid, validated=False)
        if done.error is not None:
            return _refused(done.error)
        return ActionResult(errors=done.warnings, outgoing=_checked(done.outgoing), validated=True)

    def record_licence(
        self, message: Accepted, raw: bytes | None, received: ReceivedMessage, engine: Engine
    ) -> ActionResult:
        """Record a state of a licence the CMO sends (a LicenceMessage it dropped: Suspended,
        Revoked, Expired, or Granted again) in the grant register; refused when the CMO is
        not its licensor or the register cannot take it (another licence's parties)."""
        licence = message.model()
        assert isinstance(licence, LicenceMessage)
        root = "/LicenceMessage/Licence"
        if licence.licence.licensor.party_id != self.cmo:
            return _refused(
                MessageError(
                    "LicenceStateRefused",
                    f"licence {licence.licence.licence_id} names "
                    f"{licence.licence.licensor.party_id} as its licensor; the CMO records "
                    "only its own licences",
                    path=f"{root}/Licensor/PartyId",
                    status=MessageStatus.BUSINESS_RULE_VIOLATION,
                )
            )
        if raw is None and message.path is not None:
            raw = message.path.read_bytes()
        assert raw is not None
        try:
            self.services(engine).grants.record(grant_record_from_licence(licence, raw))
        except (InvalidGrantError, IdempotencyConflictError) as exc:
            return _refused(
                MessageError(
                    "LicenceStateRefused",
                    f"the grant register refused licence {licence.licence.licence_id}'s "
                    f"state {licence.licence.licence_status}: {exc}",
                    path=f"{root}/LicenceId",
                    status=MessageStatus.BUSINESS_RULE_VIOLATION,
                )
            )
        return ActionResult()

    def settle(
        self, message: Accepted, raw: bytes | None, received: ReceivedMessage, engine: Engine
    ) -> ActionResult:
        """Record and distribute the payment; send each rightsholder's statement and payout."""
        payment = message.model()
        assert isinstance(payment, PaymentNotificationMessage)
        services = self.services(engine)
        directory = PartyDirectory(engine, self.settings.parties_dir)
        receivers = ENTITLEMENTS["RoyaltyStatementMessage"].recipients

        def reachable(party_id: str) -> bool:
            record = directory.get(party_id)
            return record is not None and record.role in receivers

        done = settle_payment(
            payment,
            cmo=self.cmo,
            distributor=services.distributor,
            journal=services.journal,
            engine=engine,
            period_length=self.statement_period,
            reachable=reachable,
            received_on=received.received_at.date(),  # the exchange's clock at receipt
            days_ahead=self.royalties.payment_days_ahead,
        )
        if done.error is not None:
            return _refused(done.error)
        return ActionResult(outgoing=_checked(done.outgoing))


def _checked(outgoing: list[OutgoingMessage]) -> list[OutgoingMessage]:
    """The answers validated here, where they were built, once: the exchange routes them
    without validating them again."""
    return [
        out if out.inspection is not None else OutgoingMessage.checked(out.data, out.file_name)
        for out in outgoing
    ]


def _refused(error: MessageError) -> ActionResult:
    """A rejection: the error's status, the error."""
    return ActionResult(status=error.status, errors=[error])


def _key_of(message: AirexMessage) -> str:
    header = message.message_header
    return f"{header.message_sender.party_id}/{header.message_id}"


def make_actions(settings: ExchangeSettings) -> CmoActions:
    """The CMO's actions for the exchange ``settings`` (the factory the top floor hands to the
    exchange, called once per worker process; cheap: nothing is opened until the first
    message). The royalties' and registry's settings come from the environment
    (``AIREX_ADMIN_FEE_PERCENT``, ``AIREX_INVOICE_DUE_DAYS``, ``AIREX_PREFERENCE_REGIME``);
    the CMO is the exchange's (``AIREX_CMO_PARTY_ID``). An exchange that runs for no CMO
    only routes: it gets :class:`~airex.exchange.hooks.NoActions`. A setting that cannot be
    used raises :class:`~airex.exchange.errors.ExchangeConfigError`."""
    if settings.cmo_party_id is None:
        return NoActions()
    from airex.registry import RegistryConfigError
    from airex.royalties import RoyaltiesConfigError

    try:
        royalties = RoyaltySettings.from_env()
        registry = RegistrySettings.from_env()
    except (RoyaltiesConfigError, RegistryConfigError) as exc:
        raise ExchangeConfigError(f"CMO actions: {exc}") from exc
    return CmoBusinessActions(settings, royalties=royalties, registry=registry)
