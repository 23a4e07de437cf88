"""nginx-rtmp's callbacks refuse outsiders, and the replay API answers before there is video.
In-process: no nginx or ffmpeg needed."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from livecart.features.media.nginx import check_installed, hook_token, render_config
from tests.conftest import assert_error, schedule_show, sign_up


def form(name: str, client_id: str = "7") -> dict[str, str]:
    return {
        "call": "publish",
        "app": "live",
        "name": name,
        "addr": "10.0.0.9",
        "clientid": client_id,
    }


async def test_hooks_need_the_secret_in_their_url(client: httpx.AsyncClient, app: FastAPI) -> None:
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    for path in ("/internal/media/nope/publish", "/internal/media/nope/publish_done"):
        resp = await client.post(path, data=form(show["stream_key"]))
        assert resp.status_code == 404
    token = hook_token(app.state.settings)
    assert token not in str(app.state.settings.secret_key)
    wrong = await client.post(f"/internal/media/{token}/publish", data=form("live_wrong"))
    body = assert_error(wrong, 403, "stream_key_invalid")
    assert "live_wrong" not in wrong.text and body["data"] == {}
    bad = await client.post(f"/internal/media/{token}/publish", data=form("x", client_id="1;2"))
    assert_error(bad, 400, "bad_hook")
    # A publisher nobody knows leaving is not an error (nginx does not care either way).
    gone = await client.post(f"/internal/media/{token}/publish_done", data=form("x", "99"))
    assert gone.status_code == 200
    # The show stayed as it was.
    assert (await client.get(f"/api/v1/shows/{show['id']}")).json()["state"] == "scheduled"


async def test_hook_token_is_in_the_generated_config(app: FastAPI) -> None:
    text = render_config(app.state.settings)
    token = hook_token(app.state.settings)
    assert f"/internal/media/{token}/publish;" in text
    assert "error_log" in text and " warn;" in text  # never "info": it logs stream names
    assert "idle_streams off;" in text


async def test_replay_before_any_video(client: httpx.AsyncClient) -> None:
    host = await sign_up(client, "host")
    show = await schedule_show(client, host)
    assert_error(await client.get(f"/api/v1/shows/{show['id']}/replay"), 404, "replay_not_found")
    assert_error(await client.get("/api/v1/shows/999999/replay"), 404, "show_not_found")
    marker = await client.post(
        f"/api/v1/shows/{show['id']}/replay/markers", json={"start_ms": 0}, headers=host.headers
    )
    assert_error(marker, 409, "replay_not_ready")
    playlist = await client.get(f"/live/{show['id']}/index.m3u8")
    assert playlist.status_code == 404
    traversal = await client.get(f"/live/{show['id']}/..%2f..%2fsecret_key")
    assert traversal.status_code in (404, 422)


def test_missing_rtmp_module_is_said_plainly(tmp_path: Path) -> None:
    available = check_installed(module=tmp_path / "ngx_rtmp_module.so")
    assert not available.ok
    assert "libnginx-mod-rtmp" in available.reason
    assert "apt-get install nginx libnginx-mod-rtmp ffmpeg" in available.reason
