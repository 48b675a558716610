"""Fixtures of the CMO tests: the exchange tests' environments (``tests/exchange``), on which the
CMO's business runs plugged into the exchange."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "exchange"))

from exchange_fixtures import (
    amqp_url,
    backend,
    embedded,
    pg_admin,
    pg_url,
    rabbit,
    services,
    stack,
)

__all__ = ["amqp_url", "backend", "embedded", "pg_admin", "pg_url", "rabbit", "services", "stack"]
