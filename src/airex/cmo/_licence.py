"""The CMO's licensing: find the offer a LicenceRequest accepts, grant the licence, record it.

The CMO sends its LicenceOfferMessages like any party (its drop folder, ``airex send``): they
are addressed to developers, so the exchange routes them and never calls the CMO's actions
for them. What the exchange keeps of them is enough: every accepted message has its
(sender, MessageId) row in ``exchange_message`` and its bytes in the message store. An
:class:`OfferBook` reads the CMO's offers from there — each stored offer parsed once per
process — so no table of its own is needed and no offer can be granted that did not really
pass through the exchange.

Everything a grant produces is derived from the request, never from the clock, so that a
redo after a crash produces the same LicenceMessage, byte for byte: its MessageId from the
request's ``<sender>/<MessageId>``, its IssuedDateTime and MessageCreatedDateTime from the
request's MessageCreatedDateTime, its LicenceId from the offer and the request.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from airex.db import read_transaction
from airex.errors import MessageError, MessageStatus
from airex.exchange.models import message as message_table
from airex.exchange.models import received as received_table
from airex.ledger import AlreadyGrantedError, GrantRecord, GrantRegister
from airex.messages import LicenceMessage, LicenceOfferMessage, parse, serialise
from airex.messages.codes import LicenceStatus, MessageControlType
from airex.messages.common import MessageHeader, Party, WorkId
from airex.messages.licence import Licence

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from airex.exchange.store import MessageStore
    from airex.messages.offer import Offer
    from airex.messages.request import LicenceRequestMessage

__all__ = [
    "Grant",
    "OfferBook",
    "StoredOffer",
    "derived_message_id",
    "grant_licence",
    "grant_record_from_licence",
    "licence_id_for",
    "work_key",
]

_ID_LIMIT = 64


def derived_message_id(kind: str, key: str) -> str:
    """A MessageId derived from what caused the message: ``AIREX-`` and 32 hex digits of the
    SHA-256 of ``kind`` and ``key`` (the same cause always gives the same id)."""
    digest = hashlib.sha256(f"{kind}\n{key}".encode()).hexdigest()
    return f"AIREX-{digest[:32]}"


def to_second(instant: datetime) -> datetime:
    """``instant`` in UTC, to the second (as a MessageCreatedDateTime is written)."""
    return instant.astimezone(UTC).replace(microsecond=0)


def work_key(work_id: WorkId) -> str:
    """A WorkId as the grant register names works: ``Type::value``, and
    ``Proprietary::<Namespace>::<value>`` for a proprietary id (its flat-file form)."""
    if work_id.namespace:
        return f"{work_id.type}::{work_id.namespace}::{work_id.value}"
    return f"{work_id.type}::{work_id.value}"


def grant_record_from_licence(message: LicenceMessage, raw: bytes) -> GrantRecord:
    """The grant-register record of a LicenceMessage (one state of its licence).

    ``raw`` is the message's bytes, kept with the record (pricing reads the licence's terms
    from them); ``source_message_id`` is ``<sender>:<MessageId>``, so recording the same
    message twice records it once. The register knows works by id or "every work": a
    ``WorkIdList`` repertoire gives ``work_ids`` (``Type::value``), ``AllRepresentedWorks``
    and ``WorkTypeList`` give ``all_works`` (the work types stay in the stored message, where
    the registry's checks read them).
    """
    if not isinstance(message, LicenceMessage):
        raise TypeError(
            f"grant_record_from_licence takes a LicenceMessage, not {type(message).__name__}"
        )
    licence = message.licence
    terms = licence.licence_terms
    listed = terms.repertoire.work_id_list
    return GrantRecord(
        licence_id=licence.licence_id,
        status=str(licence.licence_status),
        licensor=licence.licensor.party_id,
        licensee=licence.licensee.party_id,
        issued_at=licence.issued_date_time,
        term_start=terms.term.start_date,
        term_end=terms.term.end_date,
        use_types=[str(u) for u in terms.permitted_use_types],
        work_ids=[work_key(w) for w in listed.work_ids] if listed is not None else (),
        all_works=listed is None,
        territories=list(terms.territory.territory_codes),
        excluded_territories=list(terms.territory.excluded_territory_codes),
        status_reason=licence.status_reason,
        source_message_id=f"{message.message_header.message_sender.party_id}:{message.message_id}",
        source_message=raw,
    )


@dataclass(frozen=True, slots=True)
class StoredOffer:
    """An offer the CMO sent through the exchange: the Offer, its message's id and time."""

    offer: Offer
    message_id: str
    created: datetime
    received_id: int
    test: bool


class OfferBook:
    """The offers the CMO sent, read from the exchange's records (see the module doc).

    Each stored offer is parsed once per process (the book keeps what it parsed, by the
    exchange's reception id); a lookup reads the list of the CMO's accepted offer messages
    and parses only the new ones.
    """

    def __init__(self, store: MessageStore, cmo: str) -> None:
        self.store = store
        self.cmo = cmo
        self._parsed: dict[int, StoredOffer | None] = {}

    def find(self, engine: Engine, offer_id: str) -> StoredOffer | None:
        """The CMO's live (not test) offer ``offer_id`` whose Licensor is the CMO; when it sent
        several offers under that id, the latest (MessageCreatedDateTime, then reception)."""
        query = (
            sa.select(message_table.c.received_id, received_table.c.sha256)
            .join(received_table, received_table.c.id == message_table.c.received_id)
            .where(
                message_table.c.sender == self.cmo,
                message_table.c.message_type == "LicenceOfferMessage",
            )
        )
        with read_transaction(engine) as connection:
            rows = [(int(r.received_id), str(r.sha256)) for r in connection.execute(query)]
        found: list[StoredOffer] = []
        for received_id, sha256 in rows:
            if received_id not in self._parsed:
                self._parsed[received_id] = self._read(received_id, sha256)
            stored = self._parsed[received_id]
            if (
                stored is not None
                and not stored.test
                and stored.offer.offer_id == offer_id
                and stored.offer.licensor.party_id == self.cmo
            ):
                found.append(stored)
        if not found:
            return None
        return max(found, key=lambda s: (s.created, s.received_id))

    def _read(self, received_id: int, sha256: str) -> StoredOffer | None:
        parsed = parse(self.store.get(sha256))
        if not isinstance(parsed, LicenceOfferMessage):
            return None
        header = parsed.message_header
        return StoredOffer(
            offer=parsed.offer,
            message_id=header.message_id,
            created=header.message_created_date_time,
            received_id=received_id,
            test=header.message_control_type == MessageControlType.TEST_MESSAGE,
        )


def licence_id_for(register: GrantRegister, offer_id: str, request_id: str, licensee: str) -> str:
    """The LicenceId granted on request ``request_id`` of ``licensee`` for offer ``offer_id``:
    ``<OfferId>-L-<RequestId>``; when that is longer than 64 characters, or is the id of
    another licensee's licence (two developers may pick the same RequestId for an open offer),
    ``LIC-`` and 40 hex digits of SHA-256(licensee:OfferId:RequestId)."""
    candidate = f"{offer_id}-L-{request_id}"
    if len(candidate) <= _ID_LIMIT:
        states = register.history(candidate)
        if not states or states[0].licensee == licensee:
            return candidate
    digest = hashlib.sha256(f"{licensee}:{offer_id}:{request_id}".encode()).hexdigest()
    return f"LIC-{digest[:40]}"


@dataclass(frozen=True, slots=True)
class Grant:
    """What acting on a LicenceRequest came to: a licence (its message and bytes, recorded),
    or the error that refuses the request."""

    licence: LicenceMessage | None = None
    raw: bytes = b""
    created: bool = False
    """Whether this call recorded the licence (``False``: recorded by an earlier run)."""
    error: MessageError | None = None


def _refused(error: MessageError) -> Grant:
    return Grant(error=error)


def grant_licence(
    request: LicenceRequestMessage,
    dedupe_key: str,
    *,
    received_at: datetime,
    cmo: str,
    offers: OfferBook,
    register: GrantRegister,
    engine: Engine,
) -> Grant:
    """Grant the licence a LicenceRequestMessage asks for, record it, and return it; or say
    why the request is refused (see the module doc and ``docs/cmo-actions.md``)."""
    header = request.message_header
    asked = request.licence_request
    sender = header.message_sender.party_id
    behalf = header.sent_on_behalf_of.party_id if header.sent_on_behalf_of else None
    licensee = asked.licensee.party_id
    root = "/LicenceRequestMessage/LicenceRequest"
    if licensee not in (sender, behalf):
        return _refused(
            MessageError(
                "LicenseeNotSender",
                f"request {asked.request_id} names {licensee} as the licensee, but it comes "
                f"from {sender}" + (f" on behalf of {behalf}" if behalf else ""),
                path=f"{root}/Licensee/PartyId",
                status=MessageStatus.NOT_AUTHORISED,
            )
        )
    stored = offers.find(engine, asked.offer_id)
    if stored is None:
        return _refused(
            MessageError(
                "UnknownOffer",
                f"request {asked.request_id} accepts offer {asked.offer_id}, which {cmo} never "
                "sent through this exchange",
                path=f"{root}/OfferId",
                status=MessageStatus.UNKNOWN_REFERENCE,
            )
        )
    offer = stored.offer
    if offer.licensee is not None and offer.licensee.party_id != licensee:
        return _refused(
            MessageError(
                "OfferNotForLicensee",
                f"offer {offer.offer_id} is addressed to another licensee; {licensee} cannot "
                "accept it",
                path=f"{root}/OfferId",
                status=MessageStatus.NOT_AUTHORISED,
            )
        )
    # The exchange's clock, not the sender's: the time the request was taken in (stored, so a
    # redo after a crash decides and issues the same); a backdated MessageCreatedDateTime
    # neither revives an expired offer nor backdates the licence.
    requested_at = to_second(received_at)
    if offer.valid_until < requested_at:
        return _refused(
            MessageError(
                "OfferExpired",
                f"offer {offer.offer_id} was valid until "
                f"{to_second(offer.valid_until).isoformat()}; request {asked.request_id} was "
                f"received at {requested_at.isoformat()}",
                path=f"{root}/OfferId",
                status=MessageStatus.BUSINESS_RULE_VIOLATION,
            )
        )
    term = offer.licence_terms.term
    start = asked.requested_start_date
    if start is not None and not _within(start, term.start_date, term.end_date):
        until = term.end_date.isoformat() if term.end_date is not None else "open-ended"
        return _refused(
            MessageError(
                "StartDateOutsideTerm",
                f"request {asked.request_id} asks to start on {start.isoformat()}, outside "
                f"offer {offer.offer_id}'s term ({term.start_date.isoformat()} to {until})",
                path=f"{root}/RequestedStartDate",
                status=MessageStatus.BUSINESS_RULE_VIOLATION,
            )
        )
    licence_id = licence_id_for(register, offer.offer_id, asked.request_id, licensee)
    message_id = derived_message_id("licence", dedupe_key)
    source_id = f"{cmo}:{message_id}"
    earlier = [s for s in register.history(licence_id) if s.source_message_id != source_id]
    if earlier:
        return _already(asked.request_id, licensee, offer.offer_id, licence_id, earlier[0])
    terms = offer.licence_terms.model_copy(deep=True)
    if start is not None:
        terms.term.start_date = start
    licence = LicenceMessage(
        message_header=MessageHeader(
            message_thread_id=header.message_thread_id,
            message_id=message_id,
            message_sender=Party(party_id=cmo),
            message_recipients=[Party(party_id=licensee)],
            message_created_date_time=requested_at,
        ),
        licence=Licence(
            licence_id=licence_id,
            offer_id=offer.offer_id,
            request_id=asked.request_id,
            licensor=offer.licensor.model_copy(),
            licensee=asked.licensee.model_copy(),
            licence_status=LicenceStatus.GRANTED,
            issued_date_time=requested_at,
            licence_terms=terms,
        ),
    )
    raw = serialise(licence)
    try:  # the check above, again under the licence's lock: a racing request lost
        result = register.record(grant_record_from_licence(licence, raw), first=True)
    except AlreadyGrantedError as exc:
        return _already(asked.request_id, licensee, offer.offer_id, licence_id, exc)
    return Grant(licence=licence, raw=raw, created=result.created)


def _already(request_id: str, licensee: str, offer_id: str, licence_id: str, earlier: Any) -> Grant:
    return _refused(
        MessageError(
            "RequestAlreadyGranted",
            f"request {request_id} of {licensee} for offer {offer_id} was granted before, "
            f"as licence {licence_id} (message {earlier.source_message_id}); a new request "
            "needs a new RequestId",
            path="/LicenceRequestMessage/LicenceRequest/RequestId",
            status=MessageStatus.BUSINESS_RULE_VIOLATION,
        )
    )


def _within(day: date, start: date, end: date | None) -> bool:
    return start <= day and (end is None or day <= end)
