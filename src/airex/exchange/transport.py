"""The embedded broker, and how the exchange talks to any broker through kombu.

The embedded broker
-------------------
The embedded default must need no server and work with real worker processes. Two kombu
transports qualify: ``filesystem://`` (one file per message in a folder) and
``sqla+sqlite://`` (a table in a SQLite file). Measured on this machine with two Celery
workers (prefork, two processes each) and four publishing processes, 4 000 tasks: both
delivered every task exactly once; the folder took 19.9 s, the SQLite table 33.0 s (each
publish commits a SQLite transaction, and every poll of every worker takes the database's
write lock with ``BEGIN IMMEDIATE``); the table also keeps every delivered message forever
(it only marks them invisible). The folder it is, with two defects of kombu's
implementation fixed here (:class:`EmbeddedChannel`):

* kombu creates the message file under its final name and *then* writes it, so a consumer
  listing the folder at that moment can take an empty or partial file (and lose the
  message); here the message is written under a temporary name, synced, and renamed into
  place, so a consumer sees whole messages only;
* kombu claims a message by moving it to the system's temporary folder, which is a copy
  and a delete (not atomic, two consumers may both take it) when that folder is on another
  file system; here it is renamed into ``claimed/`` beside the queue folder.

Both transports lose the message a worker holds when the whole worker is SIGKILLed (neither
has a broker that could redeliver it); the exchange does not rely on the broker for that:
every task is an outbox row that the relay publishes again until it is processed (see
:mod:`airex.exchange.outbox`).

RabbitMQ
--------
Durable queues, persistent messages (delivery mode 2), publisher confirms
(``confirm_publish``): a publish returns only once the broker has the message.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.transport.virtual import BrokerState
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from airex.exchange.settings import ExchangeSettings
from airex.exchange.store import write_all

__all__ = [
    "EMBEDDED_TRANSPORT",
    "EmbeddedChannel",
    "EmbeddedTransport",
    "broker_transport",
    "broker_transport_options",
]

EMBEDDED_TRANSPORT = "airex.exchange.transport:EmbeddedTransport"
"""The kombu transport class the embedded broker (``filesystem://``) uses."""


class EmbeddedChannel(filesystem.Channel):
    """kombu's filesystem channel, with whole-file publication and atomic claims."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._pending: dict[str, list[str]] = {}

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message under a temporary name, sync it, rename it into the queue."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = Path(self.data_folder_out)
        temporary = folder / f".{name}.tmp"
        data: bytes = str_to_bytes(dumps(payload))  # type: ignore[no-untyped-call]
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                write_all(fd, data)  # a write may be short; a full disk raises
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temporary, folder / name)
        except OSError as exc:
            temporary.unlink(missing_ok=True)  # never a half message left behind
            raise ChannelError(f"cannot add a message to queue {queue!r} in {folder}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """Claim the oldest message of ``queue`` by renaming it into ``claimed/``, read it,
        delete it. A message another consumer claimed first is skipped."""
        folder = Path(self.data_folder_in)
        claimed = folder / "claimed"
        suffix = f".{queue}.msg"
        pending = self._pending.get(queue)
        if not pending:
            pending = sorted(
                name
                for name in os.listdir(folder)
                if name.endswith(suffix) and name.partition(".")[2] == suffix[1:]
            )
            pending.reverse()  # pop() from the end takes the oldest
            self._pending[queue] = pending
        while pending:
            name = pending.pop()
            target = claimed / name
            try:
                os.rename(folder / name, target)
            except FileNotFoundError:
                continue  # another consumer took it
            except OSError as exc:
                raise ChannelError(f"cannot claim message {name} in {folder}") from exc
            try:
                payload = target.read_bytes()
            finally:
                target.unlink(missing_ok=True)
            return loads(bytes_to_str(payload))  # type: ignore[no-untyped-call]
        raise Empty()

    def _size(self, queue: str) -> int:
        suffix = f".{queue}.msg"
        return sum(
            1
            for name in os.listdir(self.data_folder_in)
            if name.endswith(suffix) and name.partition(".")[2] == suffix[1:]
        )


class EmbeddedTransport(filesystem.Transport):
    """kombu's filesystem transport with :class:`EmbeddedChannel`."""

    Channel = EmbeddedChannel
    global_state = BrokerState()  # type: ignore[no-untyped-call]


def broker_transport(settings: ExchangeSettings) -> str | None:
    """The kombu transport to use for ``settings.broker_url`` (``None``: the URL's own)."""
    return EMBEDDED_TRANSPORT if settings.embedded_broker else None


def broker_transport_options(settings: ExchangeSettings) -> dict[str, Any]:
    """Transport options: the embedded broker's folders, or publisher confirms on RabbitMQ.

    Creates the embedded broker's folders when needed.
    """
    options: dict[str, Any] = {}
    if settings.embedded_broker:
        folder = settings.broker_dir
        for sub in (folder / "queue" / "claimed", folder / "control"):
            sub.mkdir(parents=True, exist_ok=True)
        options.update(
            data_folder_in=str(folder / "queue"),
            data_folder_out=str(folder / "queue"),
            control_folder=str(folder / "control"),
            polling_interval=0.01,
        )
    elif settings.amqp_broker:
        options.update(confirm_publish=True)
    options.update(settings.broker_options)
    return options
