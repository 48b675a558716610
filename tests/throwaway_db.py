"""The throwaway PostgreSQL database of a test session (the root conftest's ``pg_database``),
in a module of its own so that fixtures elsewhere can name its type."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

__all__ = ["ThrowawayDatabase"]


@dataclass(frozen=True)
class ThrowawayDatabase:
    """A PostgreSQL database that lives for one test session: its URL, and a way to start over."""

    url: str

    def empty(self) -> str:
        """Drop everything in the database (a new, empty ``public`` schema); return its URL."""
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("DROP SCHEMA public CASCADE")
            connection.execute("CREATE SCHEMA public")
        return self.url
