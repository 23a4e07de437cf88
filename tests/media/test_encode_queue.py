"""Where replay encodes run: in this process by default, and on RQ (Redis) at scale, taken by
`livecart worker` processes, with `livecart replay enqueue SHOW --follow` showing progress."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi import FastAPI

from livecart.features.media.encode_queue import InProcessQueue, RqQueue
from tests.conftest import empty_redis
from tests.media.test_replay_encode import ready_replay

RQ_REDIS_URL = os.environ.get("LIVECART_TEST_RQ_REDIS_URL", "redis://127.0.0.1:6379/12")


async def _replay(client: httpx.AsyncClient, show_id: int) -> dict[str, object]:
    resp = await client.get(f"/api/v1/shows/{show_id}/replay")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_in_process_encode_runs_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    show_id = await ready_replay(client, app)
    queue = InProcessQueue(app.state.session_factory, app.state.settings)
    assert await queue.submit(show_id)
    assert not await queue.submit(show_id)  # already under way
    await asyncio.gather(*queue._tasks.values())
    got = await _replay(client, show_id)
    assert (got["encode_status"], got["encode_progress"]) == ("ready", 1.0)
    assert got["bitrate_kbps"] and got["vmaf"]


@pytest.fixture
def rq_redis() -> Iterator[str]:
    yield empty_redis(RQ_REDIS_URL)
    redis.Redis.from_url(RQ_REDIS_URL).flushdb()


def _livecart(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livecart", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.redis
async def test_a_worker_takes_the_encode_from_rq(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, rq_redis: str
) -> None:
    show_id = await ready_replay(client, app)
    data_dir: Path = app.state.settings.data_dir
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LIVECART_DATA_DIR": str(data_dir),
        "REDIS_URL": rq_redis,
    }
    queued = await asyncio.to_thread(_livecart, env, "replay", "enqueue", str(show_id))
    assert queued.returncode == 0, queued.stderr
    assert f"show {show_id}: queued" in queued.stderr
    assert not RqQueue(rq_redis).submit_now(show_id)  # one job per replay while it waits
    assert (await _replay(client, show_id))["encode_status"] == "pending"  # nothing ran yet

    worker, follow = await asyncio.gather(
        asyncio.to_thread(_livecart, env, "worker", "--burst"),
        asyncio.to_thread(_livecart, env, "replay", "enqueue", str(show_id), "--follow"),
    )
    worker_log = worker.stdout + worker.stderr
    assert worker.returncode == 0, worker_log
    assert follow.returncode == 0, follow.stderr
    result = json.loads(follow.stdout.strip().splitlines()[-1])
    assert result["encode_status"] == "ready"
    assert "%" in follow.stderr  # progress was shown
    got = await _replay(client, show_id)
    assert (got["encode_status"], got["bitrate_kbps"], got["vmaf"]) == (
        "ready",
        result["bitrate_kbps"],
        result["vmaf"],
    )
    assert "encode the replay of show" in worker_log or "Job OK" in worker_log, worker_log


def test_enqueue_needs_redis(tmp_path: Path) -> None:
    env = {"LIVECART_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "REDIS_URL": ""}
    done = _livecart(env, "replay", "enqueue", "1")
    assert done.returncode == 2
    assert "needs REDIS_URL" in done.stderr
