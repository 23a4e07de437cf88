"""The payment provider interface, and the signed-notification format the sandbox uses.

A provider does three things for us: open a checkout (a hosted page the buyer is sent to),
tell us what happened through signed notifications (webhooks) that may come late, twice or out
of order, and pay money back. How a real provider plugs in is in docs/payments.md.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import orjson

EventKind = Literal["payment.succeeded", "payment.failed", "refund.succeeded"]
EVENT_KINDS: tuple[EventKind, ...] = ("payment.succeeded", "payment.failed", "refund.succeeded")
SIGNATURE_HEADER = "x-sandbox-signature"
SIGNATURE_TOLERANCE_SECS = 300


@dataclass(frozen=True, slots=True)
class Checkout:
    provider_ref: str
    pay_url: str


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    event_id: str
    kind: EventKind
    provider_ref: str  # the charge
    amount_minor: int
    currency: str


class BadWebhook(ValueError):
    """A notification that is not from the provider, or too old to trust (a replay)."""


class PaymentProvider(Protocol):
    name: str

    async def create_checkout(
        self, *, merchant_ref: str, amount_minor: int, currency: str, return_url: str
    ) -> Checkout: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> ProviderEvent: ...

    async def refund(self, *, provider_ref: str, amount_minor: int) -> str:
        """Ask for the money back; idempotent per charge. The outcome comes as a notification."""
        ...


def webhook_secret(site_secret: str) -> bytes:
    """The key the sandbox signs with, derived from the site's secret (never the secret itself)."""
    return hmac.new(site_secret.encode(), b"sandbox-webhook-v1", hashlib.sha256).digest()


def sign(secret: bytes, body: bytes, *, at: int | None = None) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`, as Stripe-like providers do."""
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify(secret: bytes, body: bytes, header: str | None, *, now: float | None = None) -> None:
    if not header:
        raise BadWebhook("missing signature")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        at = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise BadWebhook("malformed signature") from None
    expected = hmac.new(secret, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise BadWebhook("signature does not match")
    now = time.time() if now is None else now
    if abs(now - at) > SIGNATURE_TOLERANCE_SECS:
        raise BadWebhook("signature too old")


def parse_event(body: bytes) -> ProviderEvent:
    try:
        data = orjson.loads(body)
        kind = data["type"]
        if kind not in EVENT_KINDS:
            raise BadWebhook(f"unknown event type {kind!r}")
        charge = data["data"]
        return ProviderEvent(
            event_id=str(data["id"])[:64],
            kind=kind,
            provider_ref=str(charge["charge"])[:64],
            amount_minor=int(charge["amount"]),
            currency=str(charge["currency"])[:3],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BadWebhook):
            raise
        raise BadWebhook("malformed event") from None
