"""Fixtures of the CMO tests: the exchange tests' environments (``tests/exchange``), on which the
CMO's business runs plugged into the exchange."""

from exchange_fixtures import (
    amqp_url,
    backend,
    embedded,
    pg_url,
    rabbit,
    services,
    stack,
)

__all__ = ["amqp_url", "backend", "embedded", "pg_url", "rabbit", "services", "stack"]
