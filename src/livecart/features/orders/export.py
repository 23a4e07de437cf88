"""Orders as CSV for spreadsheets. Cells that a spreadsheet would run as a formula are quoted."""

from __future__ import annotations

import csv
import io

from livecart.features.orders import service
from livecart.kit.pagination import PageRequest

MAX_ROWS = 20_000
BATCH = 500
HEADER = [
    "order_id",
    "created_at",
    "status",
    "buyer_id",
    "items",
    "total",
    "currency",
    "source",
    "show_id",
    "host_id",
    "video_time_ms",
    "sale_id",
    "ship_to_name",
    "ship_to_phone",
    "ship_to_region",
    "ship_to_address",
    "carrier",
    "tracking_number",
    "refund",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def orders_csv(
    ctx: service.Orders, merchant_id: int, *, status: str | None, show_id: int | None
) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    after: int | None = None
    written = 0
    while written < MAX_ROWS:
        rows = await ctx.repo.page(
            PageRequest(after, BATCH), merchant_id=merchant_id, status=status, show_id=show_id
        )
        rows = rows[:BATCH]
        if not rows:
            break
        for order in await service.orders_out(ctx, rows):
            ship = order.ship_to or {}
            items = "; ".join(
                f"{i.title} {' '.join(i.options.values())} ×{i.quantity}".replace("  ", " ")
                for i in order.items
            )
            writer.writerow(
                [
                    cell(v)
                    for v in (
                        order.id,
                        order.created_at.isoformat(),
                        order.status,
                        order.buyer_id,
                        items,
                        order.total,
                        order.currency,
                        order.source,
                        order.show_id,
                        order.host_id,
                        order.video_time_ms,
                        order.sale_id,
                        ship.get("name"),
                        ship.get("phone"),
                        ship.get("region"),
                        ship.get("address"),
                        order.carrier,
                        order.tracking_number,
                        order.refund.status if order.refund else None,
                    )
                ]
            )
            written += 1
        after = rows[-1].id
    return out.getvalue()
