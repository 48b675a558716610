"""The exchange's pipeline as plain service functions: receive, process, give up, deliver.

::

    receive ──► store raw bytes ──► exchange_received + outbox(process) ─commit─► publish task
                (content-addressed,      (one transaction)
                 fsync'd: first)
    process(received_id):
        load ──► validate (airex.check) ──► parties known? entitled? (the verdict)
             ──► duplicate (sender, MessageId)? ──► act, when the CMO is a recipient (hook)
             ──► ONE transaction: dedupe row, inbox rows, deliveries to every recipient's
                 folder/queue, the CMO's outgoing messages, the acknowledgement to the
                 sender, the message's final state, the outbox rows of all of it
             ─commit─► perform the outbox rows (the relay does what is left)

Nothing here needs Celery: the task (:mod:`airex.exchange.celery_app`) calls
:meth:`Exchange.process` with an id, and so do the tests; what is published goes through the
:class:`~airex.exchange.publish.Publisher` the caller chose. A message is processed at most once
whatever the broker does: the processing transaction locks the received row and does nothing
if it is no longer pending; a second copy of the same message (same sender and MessageId) is
acknowledged ``DuplicateMessage`` with no effect.

Failures: a transient one (database busy or unreachable, disk) raises
:class:`~airex.exchange.errors.TransientError` for the task to retry with back-off; anything
else (the CMO's action raising, a damaged store file) is a poison message: it goes to the
dead letters at once (:meth:`Exchange.give_up`: table, queue, ``InternalError``
acknowledgement). Redeliveries are counted (``attempts``); a message redelivered
``max_attempts`` times — a worker killed each time it runs it — is given up too.

:class:`Exchange` is assembled from one private module per job, each a layer of the class:
``_base`` (database, store, directory, publisher, actions; performing the outbox),
``_route`` (deliveries to recipients), ``_acknowledge`` (final status, acknowledgements,
a batch's ACK), ``_judge`` (the verdict, deduplication, the CMO's hook), ``_dead`` (dead
letters), ``_process`` (a task's messages, one commit), ``_intake`` (messages and batches
taken in), ``_status`` (reading back), ``_expire`` (a split report's parts that waited too
long); ``_work`` holds the records, ``_rows`` the statements.
"""

from __future__ import annotations

from airex.exchange._expire import _Expiring
from airex.exchange._work import ExchangeStatus, Incoming, Intake, ProcessOutcome

__all__ = [
    "Exchange",
    "ExchangeStatus",
    "Incoming",
    "Intake",
    "ProcessOutcome",
]


class Exchange(_Expiring):
    """The exchange for one process: database, message store, directory, broker, actions.

    ``Exchange(settings)`` opens an engine on ``settings.database`` (checking the schema is
    current unless ``check_schema=False``); pass ``engine`` to share one, ``publisher`` what
    publishes its tasks and queue deliveries (:mod:`airex.exchange.publish`; the caller's
    choice: :func:`~airex.exchange.celery_app.celery_publisher` for the exchange's broker,
    :class:`~airex.exchange.publish.InMemoryPublisher` in tests; without one, what must go
    through the broker is left to a relay that has one) and
    ``actions`` the CMO's actions (else none: the exchange only routes; the top floor hands
    in ``airex.cmo``'s, see :mod:`airex.exchange.hooks`).
    """

    def close(self) -> None:
        """Release the engine (when this exchange made it) and the publisher's connections."""
        if self._own_engine:
            self.engine.dispose()
        if self.publisher is not None:
            self.publisher.close()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
