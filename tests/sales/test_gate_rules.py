"""Bad input to the HTTP purchase, the reconciler, and fair_window's public, recomputable draw."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from livecart.cli import main
from livecart.features.orders.models import Order, OrderItem
from livecart.features.sales import fair
from livecart.features.sales.models import FlashSale
from livecart.features.sales.reconcile import reconcile
from tests.conftest import assert_error, sign_up
from tests.roomkit import live_show
from tests.sales.conftest import buy, open_sale


async def test_bad_purchases_are_refused(client: httpx.AsyncClient) -> None:
    show = await live_show(client)
    sale = await open_sale(client, show, units=5, per_buyer_limit=2)
    buyer = await sign_up(client, "viewer")
    url = f"/api/v1/sales/{sale['id']}/purchase"
    for quantity in (-1, 0, 101, 10**12, None, 1.5, "many"):
        resp = await client.post(
            url, json={"quantity": quantity}, headers={**buyer.headers, "Idempotency-Key": "k" * 9}
        )
        assert resp.status_code == 422, (quantity, resp.text)
    for key in ("short", "x" * 65, "no spaces here", "semicolon;key"):
        resp = await client.post(
            url, json={"quantity": 1}, headers={**buyer.headers, "Idempotency-Key": key}
        )
        assert resp.status_code == 422, (key, resp.text)
    assert_error(await buy(client, buyer, 10**9), 404, "sale_not_found")
    assert_error(await buy(client, buyer, sale["id"], 3), 422, "quantity_over_limit")
    assert (await buy(client, buyer, sale["id"], 1, key="first-request")).status_code == 201
    reused = await buy(client, buyer, sale["id"], 2, key="first-request")
    assert_error(reused, 422, "idempotency_key_reused")
    assert (await client.get(f"/api/v1/sales/{sale['id']}")).json()["left"] == 4


async def test_reconcile_finds_and_repairs_a_drift(
    client: httpx.AsyncClient, session_app: FastAPI
) -> None:
    show = await live_show(client)
    sale = await open_sale(client, show, units=5, per_buyer_limit=2)
    buyers = [await sign_up(client, "viewer") for _ in range(3)]
    for b in buyers:
        assert (await buy(client, b, sale["id"])).status_code == 201
    gate = session_app.state.sale_gate
    report = await reconcile(gate, sale["id"])
    assert (report.agree, report.claimed, report.db_taken, report.gate_taken) == (True, 3, 3, 3)
    async with session_app.state.session_factory() as session:  # someone edits the counter
        await session.execute(update(FlashSale).where(FlashSale.id == sale["id"]).values(taken=1))
        await session.commit()
    await gate.arbiter.release(await gate.info(sale["id"]), buyers[0].id, 1, key=None)
    drift = await reconcile(gate, sale["id"])
    assert (drift.agree, drift.db_taken, drift.gate_taken) == (False, 1, 2)
    assert drift.gate_buyers_differ == 1
    repaired = await reconcile(gate, sale["id"], repair=True)
    assert repaired.repaired
    after = await reconcile(gate, sale["id"])
    assert (after.agree, after.db_taken, after.gate_taken, after.left) == (True, 3, 3, 2)
    assert (await client.get(f"/api/v1/sales/{sale['id']}")).json()["left"] == 2
    assert after.references_resolve and set(after.unmatched.values()) == {0}
    assert set(after.unmatched) == {
        "claims_without_user",
        "buyers_without_user",
        "claims_without_order",
        "orders_without_claim",
        "orders_without_items",
    }


async def test_reconcile_reports_references_that_do_not_resolve(
    client: httpx.AsyncClient, session_app: FastAPI
) -> None:
    """The winners' tables have no foreign keys (ADR 0004): a claim whose order was deleted, or
    an order whose line was, shows in the report, and repair leaves them for a person."""
    show = await live_show(client)
    sale = await open_sale(client, show, units=5, per_buyer_limit=1)
    buyers = [await sign_up(client, "viewer") for _ in range(3)]
    claims = [(await buy(client, b, sale["id"])).json() for b in buyers]
    await session_app.state.sale_gate.writer.idle()  # PostgreSQL: the orders follow the answers
    async with session_app.state.session_factory() as session:
        order_ids = [
            (await session.execute(select(Order.id).where(Order.claim_id == c["id"]))).scalar_one()
            for c in claims
        ]
        await session.execute(delete(Order).where(Order.id == order_ids[0]))
        await session.execute(delete(OrderItem).where(OrderItem.order_id == order_ids[1]))
        await session.commit()
    gate = session_app.state.sale_gate
    report = await reconcile(gate, sale["id"], repair=True)
    assert (report.agree, report.references_resolve) == (True, False)
    assert report.unmatched["claims_without_order"] == 1
    assert report.unmatched["orders_without_items"] == 1
    assert report.unmatched["orders_without_claim"] == 0
    assert not report.repaired  # the counters agreed; the references are not its to mend
    path = f"/api/v1/sales/{sale['id']}/reconcile"
    seen = (await client.post(path, headers=show.host.headers)).json()
    assert (seen["references_resolve"], seen["unmatched"]["claims_without_order"]) == (False, 1)


async def test_fair_window_draws_by_lot_and_anyone_can_check(
    client: httpx.AsyncClient,
    session_app: FastAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    show = await live_show(client)
    buyers = [await sign_up(client, "viewer") for _ in range(8)]
    sale = await open_sale(
        client,
        show,
        units=3,
        per_buyer_limit=1,
        mode="fair_window",
        window_ms=500,
        countdown_ms=300,
    )
    assert sale["mode"] == "fair_window" and len(sale["seed_hash"]) == 64
    early = await client.get(f"/api/v1/sales/{sale['id']}/allocation")
    assert_error(early, 425, "allocation_pending")
    opens_at = datetime.fromisoformat(sale["opens_at"])
    await asyncio.sleep(max(0.0, (opens_at - datetime.now(UTC)).total_seconds()))
    answers = await asyncio.gather(
        *(buy(client, b, sale["id"], key=f"fair-{i}-key") for i, b in enumerate(buyers))
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] * 3 + [409] * 5, [r.text for r in answers]
    doc = (await client.get(f"/api/v1/sales/{sale['id']}/allocation")).json()
    assert fair.seed_hash(doc["seed"]) == sale["seed_hash"]
    assert len(doc["entries"]) == 8
    assert [e["outcome"] for e in doc["entries"]] == ["won"] * 3 + ["sold_out"] * 5
    assert fair.verify(doc) == []
    for b, r in zip(buyers, answers, strict=True):  # each buyer can find their own line
        name = fair.pseudonym(session_app.state.sale_gate.secret, sale["id"], b.id)
        line = next((e for e in doc["entries"] if e["pseudonym"] == name), None)
        assert line is not None, (name, doc["entries"])
        assert (line["outcome"] == "won") == (r.status_code == 201)

    tampered = copy.deepcopy(doc)
    tampered["entries"][0]["outcome"], tampered["entries"][-1]["outcome"] = "sold_out", "won"
    assert len(fair.verify(tampered)) == 2
    other_seed = {**doc, "seed": "0" * 64}
    assert fair.verify(other_seed)

    path = tmp_path / "allocation.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SystemExit) as done:
        main(["verify-allocation", str(path)])
    assert done.value.code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (printed["matches"], printed["won"], printed["entries"]) == (True, 3, 8)
    # After the window it is first come, first served.
    late = await sign_up(client, "viewer")
    assert_error(await buy(client, late, sale["id"]), 409, "sold_out")


def test_allocation_is_a_pure_function_of_seed_and_log() -> None:
    seed = "ab" * 32
    entries = [fair.Entry(f"p{i % 3}", fair.key_hash(f"k{i}"), 1 + i % 2, "") for i in range(9)]
    entries = [
        fair.Entry(e.pseudonym, e.key_hash, e.quantity, fair.lot(seed, e.pseudonym, e.key_hash))
        for e in entries
    ]
    first = fair.allocate(entries, allotted=4, per_buyer_limit=2)
    again = fair.allocate(list(reversed(entries)), allotted=4, per_buyer_limit=2)
    assert first == again
    assert sum(e.quantity for e in first if e.outcome == "won") <= 4
    for name in ("p0", "p1", "p2"):
        assert sum(e.quantity for e in first if e.pseudonym == name and e.outcome == "won") <= 2


async def test_reconcile_inside_the_server_sees_its_memory(
    client: httpx.AsyncClient, session_app: FastAPI
) -> None:
    """POST /sales/{id}/reconcile runs in the server, so the embedded gate's memory is seen."""
    show = await live_show(client)
    sale = await open_sale(client, show, units=5, per_buyer_limit=2)
    buyers = [await sign_up(client, "viewer") for _ in range(2)]
    for b in buyers:
        assert (await buy(client, b, sale["id"])).status_code == 201
    path = f"/api/v1/sales/{sale['id']}/reconcile"
    gate = session_app.state.sale_gate
    await gate.arbiter.release(await gate.info(sale["id"]), buyers[0].id, 1, key=None)
    drift = (await client.post(path, headers=show.host.headers)).json()
    assert (drift["backend"], drift["agree"], drift["claimed"], drift["gate_taken"]) == (
        "embedded",
        False,
        2,
        1,
    )
    fixed = await client.post(path, params={"repair": "true"}, headers=show.host.headers)
    assert fixed.status_code == 200 and fixed.json()["repaired"], fixed.text
    assert (await client.post(path, headers=show.host.headers)).json()["agree"]
    assert_error(await client.post(path), 401, "unauthorized")
    for outsider in (buyers[1], await sign_up(client, "host")):
        assert_error(await client.post(path, headers=outsider.headers), 404, "show_not_found")
    assert_error(
        await client.post("/api/v1/sales/999999/reconcile", headers=show.host.headers),
        404,
        "sale_not_found",
    )


def test_reconcile_cli_says_when_there_is_no_such_sale(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LIVECART_SALE_GATE", "embedded")
    with pytest.raises(SystemExit) as done:
        main(["reconcile", "999999"])
    assert done.value.code == 2
    out = capsys.readouterr()
    assert out.out == "" and "No such sale. (sale_not_found)" in out.err
