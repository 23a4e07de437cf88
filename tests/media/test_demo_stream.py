"""`livecart demo-stream` puts live video into the demo's live show without a camera."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.media.conftest import media_tools_or_skip, wait_for
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
                "8",
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
                wait_for(
                    lambda: http.get(f"/live/{show_id}/index.m3u8").text.count(".ts") >= 2,
                    timeout=20,
                    what="the demo's video",
                )
            out, err = streamer.communicate(timeout=30)
        finally:
            if streamer.poll() is None:
                streamer.kill()
                streamer.wait()
    assert streamer.returncode == 0, err
    assert f"/shows/{show_id}/live" in out
