"""The exchange's parts for one process: database, store, directory, publisher, actions;
performing what the outbox owes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from airex.db import create_engine, read_transaction
from airex.exchange import outbox as ob
from airex.exchange.directory import PartyDirectory
from airex.exchange.hooks import CmoActions, NoActions
from airex.exchange.models import PartyRecord
from airex.exchange.schema import require_current
from airex.exchange.settings import ExchangeSettings
from airex.exchange.store import MessageStore

if TYPE_CHECKING:
    from airex.exchange.publish import Publisher

log = logging.getLogger("airex.exchange.pipeline")


class _Base:
    """What every part of the pipeline shares (see :class:`~airex.exchange.Exchange`)."""

    def __init__(
        self,
        settings: ExchangeSettings,
        *,
        engine: Engine | None = None,
        publisher: Publisher | None = None,
        actions: CmoActions | None = None,
        check_schema: bool = True,
    ) -> None:
        self.settings = settings
        self._own_engine = engine is None
        self.engine = engine if engine is not None else create_engine(settings.database)
        if check_schema:
            require_current(self.engine)
        self.store = MessageStore(settings.store_dir)
        self.directory = PartyDirectory(self.engine, settings.parties_dir)
        self.publisher = publisher
        self._actions = actions
        self._courier: ob.Courier | None = None
        self._parties: dict[str, tuple[float, PartyRecord]] = {}

    @property
    def actions(self) -> CmoActions:
        """The CMO's actions (those handed in; else :class:`NoActions`: routing only)."""
        if self._actions is None:
            self._actions = NoActions()
        return self._actions

    @property
    def courier(self) -> ob.Courier:
        """What performs outbox rows (publications and folder deliveries)."""
        if self._courier is None:
            self._courier = ob.Courier(self.settings, self.publisher, self.store)
        return self._courier

    def deliver(self, outbox_ids: Sequence[int]) -> ob.PerformReport:
        """Perform the outbox rows ``outbox_ids`` (those not done yet) now, and record it.
        Never raises: what fails is left to the relay."""
        if not outbox_ids:
            return ob.PerformReport()
        try:
            with read_transaction(self.engine) as connection:
                rows = ob.load_rows(connection, outbox_ids)
        except Exception:  # the relay performs what is left
            log.warning("outbox rows %s left to the relay", list(outbox_ids), exc_info=True)
            return ob.PerformReport()
        return self.deliver_rows(rows)

    def deliver_rows(self, rows: Sequence[ob.OutboxRow]) -> ob.PerformReport:
        """Perform ``rows`` (just written by a commit) now, and record it. Never raises:
        what fails is left to the relay."""
        report = ob.PerformReport()
        if not rows:
            return report
        try:
            report = self.courier.perform(rows)
            ob.record(self.engine, report)
        except Exception:  # the relay performs what is left
            log.warning("outbox rows %s left to the relay", [r.id for r in rows], exc_info=True)
        return report

    def relay_once(self) -> ob.PerformReport:
        """Perform the outbox rows that are due (see :func:`airex.exchange.outbox.relay_once`)."""
        return ob.relay_once(self.engine, self.courier, self.settings)
