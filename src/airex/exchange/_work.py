"""The pipeline's records: what is handed in, what taking in and processing came to, the
status counts; the work of one message between judging and committing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from airex.db import DatabaseBusyError
from airex.errors import MessageStatus
from airex.exchange import outbox as ob
from airex.exchange.errors import ExchangeConfigError, TransientError
from airex.exchange.hooks import ActionResult
from airex.exchange.models import DeadLetter, ReceivedMessage
from airex.exchange.store import HEAD_BYTES, Stored
from airex.exchange.verdict import Verdict

_TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    DatabaseBusyError,
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    OSError,
)
_TRANSIENT_OR_CONFIG: tuple[type[BaseException], ...] = (*_TRANSIENT, ExchangeConfigError)
_PARTY_CACHE_SECONDS = 5.0
_ACCEPTED = MessageStatus.MESSAGE_ACCEPTED


@dataclass(frozen=True, slots=True)
class Incoming:
    """One file handed to the exchange: its bytes and where they came from.

    ``arrival_party`` is the party that handed it in (its drop folder, ``airex send --as``),
    ``None`` when unknown; ``source`` is ``drop``, ``send`` or ``batch``;
    ``intake_token`` identifies one taking of a dropped file (so that a watcher that crashed
    after the commit does not take it twice).
    """

    data: bytes
    file_name: str | None = None
    arrival_party: str | None = None
    source: str = "send"
    intake_token: str | None = None
    stored: Stored | None = None
    """Set when the bytes were streamed into the store already (a large dropped file,
    never held in memory): ``data`` is then empty and unused."""

    @property
    def size(self) -> int:
        """How many bytes were handed in."""
        return self.stored.size if self.stored is not None else len(self.data)

    @property
    def head(self) -> bytes:
        """The first bytes handed in (enough to tell a flat report's HEAD)."""
        return self.stored.head if self.stored is not None else self.data[:HEAD_BYTES]


@dataclass(frozen=True, slots=True)
class Intake:
    """What :meth:`Exchange.receive_path` took in: the received ids (one per message), and
    for a batch its row id and BatchId; ``complete`` is False for an incomplete batch (not
    taken)."""

    received_ids: tuple[int, ...]
    batch_row_id: int | None = None
    batch_id: str | None = None
    complete: bool = True


@dataclass
class ProcessOutcome:
    """What processing one received message came to.

    ``status`` is the final MessageStatus (``None`` when nothing was done because the message
    was processed before: ``already``); ``owed`` the outbox rows its commit wrote, to perform
    now (:meth:`Exchange.deliver_rows`); ``dead`` True when it went to the dead letters.
    """

    received_id: int
    status: MessageStatus | None
    owed: list[ob.OutboxRow] = field(default_factory=list)
    already: bool = False
    dead: bool = False
    ack_message_id: str | None = None

    @property
    def outbox_ids(self) -> list[int]:
        """The ids of the outbox rows to perform now."""
        return [row.id for row in self.owed]


@dataclass(frozen=True)
class ExchangeStatus:
    """Counts for ``airex exchange status``: received messages per state and per status,
    open outbox rows per kind, the dead letters (newest first, at most 20), batches waiting."""

    states: dict[str, int]
    statuses: dict[str, int]
    outbox_open: dict[str, int]
    dead_letters: list[DeadLetter]
    dead_letter_count: int
    open_batches: int
    acknowledgements: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "received": self.states,
            "statuses": self.statuses,
            "outbox_open": self.outbox_open,
            "open_batches": self.open_batches,
            "acknowledgements": self.acknowledgements,
            "dead_letter_count": self.dead_letter_count,
            "dead_letters": [
                {
                    "received_id": d.received_id,
                    "reason": d.reason,
                    "attempts": d.attempts,
                    "at": d.created_at.isoformat(),
                }
                for d in self.dead_letters
            ],
        }


@dataclass
class _Work:
    """One message judged and acted on, waiting for its share of the commit."""

    row: ReceivedMessage
    verdict: Verdict
    result: ActionResult | None
    duplicate_of: int | None
    plan: _AckPlan | None
    answers: list[_Answer] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Answer:
    """A message the CMO's actions sent in answer, judged (validated once) and stored,
    waiting to be recorded and routed in the commit of the message it answers."""

    position: int
    file_name: str | None
    size: int
    sha256: str
    verdict: Verdict


@dataclass
class _AckPlan:
    """An acknowledgement decided (built) outside the transaction."""

    status: MessageStatus
    message_id: str
    data: bytes
    recipient: str
    file_name: str
