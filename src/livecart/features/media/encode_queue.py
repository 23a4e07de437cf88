"""Where replay encodes run. By default in this process (a background task per replay, the
encoder in a worker thread). At scale on RQ, the Redis job queue: `livecart worker` processes
(on machines that see the same data dir) take one encode at a time each, and the node that
finished the replay only enqueues it (`LIVECART_REPLAY_ENCODE_QUEUE=rq`, with REDIS_URL).

Progress and the outcome are on the replay row either way (`encode_status`, `encode_progress`),
which is what the API, the console and `livecart replay encode SHOW --follow` read."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from livecart.config import Settings
from livecart.db.uow import SessionFactory
from livecart.features.media import encoding

log = logging.getLogger(__name__)
QUEUE_NAME = "livecart-encode"
JOB_TIMEOUT_SECS = 6 * 3600  # a long show on a slow machine
FAILED_KEPT_SECS = 24 * 3600


class EncodeQueue(Protocol):
    name: str

    async def submit(self, show_id: int) -> bool:
        """Ask for the replay of `show_id` to be encoded; False when it already is asked for."""
        ...

    async def close(self) -> None: ...


class InProcessQueue:
    """Encodes in this process, one background task per replay."""

    name = "inprocess"

    def __init__(self, factory: SessionFactory, settings: Settings) -> None:
        self.factory, self.settings = factory, settings
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def submit(self, show_id: int) -> bool:
        if show_id in self._tasks:
            return False
        task = asyncio.create_task(
            encoding.encode_in_background(self.factory, self.settings, show_id),
            name=f"encode-replay-{show_id}",
        )
        self._tasks[show_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(show_id, None))
        return True

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()


def job_id(show_id: int) -> str:
    return f"encode-replay-{show_id}"


class RqQueue:
    """Enqueues on RQ; a `livecart worker` runs `run_encode_job`. One job per replay at a time:
    asking again while it waits or runs changes nothing."""

    name = "rq"

    def __init__(self, redis_url: str) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(redis_url)
        self.queue = Queue(QUEUE_NAME, connection=self.redis)

    def submit_now(self, show_id: int) -> bool:
        from rq.exceptions import DuplicateJobError

        try:
            self.queue.enqueue(
                run_encode_job,
                show_id,
                job_id=job_id(show_id),
                unique=True,
                job_timeout=JOB_TIMEOUT_SECS,
                result_ttl=0,  # done is on the replay row; the id is free for a later re-encode
                failure_ttl=FAILED_KEPT_SECS,
                description=f"encode the replay of show {show_id}",
            )
        except DuplicateJobError:
            return False
        return True

    async def submit(self, show_id: int) -> bool:
        return await asyncio.to_thread(self.submit_now, show_id)

    async def close(self) -> None:
        await asyncio.to_thread(self.redis.close)


def make_encode_queue(factory: SessionFactory, settings: Settings) -> EncodeQueue:
    if settings.replay_encode_queue == "inprocess":
        return InProcessQueue(factory, settings)
    if not settings.redis_url:
        raise ValueError("LIVECART_REPLAY_ENCODE_QUEUE=rq needs REDIS_URL")
    return RqQueue(settings.redis_url)


def run_encode_job(show_id: int) -> dict[str, object]:
    """The RQ job, run in the worker's work horse with the worker's environment."""
    from livecart.db.engine import make_engine, make_session_factory
    from livecart.features import models

    assert models  # every table is mapped
    settings = Settings()

    async def run() -> dict[str, object]:
        engine = make_engine(settings.resolved_database_url)
        try:
            report = await encoding.encode_show_replay(
                make_session_factory(engine), settings, show_id
            )
        finally:
            await engine.dispose()
        data = report.to_dict()
        data.pop("scenes", None)
        return {"show_id": show_id, **data}

    result = asyncio.run(run())
    log.info("show %d: replay encoded by a worker: %s", show_id, result)
    return result


def run_worker(settings: Settings, *, burst: bool) -> int:
    """`livecart worker`: take encode jobs from RQ until stopped (or, with burst, until the
    queue is empty). One job at a time: an encode keeps both cores busy."""
    from redis import Redis
    from rq import Queue, Worker

    if not settings.redis_url:
        raise SystemExit("livecart worker needs REDIS_URL (the RQ queue's Redis)")
    redis = Redis.from_url(settings.redis_url)
    worker = Worker([Queue(QUEUE_NAME, connection=redis)], connection=redis)
    worked = worker.work(burst=burst, logging_level="INFO", with_scheduler=False)
    return 0 if worked or burst else 1
