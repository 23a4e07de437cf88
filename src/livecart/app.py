"""The composition root: create_app(settings) wires the engine, storage, routers and the edge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from livecart import __version__
from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.features.accounts.routes import router as accounts_router
from livecart.features.catalog.routes import router as catalog_router
from livecart.features.media import routes as media_routes
from livecart.features.media.node import MediaNode
from livecart.features.rooms.routes import router as rooms_router
from livecart.features.sales import jobs as sale_jobs
from livecart.features.sales.routes import router as sales_router
from livecart.features.sales.service import SaleGate
from livecart.features.shows.routes import router as shows_router
from livecart.kit.storage import LocalStorage
from livecart.realtime.hub import make_hub
from livecart.web import media_pages, pages
from livecart.web.errors import install_error_handlers
from livecart.web.limits import BodyLimitMiddleware
from livecart.web.room_gateway import RoomGateway

STATIC_DIR = Path(__file__).parent / "web" / "static"


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
    app.state.storage = LocalStorage(settings.media_dir)
    app.state.hub = make_hub(settings.redis_url)
    app.state.sale_gate = SaleGate()
    app.state.room_gateway = RoomGateway(
        app.state.hub, app.state.session_factory, fast_transport=settings.room_fast_transport
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
    app.state.background = [
        asyncio.create_task(
            sale_jobs.expire_claims_forever(
                app.state.session_factory, app.state.sale_gate, app.state.hub
            ),
            name="expire-sale-claims",
        )
    ]
    await app.state.room_gateway.start(
        settings.room_host, settings.room_port if port is None else port
    )


async def stop_realtime(app: FastAPI) -> None:
    for task in getattr(app.state, "background", []):
        task.cancel()
    await app.state.room_gateway.close()
    await app.state.hub.close()
