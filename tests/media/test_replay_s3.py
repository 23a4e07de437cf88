"""storage=s3: a finished replay (its playlist and segments, then the encoded rendition) is put in
the bucket and the replay page plays it from the bucket's URL. The bucket is moto's real HTTP
server (as in tests/storage), the server a real `livecart serve` with nginx-rtmp."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest

from tests.media.conftest import (
    MediaServer,
    media_tools_or_skip,
    scheduled_show,
    show_state,
    wait_for,
)
from tests.media.test_player_browser import chromium  # noqa: F401 - fixture
from tests.media.test_replay import clock_stream
from tests.media.test_replay_encoded import SCREENSHOTS, encode_cli
from tests.servers import serve
from tests.storage.test_storage import s3_endpoint  # noqa: F401 - fixture

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# moto keeps its buckets per process, not per server: a name of our own, not tests/storage's.
BUCKET = "livecart-replays"
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


@pytest.fixture(scope="module")
def s3_env(s3_endpoint: str) -> dict[str, str]:  # noqa: F811
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    # Replays are public-read (or behind a CDN, LIVECART_S3_PUBLIC_URL): url() assumes it.
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(PUBLIC_READ))
    return {
        **AWS,
        "LIVECART_STORAGE": "s3",
        "LIVECART_S3_BUCKET": BUCKET,
        "LIVECART_S3_ENDPOINT_URL": s3_endpoint,
        "LIVECART_S3_REGION": "us-east-1",
    }


@pytest.fixture(scope="module")
def s3_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]
) -> Iterator[MediaServer]:
    media_tools_or_skip()
    data_dir = tmp_path_factory.mktemp("s3-server")
    with serve(
        database_url,
        data_dir,
        LIVECART_STREAM_GRACE_SECS="3",
        LIVECART_SECRET_KEY="media-test-secret",
        **s3_env,
    ) as server:
        yield MediaServer(server, data_dir)


def keys_under(s3_env: dict[str, str], prefix: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=s3_env["LIVECART_S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_a_replay_is_stored_in_the_bucket_and_plays_from_there(
    s3_server: MediaServer,
    s3_env: dict[str, str],
    database_url: str,
    chromium: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = s3_env["LIVECART_S3_ENDPOINT_URL"]
    with httpx.Client(base_url=s3_server.base, timeout=10.0) as http:
        s = scheduled_show(http)
        pub = clock_stream(s3_server.rtmp(s.key), 6)
        try:
            wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="going live")
            pub.wait(timeout=20)
        finally:
            pub.kill()
            pub.wait()
        ended = http.post(f"/api/v1/shows/{s.id}/end", headers=s.host["headers"])
        assert ended.status_code == 200
        replay = wait_for(
            lambda: (
                (r := http.get(f"/api/v1/shows/{s.id}/replay").json())["playlist_url"].startswith(
                    endpoint
                )
                and r
            ),
            timeout=15,
            what="the replay in the bucket",
        )
        prefix = f"replays/{s.id}/live/"
        assert replay["playlist_url"] == f"{endpoint}/{BUCKET}/{prefix}index.m3u8"
        stored = keys_under(s3_env, prefix)
        local = sorted(p.name for p in s3_server.show_dir(s.id).glob("r001-*.ts"))
        assert stored == sorted([f"{prefix}index.m3u8", *(prefix + n for n in local)])
        body = httpx.get(replay["playlist_url"]).text
        assert body == (s3_server.show_dir(s.id) / "replay.m3u8").read_text()

        # The encoded rendition goes to the bucket too (the CLI reads the same settings).
        for name, value in s3_env.items():
            monkeypatch.setenv(name, value)
        encode_cli(database_url, s3_server, s.id)
        replay = http.get(f"/api/v1/shows/{s.id}/replay").json()
        assert replay["rendition"] == "encoded"
        encoded = f"replays/{s.id}/encoded/"
        assert replay["playlist_url"] == f"{endpoint}/{BUCKET}/{encoded}index.m3u8"
        assert any(k.endswith(".ts") for k in keys_under(s3_env, encoded))

    # The page plays it from the bucket (moto answers with CORS headers, as a bucket with a
    # CORS rule for the site does).
    context = chromium.new_context(base_url=s3_server.base, locale="en")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"/shows/{s.id}/replay")
        page.wait_for_selector('#replay-bar[data-ready="1"]')
        page.wait_for_function(
            "() => { const v = document.getElementById('replay-video');"
            " return v.readyState >= 2 && v.currentTime > 0.5; }",
            timeout=20_000,
        )
        loaded: list[str] = page.evaluate(
            "() => performance.getEntriesByType('resource').map((e) => e.name)"
        )
        assert any(u.startswith(f"{endpoint}/{BUCKET}/{encoded}seg_") for u in loaded), loaded
        assert not any("/live/" in u and u.endswith(".ts") for u in loaded), loaded
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"replay-s3-{s.id}.png"))
        assert not errors, errors
    finally:
        context.close()


PRIVATE_BUCKET = "livecart-private"


@pytest.fixture(scope="module")
def private_server(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    s3_endpoint: str,  # noqa: F811
) -> Iterator[tuple[MediaServer, dict[str, str]]]:
    """storage=s3 on a bucket without public reads: replays play through presigned URLs."""
    media_tools_or_skip()
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=PRIVATE_BUCKET)
    env = {
        **AWS,
        "LIVECART_STORAGE": "s3",
        "LIVECART_S3_BUCKET": PRIVATE_BUCKET,
        "LIVECART_S3_ENDPOINT_URL": s3_endpoint,
        "LIVECART_S3_REGION": "us-east-1",
        "LIVECART_S3_PRESIGN": "true",
    }
    data_dir = tmp_path_factory.mktemp("s3-private-server")
    with serve(
        database_url,
        data_dir,
        LIVECART_STREAM_GRACE_SECS="3",
        LIVECART_SECRET_KEY="media-test-secret",
        **env,
    ) as server:
        yield MediaServer(server, data_dir), env


def test_a_private_bucket_plays_through_presigned_urls(
    private_server: tuple[MediaServer, dict[str, str]],
    chromium: Any,  # noqa: F811
) -> None:
    server, env = private_server
    endpoint = env["LIVECART_S3_ENDPOINT_URL"]
    with httpx.Client(base_url=server.base, timeout=10.0) as http:
        s = scheduled_show(http)
        pub = clock_stream(server.rtmp(s.key), 5)
        try:
            wait_for(lambda: show_state(http, s.id) == "live", timeout=5, what="going live")
            pub.wait(timeout=20)
        finally:
            pub.kill()
            pub.wait()
        ended = http.post(f"/api/v1/shows/{s.id}/end", headers=s.host["headers"])
        assert ended.status_code == 200
        stored = f"/live/{s.id}/stored/live.m3u8"
        wait_for(
            lambda: http.get(f"/api/v1/shows/{s.id}/replay").json()["playlist_url"] == stored,
            timeout=15,
            what="the replay in the bucket",
        )
        public = f"{endpoint}/{PRIVATE_BUCKET}/replays/{s.id}/live/index.m3u8"
        assert httpx.get(public).status_code == 403  # the bucket is private
        playlist = http.get(stored)
        assert playlist.status_code == 200
        segments = [x for x in playlist.text.split() if not x.startswith("#")]
        assert segments
        for url in segments:
            assert url.startswith(f"{endpoint}/{PRIVATE_BUCKET}/replays/{s.id}/live/r001-"), url
            assert "Signature" in url, url
        assert httpx.get(segments[0]).status_code == 200
        assert http.get(f"/live/{s.id}/stored/encoded.m3u8").status_code == 404  # not encoded

    context = chromium.new_context(base_url=server.base, locale="en")
    try:
        page = context.new_page()
        page.goto(f"/shows/{s.id}/replay")
        page.wait_for_function(
            "() => { const v = document.getElementById('replay-video');"
            " return v.readyState >= 2 && v.currentTime > 0.5; }",
            timeout=20_000,
        )
        loaded: list[str] = page.evaluate(
            "() => performance.getEntriesByType('resource').map((e) => e.name)"
        )
        assert any(u.startswith(f"{endpoint}/{PRIVATE_BUCKET}/") for u in loaded), loaded
    finally:
        context.close()
