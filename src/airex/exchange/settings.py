"""The exchange's settings: a typed object passed in, read from the environment in one place.

Only :meth:`ExchangeSettings.from_env` reads the environment, and never at import time:

``AIREX_DATABASE_URL``
    the database (see :class:`airex.db.DatabaseConfig`; default the SQLite file ``./airex.db``).
``AIREX_BROKER_URL``
    the Celery/kombu broker. Unset (or ``filesystem://``): the *embedded* broker, a folder of
    message files under ``AIREX_HOME/broker`` that needs no server (see
    :mod:`airex.exchange.transport` for why that one, and how it is made safe);
    ``amqp://user:password@host:5672/vhost`` for RabbitMQ (durable queues, persistent
    messages, publisher confirms).
``AIREX_HOME``
    the exchange's folder (default ``./airex-exchange``): the message store
    (``store/``), the parties' folders (``parties/<PartyId>/drop`` and ``.../inbox``) and the
    embedded broker (``broker/``). Every worker and ``airex serve`` must see the same folder
    (a shared volume when they run on several machines).
``AIREX_CMO_PARTY_ID``
    the CMO the exchange runs for: messages addressed to it are acted on (see
    :mod:`airex.exchange.hooks`), and it signs the acknowledgements. Unset: the exchange only
    routes, and signs as :data:`ROUTER_PARTY_ID`.
``AIREX_QUEUE_PREFIX``
    put before every queue name (``<prefix>airex.exchange``, ``<prefix>party.<PartyId>``):
    several exchanges, or test runs, can share one broker without meeting.
``AIREX_MAX_ATTEMPTS``, ``AIREX_REDELIVER_AFTER``
    how often a message is tried before it goes to the dead letters (default 5), and after
    how many seconds the relay publishes again a task that was published but not processed
    (default 60; a task a SIGKILLed worker held is lost on the embedded broker).
``AIREX_TASK_CHUNK``
    how many received messages one processing task carries at most (default 50): messages
    that arrive together are processed, and committed, together; 1 gives one task per
    message.
``AIREX_PARTS_TIMEOUT``
    how many seconds the parts of a split flat-file report wait for the rest of their set,
    counted from the latest part (default 86400, a day): then the parts received are refused
    (``ReportPartMissing``, one acknowledgement to the sender saying which files never
    came) by ``airex serve``, and the report must be sent again whole.
``AIREX_MAX_MESSAGE_BYTES``, ``AIREX_MAX_BATCH_BYTES``
    the largest file a party may hand in (default 2 GiB: a usage report of ~10 M XML
    records; larger reports travel as split flat files), and the most a batch may hold,
    its files together, uncompressed (default 1 GiB, as ``airex.batch.BatchLimits``: a
    batch is still read into memory to be checked, so this also bounds what one batch costs
    ``airex serve``; lower it where memory is short). A larger file is refused
    (``SizeLimitExceeded``, moved to ``drop/.rejected/``) before it is stored; a dropped file
    is streamed into the store, never held in memory.
``AIREX_TASK_TIME_LIMIT``, ``AIREX_WORKER_MEMORY_LIMIT``
    how many seconds one processing task may run (default 3600; then the messages it was
    processing go to the dead letters with the reason, never retried), and how many bytes of
    memory a worker process may allocate (default 4 GiB, ``RLIMIT_DATA``; a message that
    needs more fails with ``MemoryError`` and goes to the dead letters, the worker lives on).
``AIREX_CMO_ACTIONS``
    ``module:factory`` of the CMO's actions, overriding the factory the caller wires in
    (``airex worker`` / ``airex serve``: the CMO's business, ``airex.cmo:make_actions``);
    ``airex.exchange.hooks:no_actions`` routes only. The exchange keeps the name; its
    callers resolve it (:func:`airex.exchange.hooks.load_actions`).
``AIREX_CLOCK_FILE``
    for simulations only (``airex demo`` plays a scenario of several months in a minute): a
    file holding an ISO 8601 instant with its time zone. The exchange's clock, what it
    records as a message's time of receipt (which decides whether an offer has expired and
    dates a licence) and dates its acknowledgements with, then reads that instant, moving on
    in real time from the file's last change. Unset: the system clock. Never set it on a
    live exchange.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airex.db import DatabaseConfig
from airex.exchange.errors import ExchangeConfigError

__all__ = [
    "DEFAULT_HOME",
    "EMBEDDED_BROKER_URL",
    "ENV_BROKER_URL",
    "ENV_CLOCK_FILE",
    "ENV_CMO_ACTIONS",
    "ENV_CMO_PARTY_ID",
    "ENV_HOME",
    "ENV_MAX_ATTEMPTS",
    "ENV_MAX_BATCH_BYTES",
    "ENV_MAX_MESSAGE_BYTES",
    "ENV_PARTS_TIMEOUT",
    "ENV_QUEUE_PREFIX",
    "ENV_REDELIVER_AFTER",
    "ENV_TASK_CHUNK",
    "ENV_TASK_TIME_LIMIT",
    "ENV_WORKER_MEMORY_LIMIT",
    "ROUTER_PARTY_ID",
    "ExchangeSettings",
    "read_clock",
    "write_clock",
]

ENV_BROKER_URL = "AIREX_BROKER_URL"
ENV_HOME = "AIREX_HOME"
ENV_CMO_PARTY_ID = "AIREX_CMO_PARTY_ID"
ENV_QUEUE_PREFIX = "AIREX_QUEUE_PREFIX"
ENV_MAX_ATTEMPTS = "AIREX_MAX_ATTEMPTS"
ENV_REDELIVER_AFTER = "AIREX_REDELIVER_AFTER"
ENV_CMO_ACTIONS = "AIREX_CMO_ACTIONS"
ENV_TASK_CHUNK = "AIREX_TASK_CHUNK"
ENV_CLOCK_FILE = "AIREX_CLOCK_FILE"
ENV_PARTS_TIMEOUT = "AIREX_PARTS_TIMEOUT"
ENV_MAX_MESSAGE_BYTES = "AIREX_MAX_MESSAGE_BYTES"
ENV_MAX_BATCH_BYTES = "AIREX_MAX_BATCH_BYTES"
ENV_TASK_TIME_LIMIT = "AIREX_TASK_TIME_LIMIT"
ENV_WORKER_MEMORY_LIMIT = "AIREX_WORKER_MEMORY_LIMIT"

EMBEDDED_BROKER_URL = "filesystem://"
"""The broker URL of the embedded default (message files under ``AIREX_HOME/broker``)."""

DEFAULT_HOME = "airex-exchange"
"""The exchange's folder when ``AIREX_HOME`` is unset, in the working directory."""

ROUTER_PARTY_ID = "PADPIDAAIREXEXCHANGE"
"""Who signs acknowledgements when the exchange runs for no CMO (``AIREX_CMO_PARTY_ID`` unset)."""

_PARTY_ID = re.compile(r"^PADPIDA[A-Za-z0-9]+$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_ACTIONS = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class ExchangeSettings:
    """Everything the exchange needs to know to run; see the module doc for each setting.

    Timings are in seconds: ``retry_backoff`` is the first pause before a transient failure
    is retried (doubled each time, at most ``max_backoff``); ``redeliver_after`` how long a
    published task may stay unprocessed before the relay publishes it again;
    ``relay_interval`` and ``watch_interval`` how often the relay and the drop-folder watcher
    look for work; ``relay_grace`` how long the relay leaves a fresh outbox row to the
    process that wrote it (which publishes it at once after its commit); ``settle_time`` how
    long a dropped file must keep its size and time before it is taken; ``parts_timeout``
    how long a split report's parts wait for the rest of their set. ``task_chunk`` is
    how many received messages one processing task carries at most (messages that arrive
    together are processed, and committed, together).
    """

    database: DatabaseConfig
    home: Path
    broker_url: str = EMBEDDED_BROKER_URL
    cmo_party_id: str | None = None
    queue_prefix: str = ""
    max_attempts: int = 5
    retry_backoff: float = 1.0
    max_backoff: float = 60.0
    redeliver_after: float = 60.0
    relay_interval: float = 0.5
    relay_grace: float = 2.0
    relay_batch: int = 500
    task_chunk: int = 50
    watch_interval: float = 0.5
    settle_time: float = 1.0
    parts_timeout: float = 86_400.0
    max_message_bytes: int = 2 * 1024**3
    max_batch_bytes: int = 1024**3
    task_time_limit: float = 3600.0
    worker_memory_limit: int = 4 * 1024**3
    actions: str | None = None
    broker_options: Mapping[str, Any] = field(default_factory=dict)
    clock_file: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "home", Path(self.home).resolve())
        if self.cmo_party_id is not None and not _PARTY_ID.match(self.cmo_party_id):
            raise ExchangeConfigError(
                f"CMO party id {self.cmo_party_id!r} is not a DDEX party id (PADPIDA + "
                f"letters and digits; ${ENV_CMO_PARTY_ID})"
            )
        if not _PREFIX.match(self.queue_prefix):
            raise ExchangeConfigError(
                f"queue prefix {self.queue_prefix!r} may hold only letters, digits, '.', "
                f"'_' and '-' (${ENV_QUEUE_PREFIX})"
            )
        if self.task_chunk < 1:
            raise ExchangeConfigError(f"task_chunk must be at least 1, not {self.task_chunk}")
        for limit in ("max_message_bytes", "max_batch_bytes", "worker_memory_limit"):
            if getattr(self, limit) < 1:
                raise ExchangeConfigError(f"{limit} must be at least 1, not {getattr(self, limit)}")
        if self.max_attempts < 1:
            raise ExchangeConfigError(f"max_attempts must be at least 1, not {self.max_attempts}")
        for name in (
            "retry_backoff",
            "max_backoff",
            "redeliver_after",
            "relay_interval",
            "parts_timeout",
            "task_time_limit",
        ):
            if getattr(self, name) <= 0:
                raise ExchangeConfigError(f"{name} must be positive, not {getattr(self, name)}")
        if self.actions is not None and not _ACTIONS.match(self.actions):
            raise ExchangeConfigError(
                f"CMO actions {self.actions!r} is not 'module:factory' (${ENV_CMO_ACTIONS})"
            )
        scheme = self.broker_url.partition("://")[0]
        if not scheme or "://" not in self.broker_url:
            raise ExchangeConfigError(
                f"broker URL {self.broker_url!r} is not a URL (e.g. amqp://guest:guest@host:5672// "
                f"or {EMBEDDED_BROKER_URL}; ${ENV_BROKER_URL})"
            )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None, **overrides: Any
    ) -> ExchangeSettings:
        """The settings the environment asks for (see the module doc), then ``overrides``."""
        env = os.environ if environ is None else environ
        where = cwd or Path.cwd()

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        values: dict[str, Any] = {
            "database": DatabaseConfig.from_env(env, cwd=where),
            "home": Path(text(ENV_HOME) or where / DEFAULT_HOME),
            "broker_url": text(ENV_BROKER_URL) or EMBEDDED_BROKER_URL,
            "cmo_party_id": text(ENV_CMO_PARTY_ID),
            "queue_prefix": text(ENV_QUEUE_PREFIX) or "",
            "actions": text(ENV_CMO_ACTIONS),
            "clock_file": Path(clock) if (clock := text(ENV_CLOCK_FILE)) else None,
        }
        number: type[int] | type[float]
        for key, name, number in (
            ("max_attempts", ENV_MAX_ATTEMPTS, int),
            ("redeliver_after", ENV_REDELIVER_AFTER, float),
            ("task_chunk", ENV_TASK_CHUNK, int),
            ("parts_timeout", ENV_PARTS_TIMEOUT, float),
            ("max_message_bytes", ENV_MAX_MESSAGE_BYTES, int),
            ("max_batch_bytes", ENV_MAX_BATCH_BYTES, int),
            ("task_time_limit", ENV_TASK_TIME_LIMIT, float),
            ("worker_memory_limit", ENV_WORKER_MEMORY_LIMIT, int),
        ):
            raw = text(name)
            if raw is not None:
                try:
                    values[key] = number(raw)
                except ValueError:
                    raise ExchangeConfigError(
                        f"${name} is {raw!r}; expected a {number.__name__}"
                    ) from None
        if not Path(values["home"]).is_absolute():
            values["home"] = where / values["home"]
        values.update(overrides)
        return cls(**values)

    def with_(self, **changes: Any) -> ExchangeSettings:
        """A copy with ``changes`` applied (validated again)."""
        return replace(self, **changes)

    # --- derived names -------------------------------------------------------------------

    @property
    def embedded_broker(self) -> bool:
        """True for the embedded, server-less broker (``filesystem://``)."""
        return self.broker_url.startswith("filesystem://")

    @property
    def amqp_broker(self) -> bool:
        """True for RabbitMQ (``amqp://``, ``amqps://``, ``pyamqp://``)."""
        return self.broker_url.partition("://")[0] in ("amqp", "amqps", "pyamqp")

    @property
    def signing_party_id(self) -> str:
        """Who signs the exchange's acknowledgements: the CMO, else :data:`ROUTER_PARTY_ID`."""
        return self.cmo_party_id or ROUTER_PARTY_ID

    @property
    def task_queue(self) -> str:
        """The queue of the processing tasks."""
        return f"{self.queue_prefix}airex.exchange"

    @property
    def dead_letter_queue(self) -> str:
        """The queue where messages that could not be processed end, with their reason."""
        return f"{self.queue_prefix}airex.dead_letter"

    def party_queue(self, party_id: str) -> str:
        """The queue a party with a queue route receives its messages on."""
        return f"{self.queue_prefix}party.{party_id}"

    @property
    def store_dir(self) -> Path:
        """The content-addressed message store."""
        return self.home / "store"

    @property
    def parties_dir(self) -> Path:
        """Where parties' folders go unless ``airex party add --folder`` says otherwise."""
        return self.home / "parties"

    @property
    def broker_dir(self) -> Path:
        """The embedded broker's message files."""
        return self.home / "broker"

    def now(self) -> datetime:
        """The exchange's clock, in UTC: the system clock, or the simulated one of
        ``clock_file`` (see ``AIREX_CLOCK_FILE`` in the module doc)."""
        if self.clock_file is None:
            return datetime.now(UTC)
        return read_clock(self.clock_file)

    def backoff(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (1-based): doubling, capped."""
        return float(min(self.max_backoff, self.retry_backoff * 2 ** max(0, attempt - 1)))


def read_clock(path: Path) -> datetime:
    """The instant a clock file (``AIREX_CLOCK_FILE``) says it is now: the instant written in
    it, plus the real time elapsed since the file was last changed."""
    try:
        stat = path.stat()
        text = path.read_text(encoding="utf-8").strip()
        instant = datetime.fromisoformat(text)
    except (OSError, ValueError) as exc:
        raise ExchangeConfigError(
            f"the clock file {path} (${ENV_CLOCK_FILE}) does not hold an ISO 8601 instant: {exc}"
        ) from None
    if instant.utcoffset() is None:
        raise ExchangeConfigError(
            f"the clock file {path} (${ENV_CLOCK_FILE}) holds {text!r}, with no time zone"
        )
    elapsed = max(0.0, datetime.now(UTC).timestamp() - stat.st_mtime)
    return instant.astimezone(UTC) + timedelta(seconds=elapsed)


def write_clock(path: Path, instant: datetime) -> None:
    """Set the clock file ``path`` to ``instant`` (written whole, then renamed into place)."""
    if instant.utcoffset() is None:
        raise ValueError(f"{instant!r} has no time zone")
    staged = path.with_name(f".{path.name}.new")
    staged.write_text(instant.astimezone(UTC).isoformat() + "\n", encoding="utf-8")
    os.replace(staged, path)
