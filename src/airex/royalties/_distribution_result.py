"""What distribution produces: a :class:`Distribution` (columnar lines, totals, suspense) and
the shapes it is read in (:class:`DistributionLine`, :class:`SuspenseLine`,
:class:`Rightsholder`), with the shares it is computed from (:data:`Shares`,
:data:`SharesLookup`). Built by :func:`airex.royalties._distribution_core.distribute`.
"""

from __future__ import annotations

from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from airex.royalties._types import USE_TYPES, PricedInvoice

__all__ = [
    "SHARE_WHOLE",
    "Distribution",
    "DistributionLine",
    "Rightsholder",
    "Shares",
    "SharesLookup",
    "SuspenseLine",
    "SuspenseReason",
    "group_order",
]

SHARE_WHOLE = 10_000
"""A work's shares for a territory sum to this many hundredths of a percent (100 %)."""

Shares = Sequence[tuple[str, int]]
"""One work's rightsholders: ``(party id, hundredths of a percent)``, summing to 10 000."""

SharesLookup = Mapping[int, Shares] | Callable[[Sequence[int]], Mapping[int, Shares]]
"""Work key → shares, as a mapping, or a callable that answers for a list of work keys (the
shape of :meth:`airex.registry.Registry.shares` with its date and territory bound). A key
absent from the answer, or mapped to ``()``, has no known rightsholder."""


class SuspenseReason:
    """Why money went to suspense (the values stored and shown)."""

    UNKNOWN_WORK = "UnknownWork"
    """The registry does not know the work (no work key)."""
    NO_RIGHTSHOLDER = "NoRightsholder"
    """The work is known, but no rightsholder has a share of it for the licence's territory."""
    NO_BASIS = "NoBasis"
    """The invoice line names no work to share its money over (or all weights are zero)."""

    ALL = (UNKNOWN_WORK, NO_RIGHTSHOLDER, NO_BASIS)


class DistributionLine(NamedTuple):
    """One rightsholder's part of one basis row (a work and use type under one invoice line)."""

    party: str
    line_number: int
    tariff_id: str
    work_position: int
    """Position of the work in the invoice's :class:`~airex.royalties._types.ReportWorks`."""
    use_type: str
    units_micro: int
    share: int
    """The rightsholder's share of the work, in hundredths of a percent."""
    gross_minor: int
    fee_minor: int
    net_minor: int


class SuspenseLine(NamedTuple):
    """Money of one basis row (or a whole line, ``work_position`` ``None``) held in suspense."""

    line_number: int
    tariff_id: str
    work_position: int | None
    use_type: str | None
    amount_minor: int
    reason: str


def group_order(keys: Sequence[int], count: int) -> list[list[int]]:
    """Positions of ``keys`` (ints in ``0 .. count-1``) bucketed by key, in order: a stable
    bucket sort driven by C-level ``map`` (no Python bytecode per position)."""
    buckets: list[list[int]] = [[] for _ in range(count)]
    deque(map(list.append, map(buckets.__getitem__, keys), range(len(keys))), maxlen=0)
    return buckets


class Rightsholder(NamedTuple):
    """One rightsholder's part of a distribution: totals, and the positions of its lines."""

    party: str
    position: int
    """The party's index in :attr:`Distribution.parties` (the values of ``line_party``)."""
    gross_minor: int
    fee_minor: int
    net_minor: int
    lines: Sequence[int]
    """Positions of its lines in the distribution's columns, in computed order."""


def _longs() -> array[int]:
    return array("q")


@dataclass(slots=True)
class Distribution:
    """A payment of an invoice shared out: rightsholder lines (columnar), totals, suspense.

    The lines are columns, one entry per basis row and rightsholder with money: ``line_index``
    (the invoice line, an index into the priced report's lines), ``line_row`` (the basis row
    in that line), ``line_party`` (an index into ``parties``), ``line_share`` (hundredths of
    a percent), ``line_gross`` and ``line_fee`` (minor units of ``currency``; net = gross −
    fee). They come in the order they were computed: by invoice line (``line_index`` never
    decreases), and within one the rows of works with one rightsholder, then those with
    several, each in row order. :meth:`rightsholders` groups them by rightsholder, in party
    order. Build it with :func:`distribute`.
    """

    invoice: PricedInvoice
    paid_minor: int
    admin_fee_percent: Decimal
    line_money: list[int]
    """The paid amount's part for each invoice line (sums to ``paid_minor``)."""
    parties: list[str] = field(default_factory=list)
    """Party ids by index (the order they were met in); ``line_party`` points here."""
    party_gross: list[int] = field(default_factory=list)
    party_fee: list[int] = field(default_factory=list)
    line_party: array[int] = field(default_factory=_longs)
    line_index: array[int] = field(default_factory=_longs)
    line_row: array[int] = field(default_factory=_longs)
    line_share: array[int] = field(default_factory=_longs)
    line_gross: array[int] = field(default_factory=_longs)
    line_fee: array[int] = field(default_factory=_longs)
    suspense: list[SuspenseLine] = field(default_factory=list)

    @property
    def currency(self) -> str:
        """The invoice's currency (every amount here is in its minor units)."""
        return self.invoice.report.currency

    @property
    def line_count(self) -> int:
        """How many rightsholder lines there are."""
        return len(self.line_gross)

    @property
    def gross_minor(self) -> int:
        """What went to rightsholders before the fee (paid − suspense)."""
        return sum(self.party_gross)

    @property
    def fee_minor(self) -> int:
        """The administration fee, over every rightsholder line."""
        return sum(self.party_fee)

    @property
    def net_minor(self) -> int:
        """What the rightsholders are owed (gross − fee)."""
        return self.gross_minor - self.fee_minor

    @property
    def suspense_minor(self) -> int:
        """What went to suspense."""
        return sum(s.amount_minor for s in self.suspense)

    def party_order(self) -> list[int]:
        """Indexes of the parties that have lines, sorted by party id."""
        gross = self.party_gross
        return sorted(
            (i for i in range(len(self.parties)) if gross[i]), key=self.parties.__getitem__
        )

    def totals(self) -> Iterator[tuple[int, str, int, int, int]]:
        """``(party index, party, gross, fee, line count)`` of every rightsholder with money,
        in party-id order (cheaper than :meth:`rightsholders`: no grouping of the lines)."""
        counts = Counter(self.line_party)
        for index in self.party_order():
            yield (
                index,
                self.parties[index],
                self.party_gross[index],
                self.party_fee[index],
                counts[index],
            )

    def rightsholders(self) -> Iterator[Rightsholder]:
        """Every rightsholder with money, in party-id order, with its totals and lines
        (grouping the lines costs a pass over them: call it once)."""
        lines = group_order(self.line_party, len(self.parties))
        for index in self.party_order():
            gross = self.party_gross[index]
            fee = self.party_fee[index]
            yield Rightsholder(self.parties[index], index, gross, fee, gross - fee, lines[index])

    def party_net(self) -> Iterator[tuple[str, int]]:
        """``(party, net owed)`` for every rightsholder with money, in party-id order."""
        for holder in self.rightsholders():
            yield holder.party, holder.net_minor

    def line(self, position: int) -> DistributionLine:
        """The line at ``position`` of the columns, as a :class:`DistributionLine`."""
        line = self.invoice.report.lines[self.line_index[position]]
        row = self.line_row[position]
        gross = self.line_gross[position]
        fee = self.line_fee[position]
        return DistributionLine(
            self.parties[self.line_party[position]],
            line.line_number,
            line.tariff_id,
            line.work_index[row],
            USE_TYPES[line.use_type_index[row]],
            line.units_micro[row],
            self.line_share[position],
            gross,
            fee,
            gross - fee,
        )

    def lines(self) -> Iterator[DistributionLine]:
        """Every rightsholder line, grouped by rightsholder in party-id order (for inspection
        and tests; the columns are the efficient form)."""
        for holder in self.rightsholders():
            for position in holder.lines:
                yield self.line(position)
