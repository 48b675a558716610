"""Reading a party's queue (``party.<PartyId>``): what a party's own system does.

A party with a queue route receives every message routed to it, and its acknowledgements, on
the durable queue ``party.<PartyId>`` (with ``AIREX_QUEUE_PREFIX`` in front). Each message's
body is the XML exactly as stored; its headers say what it is:

``airex-kind``
    ``message``, ``acknowledgement`` or ``dead-letter``;
``airex-message-type``, ``airex-message-id``, ``airex-sender``
    from the message's header;
``airex-file-name``
    the name the message has in a folder delivery (``<Sender>_<MessageId>.xml``,
    ``ACK_<MessageId>_<n>.xml``, ``ACK_<BatchId>.xml``);
``airex-delivery-id``
    the outbox row it comes from: the same for every publication of one delivery, so a
    consumer that remembers it (or writes files named after ``airex-file-name``) never
    handles a delivery twice when the relay publishes it again.

:func:`drain_queue` reads a queue and acknowledges each message to the broker only after
the handler returned (a consumer that dies leaves the message in the queue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airex.exchange.settings import ExchangeSettings

__all__ = ["Delivery", "drain_queue"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message read from a queue: its bytes and headers."""

    body: bytes
    headers: Mapping[str, Any]

    @property
    def delivery_id(self) -> str | None:
        """The outbox row id the delivery comes from (what consumers deduplicate on)."""
        value = self.headers.get("airex-delivery-id")
        return str(value) if value is not None else None


def drain_queue(
    settings: ExchangeSettings,
    queue: str,
    handle: Callable[[Delivery], None],
    *,
    idle: float = 1.0,
    limit: int | None = None,
) -> int:
    """Read ``queue`` until it stayed empty for ``idle`` seconds (or ``limit`` messages were
    read), calling ``handle`` for each message and then acknowledging it. Returns the count.

    ``queue`` is a full name, e.g. ``settings.party_queue("PADPIDA2026DEV01")`` or
    ``settings.dead_letter_queue``.
    """
    from queue import Empty

    from airex.exchange.celery_app import make_celery

    app = make_celery(settings)
    count = 0
    try:
        with app.connection_for_read() as connection:
            simple = connection.SimpleQueue(
                queue, no_ack=False, queue_opts={"durable": True, "auto_delete": False}
            )
            try:
                while limit is None or count < limit:
                    try:
                        message = simple.get(block=True, timeout=idle)
                    except Empty:
                        break
                    body = message.body
                    if isinstance(body, str):
                        body = body.encode("utf-8")
                    handle(Delivery(bytes(body), dict(message.headers or {})))
                    message.ack()
                    count += 1
            finally:
                simple.close()
    finally:
        app.close()
    return count
