"""A winner's answer is built without pydantic (`Purchase.claim_json`): it must be exactly what
the API's model would have said, for every price, quantity, currency and moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from livecart.features.sales.gate import Purchase, WonClaim
from livecart.kit.money import MINOR_UNITS, Money, minor_to_amount

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@given(
    price=st.integers(min_value=0, max_value=10**12),
    quantity=st.integers(min_value=1, max_value=100),
    currency=st.sampled_from(sorted(MINOR_UNITS)),
    expires_at=moments,
)
def test_a_winners_claim_json_is_the_models_json(
    price: int, quantity: int, currency: str, expires_at: datetime
) -> None:
    bought = Purchase(WonClaim(7, 3, quantity, price, currency, expires_at), True, 5, 2)
    fast = bought.claim_json()
    assert fast == bought.claim.model_dump(mode="json")
    assert bought.claim.total == Money.from_minor(price * quantity, currency).amount


def test_a_claim_in_another_time_zone_is_written_by_the_model() -> None:
    eight = timezone(timedelta(hours=8))
    expires_at = datetime(2026, 11, 26, 21, tzinfo=eight)
    bought = Purchase(WonClaim(1, 1, 1, 990, "CNY", expires_at), True, 0, 1)
    assert bought.claim_json()["expires_at"] == "2026-11-26T21:00:00+08:00"


def test_minor_to_amount_is_money_from_minor() -> None:
    for currency in MINOR_UNITS:
        for minor in (0, 1, 99, 100, 123456789):
            assert minor_to_amount(minor, currency) == Money.from_minor(minor, currency).amount
