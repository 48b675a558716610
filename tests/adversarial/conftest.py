"""Fixtures of the adversarial suite: the exchange tests' environments (``tests/exchange``)."""

from exchange_fixtures import amqp_url, backend, embedded, pg_url, rabbit, services, stack

__all__ = ["amqp_url", "backend", "embedded", "pg_url", "rabbit", "services", "stack"]
