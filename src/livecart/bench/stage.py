"""A live show to measure: accounts, a product and a show, made through the public API."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

PASSWORD = "bench-password-1"  # noqa: S105 - throwaway accounts in a throwaway database


@dataclass(frozen=True)
class Stage:
    show_id: int
    product_id: int
    host_token: str
    variant_id: int


def _sign_up(http: httpx.Client, role: str, **extra: Any) -> dict[str, Any]:
    body = {
        "email": f"{role}-{secrets.token_hex(4)}@bench.example.com",
        "password": PASSWORD,
        "display_name": f"bench {role}",
        "role": role,
        **extra,
    }
    resp = http.post("/api/v1/auth/signup", json=body)
    resp.raise_for_status()
    return dict(resp.json())


def live_show(base: str, *, stock: int = 1000) -> Stage:
    with httpx.Client(base_url=base, timeout=30) as http:
        merchant = _sign_up(http, "merchant", merchant_name="Bench shop")
        auth = {"Authorization": f"Bearer {merchant['token']}"}
        product = http.post(
            "/api/v1/products",
            headers=auth,
            json={
                "title": "Bench product",
                "category": "other",
                "open_to_hosts": True,
                "variants": [{"sku": "B-1", "price": "9.90", "stock": stock}],
            },
        ).json()
        host = _sign_up(http, "host")
        auth = {"Authorization": f"Bearer {host['token']}"}
        start = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        show = http.post(
            "/api/v1/shows",
            headers=auth,
            json={"title": "Bench show", "planned_start": start, "product_ids": [product["id"]]},
        )
        show.raise_for_status()
        show_id = show.json()["id"]
        http.post(f"/api/v1/shows/{show_id}/go-live", headers=auth).raise_for_status()
        return Stage(show_id, product["id"], host["token"], product["variants"][0]["id"])
