"""The pure core of distribution: a paid amount → works → rightsholders, exact to the minor unit.

No database, no messages: a :class:`~airex.royalties._types.PricedInvoice`, the amount paid
against it, the rightsholders' shares of each work and the administration fee go in; a
:class:`Distribution` (columnar, grouped by rightsholder) comes out. Every split is a
largest-remainder split of integers (:mod:`airex.royalties._split`), so:

* the paid amount is shared over the invoice's lines pro rata to their amounts (a full payment
  gives each line exactly its amount, a partial one each line its proportion);
* each line's money is shared over its basis rows (one per work and use type) by the rows'
  weights (equal, units or attribution share, as pricing set them), ties to the earlier row;
* each row's money is shared over the work's rightsholders by their shares (hundredths of a
  percent, summing to 10 000), ties to the earlier rightsholder in the registry's order;
* each rightsholder line's administration fee is ``gross × percent / 100`` rounded half-up to
  the minor unit, and its net amount ``gross − fee``;
* money that cannot reach a rightsholder goes to suspense, kept per line and work for
  follow-up: a work the registry does not know (``UnknownWork``), a known work with no
  rightsholder for the territory (``NoRightsholder``), a line with no works to share over
  (``NoBasis``).

Invariants (tested as hypothesis properties): Σ gross of the lines + suspense = paid;
fee + net = gross on every line; the rightsholders' totals are the sums of their lines.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import compress, repeat
from operator import add, floordiv, mul

from airex.royalties._distribution_result import (
    SHARE_WHOLE,
    Distribution,
    Shares,
    SharesLookup,
    SuspenseLine,
    SuspenseReason,
)
from airex.royalties._split import largest_remainder, percent_ratio, split_equal
from airex.royalties._types import USE_TYPES, PricedInvoice
from airex.royalties.errors import DistributionError

__all__ = ["distribute"]


_UNKNOWN = -1  # work position codes below 0: no single rightsholder
_NOBODY = -2
_SEVERAL = -3


def _resolve_shares(
    invoice: PricedInvoice, shares: SharesLookup, used: Sequence[bool]
) -> tuple[list[int], dict[int, tuple[int, tuple[int, ...]]], list[tuple[int, ...]], list[str]]:
    """Each work position's rightsholders, coded for the hot loop.

    Returns ``codes`` (per position: a party index when one rightsholder holds 100 %,
    ``_UNKNOWN`` for a work the registry does not know, ``_NOBODY`` for no rightsholder,
    ``_SEVERAL`` for several), ``several`` (position → (shape, party indexes)), the shapes
    (distinct tuples of hundredths, by index) and the parties by index (first-seen order).
    """
    keys = invoice.report.works.keys
    wanted = sorted({k for k, u in zip(keys, used, strict=True) if u and k is not None})
    table: Mapping[int, Shares] = shares if isinstance(shares, Mapping) else shares(wanted)
    party_index: dict[str, int] = {}
    parties: list[str] = []
    codes = [_UNKNOWN] * len(keys)
    several: dict[int, tuple[int, tuple[int, ...]]] = {}
    shape_index: dict[tuple[int, ...], int] = {}
    shapes: list[tuple[int, ...]] = []
    get = table.get
    for position, key in enumerate(keys):
        if key is None or not used[position]:
            continue
        given = get(key, ())
        if len(given) == 1:
            party, hundredths = given[0]
            if hundredths == SHARE_WHOLE and isinstance(party, str) and party:
                index = party_index.get(party)
                if index is None:
                    index = party_index[party] = len(parties)
                    parties.append(party)
                codes[position] = index
                continue
        if not given:
            codes[position] = _NOBODY
            continue
        indexes = []
        total = 0
        for party, hundredths in given:
            if not isinstance(party, str) or not party:
                raise DistributionError(f"work key {key}: rightsholder {party!r} is not a party id")
            if isinstance(hundredths, bool) or not isinstance(hundredths, int) or hundredths <= 0:
                raise DistributionError(
                    f"work key {key}: share {hundredths!r} of {party} is not a positive "
                    "number of hundredths of a percent"
                )
            total += hundredths
            index = party_index.get(party)
            if index is None:
                index = party_index[party] = len(parties)
                parties.append(party)
            indexes.append(index)
        if total != SHARE_WHOLE:
            raise DistributionError(
                f"work key {key}: its shares sum to {total} hundredths of a percent, not "
                f"{SHARE_WHOLE} (100 %)"
            )
        codes[position] = _SEVERAL
        shape = tuple(h for _, h in given)
        number = shape_index.get(shape)
        if number is None:
            number = shape_index[shape] = len(shapes)
            shapes.append(shape)
        several[position] = (number, tuple(indexes))
    return codes, several, shapes, parties


def _check(invoice: PricedInvoice, paid_minor: int) -> None:
    where = f"invoice {invoice.invoice_id}"
    if invoice.invoice_type != "Invoice":
        raise DistributionError(
            f"{where} is a {invoice.invoice_type}: only an invoice is paid by the licensee and "
            "distributed"
        )
    if isinstance(paid_minor, bool) or not isinstance(paid_minor, int):
        raise DistributionError(f"{where}: the paid amount must be an int of minor units")
    total = invoice.report.total_minor
    if paid_minor < 0 or paid_minor > total:
        raise DistributionError(
            f"{where}: cannot distribute {paid_minor} minor units of {invoice.report.currency}; "
            f"the invoice's total is {total}"
        )
    works = len(invoice.report.works.keys)
    if len(invoice.report.works.ids) != works:
        raise DistributionError(
            f"{where}: its works have {works} keys but {len(invoice.report.works.ids)} id lists"
        )
    for line in invoice.report.lines:
        rows = len(line.work_index)
        if not (len(line.use_type_index) == len(line.weight) == len(line.units_micro) == rows):
            raise DistributionError(
                f"{where} line {line.line_number}: its basis columns differ in length"
            )
        if line.amount_minor < 0:
            raise DistributionError(
                f"{where} line {line.line_number}: negative amount {line.amount_minor}"
            )
        if rows and (min(line.work_index) < 0 or max(line.work_index) >= works):
            raise DistributionError(
                f"{where} line {line.line_number}: a basis row names a work outside the report"
            )


def distribute(
    invoice: PricedInvoice,
    paid_minor: int,
    shares: SharesLookup,
    admin_fee_percent: Decimal | int | str,
) -> Distribution:
    """Share ``paid_minor`` (minor units, at most the invoice's total) of ``invoice`` out.

    ``shares`` gives each work key's rightsholders (see :data:`SharesLookup`);
    ``admin_fee_percent`` is the CMO's administration fee (0–100). Raises
    :class:`DistributionError` for a credit note, a paid amount outside 0…total, malformed
    basis rows, or shares that are not positive hundredths summing to 10 000.
    """
    _check(invoice, paid_minor)
    try:
        fee_num, fee_den = percent_ratio(admin_fee_percent)
    except ValueError as exc:
        raise DistributionError(f"administration fee: {exc}") from None
    fee_percent = Decimal(admin_fee_percent)
    priced = invoice.report.lines
    line_money = largest_remainder(paid_minor, [line.amount_minor for line in priced])

    # Each line's money over its rows (only the rows that receive something are kept).
    row_money: list[list[int] | None] = []
    used = [False] * len(invoice.report.works.keys)
    for line, money in zip(priced, line_money, strict=True):
        weights = line.weight
        if not money or not len(weights) or not sum(weights):
            row_money.append(None)
            continue
        if min(weights) == max(weights):  # equal weights (the EQUAL basis): no products
            parts = split_equal(money, len(weights))
        else:
            parts = largest_remainder(money, weights)
        row_money.append(parts)
        for work in compress(line.work_index, parts):
            used[work] = True
    codes, several, shapes, parties = _resolve_shares(invoice, shares, used)

    # The hot part, millions of rows: C-level map/compress over whole columns, no Python
    # bytecode per row except for the (rare) rows that go to suspense.
    out_party = array("q")
    out_line = array("q")
    out_row = array("q")
    out_share = array("q")
    out_gross = array("q")
    suspense: list[SuspenseLine] = []
    small_splits = _SmallSplits(shapes)
    for index, (line, money, shared) in enumerate(zip(priced, line_money, row_money, strict=True)):
        if shared is None:
            if money:
                suspense.append(
                    SuspenseLine(
                        line.line_number, line.tariff_id, None, None, money, SuspenseReason.NO_BASIS
                    )
                )
            continue
        works = line.work_index
        paid_rows = list(compress(range(len(shared)), shared))
        paid_shared = list(compress(shared, shared))
        row_codes = list(map(codes.__getitem__, map(works.__getitem__, paid_rows)))
        # One rightsholder at 100 %: the row's money is the line's.
        single = list(map(_NOT_NEGATIVE, row_codes))
        rows = array("q", compress(paid_rows, single))
        out_row.extend(rows)
        out_party.extend(compress(row_codes, single))
        out_gross.extend(compress(paid_shared, single))
        out_share.extend(repeat(SHARE_WHOLE, len(rows)))
        out_line.extend(repeat(index, len(rows)))
        if len(rows) == len(paid_rows):
            continue
        # Several rightsholders: part × h / 10 000 = whole × h + (rest × h / 10 000) with
        # whole, rest = divmod(part, 10 000); only the rest needs a largest-remainder split,
        # and (shape, rest) takes few distinct values, so its splits are cached. A plain loop
        # (measured faster here than column operations: the lookups are random accesses).
        append_party = out_party.append
        append_row = out_row.append
        append_share = out_share.append
        append_gross = out_gross.append
        added = 0
        for row, part, code in zip(paid_rows, paid_shared, row_codes, strict=True):
            if code != _SEVERAL:
                continue
            shape, holders = several[works[row]]
            whole, rest = divmod(part, SHARE_WHOLE)
            small = small_splits[shape * SHARE_WHOLE + rest]
            for party, hundredths, extra in zip(holders, shapes[shape], small, strict=True):
                gross = whole * hundredths + extra
                if gross:
                    append_party(party)
                    append_row(row)
                    append_share(hundredths)
                    append_gross(gross)
                    added += 1
        out_line.extend(repeat(index, added))
        # Suspense: unknown works and works without a rightsholder.
        for row, part, code in zip(paid_rows, paid_shared, row_codes, strict=True):
            if code >= 0 or code == _SEVERAL:
                continue
            reason = (
                SuspenseReason.UNKNOWN_WORK if code == _UNKNOWN else SuspenseReason.NO_RIGHTSHOLDER
            )
            suspense.append(
                SuspenseLine(
                    line.line_number,
                    line.tariff_id,
                    works[row],
                    USE_TYPES[line.use_type_index[row]],
                    part,
                    reason,
                )
            )

    # Fees per line (half-up), lines grouped by rightsholder, totals per rightsholder.
    fees = array(
        "q",
        map(
            floordiv,
            map(add, map(mul, out_gross, repeat(2 * fee_num)), repeat(fee_den)),
            repeat(2 * fee_den),
        ),
    )
    party_gross = [0] * len(parties)
    party_fee = [0] * len(parties)
    for party, gross, fee in zip(out_party, out_gross, fees, strict=True):
        party_gross[party] += gross
        party_fee[party] += fee
    return Distribution(
        invoice=invoice,
        paid_minor=paid_minor,
        admin_fee_percent=fee_percent,
        line_money=line_money,
        parties=parties,
        party_gross=party_gross,
        party_fee=party_fee,
        line_party=out_party,
        line_index=out_line,
        line_row=out_row,
        line_share=out_share,
        line_gross=out_gross,
        line_fee=fees,
        suspense=suspense,
    )


_NOT_NEGATIVE = (-1).__lt__  # code >= 0: one rightsholder at 100 %


class _SmallSplits(dict[int, list[int]]):
    """``shape × 10 000 + rest`` → the largest-remainder split of ``rest`` by the shape's
    hundredths, computed on first use (``dict.__getitem__`` stays C-level on a hit)."""

    def __init__(self, shapes: list[tuple[int, ...]]) -> None:
        super().__init__()
        self.shapes = shapes

    def __missing__(self, key: int) -> list[int]:
        shape, rest = divmod(key, SHARE_WHOLE)
        split = self[key] = largest_remainder(rest, self.shapes[shape])
        return split
