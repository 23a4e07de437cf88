"""The app stores uploads in, and links them from, the storage its settings name: with an
S3Storage (moto's server) an uploaded product image lands in the bucket and every URL the app
gives for it (the product, the cart line) is the bucket's."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from livecart.config import Settings
from livecart.kit.storage import (
    LocalStorage,
    S3Storage,
    current_storage,
    open_storage,
    storage_for,
    use_storage,
)
from tests.conftest import create_product, image_bytes, sign_up
from tests.storage.test_storage import s3_endpoint  # noqa: F401 - fixture

BUCKET = "livecart-app-images"


@pytest.fixture
def s3_app(
    app: FastAPI,
    s3_endpoint: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[S3Storage]:
    """The test app with its storage switched to S3, as LIVECART_STORAGE=s3 would open it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "LIVECART_STORAGE": "s3",
        "LIVECART_S3_BUCKET": BUCKET,
        "LIVECART_S3_ENDPOINT_URL": s3_endpoint,
        "LIVECART_S3_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    storage = open_storage(Settings())
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(Bucket=BUCKET)
    before = app.state.storage
    app.state.storage = storage
    use_storage(storage)
    try:
        yield storage
    finally:
        app.state.storage = before
        use_storage(before)


async def test_an_uploaded_image_lives_in_the_bucket(
    client: httpx.AsyncClient,
    s3_app: S3Storage,
    s3_endpoint: str,  # noqa: F811
) -> None:
    merchant = await sign_up(client, "merchant")
    product = await create_product(client, merchant)
    uploaded = await client.post(
        f"/api/v1/products/{product['id']}/images",
        files={"file": ("a.png", image_bytes("PNG"), "image/png")},
        headers=merchant.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    (image,) = uploaded.json()["images"]
    assert image["url"].startswith(f"{s3_endpoint}/{BUCKET}/products/")
    key = image["url"].removeprefix(f"{s3_endpoint}/{BUCKET}/")
    assert s3_app.get_bytes(key) == image_bytes("PNG")
    got = (await client.get(f"/api/v1/products/{product['id']}")).json()
    assert got["images"][0]["url"] == image["url"]


def test_one_storage_per_settings(tmp_path: object) -> None:
    settings = Settings(LIVECART_DATA_DIR=str(tmp_path))
    storage = storage_for(settings)
    assert isinstance(storage, LocalStorage)
    assert storage_for(Settings(LIVECART_DATA_DIR=str(tmp_path))) is storage
    assert current_storage().url("a.jpg") == "/media/a.jpg"
