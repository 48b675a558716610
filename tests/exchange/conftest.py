"""Fixtures of the exchange tests: see :mod:`exchange_fixtures` (shared with ``tests/cmo``)."""

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
