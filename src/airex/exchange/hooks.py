"""The hook through which the CMO the exchange runs for acts on the messages it receives.

When a message addressed to the CMO (``AIREX_CMO_PARTY_ID``) has been validated, its sender
and recipients found in the directory and entitled, and it is not a duplicate, the pipeline
calls::

    result = actions.act(message, raw, received, engine)

``message``
    the :class:`Accepted` message, as validation left it (parse once): its header
    (``message.header``: type, id, sender, recipients, ``on_behalf_of``), the stored file
    (``message.path``), and :meth:`Accepted.model` to build the model of a small family
    when the action needs one. A usage report is never materialised: its ``model()``
    raises; its action streams ``message.path``;
``raw``
    its bytes exactly as received (and stored); ``None`` for a family that is not held in
    memory (a usage report: read ``message.path`` as a stream);
``received``
    the :class:`~airex.exchange.models.ReceivedMessage` (with ``sender``, ``message_id`` and
    ``message_type`` filled in; ``received.dedupe_key`` is ``<sender>/<MessageId>``);
``engine``
    the database engine: the actions open their own transactions (registry, royalties,
    :class:`~airex.ledger.Journal`, :class:`~airex.ledger.GrantRegister`).

and it returns an :class:`ActionResult`: the status of the acknowledgement (``None`` =
``MessageAccepted``), its ``Error`` entries (the reasons of a rejection, or warnings of an
accepted message, e.g. usage of an opted-out work), and the messages the CMO sends in
answer (:class:`OutgoingMessage`: a Licence, an Invoice, RoyaltyStatements...).

Rules the actions must keep (the pipeline relies on them):

* **Idempotent.** ``act`` runs *before* the exchange's own transaction commits (the
  acknowledgement, the routing, the outgoing messages, the deduplication record), so a worker
  killed after ``act`` returned and before that commit runs ``act`` again for the same
  message. Every effect must therefore carry an idempotency key derived from
  ``received.dedupe_key`` (ledger entries: ``NewEntry(idempotency_key=...)``; registry and
  royalty records: their natural keys), so that the second run finds the effects of the
  first and posts nothing twice. Outgoing messages may differ between runs (a new
  MessageId): only those of the run whose transaction commits are ever sent.
* **Bad input is a result, not an exception.** An unknown offer, an expired licence, a report
  for another licensee: return ``ActionResult(status=MessageStatus.UNKNOWN_REFERENCE,
  errors=[MessageError("...", "...", status=...)])`` (codes catalogued in
  :mod:`airex.messages.error_codes`). An exception is treated as a fault: retried with
  back-off when transient (:class:`~airex.exchange.errors.TransientError`,
  :class:`~airex.db.DatabaseBusyError`, a lost database connection), otherwise the message
  goes at once to the dead letters with the exception as its reason and the sender is
  acknowledged ``InternalError``.
* Outgoing messages are checked like any message the CMO drops in its folder (valid, their
  recipients in the directory and entitled, not a duplicate of an earlier (sender,
  MessageId)), validated once (where they were built: :meth:`OutgoingMessage.checked`, else
  by the exchange), stored once (``exchange_sent``) and routed to each recipient's folder
  and/or queue in the same transaction that records the acknowledgement of the message
  they answer: no second received message, no second task. They are never acted on, and
  not acknowledged back to the CMO; one that fails a check is recorded with its status
  (``exchange_sent``) and not sent.

Test messages (``MessageControlType`` ``TestMessage``) are routed and acknowledged but not
acted on.

**The CMO's own messages.** Actions that keep a record of some of the messages the CMO
itself sends through the exchange (its drop folder, ``airex send``) name those families in an
attribute ``records_sent`` (a set of family names; ``airex.cmo``'s: ``LicenceMessage``, so
that a licence Suspended, Revoked or Expired reaches the grant register): ``act`` is called
for such a message, sent by the CMO, once it passed every check and before it is routed; a
refusal keeps it from being routed, and the CMO is acknowledged as any sender.

**One pass over a usage report.** A usage report is validated as a stream, and pricing it
reads it as a stream again. Actions that validate a streamed family in the same pass that
acts on it name it in an attribute ``validates_streamed`` (a set of family names): for those
the exchange reaches its verdict on the header alone, calls ``act``, and takes the reading's
word from :attr:`ActionResult.validated`. Such an action must have no effect unless every
record was valid (the strict readers of :mod:`airex.formats.usage` raise
:class:`~airex.errors.MessageInvalidError` before the end). When it did not read the report
through (``validated`` ``None``, e.g. a refusal on the header), or found it invalid, the
exchange validates the report itself and an invalid report is refused as any invalid message
is. Actions without the attribute get reports validated before ``act``, as every message.

**Who plugs what in.** The exchange never chooses the CMO's business: it is handed the actions
(``Exchange(settings, actions=...)``) or a factory of them (``make_celery(settings,
actions=factory)``, ``start_worker(settings, actions=factory)``), by the top floor: ``airex
worker`` / ``airex serve`` and ``worker/airex_celery.py`` pass ``airex.cmo.make_actions``
(the CMO's business, floor 8, above the exchange). Without one the exchange only routes
(:class:`NoActions`). An operator may name another factory (``AIREX_CMO_ACTIONS=module:factory``,
e.g. ``airex.exchange.hooks:no_actions`` for a routing-only exchange): the caller resolves it
with :func:`load_actions` (``load_actions(settings, default=make_actions)``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from airex.errors import MessageError, MessageStatus
from airex.exchange.errors import ExchangeConfigError, ExchangeError
from airex.exchange.verdict import Header, Inspection, Verdict, inspect
from airex.messages import AirexMessage, serialise

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from airex.exchange.models import ReceivedMessage
    from airex.exchange.settings import ExchangeSettings

__all__ = [
    "Accepted",
    "ActionResult",
    "ActionsFactory",
    "CmoActions",
    "NoActions",
    "OutgoingMessage",
    "factory_named",
    "load_actions",
    "no_actions",
]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message the CMO sends in answer: its bytes (routed by their MessageRecipients).

    ``file_name`` is a hint for logs and the store; deliveries are named by sender and
    MessageId. ``inspection`` is its validation (errors and header), done once where it was
    built (:meth:`checked`, :meth:`of`); an answer built without one is validated once by the
    exchange, in the task that processes the message it answers.
    """

    data: bytes
    file_name: str | None = None
    inspection: Inspection | None = field(default=None, compare=False, repr=False)

    @classmethod
    def checked(cls, data: bytes, file_name: str | None = None) -> OutgoingMessage:
        """``data`` validated here, once (XSD and rules, its header read): the exchange routes
        it without validating it again."""
        return cls(data, file_name, inspect(data))

    @classmethod
    def of(cls, message: AirexMessage) -> OutgoingMessage:
        """The outgoing form of a model (serialised and validated)."""
        return cls.checked(serialise(message), f"{message.message_type}_{message.message_id}.xml")


class Accepted:
    """A message the exchange accepted, handed to the CMO's actions: what validation left.

    ``header`` is what its MessageHeader says (:class:`~airex.exchange.verdict.Header`);
    ``path`` the stored file (``None`` for a message built in memory); :meth:`model` the
    model of its family, built on first use from the validated document, for the small
    families only: a streamed family (a usage report, any size) has none, its action reads
    ``path`` as a stream.
    """

    def __init__(
        self,
        header: Header,
        path: Path | None = None,
        *,
        verdict: Verdict | None = None,
        model: AirexMessage | None = None,
    ) -> None:
        self.header = header
        self.path = path
        self._verdict = verdict
        self._model = model

    @classmethod
    def of(cls, message: AirexMessage) -> Accepted:
        """A model already in memory, as the actions receive an accepted message."""
        header = message.message_header
        behalf = header.sent_on_behalf_of
        return cls(
            Header(
                message_type=message.message_type,
                message_id=header.message_id,
                thread_id=header.message_thread_id,
                sender=header.message_sender.party_id,
                recipients=tuple((r.party_id, None) for r in header.message_recipients),
                on_behalf_of=behalf.party_id if behalf is not None else None,
            ),
            model=message,
        )

    @property
    def message_type(self) -> str:
        """The message's family (its root element's name)."""
        assert self.header.message_type is not None
        return self.header.message_type

    @property
    def materialised(self) -> bool:
        """True when :meth:`model` can be had (a small family); False for a streamed one."""
        return self._model is not None or (
            self._verdict is not None and self._verdict.tree is not None
        )

    def model(self) -> AirexMessage:
        """The model of the message (built once, on first use)."""
        if self._model is None:
            built = self._verdict.message if self._verdict is not None else None
            if built is None:
                raise ExchangeError(
                    f"{self.message_type} {self.header.message_id} is not materialised "
                    "(a streamed family): read it from its stored file"
                )
            self._model = built
        return self._model

    def __repr__(self) -> str:
        return f"Accepted({self.message_type} {self.header.message_id} from {self.header.sender})"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What acting on a message came to.

    ``status`` is the acknowledgement's MessageStatus (``None``: ``MessageAccepted``);
    ``errors`` its Error entries (a rejection's reasons, or an accepted message's warnings);
    ``outgoing`` the messages the CMO sends in answer.
    """

    status: MessageStatus | None = None
    errors: tuple[MessageError, ...] | list[MessageError] = ()
    outgoing: tuple[OutgoingMessage, ...] | list[OutgoingMessage] = field(default=())
    validated: bool | None = None
    """For a streamed family the actions validate themselves (``validates_streamed``): True
    when the action read every record with validation and found them valid; False when that
    reading found the message invalid (``status`` and ``errors`` say why; the action had no
    effect); ``None`` when it did not read it through (the exchange validates it then)."""


@runtime_checkable
class CmoActions(Protocol):
    """The CMO's business actions on the messages addressed to it (see the module doc)."""

    def act(
        self,
        message: Accepted,
        raw: bytes | None,
        received: ReceivedMessage,
        engine: Engine,
    ) -> ActionResult:
        """Act on ``message``, idempotently; say what it came to."""
        ...


class NoActions:
    """The default: accept every message and do nothing (a pure router)."""

    def act(
        self,
        message: Accepted,
        raw: bytes | None,
        received: ReceivedMessage,
        engine: Engine,
    ) -> ActionResult:
        """Accept ``message``; no effect, nothing sent."""
        return ActionResult()


ActionsFactory = Callable[["ExchangeSettings"], CmoActions]


def no_actions(settings: ExchangeSettings) -> CmoActions:
    """A routing-only exchange (``AIREX_CMO_ACTIONS=airex.exchange.hooks:no_actions``): messages
    to the CMO are delivered and acknowledged, never acted on."""
    return NoActions()


def load_actions(settings: ExchangeSettings, default: ActionsFactory = no_actions) -> CmoActions:
    """The CMO's actions: those of the factory an operator named (``settings.actions``,
    ``module:factory``, from ``AIREX_CMO_ACTIONS``), else of ``default`` (the caller's choice:
    ``airex worker`` passes ``airex.cmo.make_actions``; by default a routing-only exchange).

    The factory is called with ``settings`` (once per worker process). The exchange itself
    never calls this: its callers do, and hand it the result (or a factory that calls this).
    """
    factory = default if settings.actions is None else factory_named(settings.actions)
    actions = factory(settings)
    if not isinstance(actions, CmoActions):
        where = settings.actions or getattr(factory, "__qualname__", repr(factory))
        raise ExchangeConfigError(f"CMO actions {where!r} returned {actions!r}, which has no act()")
    return actions


def factory_named(spec: str) -> ActionsFactory:
    """The factory ``spec`` (``module:factory``) names; :class:`ExchangeConfigError` when it
    cannot be imported or is not callable."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExchangeConfigError(f"CMO actions {spec!r}: cannot import: {exc}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ExchangeConfigError(f"CMO actions {spec!r}: no such callable")
    return cast("ActionsFactory", factory)
