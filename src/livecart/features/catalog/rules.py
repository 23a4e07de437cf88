"""Pure stock and price rules, tested without I/O."""

from __future__ import annotations

MAX_STOCK = 10_000_000


class StockRuleError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def stock_after(current: int, delta: int) -> int:
    """The stock after applying `delta`, or StockRuleError if that would leave the rules."""
    if delta == 0:
        raise StockRuleError("stock_delta_zero", "A stock change must change something.")
    after = current + delta
    if after < 0:
        raise StockRuleError("insufficient_stock", f"Only {current} in stock.")
    if after > MAX_STOCK:
        raise StockRuleError("stock_too_large", f"Stock is capped at {MAX_STOCK}.")
    return after


def check_prices(price_minor: int, list_price_minor: int | None) -> None:
    if price_minor <= 0:
        raise StockRuleError("price_not_positive", "The price must be above zero.")
    if list_price_minor is not None and list_price_minor < price_minor:
        raise StockRuleError("list_price_below_price", "The list price cannot be below the price.")
