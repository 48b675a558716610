"""airex.testing: what other projects test against airex with works as documented."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from airex.db import schema_histories
from airex.formats.usage import WorkRef
from airex.registry import Reason
from airex.testing import FakeRegistry, InMemoryPublisher, migrated_database


def test_migrated_database_has_every_part_at_its_head_and_goes_away() -> None:
    """The throwaway database holds every part's tables at the code's revision; its file is
    removed when the block ends."""
    with migrated_database() as engine:
        path = engine.url.database
        assert path is not None
        tables = set(sa.inspect(engine).get_table_names())
        for history in schema_histories():
            assert history.current_revision(engine) == history.head_revision()
            assert {table.name for table in history.tables()} <= tables
    assert not Path(path).exists()


def test_fake_registry_answers_from_its_table() -> None:
    """By value, by (value, use type), else the default; unknown works have no key; every
    question is recorded; one key per work."""
    registry = FakeRegistry(
        {
            "T-1": Reason.OPTED_OUT,
            ("T-2", "UseForDataMining"): Reason.USE_TYPE_NOT_LICENSED,
            "T-9": Reason.UNKNOWN_WORK,
        }
    )
    out = registry.check(WorkRef("ISWC", "T-1"), "UseForTrainingGenerativeAI")
    mining = registry.check(WorkRef("ISWC", "T-2"), "UseForDataMining")
    training = registry.check(WorkRef("ISWC", "T-2"), "UseForTrainingGenerativeAI")
    unknown = registry.check(WorkRef("ISWC", "T-9"), "UseForDataMining")
    assert (out.reason, out.permitted) == (Reason.OPTED_OUT, False)
    assert (mining.reason, mining.permitted) == (Reason.USE_TYPE_NOT_LICENSED, False)
    assert (training.reason, training.permitted) == (Reason.OPTED_IN, True)
    assert mining.work_key == training.work_key != out.work_key
    assert unknown.work_key is None
    assert [value for value, _ in registry.asked] == ["T-1", "T-2", "T-2", "T-9"]


def test_in_memory_publisher_keeps_what_was_published() -> None:
    """The publisher is the exchange's own in-memory one, starting empty."""
    publisher = InMemoryPublisher()
    assert (publisher.tasks, publisher.deliveries, publisher.received_ids) == ([], [], [])
