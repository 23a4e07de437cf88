"""The composition root: create_app(settings) wires the engine, storage, routers and the edge."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from livecart import __version__
from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.db.uow import UnitOfWork
from livecart.features.accounts.routes import router as accounts_router
from livecart.features.catalog.routes import router as catalog_router
from livecart.features.media import routes as media_routes
from livecart.features.media.node import MediaNode
from livecart.features.orders import cart as order_cart
from livecart.features.orders import jobs as order_jobs
from livecart.features.orders.routes import router as orders_router
from livecart.features.orders.sandbox.bank import Chaos, SandboxProvider
from livecart.features.rooms.routes import router as rooms_router
from livecart.features.sales import service as sale_service
from livecart.features.sales.gate import make_gate
from livecart.features.sales.models import FlashSale
from livecart.features.sales.repository import SalesRepository
from livecart.features.sales.routes import router as sales_router
from livecart.features.shows.routes import router as shows_router
from livecart.kit.storage import storage_for, use_storage
from livecart.realtime.hub import make_hub
from livecart.web import media_pages, pages, product_pages, sandbox_pages
from livecart.web.errors import install_error_handlers
from livecart.web.limits import BodyLimitMiddleware
from livecart.web.room_gateway import RoomGateway

STATIC_DIR = Path(__file__).parent / "web" / "static"
NOTIFY_PATH = "/api/v1/payments/sandbox/webhook"
RETURN_UNSOLD_EVERY_SECS = 5.0


def create_app(settings: Settings | None = None, *, ingest: bool = False) -> FastAPI:
    """The app; with `ingest` (livecart serve) its lifespan also runs nginx-rtmp and packagers."""
    settings = settings or Settings()
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start_realtime(app)
        await app.state.media.start(ingest=ingest)
        try:
            yield
        finally:
            await app.state.media.close()
            await stop_realtime(app)
            await engine.dispose()

    app = FastAPI(
        title="livecart",
        version=__version__,
        summary="Self-hosted live-stream commerce: shows, products, link drops, flash sales.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.storage = storage_for(settings)  # local (data_dir/media) or s3
    use_storage(app.state.storage)
    app.state.hub = make_hub(settings.redis_url)
    app.state.sale_gate = make_gate(
        app.state.session_factory,
        backend=settings.sale_gate,
        redis_url=settings.redis_url,
        secret=settings.resolved_secret_key,
    )
    app.state.sale_gate.writer.add_hook(order_cart.SALE_ORDERS)
    app.state.payment_provider = SandboxProvider(
        app.state.session_factory,
        site_secret=settings.resolved_secret_key,
        notify_url=NOTIFY_PATH,
        chaos=Chaos(settings.sandbox_duplicate_rate, settings.sandbox_max_delay_ms),
    )

    app.state.room_gateway = RoomGateway(
        app.state.hub,
        app.state.session_factory,
        fast_transport=settings.room_fast_transport,
        sale_gate=app.state.sale_gate,
    )
    app.state.media = MediaNode(settings, app.state.session_factory, app.state.hub)
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        json_limit=settings.max_body_bytes,
        upload_limit=settings.max_upload_bytes,
    )
    for router in (
        accounts_router,
        catalog_router,
        shows_router,
        rooms_router,
        sales_router,
        orders_router,
        sandbox_pages.router,
        product_pages.router,
        media_routes.router,
        media_routes.hooks,
        media_routes.files,
        pages.router,
        media_pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/media", StaticFiles(directory=settings.media_dir, check_dir=False), name="media")
    return app


async def start_realtime(app: FastAPI, *, port: int | None = None) -> None:
    """Start the hub (broker, ticks) and the room gateway's listener."""
    settings: Settings = app.state.settings
    await app.state.hub.start()
    app.state.background = background_jobs(app)
    await app.state.room_gateway.start(
        settings.room_host, settings.room_port if port is None else port
    )


def background_jobs(app: FastAPI) -> list[asyncio.Task[None]]:
    """Unpaid orders expire, flash-sale claims a crash left without their order get it, refunds
    are retried, the sandbox provider sends notifications."""
    settings: Settings = app.state.settings
    if not settings.run_jobs:
        return []
    factory, provider = app.state.session_factory, app.state.payment_provider
    base = settings.public_url or f"http://{settings.room_host}:8000"
    client = order_jobs.sandbox_client(base)
    app.state.sandbox_client = client
    rng = random.Random()  # noqa: S311 - shuffles test notifications, guards nothing

    jobs = {
        "expire-orders": (order_jobs.EXPIRY_EVERY_SECS, lambda: expire_orders_once(app)),
        "return-unsold": (RETURN_UNSOLD_EVERY_SECS, lambda: return_unsold_once(app)),
        "sale-orders": (
            order_jobs.SALE_ORDERS_EVERY_SECS,
            lambda: order_jobs.sale_orders_once(factory),
        ),
        "retry-refunds": (
            order_jobs.REFUND_RETRY_EVERY_SECS,
            lambda: order_jobs.retry_refunds_once(factory, provider),
        ),
        "sandbox-notify": (
            order_jobs.DELIVER_EVERY_SECS,
            lambda: order_jobs.deliver_sandbox_once(
                factory, client, settings.resolved_secret_key, rng
            ),
        ),
    }
    return [
        asyncio.create_task(order_jobs.every(secs, work, name), name=name)
        for name, (secs, work) in jobs.items()
    ]


async def expire_orders_once(app: FastAPI) -> int:
    """Expire unpaid orders now; a flash sale's units go back to its gate and the room's screen."""
    hub, gate = app.state.hub, app.state.sale_gate

    async def units_back(sale: FlashSale, buyer_id: int, quantity: int) -> None:
        await gate.units_returned(sale.id, buyer_id, quantity)
        hub.set_stock(sale.show_id, f"sale:{sale.id}", sale.allotted - sale.taken)

    return await order_jobs.expire_once(
        app.state.session_factory, app.state.payment_provider, units_back
    )


async def return_unsold_once(app: FastAPI) -> int:
    """Closed flash sales give the units they did not sell back to the shelf."""
    async with UnitOfWork(app.state.session_factory) as uow:
        return await sale_service.return_unsold(SalesRepository(uow.session))


async def stop_realtime(app: FastAPI) -> None:
    for task in getattr(app.state, "background", []):
        task.cancel()
    if getattr(app.state, "sandbox_client", None) is not None:
        await app.state.sandbox_client.aclose()
    await app.state.room_gateway.close()
    await app.state.sale_gate.close()
    await app.state.hub.close()
