"""The errors of the exchange.

::

    AirexError
    └── ExchangeError
        ├── ExchangeConfigError (ValueError)   a setting (AIREX_BROKER_URL, AIREX_HOME...) airex
        │                                      cannot use
        ├── PartyError (ValueError)            a party that cannot be added or is not in the
        │                                      directory (``airex party add``, ``--as``)
        ├── StoreError (RuntimeError)          the message store lost or corrupted a message
        └── TransientError (RuntimeError)      a step failed for a reason that may pass (the
            │                                  database busy or unreachable, the broker
            │                                  down): the task is retried with back-off
            └── BrokerUnavailableError         a publisher lost (or never had) its broker
                                               connection: what is left is the relay's

Messages that are bad are never exceptions: they are acknowledged with the right
``MessageStatus`` (see :mod:`airex.exchange.pipeline`).
"""

from __future__ import annotations

from airex.errors import AirexError

__all__ = [
    "BrokerUnavailableError",
    "ExchangeConfigError",
    "ExchangeError",
    "PartyError",
    "StoreError",
    "TransientError",
]


class ExchangeError(AirexError):
    """Root of the errors the exchange raises on purpose."""


class ExchangeConfigError(ExchangeError, ValueError):
    """A setting of the exchange has a value airex cannot use; the message says which."""


class PartyError(ExchangeError, ValueError):
    """A party cannot be added to the directory, or is not in it."""


class StoreError(ExchangeError, RuntimeError):
    """The message store has no file for a hash, or the file's bytes no longer hash to it."""


class TransientError(ExchangeError, RuntimeError):
    """A step failed for a reason that may pass (database busy or unreachable, broker down)."""


class BrokerUnavailableError(TransientError):
    """A publisher (:mod:`airex.exchange.publish`) cannot reach its broker; ``__cause__`` is
    the broker client's error. The publications not done are left to the relay."""
