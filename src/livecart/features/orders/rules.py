"""Pure order rules: which action moves an order from which state to which, and who may act.

awaiting_payment → paid → shipped → delivered → completed; awaiting_payment → cancelled |
expired; after-sales: a refund requested on a paid order (any state from paid to completed) is
approved or rejected by the merchant; an approved refund ends the order as `refunded` when the
provider confirms the money went back.
"""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class Action(StrEnum):
    PAY = "pay"  # the provider confirmed the payment
    CANCEL = "cancel"  # the buyer gives up before paying
    EXPIRE = "expire"  # the payment window passed
    SHIP = "ship"  # merchant
    DELIVER = "deliver"  # merchant (or the carrier, through the merchant)
    COMPLETE = "complete"  # the buyer confirms receipt
    REFUND = "refund"  # the provider confirmed an approved refund


class Actor(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    SYSTEM = "system"  # payment notifications and the expiry job


S, A = OrderState, Action
TRANSITIONS: dict[tuple[OrderState, Action], OrderState] = {
    (S.AWAITING_PAYMENT, A.PAY): S.PAID,
    (S.AWAITING_PAYMENT, A.CANCEL): S.CANCELLED,
    (S.AWAITING_PAYMENT, A.EXPIRE): S.EXPIRED,
    (S.PAID, A.SHIP): S.SHIPPED,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
    (S.SHIPPED, A.COMPLETE): S.COMPLETED,
    (S.DELIVERED, A.COMPLETE): S.COMPLETED,
    **{(state, A.REFUND): S.REFUNDED for state in (S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED)},
}
WHO: dict[Action, Actor] = {
    A.PAY: Actor.SYSTEM,
    A.CANCEL: Actor.BUYER,
    A.EXPIRE: Actor.SYSTEM,
    A.SHIP: Actor.MERCHANT,
    A.DELIVER: Actor.MERCHANT,
    A.COMPLETE: Actor.BUYER,
    A.REFUND: Actor.SYSTEM,
}
# States in which the goods are paid for and the buyer may ask for the money back.
REFUNDABLE = frozenset({S.PAID, S.SHIPPED, S.DELIVERED, S.COMPLETED})
# States whose units are held for the buyer (returned to stock when the order ends unpaid).
HOLDING = frozenset({S.AWAITING_PAYMENT})
FINAL = frozenset({S.CANCELLED, S.EXPIRED, S.REFUNDED})


class OrderRuleError(ValueError):
    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def next_state(state: str, action: Action) -> OrderState:
    """The state after `action`, or OrderRuleError(`order_state`) if it cannot happen now."""
    try:
        return TRANSITIONS[(OrderState(state), action)]
    except KeyError:
        raise OrderRuleError(
            "order_state", f"An order that is {state} cannot be {_past(action)}."
        ) from None


def may_request_refund(state: str, *, open_refund: bool) -> None:
    if open_refund:
        raise OrderRuleError("refund_open", "A refund is already being handled for this order.")
    if OrderState(state) not in REFUNDABLE:
        raise OrderRuleError("order_state", f"An order that is {state} cannot be refunded.")


def _past(action: Action) -> str:
    return {
        A.PAY: "paid",
        A.CANCEL: "cancelled",
        A.EXPIRE: "expired",
        A.SHIP: "shipped",
        A.DELIVER: "delivered",
        A.COMPLETE: "completed",
        A.REFUND: "refunded",
    }[action]
