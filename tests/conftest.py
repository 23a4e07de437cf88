"""Shared fixtures. The backend under test is chosen by LIVECART_TEST_DB (sqlite | postgres).

On the PostgreSQL pass a fresh database is created for the session, migrated with Alembic and
dropped at the end. Locally a missing PostgreSQL skips that pass; in CI (CI=true) it fails.
Each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, inspect

from livecart.app import create_app
from livecart.config import Settings
from livecart.db.base import Base
from livecart.features import models as _models
from livecart.migrations.run import upgrade

assert _models  # every table is in Base.metadata
BACKEND = os.environ.get("LIVECART_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "LIVECART_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass runs the tests that use the pass's database (`database_url`, through
    the in-process app or directly) or are marked `postgres`. The rest — pure functions, video
    encoding, storage, and the browser and media tests whose server processes get their own
    database — do not depend on which database the pass is for: they run once, on the SQLite
    pass, except those of tests/unit when both passes run (scripts/test.sh sets
    LIVECART_TEST_PASSES=both): those go to the PostgreSQL pass, which has less to do."""
    both = os.environ.get("LIVECART_TEST_PASSES") == "both"
    keep, drop = [], []
    for item in items:
        uses_db = "database_url" in getattr(item, "fixturenames", ())
        in_process = item.get_closest_marker("browser") is None
        marked = item.get_closest_marker("postgres") is not None
        on_pg = (uses_db and in_process) or marked
        handed_over = both and not on_pg and item.path.parent.name == "unit"
        if BACKEND == "postgres":
            (keep if on_pg or handed_over else drop).append(item)
        else:
            (drop if handed_over else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def psql(sql: str) -> None:
    """Run one statement on the maintenance database (CREATE/DROP DATABASE need no driver)."""
    subprocess.run(
        ["psql", PG_ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qc", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


def empty_redis(url: str) -> str:
    """`url`'s Redis database, emptied (FLUSHDB) for a test. Without Redis the test is skipped
    locally and fails in CI."""
    import redis

    try:
        redis.Redis.from_url(url).flushdb()
    except redis.RedisError:
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {url} and CI is set")
        pytest.skip("Redis is not reachable; CI=true makes this a failure")
    return url


def pg_reachable() -> bool:
    try:
        psql("SELECT 1")
        return True
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("livecart-data")


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A migrated, empty database of the backend under test (a plain URL; the driver is added
    later): a file in `folder` on SQLite, a new database on PostgreSQL, dropped at the end."""
    if BACKEND == "sqlite":
        url = f"sqlite:///{folder / f'test-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(Settings(database_url=url).resolved_database_url)
        yield url
        return
    if BACKEND != "postgres":
        raise pytest.UsageError(f"unknown LIVECART_TEST_DB={BACKEND!r}")
    if not pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} and CI is set")
        pytest.skip("PostgreSQL is not reachable; CI=true makes this a failure")
    name = f"livecart_test_{uuid.uuid4().hex[:10]}"
    psql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(Settings(database_url=url).resolved_database_url)
        yield url
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    """The in-process app's database for this test session. A server process that lives across
    tests (browser, media) gets its own from `fresh_database`: its background jobs would
    otherwise deliver payments and expire orders under the in-process tests."""
    with fresh_database(data_dir) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, data_dir: Path) -> Settings:
    # Background jobs off: tests run expiry, notifications and returns themselves, so that no
    # job races them (the browser tests' server runs its own).
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="test-secret-key",
        room_port=0,
        run_jobs=False,
        replay_encode_auto=False,
    )


@pytest.fixture(scope="session")
async def session_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    yield app
    await app.state.sale_gate.writer.close()  # the connections its commit slots keep
    await app.state.engine.dispose()


@pytest.fixture
async def app(session_app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app over empty tables."""
    yield session_app
    await wipe(session_app)


async def wipe(app: FastAPI) -> None:
    app.state.sale_gate.forget()  # ids start again in an empty database
    # …so a show's video folder from an earlier test would belong to the next show 1.
    shutil.rmtree(app.state.settings.data_dir / "live", ignore_errors=True)
    async with app.state.session_factory() as session:
        existing = await _existing_tables(app)
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in existing:  # a model whose migration is still being written
                await session.execute(delete(table))
        await session.commit()


async def _existing_tables(app: FastAPI) -> set[str]:
    cached: set[str] | None = getattr(app.state, "test_tables", None)
    if cached is None:
        async with app.state.engine.connect() as conn:
            cached = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        app.state.test_tables = cached
    return cached


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


class Actor:
    """A signed-up account and the headers that act as it."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.token: str = body["token"]
        self.user: dict[str, Any] = body["user"]
        self.id: int = body["user"]["id"]
        self.headers = {"Authorization": f"Bearer {self.token}"}


async def sign_up(client: httpx.AsyncClient, role: str = "viewer", **extra: Any) -> Actor:
    payload: dict[str, Any] = {
        "email": f"{role}-{uuid.uuid4().hex[:8]}@example.com",
        "password": PASSWORD,
        "display_name": extra.pop("display_name", f"{role} user"),
        "role": role,
    }
    if role == "merchant":
        payload["merchant_name"] = extra.pop("merchant_name", "Test Shop")
    payload.update(extra)
    resp = await client.post("/api/v1/auth/signup", json=payload)
    assert resp.status_code == 201, resp.text
    return Actor(resp.json())


def product_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Cotton tee",
        "category": "fashion",
        "open_to_hosts": True,
        "variants": [
            {
                "sku": "TEE-M",
                "options": {"size": "M"},
                "price": "49.00",
                "list_price": "79.00",
                "stock": 10,
            }
        ],
    }
    body.update(overrides)
    return body


async def create_product(
    client: httpx.AsyncClient, merchant: Actor, **overrides: Any
) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/products", json=product_payload(**overrides), headers=merchant.headers
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    """A small picture made in memory with Pillow."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def in_hours(hours: float) -> str:
    """An ISO timestamp `hours` from now (UTC)."""
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def schedule_show(client: httpx.AsyncClient, host: Actor, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Tee night", "planned_start": in_hours(2)}
    body.update(overrides)
    resp = await client.post("/api/v1/shows", json=body, headers=host.headers)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def assert_error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the JSON error `code` with `status`, shaped {code, message, data}."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "data"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["data"], dict)
    return dict(body)


@pytest.fixture(scope="session")
async def room_base(session_app: FastAPI) -> AsyncIterator[str]:
    """The room gateway of the session's app, on a free port."""
    from livecart.app import start_realtime, stop_realtime

    await start_realtime(session_app, port=0)
    yield f"ws://127.0.0.1:{session_app.state.room_gateway.port}"
    await stop_realtime(session_app)


@pytest.fixture
async def rooms(room_base: str) -> AsyncIterator[Any]:
    """Opens room connections for a test (tests.roomkit.Rooms) and closes them at its end."""
    from tests.roomkit import Rooms

    opened = Rooms(room_base)
    yield opened
    await opened.close()
