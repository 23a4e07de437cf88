"""Staging a flash sale on a real `livecart serve` process over HTTP (the crash, Redis restart
and shared-window tests)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from livecart.bench.stage import live_show

Headers = dict[str, str]


async def sign_up_over(http: httpx.AsyncClient, role: str, **extra: Any) -> Headers:
    body = {
        "email": f"{role}-{uuid.uuid4().hex[:8]}@server.example.com",
        "password": "x" * 12,
        "display_name": role,
        "role": role,
        **extra,
    }
    resp = await http.post("/api/v1/auth/signup", json=body)
    assert resp.status_code == 201, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


@dataclass
class Staged:
    sale: dict[str, Any]
    buyers: list[Headers]
    host: Headers

    @property
    def sale_id(self) -> int:
        return int(self.sale["id"])


async def stage_sale(http: httpx.AsyncClient, *, buyers: int, **terms: Any) -> Staged:
    """A live show, `buyers` signed-up viewers, then (so a short countdown is not spent on
    sign-ups) a sale with `terms` of its only product."""
    stage = await asyncio.to_thread(live_show, str(http.base_url), stock=500)
    host = {"Authorization": f"Bearer {stage.host_token}"}
    viewers = [await sign_up_over(http, "viewer") for _ in range(buyers)]
    resp = await http.post(
        f"/api/v1/shows/{stage.show_id}/sales",
        headers=host,
        json={
            "variant_id": stage.variant_id,
            "price": "1.00",
            "countdown_ms": 0,
            **terms,
        },
    )
    assert resp.status_code == 201, resp.text
    return Staged(resp.json(), viewers, host)
