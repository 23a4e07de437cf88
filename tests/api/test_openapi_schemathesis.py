"""A schemathesis property run over /openapi.json against the ASGI app.

Checks: no 5xx, and every documented response matches its schema. It runs anonymously, as a
merchant and as a host (linked to the merchant, with a product and a show), so that the
authorised paths are exercised and not only the 401s. Only the JSON API (/api/...) is covered;
the HTML pages have their own browser tests.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from livecart.app import create_app
from livecart.config import Settings
from livecart.db.engine import make_session_factory
from livecart.features.sales.gate import make_gate
from livecart.kit.storage import LocalStorage
from tests.conftest import create_product, schedule_show, sign_up, wipe

CHECKS = [not_a_server_error, response_schema_conformance]
# Logging out would end the very token the authenticated runs use.
LOGOUT = "/api/v1/auth/logout"
bounded = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@dataclass(frozen=True)
class Actors:
    merchant: dict[str, str]
    host: dict[str, str]


# The schema is loaded at import (schemathesis' lazy `from_fixture` does not work with this
# pytest), from an app whose database and storage the `schema_app` fixture points at the
# test session's before any case runs. Loading /openapi.json needs neither.
_app = create_app(
    Settings(
        data_dir=Path(tempfile.gettempdir()) / "livecart-schemathesis",
        database_url="sqlite:///:memory:",
        secret_key="schemathesis",
        room_port=0,  # any free port: never collide with a running server
        run_jobs=False,  # its database is only swapped in later
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app).include(path_regex="^/api/")


@pytest.fixture(scope="module")
def schema_app(settings: Settings) -> FastAPI:
    """The schema's app over the test database. Schemathesis drives it from its own event loop
    thread, so it gets an engine without a pool (pooled connections belong to one loop)."""
    engine = create_async_engine(settings.resolved_database_url, poolclass=NullPool)
    _app.state.settings = settings
    _app.state.engine = engine
    _app.state.session_factory = make_session_factory(engine)
    _app.state.sale_gate = make_gate(
        _app.state.session_factory, backend="embedded", redis_url="", secret="schemathesis"
    )
    _app.state.storage = LocalStorage(settings.media_dir)
    return _app


@pytest.fixture(scope="module")
async def actors(session_app: FastAPI) -> AsyncIterator[Actors]:
    """A merchant with a product, a host linked to it with a show; wiped afterwards."""
    transport = httpx.ASGITransport(app=session_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        merchant = await sign_up(client, "merchant")
        host = await sign_up(client, "host", email=f"st-host-{uuid.uuid4().hex[:6]}@example.com")
        await client.post(
            "/api/v1/merchants/me/hosts",
            json={"email": host.user["email"]},
            headers=merchant.headers,
        )
        product = await create_product(client, merchant)
        await schedule_show(client, host, product_ids=[product["id"]])
        yield Actors(merchant=merchant.headers, host=host.headers)
    await wipe(session_app)


@pytest.mark.schema
@schema.parametrize()
@bounded
def test_api_anonymous(case: schemathesis.Case, actors: Actors, schema_app: FastAPI) -> None:
    case.call_and_validate(checks=CHECKS)


@pytest.mark.schema
@schema.exclude(path=LOGOUT).parametrize()
@bounded
def test_api_as_merchant(case: schemathesis.Case, actors: Actors, schema_app: FastAPI) -> None:
    case.call_and_validate(headers=actors.merchant, checks=CHECKS)


@pytest.mark.schema
@schema.exclude(path=LOGOUT).parametrize()
@bounded
def test_api_as_host(case: schemathesis.Case, actors: Actors, schema_app: FastAPI) -> None:
    case.call_and_validate(headers=actors.host, checks=CHECKS)
