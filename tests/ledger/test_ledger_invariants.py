"""A hypothesis state machine drives the journal at random, on SQLite and on PostgreSQL.

Rules post new entries (alone or in batches), post them again (same content: nothing new),
post their keys with other content (an error), reverse entries, and ask for balances as of
random dates. A model (a plain list of postings) says what every balance must be; after every
step the balances must equal the model, and the checker must find every invariant intact.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from airex.ledger import (
    AccountKey,
    AccountKind,
    IdempotencyConflictError,
    Money,
    NewEntry,
    PostingLine,
    ReversalError,
    check_ledger,
)

if TYPE_CHECKING:
    from conftest import Backend

START = date(2026, 1, 1)
ACCOUNTS = [
    AccountKey("PADPIDA2026DEV01", AccountKind.LICENSEE_RECEIVABLE, currency)
    for currency in ("EUR", "JPY", "KWD")
] + [
    AccountKey("PADPIDA2026CMO01", AccountKind.CASH, "EUR"),
    AccountKey("PADPIDA2026CMO01", AccountKind.DISTRIBUTABLE_POOL, "EUR", "LIC-1"),
    AccountKey("PADPIDA2026CMO01", AccountKind.DISTRIBUTABLE_POOL, "JPY", "LIC-2"),
    AccountKey("PADPIDA2026PUB01", AccountKind.RIGHTSHOLDER_PAYABLE, "KWD"),
    AccountKey("PADPIDA2026CMO01", AccountKind.SUSPENSE, "EUR"),
]
DAYS = st.integers(min_value=0, max_value=20).map(lambda n: START + timedelta(days=n))
AMOUNTS = st.integers(min_value=-(10**12), max_value=10**12).filter(bool)


@st.composite
def balanced_lines(draw: st.DrawFn) -> list[PostingLine]:
    """Two to five postings over one or two currencies, each currency summing to zero."""
    currencies = draw(
        st.lists(st.sampled_from(["EUR", "JPY", "KWD"]), min_size=1, max_size=2, unique=True)
    )
    lines: list[PostingLine] = []
    for currency in currencies:
        accounts = [a for a in ACCOUNTS if a.currency == currency]
        amounts = draw(st.lists(AMOUNTS, min_size=1, max_size=2 if len(currencies) == 2 else 4))
        if sum(amounts) == 0:
            amounts.append(draw(AMOUNTS))
        amounts.append(-sum(amounts))
        lines += [
            PostingLine(draw(st.sampled_from(accounts)), Money(minor, currency))
            for minor in amounts
        ]
    return draw(st.permutations(lines))


class LedgerMachine(RuleBasedStateMachine):
    """Random journal traffic against a model of what every balance must be."""

    posted = Bundle("posted")

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        backend.reset()
        self.backend = backend
        self.journal = backend.journal()
        self.counter = itertools.count()
        self.entries: dict[str, NewEntry] = {}
        self.ids: dict[str, int] = {}
        self.reversal_of: dict[int, tuple[int, date]] = {}  # original -> reversal id, date
        self.model: dict[AccountKey, list[tuple[date, int]]] = defaultdict(list)

    def _new(self, lines: list[PostingLine], day: date) -> NewEntry:
        return NewEntry(f"K{next(self.counter)}", day, lines, "random")

    def _record(self, entry: NewEntry, entry_id: int) -> None:
        self.entries[entry.idempotency_key] = entry
        self.ids[entry.idempotency_key] = entry_id
        for line in entry.lines:
            self.model[line.account].append((entry.effective_on, line.amount.minor))

    @rule(target=posted, lines=balanced_lines(), day=DAYS)
    def post(self, lines: list[PostingLine], day: date) -> str:
        entry = self._new(lines, day)
        result = self.journal.post(entry)
        assert result.created
        self._record(entry, result.entry.id)
        return entry.idempotency_key

    @rule(
        batch=st.lists(st.tuples(balanced_lines(), DAYS), min_size=1, max_size=6),
        size=st.integers(1, 4),
    )
    def post_batch(self, batch: list[tuple[list[PostingLine], date]], size: int) -> None:
        entries = [self._new(lines, day) for lines, day in batch]
        entries += entries[: len(entries) // 2]  # some keys twice in the same call
        refs = self.journal.post_many(entries, batch_size=size)
        fresh = {ref.idempotency_key: ref.entry_id for ref in refs if ref.created}
        assert sorted(fresh) == sorted({e.idempotency_key for e in entries})
        for entry in entries[: len(batch)]:
            self._record(entry, fresh[entry.idempotency_key])

    @rule(key=posted, shuffle=st.randoms(use_true_random=False))
    def post_again(self, key: str, shuffle: object) -> None:
        entry = self.entries[key]
        lines = list(entry.lines)
        shuffle.shuffle(lines)  # type: ignore[attr-defined]
        again = self.journal.post(NewEntry(key, entry.effective_on, lines, entry.description))
        assert (again.created, again.entry.id) == (False, self.ids[key])

    @rule(key=posted, lines=balanced_lines(), day=DAYS)
    def post_conflict(self, key: str, lines: list[PostingLine], day: date) -> None:
        other = NewEntry(key, day, lines, "other content")
        with pytest.raises(IdempotencyConflictError):
            self.journal.post(other)

    @rule(key=consumes(posted), day=DAYS)
    def reverse(self, key: str, day: date) -> None:
        entry_id = self.ids[key]
        original_day = self.entries[key].effective_on
        if day < original_day:  # a reversal never takes effect before its original
            with pytest.raises(ReversalError, match="before what it reverses"):
                self.journal.reverse(entry_id, effective_on=day)
            day = original_day
        result = self.journal.reverse(entry_id, effective_on=day)
        assert result.created
        self.reversal_of[entry_id] = (result.entry.id, day)
        for line in self.entries[key].lines:
            self.model[line.account].append((day, -line.amount.minor))

    @precondition(lambda self: bool(self.reversal_of))
    @rule(data=st.data())
    def reverse_again(self, data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(sorted(self.reversal_of)))
        reversal_id, day = self.reversal_of[original]
        again = self.journal.reverse(original, effective_on=day)  # default key: the first
        assert (again.created, again.entry.id) == (False, reversal_id)

    @rule(day=DAYS)
    def balances_as_of(self, day: date) -> None:
        got = {b.account.label(): b.balance_minor for b in self.journal.balances(as_of=day)}
        for account in ACCOUNTS:
            want = sum(minor for on, minor in self.model[account] if on <= day)
            assert got.get(account.label(), 0) == want, (account.label(), day)
            assert self.journal.balance(account, as_of=day).minor == want

    @invariant()
    def balances_equal_the_model(self) -> None:
        got = {b.account.label(): b.balance_minor for b in self.journal.balances()}
        want = {a.label(): sum(m for _, m in self.model[a]) for a in ACCOUNTS if self.model[a]}
        assert {k: v for k, v in got.items() if k in want} == want
        assert all(v == 0 for k, v in got.items() if k not in want)

    def teardown(self) -> None:
        report = check_ledger(self.backend.engine)
        assert report.ok, report.lines()
        assert report.counts["entries"] == len(self.ids) + len(self.reversal_of)


def test_random_traffic_keeps_every_invariant(backend: Backend) -> None:
    """Posts, re-posts, conflicts, batches and reversals never break an invariant."""
    run_state_machine_as_test(
        lambda: LedgerMachine(backend),
        settings=settings(
            max_examples=12,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
            database=None,
        ),
    )
