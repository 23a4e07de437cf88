"""Money keeps exact minor units per currency and refuses amounts finer than the currency allows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecart.kit.money import MINOR_UNITS, Money, MoneyError

CURRENCIES = sorted(MINOR_UNITS)
minor_amounts = st.integers(min_value=-(10**12), max_value=10**12)


@given(currency=st.sampled_from(CURRENCIES), minor=minor_amounts)
def test_minor_units_round_trip(currency: str, minor: int) -> None:
    money = Money.from_minor(minor, currency)
    assert money.minor == minor
    assert money.currency == currency
    assert Money(money.amount, currency) == money
    assert money.amount * (10 ** MINOR_UNITS[currency]) == minor


@given(currency=st.sampled_from(CURRENCIES), minor=minor_amounts, extra=st.integers(1, 9))
def test_amounts_finer_than_the_currency_are_refused(currency: str, minor: int, extra: int) -> None:
    places = MINOR_UNITS[currency]
    # one more decimal place than the currency has, with a non-zero last digit
    amount = Decimal(minor * 10 + extra).scaleb(-(places + 1))
    with pytest.raises(MoneyError):
        Money(amount, currency)


@given(
    currency=st.sampled_from(CURRENCIES),
    a=minor_amounts,
    b=minor_amounts,
)
def test_addition_adds_minor_units(currency: str, a: int, b: int) -> None:
    total = Money.from_minor(a, currency) + Money.from_minor(b, currency)
    assert total.minor == a + b


def test_different_currencies_do_not_add() -> None:
    with pytest.raises(MoneyError):
        _ = Money.from_minor(100, "CNY") + Money.from_minor(100, "USD")


@pytest.mark.parametrize("bad", ["XXX", "cny", ""])
def test_unknown_currency_is_refused(bad: str) -> None:
    with pytest.raises(MoneyError):
        Money(Decimal("1.00"), bad)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_amounts_are_refused(amount: str) -> None:
    with pytest.raises(MoneyError):
        Money(Decimal(amount), "CNY")


def test_trailing_zeros_are_fine_and_str_uses_the_symbol() -> None:
    assert Money(Decimal("49.900"), "CNY").minor == 4990
    assert Money(Decimal("1200"), "JPY").minor == 1200
    assert str(Money.from_minor(123456, "CNY")) == "¥1,234.56"
    assert str(Money.from_minor(1500, "JPY")) == "¥1,500"
    assert str(Money.from_minor(1500, "KRW")) == "KRW 1,500"


@given(
    currency=st.sampled_from(CURRENCIES),
    amount=st.decimals(allow_nan=True, allow_infinity=True, places=None),
)
def test_any_decimal_is_money_or_a_money_error(currency: str, amount: Decimal) -> None:
    try:
        money = Money(amount, currency)
    except MoneyError:
        return
    assert Money.from_minor(money.minor, currency).amount == amount


def test_huge_amounts_are_a_money_error() -> None:
    with pytest.raises(MoneyError):
        Money(Decimal("1E+30"), "CNY")
