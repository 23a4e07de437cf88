"""Pure flash-sale rules: when a purchase may be tried, and what a gate decision means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SalePhase(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    SOLD_OUT = "sold_out"
    CLOSED = "closed"


class SaleRefusal(ValueError):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class SaleTerms:
    allotted: int
    per_buyer_limit: int
    opens_at: datetime
    closes_at: datetime


def phase(terms: SaleTerms, *, taken: int, now: datetime) -> SalePhase:
    if now < terms.opens_at:
        return SalePhase.UPCOMING
    if now >= terms.closes_at:
        return SalePhase.CLOSED
    if taken >= terms.allotted:
        return SalePhase.SOLD_OUT
    return SalePhase.OPEN


def check_attempt(terms: SaleTerms, *, quantity: int, now: datetime) -> None:
    """Refusals that need no state: too early (425), closed (409), over the limit (422)."""
    if quantity < 1 or quantity > terms.per_buyer_limit:
        raise SaleRefusal(
            "quantity_over_limit", f"Each buyer may take at most {terms.per_buyer_limit}.", 422
        )
    if now < terms.opens_at:
        raise SaleRefusal("sale_not_open", "The sale has not opened yet.", 425)
    if now >= terms.closes_at:
        raise SaleRefusal("sale_closed", "The sale is over.", 409)


def decide(terms: SaleTerms, *, taken: int, buyer_taken: int, quantity: int) -> str | None:
    """The gate's decision as a pure function (the database applies the same conditions
    atomically): None to grant, else the refusal code."""
    if taken + quantity > terms.allotted:
        return "sold_out"
    if buyer_taken + quantity > terms.per_buyer_limit:
        return "buyer_limit_reached"
    return None
