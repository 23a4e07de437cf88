"""`livecart demo-stream` puts live video into the demo's live show without a camera."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from livecart.demo import DEMO_PASSWORD, HOST_EMAILS
from tests.media.conftest import media_tools_or_skip
from tests.servers import serve


def test_demo_stream_brings_the_demo_show_to_life(tmp_path: Path) -> None:
    media_tools_or_skip()
    database_url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "DATABASE_URL": database_url, "LIVECART_DATA_DIR": str(tmp_path)}
    seeded = subprocess.run(
        [sys.executable, "-m", "livecart", "seed-demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    with serve(database_url, tmp_path) as server:
        port = server.base.rsplit(":", 1)[1]
        streamer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "livecart",
                "demo-stream",
                "--seconds",
                "60",
                "--rtmp-port",
                str(server.rtmp_port),
                "--http-port",
                port,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with httpx.Client(base_url=server.base, timeout=10) as http:
                live = http.get("/api/v1/shows", params={"state": "live"}).json()["items"]
                assert live
                show_id = live[0]["id"]
                deadline = time.monotonic() + 40
                while http.get(f"/live/{show_id}/index.m3u8").text.count(".ts") < 2:
                    if time.monotonic() > deadline or streamer.poll() not in (None, 0):
                        streamer.kill()
                        out, err = streamer.communicate()
                        log = server.log.read_text()[-3000:]
                        pytest.fail(f"no demo video: {out}\n{err}\nserver log:\n{log}")
                    time.sleep(0.2)
                # The host ends the show while it streams: demo-stream says so and stops.
                login = http.post(
                    "/api/v1/auth/login",
                    json={"email": HOST_EMAILS[1], "password": DEMO_PASSWORD},
                )
                assert login.status_code == 200, login.text
                ended = http.post(
                    f"/api/v1/shows/{show_id}/end",
                    headers={"Authorization": f"Bearer {login.json()['token']}"},
                )
                assert ended.status_code == 200, ended.text
            out, err = streamer.communicate(timeout=60)
        finally:
            if streamer.poll() is None:
                streamer.kill()
                streamer.communicate()
    assert streamer.returncode == 0, err
    assert f"/shows/{show_id}/live" in out
    assert "the show was ended by its host" in out, (out, err)
    assert "/live/live_" not in out + err  # the stream key stays out of what it prints
