"""Both storage backends through the same interface. S3 is moto's real HTTP server on a free
port (boto3 talks to it over the loopback exactly as to MinIO): no in-process mocking."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from livecart.config import Settings
from livecart.kit.storage import LocalStorage, S3Storage, Storage, open_storage, put_directory

BUCKET = "livecart-test"
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("LIVECART_STORAGE", "s3")
    monkeypatch.setenv("LIVECART_S3_BUCKET", BUCKET)
    monkeypatch.setenv("LIVECART_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("LIVECART_S3_REGION", "us-east-1")
    storage = open_storage(Settings())
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(Bucket=BUCKET)
    return storage


def round_trip(storage: Storage, tmp_path: Path) -> None:
    key = storage.put_bytes("replays/7/index.m3u8", b"#EXTM3U\n")
    assert key == "replays/7/index.m3u8"
    assert storage.exists(key)
    assert storage.get_bytes(key) == b"#EXTM3U\n"
    segment = tmp_path / "seg_00000.ts"
    segment.write_bytes(b"\x47" * 188 * 10)
    storage.put_file("replays/7/seg_00000.ts", segment)
    assert storage.get_bytes("replays/7/seg_00000.ts") == segment.read_bytes()
    storage.delete(key)
    assert not storage.exists(key)
    with pytest.raises(FileNotFoundError):
        storage.get_bytes(key)
    storage.delete(key)  # deleting what is gone is not an error
    with pytest.raises(ValueError, match="bad storage key"):
        storage.put_bytes("../escape", b"x")


def test_local_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    round_trip(storage, tmp_path)
    assert storage.url("a/b.jpg") == "/media/a/b.jpg"
    assert storage.url(None) is None
    assert storage.signed_url("a/b.jpg") == "/media/a/b.jpg"  # local files have no signatures


def test_s3_round_trip_over_http(s3: S3Storage, tmp_path: Path) -> None:
    round_trip(s3, tmp_path)


def test_s3_url_serves_the_object(s3: S3Storage, s3_endpoint: str, tmp_path: Path) -> None:
    (tmp_path / "hls").mkdir()
    (tmp_path / "hls" / "index.m3u8").write_text("#EXTM3U\n#EXT-X-ENDLIST\n")
    (tmp_path / "hls" / "seg_00000.ts").write_bytes(b"\x47" * 188)
    keys = put_directory(s3, "replays/9", tmp_path / "hls")
    assert keys == ["replays/9/index.m3u8", "replays/9/seg_00000.ts"]
    url = s3.url("replays/9/index.m3u8")
    assert url == f"{s3_endpoint}/{BUCKET}/replays/9/index.m3u8"
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(url, timeout=10)  # noqa: S310 - private until the policy below
    # A replay bucket is public-read (or sits behind a CDN): that is what url() assumes.
    s3.client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_READ))
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our loopback server
        assert response.read() == b"#EXTM3U\n#EXT-X-ENDLIST\n"
        assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    with urllib.request.urlopen(s3.signed_url("replays/9/seg_00000.ts"), timeout=10) as response:  # noqa: S310
        assert response.read() == b"\x47" * 188
    s3.delete("replays/9/index.m3u8")
    assert not s3.exists("replays/9/index.m3u8")
    cdn = S3Storage(BUCKET, client=s3.client, public_url="https://cdn.example.com/")
    assert cdn.url("replays/9/seg_00000.ts") == "https://cdn.example.com/replays/9/seg_00000.ts"


def test_local_is_the_default(tmp_path: Path) -> None:
    storage = open_storage(Settings(LIVECART_DATA_DIR=tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "media"
    (tmp_path / "hls" / "v").mkdir(parents=True)
    (tmp_path / "hls" / "v" / "index.m3u8").write_text("#EXTM3U\n")
    assert put_directory(storage, "replays/1", tmp_path / "hls") == ["replays/1/v/index.m3u8"]
    assert storage.get_bytes("replays/1/v/index.m3u8") == b"#EXTM3U\n"


def test_s3_needs_a_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVECART_STORAGE", "s3")
    monkeypatch.delenv("LIVECART_S3_BUCKET", raising=False)
    with pytest.raises(ValueError, match="LIVECART_S3_BUCKET"):
        open_storage(Settings())
