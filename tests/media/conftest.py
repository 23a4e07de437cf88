"""Media fixtures: a real `livecart serve` with nginx-rtmp on a free port, and ffmpeg publishers.

nginx (with libnginx-mod-rtmp) and ffmpeg are real. Without them the media tests are skipped
locally and fail in CI (CI=true). Test streams are small (320x180, 15 fps, ultrafast).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from livecart.features.media.nginx import RTMP_MODULE
from tests.conftest import IN_CI, PASSWORD, fresh_database
from tests.servers import Server, serve

GRACE_SECS = 3
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def media_tools_or_skip() -> None:
    missing = [n for n in ("nginx", "ffmpeg", "ffprobe") if shutil.which(n) is None]
    if not RTMP_MODULE.exists():
        missing.append(str(RTMP_MODULE))
    if missing:
        if IN_CI:
            pytest.fail(f"missing {', '.join(missing)} and CI is set")
        pytest.skip(f"missing {', '.join(missing)}; CI=true makes this a failure")


@dataclass
class MediaServer:
    server: Server
    data_dir: Path

    @property
    def base(self) -> str:
        return self.server.base

    def rtmp(self, key: str) -> str:
        return f"rtmp://127.0.0.1:{self.server.rtmp_port}/live/{key}"

    def show_dir(self, show_id: int) -> Path:
        return self.data_dir / "live" / str(show_id)


@pytest.fixture(scope="session")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    """One server for the media tests, with a 3 s grace period for dropped streams."""
    media_tools_or_skip()
    data_dir = tmp_path_factory.mktemp("media-server")
    with (
        fresh_database(data_dir) as database_url,
        serve(
            database_url,
            data_dir,
            LIVECART_STREAM_GRACE_SECS=str(GRACE_SECS),
            LIVECART_SECRET_KEY="media-test-secret",
        ) as server,
    ):
        assert server.rtmp_port
        try:
            yield MediaServer(server, data_dir)
        finally:  # kept for a look after a failure (pytest's own tmp dirs get pruned)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.log, ARTIFACTS / "media-server.log")


@pytest.fixture
def http(media_server: MediaServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=media_server.base, timeout=10.0) as client:
        yield client


def sign_up(http: httpx.Client, role: str, name: str, **extra: Any) -> dict[str, Any]:
    body = {
        "email": f"{role}-{uuid.uuid4().hex[:8]}@example.com",
        "password": PASSWORD,
        "display_name": name,
        "role": role,
        **extra,
    }
    resp = http.post("/api/v1/auth/signup", json=body)
    assert resp.status_code == 201, resp.text
    out = dict(resp.json())
    out["email"] = body["email"]
    out["headers"] = {"Authorization": f"Bearer {out['token']}"}
    return out


@dataclass
class StreamShow:
    show: dict[str, Any]
    host: dict[str, Any]
    product: dict[str, Any]
    key: str

    @property
    def id(self) -> int:
        return int(self.show["id"])


def scheduled_show(http: httpx.Client) -> StreamShow:
    """A host's scheduled show with one product in its lineup, and its stream key."""
    merchant = sign_up(http, "merchant", "Lin", merchant_name="Lin's Goods")
    product = http.post(
        "/api/v1/products",
        json={
            "title": "Osmanthus oolong",
            "category": "food",
            "open_to_hosts": True,
            "variants": [{"sku": "TEA-1", "options": {}, "price": "39.90", "stock": 50}],
        },
        headers=merchant["headers"],
    )
    assert product.status_code == 201, product.text
    host = sign_up(http, "host", "Jay")
    show = http.post(
        "/api/v1/shows",
        json={
            "title": "Tea time",
            "planned_start": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
            "product_ids": [product.json()["id"]],
        },
        headers=host["headers"],
    )
    assert show.status_code == 201, show.text
    body = show.json()
    return StreamShow(body, host, product.json(), body["stream_key"])


def publish(url: str, seconds: float, *, clock: bool = False) -> subprocess.Popen[bytes]:
    """ffmpeg pushing a small synthetic stream (test pattern and a tone) in real time."""
    video = "testsrc2=size=320x180:rate=15"
    command = [
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-re",
        "-f",
        "lavfi",
        "-i",
        video,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        str(seconds),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-tune",
        "zerolatency",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "15",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-f",
        "flv",
        url,
    ]
    del clock
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def publishers() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start publishers for a test; any still running at its end are killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(url: str, seconds: float) -> subprocess.Popen[bytes]:
        proc = publish(url, seconds)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def wait_for(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def show_state(http: httpx.Client, show_id: int) -> str:
    return str(http.get(f"/api/v1/shows/{show_id}").json()["state"])
