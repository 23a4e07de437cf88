"""The replay's smaller rendition: encoded from the show's ingest recordings (two runs joined),
keyframes at the markers, bitrate and VMAF recorded on the replay; the CLI shows progress."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import httpx
from fastapi import FastAPI

from livecart.errors import AppError
from livecart.features.media.encoding import encode_show_replay
from livecart.features.media.models import Replay, ReplayMarker
from livecart.kit.clock import utcnow
from livecart.video.clips import render_clip
from tests.conftest import schedule_show, sign_up


async def ready_replay(client: httpx.AsyncClient, app: FastAPI) -> int:
    """A show whose replay is ready, with two ingest runs (the stream dropped once) and a marker."""
    host = await sign_up(client, "host")
    show_id = int((await schedule_show(client, host))["id"])
    settings = app.state.settings
    folder = settings.data_dir / "live" / str(show_id)
    folder.mkdir(parents=True, exist_ok=True)
    for run in (1, 2):
        render_clip(
            "talking_head", folder / f"ingest-r{run:03d}.mkv", duration_s=1.5, lossless=False
        )
    async with app.state.session_factory() as session:
        session.add(
            Replay(
                show_id=show_id,
                status="ready",
                ingest_paths=[f"live/{show_id}/ingest-r001.mkv", f"live/{show_id}/ingest-r002.mkv"],
                started_at=utcnow() - timedelta(minutes=1),
                duration_ms=3000,
                ready_at=utcnow(),
            )
        )
        session.add(ReplayMarker(show_id=show_id, kind="highlight", source="host", start_ms=1700))
        await session.commit()
    return show_id


async def test_encode_records_bitrate_and_vmaf(client: httpx.AsyncClient, app: FastAPI) -> None:
    show_id = await ready_replay(client, app)
    seen: list[float] = []
    report = await encode_show_replay(
        app.state.session_factory, app.state.settings, show_id, progress=seen.append
    )
    assert seen and seen[-1] == 1.0
    assert 2.5 <= report.duration_s <= 3.5  # both runs
    assert report.keyframes_forced_s == [1.7]
    got = (await client.get(f"/api/v1/shows/{show_id}/replay")).json()
    assert got["encode_status"] == "ready"
    assert got["encode_progress"] == 1.0
    assert got["bitrate_kbps"] == round(report.bitrate_kbps)
    assert got["vmaf"] == round(report.vmaf_mean, 2)
    again = None
    try:
        await encode_show_replay(app.state.session_factory, app.state.settings, 999_999)
    except AppError as exc:
        again = exc.code
    assert again == "replay_not_found"


def test_cli_refuses_a_show_without_a_replay(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "replay", "encode", "999999"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"LIVECART_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "replay_not_found" in done.stderr
