"""Money is a Decimal amount with a currency; it is stored as integer minor units."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

DEFAULT_CURRENCY = "CNY"
# ISO 4217 minor units for the currencies we accept.
MINOR_UNITS: dict[str, int] = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "GBP": 2, "JPY": 0, "KRW": 0}
SYMBOLS: dict[str, str] = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "GBP": "£", "JPY": "¥"}
MAX_AMOUNT = Decimal("10000000")  # ten million of any currency unit per price


class MoneyError(ValueError):
    """An amount that its currency cannot hold (too many decimals, not finite, unknown)."""


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise MoneyError(f"unsupported currency {self.currency!r}")
        if not self.amount.is_finite():
            raise MoneyError("amount must be finite")
        quantum = Decimal(1).scaleb(-MINOR_UNITS[self.currency])
        try:
            exact = self.amount == self.amount.quantize(quantum, rounding=ROUND_HALF_EVEN)
        except InvalidOperation:  # more digits than the decimal context holds
            raise MoneyError("amount is too large") from None
        if not exact:
            raise MoneyError(f"{self.currency} has {MINOR_UNITS[self.currency]} decimal places")

    @classmethod
    def from_minor(cls, minor: int, currency: str = DEFAULT_CURRENCY) -> Money:
        return cls(minor_to_amount(minor, currency), currency)

    @property
    def minor(self) -> int:
        return int(self.amount.scaleb(MINOR_UNITS[self.currency]))

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise MoneyError("cannot add different currencies")
        return Money(self.amount + other.amount, self.currency)

    def __str__(self) -> str:
        symbol = SYMBOLS.get(self.currency, self.currency + " ")
        return f"{symbol}{self.amount:,.{MINOR_UNITS[self.currency]}f}"


def minor_to_amount(minor: int, currency: str) -> Decimal:
    """`Money.from_minor(minor, currency).amount` without Money's checks (an int of minor
    units always fits): for hot paths."""
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])
