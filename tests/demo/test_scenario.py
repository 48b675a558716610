"""The demo's scenario: every message it builds is valid, and the works are declared once."""

from __future__ import annotations

from collections import Counter

import airex
from airex.demo import WORKS_PER_DECLARATION, Scenario


def test_every_message_is_valid() -> None:
    """Declarations, offer, request are schema- and rule-valid messages."""
    scenario = Scenario(300, seed=7)
    messages = [scenario.offer(), scenario.request()]
    for rightsholder in scenario.cast.rightsholders:
        messages.extend(scenario.declarations(rightsholder))
    for message in messages:
        result = airex.check(airex.serialise(message))
        assert result.errors == [], (message.message_type, result.errors)


def test_each_declared_work_is_declared_once_and_undeclared_ones_are_not() -> None:
    """Works with owners are declared by their first owner only; every twentieth is left out."""
    scenario = Scenario(2_000, seed=3)
    declared = Counter(
        work.work_ids[0].value
        for rightsholder in scenario.cast.rightsholders
        for message in scenario.declarations(rightsholder)
        for work in message.work_list.works
    )
    expected = {ids[0].value for index, ids in enumerate(scenario.works) if scenario.owners(index)}
    assert set(declared) == expected
    assert set(declared.values()) == {1}
    assert len(expected) == len(scenario.works) - len(scenario.works) // 20


def test_declarations_are_chunked() -> None:
    """No declaration holds more than WORKS_PER_DECLARATION works."""
    scenario = Scenario(60_000, seed=1)
    sizes = [
        len(message.work_list.works)
        for message in scenario.declarations(scenario.cast.rightsholders[0])
    ]
    assert max(sizes) == WORKS_PER_DECLARATION
    assert len(sizes) >= 2


def test_shares_sum_to_a_hundred() -> None:
    """Each declared work's owners hold exactly 100 %."""
    scenario = Scenario(500)
    for index in range(len(scenario.works)):
        owners = scenario.owners(index)
        assert not owners or sum(share for _, share in owners) == 100


def test_usage_rows_name_the_scenario_works() -> None:
    """The usage report names exactly the scenario's works."""
    scenario = Scenario(1_000, seed=9)
    rows = list(scenario.usage_rows("AUR-LIC-1"))
    assert len(rows) == 1_000
    assert {row.work_ids for row in rows} == set(scenario.works)
