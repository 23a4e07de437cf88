"""The pure stock and price rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecart.features.catalog.rules import MAX_STOCK, StockRuleError, check_prices, stock_after

stocks = st.integers(min_value=0, max_value=MAX_STOCK)
deltas = st.integers(min_value=-2 * MAX_STOCK, max_value=2 * MAX_STOCK)


@given(stocks, deltas)
def test_stock_after_agrees_with_a_simple_model(current: int, delta: int) -> None:
    expected = current + delta
    try:
        after = stock_after(current, delta)
    except StockRuleError as exc:
        if delta == 0:
            assert exc.code == "stock_delta_zero"
        elif expected < 0:
            assert exc.code == "insufficient_stock"
        else:
            assert expected > MAX_STOCK
            assert exc.code == "stock_too_large"
    else:
        assert delta != 0
        assert after == expected
        assert 0 <= after <= MAX_STOCK


@given(stocks, st.lists(deltas.filter(bool), max_size=30))
def test_a_sequence_of_changes_never_goes_negative(start: int, changes: list[int]) -> None:
    stock = start
    for delta in changes:
        try:
            stock = stock_after(stock, delta)
        except StockRuleError:
            continue  # refused: the stock stays as it was
        assert stock >= 0
    assert 0 <= stock <= MAX_STOCK


def test_examples() -> None:
    assert stock_after(10, -10) == 0
    assert stock_after(0, 5) == 5
    with pytest.raises(StockRuleError, match="Only 3"):
        stock_after(3, -4)


@given(st.integers(min_value=-(10**9), max_value=10**9), st.none() | st.integers(-(10**9), 10**9))
def test_check_prices(price: int, list_price: int | None) -> None:
    try:
        check_prices(price, list_price)
    except StockRuleError as exc:
        if price <= 0:
            assert exc.code == "price_not_positive"
        else:
            assert list_price is not None
            assert list_price < price
            assert exc.code == "list_price_below_price"
    else:
        assert price > 0
        assert list_price is None or list_price >= price
