"""Exact money: an integer count of a currency's minor unit, ``Decimal`` at the edges.

The database stores every amount as a signed 64-bit integer of minor units (cents for EUR,
yen for JPY, fils for KWD), because SQLite turns SQLAlchemy ``Numeric`` values into floats and
``0.1 + 0.2 != 0.3`` in binary. The exponent of each currency comes from ISO 4217
(:func:`airex.iso.minor_unit`)::

    >>> Money.of("0.10", "EUR").minor
    10
    >>> Money.of("1250", "JPY").amount
    Decimal('1250')
    >>> Money.of("1.2345", "JPY")
    Traceback (most recent call last):
    ...
    airex.ledger.errors.InvalidAmountError: 1.2345 JPY has 4 fraction digits but JPY has 0 ...

Nothing here rounds: an amount that does not fit its currency's minor unit is refused, and the
caller decides how to round (the royalty engine uses largest-remainder splits for that).
Floats are refused too, even ``0.5``: a float in a money path is a bug waiting for its input.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from airex.iso import minor_unit
from airex.ledger.errors import InvalidAmountError

__all__ = [
    "INT64_MAX",
    "MAX_MINOR_UNITS",
    "Money",
    "currency_exponent",
    "stored_minor",
    "to_minor",
]

MAX_MINOR_UNITS = 10**17
"""Largest magnitude of one *amount* (a posting), in minor units (10^15 EUR): what
:func:`to_minor` and :meth:`Money.of` accept, and what a posting may carry. It does not bound
a :class:`Money` as such: a balance is a sum of postings and may grow beyond it (it is read
back exactly, whatever its size). The database columns hold ±:data:`INT64_MAX`; a posting that
would take a stored balance beyond that range is refused
(:class:`~airex.ledger.InvalidAmountError`)."""

INT64_MAX = 2**63 - 1
"""The largest magnitude a stored amount, balance or movement can have (``BIGINT``)."""

_MAX_ADJUSTED = 18  # Decimal.adjusted() above this is beyond any allowed amount


@functools.cache
def currency_exponent(currency: str) -> int:
    """The ISO 4217 exponent of ``currency`` (2 for EUR, 0 for JPY, 3 for KWD).

    Raises :class:`InvalidAmountError` for a code that is not an active ISO 4217 currency.
    """
    if not isinstance(currency, str):
        raise InvalidAmountError(f"currency must be an ISO 4217 code string, not {currency!r}")
    try:
        return minor_unit(currency)
    except ValueError:
        raise InvalidAmountError(
            f"{currency!r} is not an active ISO 4217 currency code (e.g. EUR, USD, JPY)"
        ) from None


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """``amount`` of ``currency`` as an exact integer of minor units; refuse what does not fit.

    Accepts a :class:`~decimal.Decimal`, an ``int`` (whole units) or a decimal string
    (``"12.50"``). Trailing zeros are fine (``"1.500"`` EUR is 150 cents); a digit beyond the
    minor unit is not (``"0.001"`` EUR), nor a float, NaN, infinity or an amount beyond
    :data:`MAX_MINOR_UNITS`.
    """
    exponent = currency_exponent(currency)
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int | str):
        kind = type(amount).__name__
        hint = " (floats are not exact: pass Decimal('0.1') or '0.1')" if kind == "float" else ""
        raise InvalidAmountError(f"amount {amount!r} of {currency} is a {kind}{hint}")
    minor: int
    if isinstance(amount, int):
        minor = amount * 10**exponent
    else:
        value = _decimal(amount, currency)
        if value.adjusted() > _MAX_ADJUSTED:
            raise _out_of_range(value, currency)
        sign, digits, exp = value.as_tuple()
        assert isinstance(exp, int)  # finite, checked by _decimal
        coefficient = int("".join(map(str, digits))) if digits else 0
        shift = exp + exponent
        if coefficient == 0:
            minor = 0  # 0E-30000000 is zero: never compute 10**30000000
        elif shift >= 0:
            minor = coefficient * 10**shift  # adjusted() <= 18 bounds the shift
        else:
            # A nonzero coefficient of n digits is a multiple of at most 10^(n-1): dividing by
            # 10^k with k >= n always leaves a remainder. Refuse before computing 10^k, which
            # for an exponent like 1E-30000000 would take minutes (a denial of service).
            divisor = 10 ** min(-shift, len(digits))
            if -shift >= len(digits) or coefficient % divisor:
                places = -exp
                raise InvalidAmountError(
                    f"{amount} {currency} has {places} fraction digits but {currency} has "
                    f"{exponent} (ISO 4217 minor unit); round it explicitly before posting"
                )
            minor = coefficient // divisor
        if sign:
            minor = -minor
    if abs(minor) > MAX_MINOR_UNITS:
        raise _out_of_range(amount, currency)
    return minor


def stored_minor(value: object, what: str) -> int:
    """A minor-unit count read from the database, as an exact ``int``; never truncated.

    PostgreSQL hands back ``BIGINT`` sums as integral ``Decimal``. Anything else (a SQLite
    ``REAL`` or ``TEXT`` smuggled into an integer column, a fraction) means a corrupt database:
    :class:`InvalidAmountError` naming ``what``, rather than a silently truncated balance.
    """
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise InvalidAmountError(
        f"{what}: the database holds {value!r} ({type(value).__name__}) where an integer count "
        "of minor units belongs; the ledger is corrupt (run `airex ledger check`)"
    )


def _decimal(amount: Decimal | str, currency: str) -> Decimal:
    if isinstance(amount, str):
        try:
            amount = Decimal(amount.strip())
        except InvalidOperation:
            raise InvalidAmountError(
                f"{amount!r} is not a decimal amount of {currency} (e.g. '12.50')"
            ) from None
    if not amount.is_finite():
        raise InvalidAmountError(f"amount {amount} of {currency} is not a finite number")
    return amount


def _out_of_range(amount: object, currency: str) -> InvalidAmountError:
    return InvalidAmountError(
        f"amount {amount} {currency} is beyond the ledger's limit of "
        f"{MAX_MINOR_UNITS} minor units per amount"
    )


@dataclass(frozen=True, slots=True)
class Money:
    """An exact, signed amount of one currency: ``minor`` units of ``currency``.

    Build it from a decimal with :meth:`of` (which refuses what does not fit the minor unit)
    or from stored integers with :meth:`from_minor`; read it back as a ``Decimal`` with
    :attr:`amount`. Sums and differences stay exact and refuse to mix currencies.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        currency_exponent(self.currency)
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidAmountError(
                f"Money.minor must be an int of minor units, not {self.minor!r}"
            )

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """``amount`` of ``currency``, exactly (see :func:`to_minor` for what is refused)."""
        return cls(to_minor(amount, currency), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        """An amount given in minor units (as the database stores it)."""
        return cls(minor, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in ``currency``."""
        return cls(0, currency)

    @property
    def exponent(self) -> int:
        """The currency's ISO 4217 exponent."""
        return currency_exponent(self.currency)

    @property
    def amount(self) -> Decimal:
        """The amount as a ``Decimal`` with exactly the currency's fraction digits."""
        return Decimal(self.minor).scaleb(-self.exponent)

    def __add__(self, other: Money) -> Money:
        return Money(self.minor + self._same(other).minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.minor - self._same(other).minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __bool__(self) -> bool:
        return self.minor != 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def _same(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise InvalidAmountError(f"cannot combine {self} and {other}: different currencies")
        return other
