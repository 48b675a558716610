"""What a project that builds on airex needs to test against it (like ``structlog.testing``).

- :func:`migrated_database`: a database with every part's tables at the code's revision (a
  throwaway SQLite file, or a URL you give, e.g. an empty PostgreSQL database);
- :class:`InMemoryPublisher`: the exchange's publisher without a broker; it keeps the tasks
  and deliveries the exchange published, and can be made to fail;
- :class:`FakeRegistry`: the registry's answer to pricing (:class:`airex.royalties.UsageCheck`)
  from a table you write, so pricing can be tested without declaring works.

>>> from airex.testing import FakeRegistry, migrated_database
>>> with migrated_database() as engine:          # doctest: +SKIP
...     ...
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from airex.db import DatabaseConfig, create_engine, upgrade_all
from airex.exchange.publish import InMemoryPublisher
from airex.formats.usage import WorkRef
from airex.registry import Decision, Reason

__all__ = ["FakeRegistry", "InMemoryPublisher", "migrated_database"]


@contextmanager
def migrated_database(url: str | None = None) -> Iterator[Engine]:
    """An engine on a database whose every part (ledger, registry, royalties, exchange) is
    upgraded to the code's revision; disposed of at the end.

    Without ``url``, a SQLite file in a temporary folder that is removed afterwards. With one,
    that database (it should be new and empty: nothing in it is removed).
    """
    with tempfile.TemporaryDirectory(prefix="airex-testing-") as folder:
        config = DatabaseConfig(url=url or f"sqlite:///{Path(folder) / 'airex.db'}")
        engine = create_engine(config)
        try:
            upgrade_all(engine)
            yield engine
        finally:
            engine.dispose()


@dataclass
class FakeRegistry:
    """Answers pricing's question (may this work be used so?) from a table.

    ``decisions`` maps a WorkId value, or ``(value, use type)``, to a :class:`Reason`; anything
    not in it gets ``default``. Each distinct value gets a work key of its own, so held and
    priced usage group by work as they do with the real registry. ``asked`` records every
    question, in order.
    """

    decisions: Mapping[str | tuple[str, str], Reason] = field(default_factory=dict)
    default: Reason = Reason.OPTED_IN
    asked: list[tuple[str, str]] = field(default_factory=list)
    _keys: dict[str, int] = field(default_factory=dict, repr=False)

    def check(self, ref: WorkRef, use_type: str) -> Decision:
        """The decision for ``ref`` (by its value) and ``use_type``."""
        value = ref.value
        self.asked.append((value, use_type))
        reason = self.decisions.get((value, use_type), self.decisions.get(value, self.default))
        if reason in (Reason.UNKNOWN_WORK, Reason.UNKNOWN_WORK_OPT_OUT_REGIME):
            return Decision(None, reason)
        key = self._keys.setdefault(value, len(self._keys) + 1)
        return Decision(key, reason)
