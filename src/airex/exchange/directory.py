"""The party directory, and who may send which message family to whom.

Every party the exchange talks to is in the directory: its DDEX party id, name, role
(``Rightsholder``, ``CollectiveManagementOrganisation``, ``AIDeveloper``, ``Registry``) and
delivery route: a folder (``<folder>/drop`` where it leaves messages and batches, watched by
``airex serve``; ``<folder>/inbox`` where the exchange delivers what it is sent and its
acknowledgements), the queue ``party.<PartyId>``, or both.

:data:`ENTITLEMENTS` follows the arrows of the standard (``shared/spec/messages-1.0.md``):

=============================  ==========================  ===============================
family                         sender role                 recipient role
=============================  ==========================  ===============================
WorkDeclarationMessage         Rightsholder                CMO, Registry
LicenceOfferMessage            CMO, Rightsholder           AIDeveloper
LicenceRequestMessage          AIDeveloper                 CMO, Rightsholder (licensor)
LicenceMessage                 CMO, Rightsholder           AIDeveloper (licensee)
InvoiceMessage                 CMO, Rightsholder           AIDeveloper (licensee)
UsageReportMessage             AIDeveloper                 CMO, Rightsholder (licensor)
PaymentNotificationMessage     any                         any other party
RoyaltyStatementMessage        CMO                         Rightsholder
AcknowledgementMessage         any                         any other party
ManifestMessage                never alone: only as the completion file of a batch
=============================  ==========================  ===============================

Roles are the directory's, never what a message says of its sender (``PartyRole`` in a
header is not trusted). A message to several recipients is refused whole when any
recipient is not entitled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from airex.db import insert_for, read_transaction, run_write
from airex.exchange.errors import PartyError
from airex.exchange.models import PartyRecord, party, utc_now
from airex.messages.codes import PartyRole

__all__ = ["ENTITLEMENTS", "Entitlement", "PartyDirectory", "entitled"]

_RH = PartyRole.RIGHTSHOLDER.value
_CMO = PartyRole.COLLECTIVE_MANAGEMENT_ORGANISATION.value
_DEV = PartyRole.AI_DEVELOPER.value
_REG = PartyRole.REGISTRY.value
_ANY = frozenset(r.value for r in PartyRole)
_PARTY_ID = re.compile(r"^PADPIDA[A-Za-z0-9]+$")


@dataclass(frozen=True, slots=True)
class Entitlement:
    """Which roles may send a family, and to which roles."""

    senders: frozenset[str]
    recipients: frozenset[str]


ENTITLEMENTS: dict[str, Entitlement] = {
    "WorkDeclarationMessage": Entitlement(frozenset({_RH}), frozenset({_CMO, _REG})),
    "LicenceOfferMessage": Entitlement(frozenset({_CMO, _RH}), frozenset({_DEV})),
    "LicenceRequestMessage": Entitlement(frozenset({_DEV}), frozenset({_CMO, _RH})),
    "LicenceMessage": Entitlement(frozenset({_CMO, _RH}), frozenset({_DEV})),
    "InvoiceMessage": Entitlement(frozenset({_CMO, _RH}), frozenset({_DEV})),
    "UsageReportMessage": Entitlement(frozenset({_DEV}), frozenset({_CMO, _RH})),
    "PaymentNotificationMessage": Entitlement(_ANY, _ANY),
    "RoyaltyStatementMessage": Entitlement(frozenset({_CMO}), frozenset({_RH})),
    "AcknowledgementMessage": Entitlement(_ANY, _ANY),
    "ManifestMessage": Entitlement(frozenset(), frozenset()),
}
"""Message family → the roles that may send it and the roles that may receive it."""


def entitled(message_type: str, sender_role: str, recipient_role: str) -> tuple[bool, bool]:
    """Whether a ``sender_role`` may send ``message_type``, and to a ``recipient_role``."""
    rule = ENTITLEMENTS.get(message_type)
    if rule is None:
        return False, False
    return sender_role in rule.senders, recipient_role in rule.recipients


class PartyDirectory:
    """The parties of the exchange, in the database (table ``exchange_party``)."""

    def __init__(self, engine: Engine, parties_dir: Path) -> None:
        self.engine = engine
        self.parties_dir = parties_dir

    def add(
        self,
        party_id: str,
        name: str,
        role: PartyRole | str,
        *,
        folder: Path | str | bool | None = True,
        queue: bool = False,
        replace: bool = False,
    ) -> PartyRecord:
        """Add a party (or, with ``replace``, change it); return its record.

        ``folder`` is a path, ``True`` for the default ``<AIREX_HOME>/parties/<PartyId>``, or
        ``False``/``None`` for no folder (then ``queue`` must be true: a party needs a route).
        The folder's ``drop/`` and ``inbox/`` are created.
        """
        if not _PARTY_ID.match(party_id) or len(party_id) > 64:
            raise PartyError(
                f"party id {party_id!r} is not a DDEX party id (PADPIDA + letters and digits, "
                "at most 64 characters)"
            )
        try:
            role_value = PartyRole(role).value
        except ValueError:
            raise PartyError(
                f"role {role!r} of party {party_id} is not one of "
                f"{', '.join(r.value for r in PartyRole)}"
            ) from None
        if not name.strip() or len(name) > 1024:
            raise PartyError(f"party {party_id}: a name of 1 to 1024 characters is required")
        if folder is True:
            path: Path | None = self.parties_dir / party_id
        elif folder is False or folder is None:
            path = None
        else:
            path = Path(folder)
        if path is None and not queue:
            raise PartyError(f"party {party_id} needs a delivery route: a folder, a queue, or both")
        if path is not None:
            path = path.resolve()
            (path / "drop").mkdir(parents=True, exist_ok=True)
            (path / "inbox").mkdir(parents=True, exist_ok=True)
        record = PartyRecord(party_id, name.strip(), role_value, str(path) if path else None, queue)

        def work(connection: Connection) -> None:
            values = {
                "party_id": record.party_id,
                "name": record.name,
                "role": record.role,
                "folder": record.folder,
                "queue": record.queue,
                "created_at": utc_now(),
            }
            statement = insert_for(connection, party).values(**values)
            if replace:
                statement = statement.on_conflict_do_update(
                    index_elements=["party_id"],
                    set_={k: v for k, v in values.items() if k not in ("party_id", "created_at")},
                )
                connection.execute(statement)
                return
            result = connection.execute(statement.on_conflict_do_nothing())
            if result.rowcount == 0:
                raise PartyError(
                    f"party {party_id} is already in the directory (use --replace to change it)"
                )

        run_write(self.engine, work)
        return record

    def get(self, party_id: str) -> PartyRecord | None:
        """The party ``party_id``, or ``None`` when it is not in the directory."""
        with read_transaction(self.engine) as connection:
            return self.lookup(connection, [party_id]).get(party_id)

    def require(self, party_id: str) -> PartyRecord:
        """The party ``party_id``; :class:`PartyError` when it is not in the directory."""
        found = self.get(party_id)
        if found is None:
            raise PartyError(f"party {party_id} is not in the directory (airex party add)")
        return found

    def all(self) -> list[PartyRecord]:
        """Every party, by party id."""
        with read_transaction(self.engine) as connection:
            rows = connection.execute(sa.select(party).order_by(party.c.party_id))
            return [_record(row) for row in rows]

    @staticmethod
    def lookup(connection: Connection, party_ids: Iterable[str]) -> dict[str, PartyRecord]:
        """The parties among ``party_ids`` that are in the directory, by id."""
        wanted = sorted(set(party_ids))
        if not wanted:
            return {}
        rows = connection.execute(sa.select(party).where(party.c.party_id.in_(wanted)))
        return {row.party_id: _record(row) for row in rows}


def _record(row: sa.Row[tuple[object, ...]]) -> PartyRecord:
    return PartyRecord(
        party_id=row.party_id,
        name=row.name,
        role=row.role,
        folder=row.folder,
        queue=bool(row.queue),
    )
